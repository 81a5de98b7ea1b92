"""The sandbox's SOAP service, over real HTTP: envelopes built as plain strings, answers
parsed with defusedxml, numbers checked against the REST API's for the same invoices."""

from __future__ import annotations

import typing as t
from decimal import Decimal

import pytest
import requests
from defusedxml.ElementTree import ParseError
from defusedxml.ElementTree import fromstring

from kashflow_sandbox import KashFlowSandbox
from sandbox_client import TIMEOUT
from sandbox_client import TODAY
from sandbox_client import Api
from sandbox_client import decimal_json
from sandbox_soap_client import KF
from sandbox_soap_client import SOAP11
from sandbox_soap_client import SOAP12
from sandbox_soap_client import XSI_NIL
from sandbox_soap_client import XSI_TYPE
from sandbox_soap_client import call
from sandbox_soap_client import envelope
from sandbox_soap_client import fault_text
from sandbox_soap_client import field
from sandbox_soap_client import post
from sandbox_soap_client import tags

#: The Invoice fields the sandbox emits, in the WSDL's order.
INVOICE_ORDER = [
    "InvoiceDBID", "InvoiceNumber", "InvoiceDate", "DueDate", "Customer", "CustomerID", "Paid",
    "CustomerReference", "ProjectID", "CurrencyCode", "ExchangeRate", "ReadableString", "Lines",
    "NetAmount", "VATAmount", "AmountPaid", "CustomerName", "PermaLink", "DeliveryAddress",
    "UseCustomDeliveryAddress",
]  # fmt: skip
LINE_ORDER = [
    "Quantity", "Description", "Rate", "ChargeType", "VatRate", "VatAmount", "ProductID", "Sort",
    "ProjID", "LineID",
]  # fmt: skip
PAYMENT_ORDER = [
    "PayID",
    "PayInvoice",
    "PayDate",
    "PayNote",
    "PayMethod",
    "PayAccount",
    "PayAmount",
]


# --- both SOAP versions, every operation -------------------------------------------------------


@pytest.mark.parametrize("version", [SOAP11, SOAP12])
def test_get_invoice(sb: KashFlowSandbox, version: str) -> None:
    answer = call(sb, "GetInvoice", "<InvoiceNumber>4</InvoiceNumber>", version=version)
    assert answer.http.headers["Content-Type"] == (
        "text/xml; charset=utf-8" if version == SOAP11 else "application/soap+xml; charset=utf-8"
    )
    assert (answer.status, answer.detail) == ("OK", "")
    invoice = answer.result("GetInvoice")
    assert tags(invoice) == INVOICE_ORDER
    assert field(invoice, "InvoiceNumber") == "4" and field(invoice, "Customer") == "TCUST02"
    assert field(invoice, "InvoiceDate") == "2012-10-09T00:00:00"
    assert (field(invoice, "NetAmount"), field(invoice, "VATAmount")) == ("100.0000", "17.5000")
    assert field(invoice, "AmountPaid") == "117.5000" and field(invoice, "Paid") == "1"
    assert field(invoice, "ExchangeRate") == "1.0000"
    assert invoice.find(f"{KF}CustomerReference").text is None  # <CustomerReference />
    lines = invoice.find(f"{KF}Lines")
    assert [line.get(XSI_TYPE) for line in lines] == ["InvoiceLine"]
    # The WSDL's fields, then the product's name (not in the WSDL: sent where there is one).
    assert tags(lines[0]) == [*LINE_ORDER, "ProductName"]
    assert field(lines[0], "Description") == "" and field(lines[0], "ProductName") == "Mobile"
    assert field(lines[0], "VatAmount") == "17.5000" and field(lines[0], "VatRate") == "17.5000"
    assert field(invoice, "PermaLink") == (
        f"{sb.origin}/v2/documents/invoice/3a22b041-8d45-496a-946d-bd2252a0d28c"
    )
    assert sb.calls["soap.GetInvoice"] == 1


