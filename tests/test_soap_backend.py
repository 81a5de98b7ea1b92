"""The SOAP backend over real HTTP against the sandbox's SOAP service: the operations, the
mapping into the shared models (checked against the REST backend on the same data), every way
KashFlow says "no", the pause after a refusal, and the invoice PDF from the PermaLink."""

from __future__ import annotations

import time
import typing as t
from datetime import date
from decimal import Decimal

import pytest

from flask_kashflow_links import Credentials
from flask_kashflow_links import KashFlowAuthError
from flask_kashflow_links import KashFlowBadResponse
from flask_kashflow_links import KashFlowLoginsPaused
from flask_kashflow_links import KashFlowNotFound
from flask_kashflow_links import KashFlowUnavailable
from flask_kashflow_links.kashflow import Login
from flask_kashflow_links.kashflow import RestBackend
from flask_kashflow_links.kashflow import SessionTokens
from flask_kashflow_links.kashflow import SoapBackend
from flask_kashflow_links.kashflow.models import OVERDUE
from flask_kashflow_links.kashflow.models import PAID
from flask_kashflow_links.kashflow.models import UNPAID
from flask_kashflow_links.testing import KashFlowSandbox

TODAY = date.today()


def tokens() -> SessionTokens:
    return SessionTokens(None, lambda b: b, lambda b: b)


def soap_backend(sb: KashFlowSandbox, **kwargs: t.Any) -> SoapBackend:
    options: dict[str, t.Any] = {"timeout": (2.0, 3.0), "backoff": 0.0, "max_retry_after": 0.2}
    options.update(kwargs)
    return SoapBackend(
        sb.soap_url, tokens=tokens(), document_hosts=(sb.url,), today=lambda: TODAY, **options
    )


def login(sb: KashFlowSandbox, password: str | None = None, embedded: bool = False) -> Login:
    creds = Credentials(sb.username, password or sb.password, api="soap")
    return Login(namespace=f"ns-{password}-{embedded}", credentials=creds, embedded=embedded)


def soap_calls(sb: KashFlowSandbox) -> dict[str, int]:
    return {k: v for k, v in sb.calls.items() if k.startswith("soap.")}


@pytest.fixture(scope="module")
def server() -> t.Iterator[KashFlowSandbox]:
    with KashFlowSandbox(today=TODAY, public_documents=True) as sb:
        yield sb


@pytest.fixture
def sb(server: KashFlowSandbox) -> t.Iterator[KashFlowSandbox]:
    server.clear_faults()
    server.reset_counters()
    yield server
    server.clear_faults()
    server.set_soap_password_mode("login")
    server.set_public_documents(True)


@pytest.fixture
def soap(sb: KashFlowSandbox) -> SoapBackend:
    return soap_backend(sb)


# -- the operations and the mapping ------------------------------------------------------------


def test_an_invoice_with_its_payments(sb: KashFlowSandbox, soap: SoapBackend) -> None:
    stored = sb.invoices[1291]  # DUBOIS01: part-paid, in euros
    invoice = soap.get_invoice(login(sb), 1291)
    assert invoice.customer_code == "DUBOIS01" and invoice.status in (UNPAID, OVERDUE)
    assert invoice.gross == stored["GrossAmount"] == invoice.net + invoice.vat  # type: ignore[operator]
    assert invoice.paid == Decimal("400") and invoice.due_amount == Decimal("600")
    assert invoice.currency.code == "EUR"
    assert [p.amount for p in invoice.payments] == [Decimal("400")]
    assert len(invoice.line_items) == len(stored["LineItems"]) and invoice.detailed
    assert invoice.permalink.startswith(sb.origin + "/v2/documents/invoice/")
    assert soap_calls(sb) == {"soap.GetInvoice": 1, "soap.GetInvoicePayment": 1}


def test_an_invoice_with_nothing_paid_costs_one_call(
    sb: KashFlowSandbox, soap: SoapBackend
) -> None:
    invoice = soap.get_invoice(login(sb), 1043)
    assert invoice.status == OVERDUE and invoice.payments == () and invoice.paid == 0
    assert invoice.days_overdue(TODAY) == (TODAY - invoice.due).days  # type: ignore[operator]
    assert soap_calls(sb) == {"soap.GetInvoice": 1}


