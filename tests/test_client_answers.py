"""Unit tests, with ``responses``, of how the REST client reads the answers where KashFlow's
official docs and the Swagger copy disagree or are silent: which 401 means "log in again",
documents (what is asked for, redirects), missing invoices, details that name no customer,
list rows that cannot say what is owed, and the login's ``PasswordExpired``."""

from __future__ import annotations

import typing as t

import pytest
import responses

from flask_kashflow_links import KashFlowAccountLocked
from flask_kashflow_links import KashFlowBadResponse
from flask_kashflow_links import KashFlowDenied
from flask_kashflow_links import KashFlowNotFound
from flask_kashflow_links import KashFlowPasswordExpired
from flask_kashflow_links.kashflow.rest import RestBackend

from .helpers import BASE
from .helpers import LOGIN
from .helpers import PDF
from .helpers import add_login
from .helpers import invoice_json

DOCUMENT = "/v2/documents/invoice/abc"


def list_page(rows: list[dict[str, t.Any]], total: int) -> dict[str, t.Any]:
    return {"Data": rows, "MetaData": {"TotalRecords": total}}


# -- 401s -------------------------------------------------------------------------------------


@pytest.mark.parametrize("error", ["Unauthorized", "AccessDenied", ""])
@responses.activate
def test_a_401_that_is_not_about_the_session_keeps_it(
    rest_client: RestBackend,
    error: str,
) -> None:
    add_login(responses.mock)
    body = {"Error": error, "Message": "Authorization has been denied."} if error else None
    responses.get(f"{BASE}/documents/invoice/abc", status=401, json=body)
    with pytest.raises(KashFlowDenied):
        rest_client.get_document(LOGIN, DOCUMENT, max_bytes=10_000)
    # No second login, no pause, and the shared session token is still there for other calls.
    assert rest_client.stats.logins == 1
    assert rest_client.sessions.tokens.cooldown_until("ns1") is None
    assert rest_client.sessions.tokens.current("ns1") == "SESSION-1"


@responses.activate
def test_the_documented_lockout_message_is_a_lock(rest_client: RestBackend) -> None:
    responses.post(
        f"{BASE}/sessiontoken",
        status=401,
        json={
            "Error": "AccountLocked",
            "Message": "User account is locked, please contact administrator.",
        },
    )
    with pytest.raises(KashFlowAccountLocked, match="please contact administrator"):
        rest_client.get_invoice(LOGIN, 1043)


@pytest.mark.parametrize("status", [400, 401])
@responses.activate
def test_password_expired_at_login(rest_client: RestBackend, status: int) -> None:
    responses.post(
        f"{BASE}/sessiontoken",
        status=status,
        json={"Error": "PasswordExpired", "Message": "Your password has expired."},
    )
    with pytest.raises(KashFlowPasswordExpired) as info:
        rest_client.get_invoice(LOGIN, 1043)
    assert info.value.step == "password"


# -- documents --------------------------------------------------------------------------------


@responses.activate
def test_documents_are_asked_for_as_pdf(rest_client: RestBackend) -> None:
    add_login(responses.mock)
    responses.get(f"{BASE}/documents/invoice/abc", body=PDF, content_type="application/pdf")
    assert rest_client.get_document(LOGIN, DOCUMENT, max_bytes=10_000) == PDF
    assert responses.calls[-1].request.headers["Accept"] == "application/pdf"


@responses.activate
def test_document_redirects_on_the_api_host_are_followed(rest_client: RestBackend) -> None:
    add_login(responses.mock)
    target = "https://api.kashflow.test/v2/documents/download/n1"
    responses.get(f"{BASE}/documents/invoice/abc", status=302, headers={"Location": target})
    responses.get(target, body=PDF, content_type="application/pdf")
    assert rest_client.get_document(LOGIN, DOCUMENT, max_bytes=10_000) == PDF


@pytest.mark.parametrize(
    "location",
    [
        "https://files.example.test/v2/documents/download/n1",
        "http://api.kashflow.test/v2/documents/download/n1",  # a downgrade to plain HTTP
        "//files.example.test/x",
    ],
)
@responses.activate
def test_document_redirects_elsewhere_are_refused(
    rest_client: RestBackend,
    location: str,
) -> None:
    add_login(responses.mock)
    responses.get(f"{BASE}/documents/invoice/abc", status=302, headers={"Location": location})
    with pytest.raises(KashFlowBadResponse, match="another host"):
        rest_client.get_document(LOGIN, DOCUMENT, max_bytes=10_000)
    assert all("files.example" not in c.request.url for c in responses.calls)