def test_a_line_without_a_product_sends_no_product_name() -> None:
    with KashFlowSandbox(demo_data=False) as sb:
        sb.add_customer({"Code": "LINES01", "Name": "Lines Ltd"})
        invoice = sb.add_invoice(
            {
                "CustomerCode": "LINES01",
                "LineItems": [
                    {"Description": "Labour", "Quantity": "2", "Rate": "40.00"},
                    {"ProductName": "Hinge", "Quantity": "4", "Rate": "2.50"},
                ],
            }
        )
        answer = call(sb, "GetInvoice", f"<InvoiceNumber>{invoice['Number']}</InvoiceNumber>")
    lines = answer.result("GetInvoice").find(f"{KF}Lines")
    assert [tags(line) for line in lines] == [LINE_ORDER, [*LINE_ORDER, "ProductName"]]
    assert lines[0].find(f"{KF}ProductName") is None
    assert field(lines[1], "ProductName") == "Hinge"


@pytest.mark.parametrize("version", [SOAP11, SOAP12])
def test_get_customer_and_by_id(sb: KashFlowSandbox, version: str) -> None:
    by_code = call(sb, "GetCustomer", "<CustomerCode>acme01</CustomerCode>", version=version)
    customer = by_code.result("GetCustomer")
    assert tags(customer)[:8] == [
        "CustomerID", "Code", "Name", "Contact", "Telephone", "Mobile", "Fax", "Email",
    ]  # fmt: skip
    assert field(customer, "Code") == "ACME01" and field(customer, "Name") == "Acme Trading Ltd"
    assert field(customer, "Contact") == "Priya Shah"
    assert field(customer, "Email") == "accounts@acme-trading.test"
    assert field(customer, "Postcode") == "M50 9ZZ" and field(customer, "PaymentTerms") == "30"
    customer_id = field(customer, "CustomerID")
    assert customer_id == str(sb.customers["ACME01"]["Id"])
    by_id = call(sb, "GetCustomerByID", f"<CustomerID>{customer_id}</CustomerID>", version=version)
    assert tags(by_id.result("GetCustomerByID")) == tags(customer)
    assert field(by_id.result("GetCustomerByID"), "Code") == "ACME01"


def test_customer_email_may_hold_several_addresses(sb: KashFlowSandbox) -> None:
    mixed = call(sb, "GetCustomer", "<CustomerCode>MIXED01</CustomerCode>").result("GetCustomer")
    assert field(mixed, "Email") == "office@mixed-media.test, finance@mixed-media.test"
    bigco = call(sb, "GetCustomer", "<CustomerCode>BIGCO01</CustomerCode>").result("GetCustomer")
    assert field(bigco, "Email") == "ap@bigco-holdings.test; tom.baker@bigco-holdings.test"
    assert field(bigco, "CustHasDeliveryAddress") == "1"
    assert field(bigco, "DeliveryPostcode") == "RM18 9ZZ"


@pytest.mark.parametrize("version", [SOAP11, SOAP12])
def test_invoices_for_customer_many_one_and_none(sb: KashFlowSandbox, version: str) -> None:
    def invoices(code: str) -> t.Any:
        cust_id = sb.customers[code]["Id"]
        answer = call(sb, "GetInvoicesForCustomer", f"<CustID>{cust_id}</CustID>", version=version)
        assert answer.status == "OK"
        return answer.result("GetInvoicesForCustomer")

    acme = invoices("ACME01")
    assert tags(acme) == ["Invoice"] * 12  # the whole set in one reply
    assert [int(field(i, "InvoiceNumber")) for i in acme] == [
        i["Number"] for i in sb.data.invoices_of("ACME01")
    ]
    assert {field(i, "Customer") for i in acme} == {"ACME01"}
    assert len(invoices("BIGCO01")) == 260
    assert tags(invoices("BALA01")) == ["Invoice"]  # one item: a single element
    empty = invoices("BALA02")
    assert empty is not None and len(empty) == 0 and empty.get(XSI_NIL) is None


def test_invoice_payments_many_one_and_none(sb: KashFlowSandbox) -> None:
    def payments(number: int) -> t.Any:
        answer = call(sb, "GetInvoicePayment", f"<InvoiceNumber>{number}</InvoiceNumber>")
        assert answer.status == "OK"
        return answer.result("GetInvoicePayment")

    two = payments(4)
    assert tags(two) == ["Payment", "Payment"]
    assert tags(two[0]) == PAYMENT_ORDER
    assert [field(p, "PayAmount") for p in two] == ["110.5000", "7.0000"]
    assert [field(p, "PayID") for p in two] == ["2", "53"]
    assert field(two[0], "PayInvoice") == "4" and field(two[0], "PayAccount") == "55166"
    one = next(n for n, i in sb.invoices.items() if len(i["PaymentLines"]) == 1)
    assert tags(payments(one)) == ["Payment"]
    unpaid = next(n for n, i in sb.invoices.items() if not i["PaymentLines"])
    assert len(payments(unpaid)) == 0