def test_a_paid_invoice_has_its_paid_date(sb: KashFlowSandbox, soap: SoapBackend) -> None:
    number = next(n for n, i in sb.invoices.items() if i["Status"] == "Paid" and i["PaymentLines"])
    invoice = soap.get_invoice(login(sb), number)
    assert invoice.status == PAID and invoice.due_amount == 0
    assert invoice.paid_on == max(p.date for p in invoice.payments if p.date)


def test_soap_and_rest_agree_on_every_invoice(sb: KashFlowSandbox, soap: SoapBackend) -> None:
    """The derived statuses and amounts match what the REST API states, for every invoice of
    every customer (the sandbox serves both from one store)."""
    rest = RestBackend(sb.url, tokens=tokens(), timeout=(2.0, 3.0))
    rest_login = Login(
        "rest", Credentials(sb.username, sb.password, sb.memorable_word), embedded=False
    )
    codes = sorted({i["CustomerCode"] for i in sb.invoices.values()})
    compared = 0
    for code in codes:
        by_soap = {i.number: i for i in soap.list_invoices(login(sb), customer=code)}
        by_rest = {i.number: i for i in rest.list_invoices(rest_login, customer=code)}
        assert by_soap.keys() == by_rest.keys(), code
        for number, mine in by_soap.items():
            theirs = by_rest[number]
            assert mine.customer_code == theirs.customer_code == code
            assert (mine.is_paid, mine.is_unpaid) == (theirs.is_paid, theirs.is_unpaid), number
            assert mine.is_overdue(TODAY) == theirs.is_overdue(TODAY), number
            assert mine.status == theirs.status or {mine.status, theirs.status} <= {
                UNPAID,
                OVERDUE,
            }, number
            assert (mine.gross, mine.due_amount) == (theirs.gross, theirs.due_amount), number
            assert (mine.issued, mine.due) == (theirs.issued, theirs.due), number
            assert mine.currency.code == theirs.currency.code, number
            assert mine.line_items == ()  # a list keeps no lines
            compared += 1
    assert compared == len(sb.invoices)


def test_a_customer_and_every_address_on_file(sb: KashFlowSandbox, soap: SoapBackend) -> None:
    customer = soap.get_customer(login(sb), "acme01")
    assert customer.code == "ACME01" and customer.name == "Acme Trading Ltd"
    assert customer.address is not None and customer.address.post_code == "M50 9ZZ"
    assert customer.key == ""  # no statements over SOAP
    assert soap.statement_link(customer) is None and soap.statements is False
    several = next(
        code
        for code, c in sb.customers.items()
        if not c.get("Email") and sum(1 for x in c.get("Contacts") or () if x.get("Email")) > 1
    )
    expected = [x["Email"] for x in sb.customers[several]["Contacts"] if x.get("Email")]
    assert soap.get_customer(login(sb), several).email_addresses == expected


def test_a_customer_list_is_two_calls_whatever_its_size(
    sb: KashFlowSandbox, soap: SoapBackend
) -> None:
    invoices = soap.list_invoices(login(sb), customer="BIGCO01")
    assert len(invoices) == 260 == len({i.number for i in invoices})
    assert [i.number for i in invoices] == sorted(i.number for i in invoices)
    assert soap_calls(sb) == {"soap.GetCustomer": 1, "soap.GetInvoicesForCustomer": 1}


@pytest.mark.parametrize("answer", ["empty", "missing", "nil"])
def test_an_empty_list_in_each_of_its_spellings(
    sb: KashFlowSandbox, soap: SoapBackend, answer: str
) -> None:
    sb.set_soap_empty_list_answer(answer)
    if "EMPTY01" not in sb.customers:
        sb.add_customer({"Code": "EMPTY01", "Name": "No Invoices Ltd"})
    assert soap.list_invoices(login(sb), customer="EMPTY01") == []