@responses.activate
def test_endless_document_redirects_stop(rest_client: RestBackend) -> None:
    add_login(responses.mock)
    responses.get(
        f"{BASE}/documents/invoice/abc", status=302, headers={"Location": DOCUMENT + "?again"}
    )
    with pytest.raises(KashFlowBadResponse, match="more than"):
        rest_client.get_document(LOGIN, DOCUMENT, max_bytes=10_000)


# -- missing invoices -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, '{"Error": "NotFound", "Message": "Invoice not found."}'),
        (400, '{"Error": "InvalidInvoiceNumber", "Message": "Invoice 7 does not exist."}'),
        (200, "null"),
    ],
)
@responses.activate
def test_missing_invoice_answers(
    rest_client: RestBackend,
    status: int,
    body: str,
) -> None:
    add_login(responses.mock)
    responses.get(f"{BASE}/invoices/7", status=status, body=body, content_type="application/json")
    with pytest.raises(KashFlowNotFound):
        rest_client.get_invoice(LOGIN, 7)


# -- a detail that names no customer ------------------------------------------------------------


def row(number: int, code: str = "ACME01", **extra: t.Any) -> dict[str, t.Any]:
    return {"Number": number, "CustomerCode": code, "Status": "Paid", **extra}


@responses.activate
def test_a_detail_without_customer_is_placed_from_its_list_row(
    rest_client: RestBackend,
) -> None:
    add_login(responses.mock)
    detail = invoice_json(250, CustomerId=9)
    del detail["CustomerCode"]
    responses.get(f"{BASE}/invoices/250", json=detail)
    # 300 invoices, 100 a page, numbered 1 to 300: page 1, then straight to page 3.
    for page, first in ((1, 1), (3, 201)):
        rows = [
            row(n, "BIGCO01" if n == 250 else "ACME01", CustomerId=9)
            for n in range(first, first + 100)
        ]
        responses.get(
            f"{BASE}/invoices",
            json=list_page(rows, 300),
            match=[
                responses.matchers.query_param_matcher(
                    {"perpage": "100", "sortby": "Number", "order": "Asc", "page": str(page)}
                )
            ],
        )
    assert rest_client.get_invoice(LOGIN, 250).customer_code == "BIGCO01"
    assert sum(1 for c in responses.calls if "/invoices?" in c.request.url) == 2


@pytest.mark.parametrize(
    "rows",
    [
        [row(1), row(2), row(4)],  # not listed
        [row(1), row(3, CustomerId=10)],  # listed for another customer id
        [row(3, "")],  # listed without a customer
    ],
)
@responses.activate
def test_a_detail_that_cannot_be_placed_names_no_customer(
    rest_client: RestBackend,
    rows: list[dict[str, t.Any]],
) -> None:
    add_login(responses.mock)
    detail = invoice_json(3, CustomerId=9)
    del detail["CustomerCode"]
    responses.get(f"{BASE}/invoices/3", json=detail)
    responses.get(f"{BASE}/invoices", json=list_page(rows, len(rows)))
    assert rest_client.get_invoice(LOGIN, 3).customer_code == ""


# -- list rows that cannot say what is owed ---------------------------------------------------


@responses.activate
def test_rows_in_another_currency_take_what_is_owed_from_their_detail(
    rest_client: RestBackend,
) -> None:
    add_login(responses.mock)
    euros = {"Code": "EUR", "ExchangeRate": 1.165}
    rows = [
        row(1, Status="Unpaid", GrossAmount=1000, TotalPaidAmount=343.35, Currency=euros),
        row(2, Status="Unpaid", GrossAmount=500, TotalPaidAmount=0, Currency=euros),
    ]
    responses.get(f"{BASE}/invoices", json=list_page(rows, 2))
    detail = invoice_json(1, GrossAmount=1000, Currency=euros)
    del detail["DueAmount"]
    detail["PaymentLines"] = [{"Amount": 400, "Date": "2026-11-20 12:00:00"}]
    responses.get(f"{BASE}/invoices/1", json=detail)
    first, second = rest_client.list_invoices(LOGIN, customer="ACME01")
    assert (first.due_amount, first.amount_paid) == (600, 400)
    assert second.due_amount == 500  # nothing paid: no detail needed
    assert [c.request.url for c in responses.calls].count(f"{BASE}/invoices/1") == 1