def test_empty_list_answers(sb: KashFlowSandbox) -> None:
    cust_id = sb.customers["BALA02"]["Id"]
    sb.set_soap_empty_list_answer("missing")
    answer = call(sb, "GetInvoicesForCustomer", f"<CustID>{cust_id}</CustID>")
    assert answer.status == "OK" and answer.result("GetInvoicesForCustomer") is None
    sb.set_soap_empty_list_answer("nil")
    nil = call(sb, "GetInvoicesForCustomer", f"<CustID>{cust_id}</CustID>")
    assert nil.result("GetInvoicesForCustomer").get(XSI_NIL) == "true"
    with pytest.raises(ValueError):
        sb.set_soap_empty_list_answer("null")


# --- how requests are read ------------------------------------------------------------------


def test_soap_action_quoted_unquoted_and_in_the_content_type(sb: KashFlowSandbox) -> None:
    body = envelope("GetInvoice", "<InvoiceNumber>1043</InvoiceNumber>", sb=sb)
    for quoted in (True, False):
        assert post(sb, body, action="KashFlow/GetInvoice", quoted=quoted).status_code == 200
    body12 = envelope("GetInvoice", "<InvoiceNumber>1043</InvoiceNumber>", version=SOAP12, sb=sb)
    assert post(sb, body12, version=SOAP12, action="KashFlow/GetInvoice").status_code == 200
    # SOAP 1.2's action parameter is optional: the body names the operation.
    assert post(sb, body12, version=SOAP12).status_code == 200
    assert sb.calls["soap.GetInvoice"] == 4


@pytest.mark.parametrize(
    ("body", "action", "expected"),
    [
        (
            "GOOD",
            "KashFlow/Nope",
            "did not recognize the value of HTTP Header SOAPAction: KashFlow/Nope",
        ),
        ("GOOD", None, "did not recognize the value of HTTP Header SOAPAction: ."),
        ("GOOD", "Other/GetInvoice", "did not recognize the value of HTTP Header SOAPAction"),
        ("not xml at all", "KashFlow/GetInvoice", "unable to read request"),
        ("<Envelope/>", "KashFlow/GetInvoice", "Not a SOAP envelope"),
        ("CUSTOMER", "KashFlow/GetInvoice", "<GetCustomer xmlns='KashFlow'> was not expected"),
        ("LETTERS", "KashFlow/GetInvoice", "Input string was not in a correct format"),
    ],
)
def test_protocol_errors_are_soap_faults(
    sb: KashFlowSandbox, body: str, action: str | None, expected: str
) -> None:
    payload = {
        "GOOD": envelope("GetInvoice", "<InvoiceNumber>1</InvoiceNumber>", sb=sb),
        "CUSTOMER": envelope("GetCustomer", "<CustomerCode>ACME01</CustomerCode>", sb=sb),
        "LETTERS": envelope("GetInvoice", "<InvoiceNumber>one</InvoiceNumber>", sb=sb),
    }.get(body, body)
    http = post(sb, payload, action=action)
    assert http.status_code == 500
    assert http.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert expected in fault_text(http)


def test_soap12_faults_use_the_12_format(sb: KashFlowSandbox) -> None:
    http = post(sb, "<oops", version=SOAP12, action="KashFlow/GetInvoice")
    assert http.status_code == 500
    assert http.headers["Content-Type"] == "application/soap+xml; charset=utf-8"
    assert "unable to read request" in fault_text(http, SOAP12)
    code = fromstring(http.content).findtext(f".//{{{SOAP12}}}Code/{{{SOAP12}}}Value")
    assert code == "soap:Sender"