@pytest.mark.parametrize("answer", ["no", "missing", "nil", "zero"])
def test_not_found_in_each_of_its_spellings(
    sb: KashFlowSandbox, soap: SoapBackend, answer: str
) -> None:
    sb.set_soap_not_found_answer(answer)
    with pytest.raises(KashFlowNotFound):
        soap.get_invoice(login(sb), 999_999)
    with pytest.raises(KashFlowNotFound):
        soap.get_customer(login(sb), "NOSUCH")
    with pytest.raises(KashFlowNotFound):
        soap.list_invoices(login(sb), customer="NOSUCH")
    # "Not found" is no refusal: nothing is paused.
    assert soap.get_invoice(login(sb), 1043).number == 1043


def test_a_server_ignoring_the_customer_is_not_trusted(
    sb: KashFlowSandbox, soap: SoapBackend
) -> None:
    sb.ignore_filters()
    listed = soap.list_invoices(login(sb), customer="ACME01")
    # Everyone's invoices came back; each says whose it is, and callers check that.
    assert {i.customer_code for i in listed} > {"ACME01"}
    assert len([i for i in listed if i.customer_code == "ACME01"]) == 12


# -- failures ------------------------------------------------------------------------------


def test_transient_failures_are_retried(sb: KashFlowSandbox, soap: SoapBackend) -> None:
    sb.fail_next(2, 503, endpoint="soap.GetInvoice")
    assert soap.get_invoice(login(sb), 1043).number == 1043
    assert sb.calls["soap.GetInvoice"] == 3


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("500 fault", KashFlowUnavailable),
        ("503 html", KashFlowUnavailable),
        ("malformed", KashFlowBadResponse),
        ("status no", KashFlowUnavailable),
        ("dropped", KashFlowUnavailable),
        ("timeout", KashFlowUnavailable),
    ],
)
def test_failures_map_to_the_exception_tree(
    sb: KashFlowSandbox, fault: str, error: type[Exception]
) -> None:
    soap = soap_backend(sb, timeout=(2.0, 0.5), retries=0)
    if fault == "500 fault":
        sb.soap_fail_next(1, 500)
    elif fault == "503 html":
        sb.soap_fail_next(1, 503, html=True)
    elif fault == "malformed":
        sb.malformed_next(1, "soap.GetInvoice")
    elif fault == "status no":
        sb.soap_status_no_next(1, "Object reference not set to an instance of an object.")
    elif fault == "dropped":
        sb.drop_next(1, "soap")
    else:
        sb.hang_next(1, 2.0, "soap.GetInvoice")
    with pytest.raises(error) as info:
        soap.get_invoice(login(sb), 1043)
    assert not isinstance(info.value, KashFlowAuthError | KashFlowNotFound)
    assert sb.password not in str(info.value) and sb.password not in repr(info.value.__dict__)
    # One failure pauses nothing: the next call goes through.
    assert soap.get_invoice(login(sb), 1043).number == 1043


def test_a_refused_password_pauses_the_account(sb: KashFlowSandbox, soap: SoapBackend) -> None:
    sb.set_soap_password_mode("separate")  # the login password is no longer accepted
    with pytest.raises(KashFlowAuthError) as info:
        soap.get_invoice(login(sb), 1043)
    assert "Incorrect username or password" in str(info.value)
    assert not isinstance(info.value, KashFlowLoginsPaused)
    sb.reset_counters()
    for number in (1043, 1004):
        with pytest.raises(KashFlowLoginsPaused):
            soap.get_invoice(login(sb), number)
    with pytest.raises(KashFlowLoginsPaused):
        soap.list_invoices(login(sb), customer="ACME01")
    assert soap_calls(sb) == {}  # not asked again during the pause
    assert soap.stats.failed_logins == 1
    # The separate API password works (another account namespace here).
    good = login(sb, password=sb.soap_password)
    assert soap.get_invoice(good, 1043).number == 1043


def test_an_embedded_password_refused_stays_refused(sb: KashFlowSandbox) -> None:
    soap = soap_backend(sb, login_cooldown=60)
    stale = login(sb, password="an old password", embedded=True)
    for _ in range(3):
        with pytest.raises(KashFlowAuthError) as info:
            soap.get_invoice(stale, 1043)
        # A withdrawn link, not a pause an operator can lift: never AccountLocked.
        assert not isinstance(info.value, KashFlowLoginsPaused)
    assert soap_calls(sb) == {"soap.GetInvoice": 1}
    # Paused for a day, not the site's 60 seconds: a changed password does not come back.
    until = soap.tokens.cooldown_until(stale.namespace)
    assert until is not None and until - time.time() > 3600


