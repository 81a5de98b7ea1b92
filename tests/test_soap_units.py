"""Unit tests of the SOAP client's XML and HTTP handling, with ``responses``: hostile XML,
answers of the wrong shape or size, the request envelope, and the mapping of odd fields."""

from __future__ import annotations

import typing as t
from datetime import date
from decimal import Decimal

import pytest
import responses
from defusedxml.ElementTree import fromstring

from flask_kashflow_links import Credentials
from flask_kashflow_links import KashFlowBadResponse
from flask_kashflow_links import KashFlowNotFound
from flask_kashflow_links import KashFlowUnavailable
from flask_kashflow_links.kashflow import Login
from flask_kashflow_links.kashflow import SessionTokens
from flask_kashflow_links.kashflow import SoapBackend
from flask_kashflow_links.kashflow.soap import DISABLED
from flask_kashflow_links.kashflow.soap import IP
from flask_kashflow_links.kashflow.soap import PASSWORD
from flask_kashflow_links.kashflow.soap import advice
from flask_kashflow_links.kashflow.soap import is_not_found
from flask_kashflow_links.kashflow.soap import refusal_kind
from flask_kashflow_links.kashflow.soap_xml import customer_from_soap
from flask_kashflow_links.kashflow.soap_xml import invoice_from_soap
from flask_kashflow_links.kashflow.soap_xml import request_body

URL = "https://soap.kashflow.test/api/service.asmx"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
LOGIN = Login("ns", Credentials("user@example.test", "p<&>ss", api="soap"))
TODAY = date(2026, 12, 1)


def envelope(inner: str, version: str = SOAP11) -> str:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{version}" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soap:Body>'
        f"{inner}</soap:Body></soap:Envelope>"
    )


def answer(operation: str, result: str = "", status: str = "OK", detail: str = "") -> str:
    return envelope(
        f'<{operation}Response xmlns="KashFlow">{result}<Status>{status}</Status>'
        f"<StatusDetail>{detail}</StatusDetail></{operation}Response>"
    )


def invoice(number: int = 7, **fields: str) -> str:
    values = {
        "InvoiceNumber": str(number),
        "InvoiceDate": "2026-11-01T00:00:00",
        "DueDate": "2026-11-15T00:00:00",
        "Customer": "CUST01",
        "Paid": "0",
        "NetAmount": "100.0000",
        "VATAmount": "20.0000",
        "AmountPaid": "0.0000",
        "CurrencyCode": "GBP",
        **fields,
    }
    return "".join(f"<{k}>{v}</{k}>" for k, v in values.items())


@pytest.fixture
def soap() -> SoapBackend:
    return SoapBackend(
        URL,
        tokens=SessionTokens(None, lambda b: b, lambda b: b),
        retries=0,
        today=lambda: TODAY,
        max_answer_bytes=64 * 1024,
    )


# -- the request ------------------------------------------------------------------------------


@responses.activate
def test_the_envelope_is_soap_11_qualified_in_order_and_escaped(soap: SoapBackend) -> None:
    responses.post(
        URL, body=answer("GetInvoice", f"<GetInvoiceResult>{invoice()}</GetInvoiceResult>")
    )
    soap.get_invoice(LOGIN, 7)
    sent = responses.calls[0].request
    assert sent.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert sent.headers["SOAPAction"] == '"KashFlow/GetInvoice"'
    body = fromstring(sent.body)
    operation = body.find(f"{{{SOAP11}}}Body/{{KashFlow}}GetInvoice")
    assert operation is not None
    assert [child.tag for child in operation] == [
        "{KashFlow}UserName",
        "{KashFlow}Password",
        "{KashFlow}InvoiceNumber",
    ]
    assert operation.findtext("{KashFlow}Password") == "p<&>ss"  # escaped, read back whole


def test_values_xml_cannot_carry_are_refused() -> None:
    with pytest.raises(ValueError):
        request_body("GetCustomer", [("CustomerCode", "A\x00B")])
    with pytest.raises(ValueError):
        request_body("Get<Customer", [])


# -- hostile or odd answers -----------------------------------------------------------------