def test_xml_attacks_are_refused_unexpanded(sb: KashFlowSandbox) -> None:
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        f'<soap:Envelope xmlns:soap="{SOAP11}"><soap:Body><GetCustomer xmlns="KashFlow">'
        "<UserName>&lol2;</UserName></GetCustomer></soap:Body></soap:Envelope>"
    )
    refused = post(sb, laughs, action="KashFlow/GetCustomer")
    assert refused.status_code == 500 and "lollol" not in refused.text
    external = laughs.replace('<!ENTITY lol "lol">', '<!ENTITY lol SYSTEM "file:///etc/passwd">')
    refused = post(sb, external, action="KashFlow/GetCustomer")
    assert refused.status_code == 500 and "root:" not in refused.text
    huge = envelope(
        "GetCustomer", "<CustomerCode>" + "A" * (1024 * 1024) + "</CustomerCode>", sb=sb
    )
    too_big = post(sb, huge, action="KashFlow/GetCustomer")
    assert too_big.status_code == 413
    assert sb.calls["soap.other"] == 3


def test_other_methods_and_media_types(sb: KashFlowSandbox) -> None:
    assert requests.get(sb.soap_url, timeout=TIMEOUT).status_code == 405
    body = envelope("GetInvoice", "<InvoiceNumber>1</InvoiceNumber>", sb=sb)
    wrong = requests.post(
        sb.soap_url, data=body, headers={"Content-Type": "application/json"}, timeout=TIMEOUT
    )
    assert wrong.status_code == 415


def test_unqualified_parameters_are_ignored(sb: KashFlowSandbox) -> None:
    # A prefixed operation element with unprefixed children sends unqualified parameters,
    # which ASMX drops: the call then has no credentials.
    body = (
        f'<soap:Envelope xmlns:soap="{SOAP11}" xmlns:kf="KashFlow"><soap:Body><kf:GetInvoice>'
        f"<UserName>{sb.username}</UserName><Password>{sb.password}</Password>"
        "<InvoiceNumber>4</InvoiceNumber></kf:GetInvoice></soap:Body></soap:Envelope>"
    )
    http = post(sb, body, action="KashFlow/GetInvoice")
    response = fromstring(http.content).find(f".//{KF}GetInvoiceResponse")
    assert response.findtext(f"{KF}Status") == "NO"
    assert response.findtext(f"{KF}StatusDetail") == "Incorrect username or password"


# --- the account ------------------------------------------------------------------------------


@pytest.mark.parametrize("overrides", [{"password": "wrong"}, {"user": "nobody@example.test"}])
def test_wrong_credentials_are_status_no_in_http_200(
    sb: KashFlowSandbox, overrides: dict[str, str]
) -> None:
    answer = call(sb, "GetInvoice", "<InvoiceNumber>4</InvoiceNumber>", **overrides)
    assert (answer.status, answer.detail) == ("NO", "Incorrect username or password")
    assert answer.result("GetInvoice") is None
    # The username compares case-insensitively, as on the REST side.
    assert (
        call(sb, "GetInvoice", "<InvoiceNumber>4</InvoiceNumber>", user=sb.username.upper()).status
        == "OK"
    )


def test_password_modes(sb: KashFlowSandbox) -> None:
    assert sb.soap_password_mode == "login"
    assert sb.account_config(api="soap") == {
        "api": "soap",
        "username": sb.username,
        "password": sb.password,
    }
    sb.set_soap_password_mode("separate")
    refused = call(sb, "GetCustomer", "<CustomerCode>ACME01</CustomerCode>")
    assert (refused.status, refused.detail) == ("NO", "Incorrect username or password")
    accepted = call(
        sb, "GetCustomer", "<CustomerCode>ACME01</CustomerCode>", password=sb.soap_password
    )
    assert accepted.status == "OK"
    assert sb.account_config(api="soap")["password"] == sb.soap_password == "sandbox-api-password"
    # The REST login still takes the web password, whatever the SOAP mode.
    assert "memorable_word" in sb.account_config()
    assert Api(sb).get("/invoices/4").status_code == 200
    faults = f"{sb.origin}/_sandbox/faults"
    ok = requests.post(
        faults, json={"action": "set_soap_password_mode", "mode": "login"}, timeout=5
    )
    assert ok.json() == {"ok": True} and sb.soap_password_mode == "login"
    assert (
        call(
            sb, "GetCustomer", "<CustomerCode>ACME01</CustomerCode>", password=sb.soap_password
        ).status
        == "NO"
    )
    with pytest.raises(ValueError):
        sb.set_soap_password_mode("api")