@pytest.mark.parametrize("refusal", ["ip", "disabled"])
def test_a_refused_server_is_an_outage_and_pauses(
    sb: KashFlowSandbox, soap: SoapBackend, refusal: str
) -> None:
    if refusal == "ip":
        sb.set_soap_ip_blocked(ip="203.0.113.7")
    else:
        sb.set_soap_enabled(False)
    embedded = login(sb, embedded=True)
    with pytest.raises(KashFlowUnavailable) as info:
        soap.get_invoice(embedded, 1043)
    assert ("access list" if refusal == "ip" else "not enabled") in str(info.value)
    sb.clear_faults()  # fixed in KashFlow: the pause still holds until it lapses
    with pytest.raises(KashFlowUnavailable, match="paused"):
        soap.get_invoice(embedded, 1043)
    assert soap.stats.failed_logins == 0


# -- documents -----------------------------------------------------------------------------


def test_the_invoice_pdf_from_its_permalink(sb: KashFlowSandbox, soap: SoapBackend) -> None:
    invoice = soap.get_invoice(login(sb), 1043)
    pdf = soap.get_document(login(sb), invoice.permalink, max_bytes=10**7)
    assert pdf.startswith(b"%PDF-") and b"%%EOF" in pdf[-2048:]
    assert sb.calls["documents.get"] == 1
    with pytest.raises(KashFlowBadResponse, match="exceeds"):
        soap.get_document(login(sb), invoice.permalink, max_bytes=100)
    sb.truncate_pdf_next(1)
    with pytest.raises(KashFlowBadResponse, match="incomplete"):
        soap.get_document(login(sb), invoice.permalink, max_bytes=10**7)


def test_a_permalink_that_wants_a_session_is_no_refused_password(
    sb: KashFlowSandbox, soap: SoapBackend
) -> None:
    invoice = soap.get_invoice(login(sb), 1043)
    sb.set_public_documents(False)
    embedded = login(sb, embedded=True)
    with pytest.raises(KashFlowBadResponse, match="session") as info:
        soap.get_document(embedded, invoice.permalink, max_bytes=10**7)
    assert not isinstance(info.value, KashFlowAuthError)
    assert soap.get_invoice(embedded, 1043).number == 1043  # nothing paused
    sb.set_public_documents(True)
    sb.html_documents_next(1)
    with pytest.raises(KashFlowBadResponse, match="instead of a PDF"):
        soap.get_document(embedded, invoice.permalink, max_bytes=10**7)


@pytest.mark.parametrize(
    "link",
    [
        "https://evil.example/v2/documents/invoice/x",
        "http://localhost:1/v2/documents/invoice/x",
        "{origin}/v2/documents/../invoices/1043",
        "http://user:pw@{host}/v2/documents/invoice/x",
        "/v2/documents/invoice/x",
        "javascript:alert(1)",
    ],
)
def test_permalinks_only_from_kashflows_hosts(
    sb: KashFlowSandbox, soap: SoapBackend, link: str
) -> None:
    url = link.format(origin=sb.origin, host=sb.origin.split("//", 1)[1])
    with pytest.raises(KashFlowBadResponse):
        soap.get_document(login(sb), url, max_bytes=10**7)
    assert sb.calls["documents.get"] == 0


def test_redirects_are_followed_only_within_kashflows_hosts(
    sb: KashFlowSandbox, soap: SoapBackend
) -> None:
    invoice = soap.get_invoice(login(sb), 1043)
    sb.redirect_documents("same")
    assert soap.get_document(login(sb), invoice.permalink, max_bytes=10**7).startswith(b"%PDF-")
    sb.redirect_documents("other")  # the same server under another name: not allowed
    with pytest.raises(KashFlowBadResponse, match="outside"):
        soap.get_document(login(sb), invoice.permalink, max_bytes=10**7)
    assert sb.calls["documents.download"] == 1