BOMB = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
    f'<soap:Envelope xmlns:soap="{SOAP11}"><soap:Body><GetInvoiceResponse xmlns="KashFlow">'
    "<Status>&lol2;</Status></GetInvoiceResponse></soap:Body></soap:Envelope>"
)
EXTERNAL = (
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    f'<soap:Envelope xmlns:soap="{SOAP11}"><soap:Body><GetInvoiceResponse xmlns="KashFlow">'
    "<Status>OK</Status><StatusDetail>&xxe;</StatusDetail></GetInvoiceResponse>"
    "</soap:Body></soap:Envelope>"
)


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (BOMB, 200, KashFlowBadResponse),
        (EXTERNAL, 200, KashFlowBadResponse),
        ("", 200, KashFlowBadResponse),
        ("<html><body>Service Unavailable</body></html>", 503, KashFlowUnavailable),
        ('{"Error": "json"}', 200, KashFlowBadResponse),
        (answer("GetCustomer"), 200, KashFlowBadResponse),  # another operation's answer
        (envelope('<GetInvoiceResponse xmlns="KashFlow" />'), 200, KashFlowBadResponse),
        (answer("GetInvoice", status="MAYBE"), 200, KashFlowUnavailable),
        (answer("GetInvoice", "x" * 70_000), 200, KashFlowBadResponse),  # too large
        (
            envelope("<soap:Fault><faultcode>soap:Server</faultcode><faultstring>Boom"
                     "</faultstring></soap:Fault>"),
            500,
            KashFlowUnavailable,
        ),
        (
            envelope("<soap:Fault><faultcode>soap:Client</faultcode><faultstring>Server did not"
                     " recognize the value of HTTP Header SOAPAction</faultstring></soap:Fault>"),
            500,
            KashFlowBadResponse,
        ),
        (
            envelope('<soap:Fault><soap:Code><soap:Value>soap:Receiver</soap:Value></soap:Code>'
                     '<soap:Reason><soap:Text xml:lang="en">Boom</soap:Text></soap:Reason>'
                     "</soap:Fault>", SOAP12),
            500,
            KashFlowUnavailable,
        ),
        (answer("GetInvoice", f"<GetInvoiceResult>{invoice()}</GetInvoiceResult>"), 404, KashFlowBadResponse),
        (answer("GetInvoice", f"<GetInvoiceResult>{invoice()}</GetInvoiceResult>"), 403, KashFlowBadResponse),
    ],
)  # fmt: skip
@responses.activate
def test_answers_of_the_wrong_kind(
    soap: SoapBackend, body: str, status: int, error: type[Exception]
) -> None:
    responses.post(URL, body=body, status=status, content_type="text/xml; charset=utf-8")
    with pytest.raises(error) as info:
        soap.get_invoice(LOGIN, 7)
    assert "p<&>ss" not in str(info.value)
    assert getattr(info.value, "request", None) is None or info.value.request.body is None  # type: ignore[attr-defined]
    if info.value.response is not None:  # type: ignore[attr-defined]
        assert info.value.response.request.body is None  # type: ignore[attr-defined]
    assert soap.tokens.cooldown_until(LOGIN.namespace) is None  # nothing here is a refusal


@responses.activate
def test_one_item_or_many_and_soap_12_answers(soap: SoapBackend) -> None:
    customer = (
        "<GetCustomerResult><CustomerID>42</CustomerID><Code>CUST01</Code></GetCustomerResult>"
    )
    one = f"<GetInvoicesForCustomerResult><Invoice>{invoice(7)}</Invoice></GetInvoicesForCustomerResult>"
    responses.post(URL, body=answer("GetCustomer", customer))
    responses.post(URL, body=answer("GetInvoicesForCustomer", one).replace(SOAP11, SOAP12))
    assert [i.number for i in soap.list_invoices(LOGIN, customer="cust01")] == [7]
    assert b"<CustID>42</CustID>" in responses.calls[1].request.body


@responses.activate
def test_a_lookup_value_xml_cannot_carry_is_not_found(soap: SoapBackend) -> None:
    with pytest.raises(KashFlowNotFound):
        soap.get_customer(LOGIN, "BAD\x01CODE")
    assert len(responses.calls) == 0


@responses.activate
def test_an_answer_for_another_invoice_or_customer_is_refused(soap: SoapBackend) -> None:
    responses.post(
        URL, body=answer("GetInvoice", f"<GetInvoiceResult>{invoice(8)}</GetInvoiceResult>")
    )
    with pytest.raises(KashFlowBadResponse, match="got invoice 8"):
        soap.get_invoice(LOGIN, 7)
    customer = "<GetCustomerResult><CustomerID>1</CustomerID><Code>OTHER</Code></GetCustomerResult>"
    responses.post(URL, body=answer("GetCustomer", customer))
    with pytest.raises(KashFlowBadResponse, match="not that customer"):
        soap.get_customer(LOGIN, "CUST01")


# -- the mapping --------------------------------------------------------------------------