def test_constructor_password_arguments() -> None:
    with KashFlowSandbox(
        demo_data=False, soap_password="s3cret-api", soap_password_mode="separate"
    ) as sb:
        sb.add_customer({"Code": "ONE01"})
        assert (
            call(
                sb, "GetCustomer", "<CustomerCode>ONE01</CustomerCode>", password="s3cret-api"
            ).status
            == "OK"
        )
        assert call(sb, "GetCustomer", "<CustomerCode>ONE01</CustomerCode>").status == "NO"
        assert sb.account_config(api="soap")["password"] == "s3cret-api"
        assert sb.soap_url == f"{sb.origin}/api/service.asmx"
    with pytest.raises(ValueError):
        KashFlowSandbox(soap_password_mode="both")


def test_ip_blocked_and_soap_disabled(sb: KashFlowSandbox) -> None:
    sb.set_soap_ip_blocked()
    blocked = call(sb, "GetInvoice", "<InvoiceNumber>4</InvoiceNumber>")
    assert (blocked.status, blocked.detail) == (
        "NO",
        "The IP address of 127.0.0.1 is not in the access list",
    )
    sb.set_soap_ip_blocked(ip="203.0.113.9")
    assert "203.0.113.9 is not in the access list" in call(sb, "GetInvoice").detail
    sb.set_soap_ip_blocked(False)
    sb.set_soap_enabled(False)
    disabled = call(sb, "GetCustomer", "<CustomerCode>ACME01</CustomerCode>")
    assert disabled.status == "NO" and "not enabled" in disabled.detail
    assert disabled.result("GetCustomer") is None
    sb.clear_faults()
    assert call(sb, "GetCustomer", "<CustomerCode>ACME01</CustomerCode>").status == "OK"
    faults = f"{sb.origin}/_sandbox/faults"
    requests.post(faults, json={"action": "set_soap_ip_blocked"}, timeout=TIMEOUT)
    assert "access list" in call(sb, "GetCustomer").detail
    requests.post(faults, json={"action": "set_soap_ip_blocked", "flag": False}, timeout=TIMEOUT)
    requests.post(faults, json={"action": "set_soap_enabled", "flag": False}, timeout=TIMEOUT)
    assert "not enabled" in call(sb, "GetCustomer").detail


# --- unknown records -----------------------------------------------------------------------


def test_unknown_records(sb: KashFlowSandbox) -> None:
    cases = [
        (
            "GetInvoice",
            "<InvoiceNumber>999999</InvoiceNumber>",
            "There is no invoice with that number",
        ),
        (
            "GetCustomer",
            "<CustomerCode>NOSUCH</CustomerCode>",
            "There is no customer with that code",
        ),
        ("GetCustomerByID", "<CustomerID>1</CustomerID>", "There is no customer with that ID"),
        (
            "GetInvoicePayment",
            "<InvoiceNumber>999999</InvoiceNumber>",
            "There is no invoice with that number",
        ),
        ("GetInvoicesForCustomer", "<CustID>1</CustID>", "There is no customer with that ID"),
    ]
    for operation, params, message in cases:
        answer = call(sb, operation, params)
        assert (answer.status, answer.detail) == ("NO", message)
        assert answer.result(operation) is None
    sb.set_soap_not_found_answer("missing")
    for operation, params, _ in cases:
        answer = call(sb, operation, params)
        assert answer.status == "OK" and answer.result(operation) is None
    sb.set_soap_not_found_answer("nil")
    for operation, params, _ in cases:
        assert call(sb, operation, params).result(operation).get(XSI_NIL) == "true"
    sb.set_soap_not_found_answer("zero")
    invoice = call(sb, "GetInvoice", "<InvoiceNumber>999999</InvoiceNumber>").result("GetInvoice")
    assert field(invoice, "InvoiceDBID") == "0" and field(invoice, "InvoiceNumber") == "0"
    customer = call(sb, "GetCustomer", "<CustomerCode>NOSUCH</CustomerCode>").result("GetCustomer")
    assert field(customer, "CustomerID") == "0"
    assert (
        len(
            call(sb, "GetInvoicePayment", "<InvoiceNumber>9</InvoiceNumber>").result(
                "GetInvoicePayment"
            )
        )
        == 0
    )
    with pytest.raises(ValueError):
        sb.set_soap_not_found_answer("null")
    sb.clear_faults()
    assert call(sb, "GetInvoice", "<InvoiceNumber>999999</InvoiceNumber>").status == "NO"


# --- faults ------------------------------------------------------------------------------------


def test_http_failures(sb: KashFlowSandbox) -> None:
    body = envelope("GetInvoice", "<InvoiceNumber>4</InvoiceNumber>", sb=sb)
    sb.soap_fail_next(1)
    failed = post(sb, body, action="KashFlow/GetInvoice")
    assert failed.status_code == 500 and "unable to process request" in fault_text(failed)
    assert fromstring(failed.content).findtext(f".//{{{SOAP11}}}Fault/faultcode") == "soap:Server"
    sb.soap_fail_next(1, 503, html=True)
    html = post(sb, body, action="KashFlow/GetInvoice")
    assert html.status_code == 503 and html.headers["Content-Type"].startswith("text/html")
    assert "Service Unavailable" in html.text
    # The generic fault, narrowed to one operation, speaks SOAP too.
    sb.fail_next(1, 503, endpoint="soap.GetInvoice")
    assert call(sb, "GetCustomer", "<CustomerCode>ACME01</CustomerCode>").status == "OK"
    unavailable = post(sb, body, action="KashFlow/GetInvoice")
    assert unavailable.status_code == 503 and "unable to process request" in fault_text(unavailable)
    requests.post(
        f"{sb.origin}/_sandbox/faults",
        json={"action": "soap_fail_next", "n": 1, "status": 500},
        timeout=5,
    )
    assert post(sb, body, action="KashFlow/GetInvoice").status_code == 500
    assert post(sb, body, action="KashFlow/GetInvoice").status_code == 200
    assert sb.calls["soap.GetInvoice"] == 5


def test_status_no_next(sb: KashFlowSandbox) -> None:
    sb.soap_status_no_next(2, "Object reference not set to an instance of an object.", "GetInvoice")
    assert call(sb, "GetCustomer", "<CustomerCode>ACME01</CustomerCode>").status == "OK"
    for _ in range(2):
        answer = call(sb, "GetInvoice", "<InvoiceNumber>4</InvoiceNumber>")
        assert answer.status == "NO" and answer.detail.startswith("Object reference")
    assert call(sb, "GetInvoice", "<InvoiceNumber>4</InvoiceNumber>").status == "OK"
    faults = f"{sb.origin}/_sandbox/faults"
    requests.post(
        faults, json={"action": "soap_status_no_next", "n": 1, "message": "Busy"}, timeout=5
    )
    assert call(sb, "GetCustomer", "<CustomerCode>ACME01</CustomerCode>").detail == "Busy"


def test_malformed_xml(sb: KashFlowSandbox) -> None:
    sb.malformed_next(1, endpoint="soap")
    body = envelope("GetInvoice", "<InvoiceNumber>4</InvoiceNumber>", sb=sb)
    cut = post(sb, body, action="KashFlow/GetInvoice")
    assert cut.status_code == 200 and cut.headers["Content-Type"] == "text/xml; charset=utf-8"
    with pytest.raises(ParseError):
        fromstring(cut.content)
    assert call(sb, "GetInvoice", "<InvoiceNumber>4</InvoiceNumber>").status == "OK"


def test_latency_applies_to_soap_by_endpoint() -> None:
    slept: list[float] = []
    with KashFlowSandbox(today=TODAY, sleep=slept.append) as sb:
        sb.set_latency(1.5, endpoint="soap")
        sb.set_latency(4.0, endpoint="soap.GetInvoice")
        call(sb, "GetCustomer", "<CustomerCode>ACME01</CustomerCode>")
        call(sb, "GetInvoice", "<InvoiceNumber>4</InvoiceNumber>")
        Api(sb).get("/invoices/4")  # REST is not delayed
        assert slept == [1.5, 4.0]
        with pytest.raises(ValueError, match="unknown endpoint"):
            sb.set_latency(1, endpoint="soap.GetInvoices")