def element(xml: str) -> t.Any:
    return fromstring(
        f'<Invoice xmlns="KashFlow" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">{xml}</Invoice>'
    )


@pytest.mark.parametrize(
    ("fields", "status", "due"),
    [
        ({}, "Overdue", Decimal("120")),
        ({"DueDate": "2026-12-01T00:00:00"}, "Unpaid", Decimal("120")),
        ({"AmountPaid": "20.0000"}, "Overdue", Decimal("100")),
        ({"Paid": "1", "AmountPaid": "120.0000"}, "Paid", Decimal("0")),
        ({"Paid": "1", "AmountPaid": "130.0000"}, "Overpaid", Decimal("0")),
        ({"NetAmount": "0.0000", "VATAmount": "0.0000"}, "NA", Decimal("0")),
        ({"NetAmount": "-50.0000", "VATAmount": "-10.0000"}, "Unpaid", Decimal("0")),
        ({"DueDate": "0001-01-01T00:00:00"}, "Unpaid", Decimal("120")),
    ],
)  # fmt: skip
def test_statuses_are_derived_as_kashflow_describes(
    fields: dict[str, str], status: str, due: Decimal
) -> None:
    derived = invoice_from_soap(element(invoice(**fields)), today=TODAY)
    assert derived is not None
    assert (derived.status, derived.due_amount) == (status, due)
    assert derived.gross == (derived.net or 0) + (derived.vat or 0)


def test_lines_exempt_vat_nil_and_odd_fields() -> None:
    xml = invoice(
        CurrencyCode="eur",
        CustomerReference="",
        PermaLink="https://api.kashflow.com/v2/documents/invoice/abc",
    ) + (
        '<Lines><anyType xsi:type="InvoiceLine"><Quantity>2.0000</Quantity>'
        "<Description>Oak &amp; ash</Description><Rate>50.0000</Rate><VatRate>-1.0000</VatRate>"
        '<VatAmount>0.0000</VatAmount></anyType></Lines><CustomerName xsi:nil="true" />'
    )
    derived = invoice_from_soap(element(xml), today=TODAY, detailed=True)
    assert derived is not None and derived.currency.code == "EUR"
    (line,) = derived.line_items
    assert (line.description, line.net, line.vat_rate) == ("Oak & ash", Decimal("100"), None)
    assert derived.customer_name == "" and derived.customer_reference == ""
    assert invoice_from_soap(element(invoice(InvoiceNumber="0")), today=TODAY) is None
    assert invoice_from_soap(None, today=TODAY) is None


def test_a_customer_email_may_hold_several_addresses() -> None:
    customer = customer_from_soap(
        fromstring(
            '<Customer xmlns="KashFlow"><CustomerID>3</CustomerID><Code>C3</Code>'
            "<Contact>Ann Lee</Contact><Email>ann@c3.test; bills@c3.test,not-an-address ,"
            "</Email></Customer>"
        )
    )
    assert customer is not None
    assert customer.email_addresses == ["ann@c3.test", "bills@c3.test"]
    assert customer.contacts[0].name == "Ann Lee"
    zero = fromstring('<Customer xmlns="KashFlow"><CustomerID>0</CustomerID><Code /></Customer>')
    assert customer_from_soap(zero) is None


# -- what Status NO means -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("detail", "kind", "not_found"),
    [
        ("Incorrect username or password", PASSWORD, False),
        ("The IP address of 127.0.0.1 is not in the access list", IP, False),
        ("The IP address of 10.0.0.1 is not in the access list. Please add it", IP, False),
        ("API access is not enabled for this account.", DISABLED, False),
        ("There is no invoice with that number", None, True),
        ("Invoice not found", None, True),
        ("There is no customer with that code", None, True),
        ("Object reference not set to an instance of an object.", None, False),
        ("", None, False),
    ],
)
def test_status_no_is_read_by_its_words(detail: str, kind: str | None, not_found: bool) -> None:
    assert refusal_kind(detail) == kind
    assert is_not_found(detail) is not_found


def test_advice_quotes_kashflow_and_names_each_cause_with_its_fix() -> None:
    lines = advice("The IP address of 127.0.0.1 is not in the access list")
    assert (
        lines[0]
        == 'KashFlow refused the SOAP call: "The IP address of 127.0.0.1 is not in the access list".'
    )
    assert lines[1].startswith("Likely cause: IP access list") and "AutoAuthIP" in lines[1]
    text = "\n".join(lines)
    assert "Separate API password" in text and "Enable SOAP API" in text
    assert advice("")[0] == "KashFlow refused the SOAP call without saying why."