def test_counters_in_stats(sb: KashFlowSandbox) -> None:
    call(sb, "GetInvoice", "<InvoiceNumber>4</InvoiceNumber>")
    call(sb, "GetInvoice", "<InvoiceNumber>4</InvoiceNumber>", version=SOAP12)
    call(sb, "GetInvoicePayment", "<InvoiceNumber>4</InvoiceNumber>")
    post(sb, "junk", action="KashFlow/Unknown")
    stats = requests.get(f"{sb.origin}/_sandbox/stats", timeout=TIMEOUT).json()
    assert stats["calls"] == {"soap.GetInvoice": 2, "soap.GetInvoicePayment": 1, "soap.other": 1}
    assert sb.logins == 0  # SOAP has no login


# --- the same numbers as REST ------------------------------------------------------------------


def test_soap_and_rest_agree(sb: KashFlowSandbox) -> None:
    api = Api(sb)
    dubois = next(n for n, i in sb.invoices.items() if i["CustomerCode"] == "DUBOIS01")
    credit = next(n for n, i in sb.invoices.items() if i["Type"] == "CreditNote")
    # One invoice of each status, and a run of generated ones.
    each = {i["Status"]: n for n, i in sorted(sb.invoices.items(), reverse=True)}
    statuses = {}
    for number in (4, 1043, 2, dubois, credit, *each.values(), *list(sb.invoices)[10:40]):
        rest = decimal_json(api.get(f"/invoices/{number}"))
        soap = call(sb, "GetInvoice", f"<InvoiceNumber>{number}</InvoiceNumber>").result(
            "GetInvoice"
        )
        net, vat = Decimal(field(soap, "NetAmount")), Decimal(field(soap, "VATAmount"))
        assert net + vat == rest["GrossAmount"], number
        assert Decimal(field(soap, "AmountPaid")) == rest["TotalPaidAmount"]
        assert field(soap, "Paid") == ("1" if rest["Status"] in ("Paid", "Overpaid") else "0")
        assert field(soap, "CurrencyCode") == rest["Currency"]["Code"]
        assert int(field(soap, "CustomerID")) == rest["CustomerId"]
        assert int(field(soap, "InvoiceDBID")) == rest["Id"]
        assert field(soap, "DueDate")[:10] == rest["DueDate"][:10]
        assert field(soap, "PermaLink") == sb.origin + rest["Permalink"]
        statuses[rest["Status"]] = field(soap, "Paid")
        payments = call(sb, "GetInvoicePayment", f"<InvoiceNumber>{number}</InvoiceNumber>")
        amounts = [Decimal(field(p, "PayAmount")) for p in payments.result("GetInvoicePayment")]
        assert amounts == [p["Amount"] for p in rest["PaymentLines"]]
    assert statuses == {"Paid": "1", "Overpaid": "1", "Unpaid": "0", "Overdue": "0", "NA": "0"}
    # The PermaLink is the REST document route: with a session token it is the PDF.
    pdf = api.get(
        field(
            call(sb, "GetInvoice", "<InvoiceNumber>1043</InvoiceNumber>").result("GetInvoice"),
            "PermaLink",
        )
    )
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    # A foreign-currency invoice: its amounts are in euros, like REST's Swagger shape.
    soap = call(sb, "GetInvoice", f"<InvoiceNumber>{dubois}</InvoiceNumber>").result("GetInvoice")
    assert (field(soap, "CurrencyCode"), field(soap, "ExchangeRate")) == ("EUR", "1.1650")
    assert (field(soap, "NetAmount"), field(soap, "AmountPaid")) == ("1000.0000", "400.0000")
    api.close()


def test_rest_is_unchanged_beside_soap(sb: KashFlowSandbox) -> None:
    api = Api(sb)
    assert api.get("/invoices/1043").json()["Number"] == 1043
    assert requests.get(f"{sb.url}/invoices", timeout=TIMEOUT).status_code == 401
    assert requests.post(f"{sb.origin}/api/other.asmx", timeout=TIMEOUT).status_code == 404
    assert sb.calls["invoices.get"] == 1 and sb.calls["other"] == 1
    api.close()
