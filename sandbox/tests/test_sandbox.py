"""Tests of the KashFlow sandbox itself, over real HTTP with ``requests``.

One sandbox serves the module; each test starts with no faults and zeroed counters. Tests
that need other constructor arguments (short timeouts, a low lockout threshold) or that
change data start their own.
"""

from __future__ import annotations

import logging
import re
import time
import typing as t
import uuid
from collections import Counter
from datetime import date
from decimal import Decimal

import pytest
import requests

from kashflow_sandbox import KashFlowSandbox
from kashflow_sandbox.demo import demo_business
from sandbox_client import TIMEOUT
from sandbox_client import TODAY
from sandbox_client import Api
from sandbox_client import answers_for
from sandbox_client import decimal_json
from sandbox_client import finish_login
from sandbox_client import login
from sandbox_client import pdf_text
from sandbox_client import start_login

GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
OFFSET_DATE = re.compile(r"^\d{4}-\d{2}-\d{2} 12:00:00 [+-]\d{2}:\d{2}$")
PLAIN_DATE = re.compile(r"^\d{4}-\d{2}-\d{2} 12:00:00$")


# --- login -----------------------------------------------------------------------------------


def test_two_step_login_has_the_documented_shapes(sb: KashFlowSandbox) -> None:
    step1 = start_login(sb)
    assert step1.status_code == 201
    assert step1.headers["Content-Type"] == "application/json; charset=utf-8"
    body = step1.json()
    assert body["HasTemporaryPassword"] is False
    assert body["IsAdmin"] is True
    assert body["PackageName"] == "Business"
    assert body["PartnerBrandingOptOut"] is True
    assert body["PartnerId"] == 3
    assert body["SubscriptionExpired"] is False
    assert re.fullmatch(GUID, body["TemporaryToken"])
    positions = [item["Position"] for item in body["MemorableWordList"]]
    assert len(set(positions)) == 3
    assert all(1 <= p <= len(sb.memorable_word) for p in positions)
    assert all(item["Value"] == "" for item in body["MemorableWordList"])

    # Characters are compared case-insensitively.
    answers = answers_for(sb, body, sb.memorable_word.upper())
    step2 = finish_login(sb, body["TemporaryToken"], answers)
    assert step2.status_code == 200
    session = step2.json()
    assert re.fullmatch(GUID.replace("a-f", "A-F"), session["SessionToken"])
    assert session["CompanyName"] == "Sandbox Trading Ltd"
    assert session["StartPageUrl"] == "/"
    assert {"IsAdmin", "SubscriptionExpired", "PartnerId", "PackageName"} <= set(session)
    assert sb.logins == 1
    assert sb.failed_logins == 0
    assert sb.active_sessions() >= 1

    ok = requests.get(
        f"{sb.url}/invoices/1",
        headers={"Authorization": f"KfToken {session['SessionToken']}"},
        timeout=TIMEOUT,
    )
    assert ok.status_code == 200


@pytest.mark.parametrize("overrides", [{"Password": "wrong"}, {"UserName": "someone@example.test"}])
def test_wrong_username_or_password(sb: KashFlowSandbox, overrides: dict[str, str]) -> None:
    response = start_login(sb, **overrides)
    assert response.status_code == 400
    assert response.json() == {
        "Error": "InvalidCredentials",
        "Message": "The user name or password is incorrect.",
    }
    assert sb.failed_logins == 1
    assert sb.logins == 0


def test_username_is_case_insensitive(sb: KashFlowSandbox) -> None:
    assert start_login(sb, UserName=sb.username.upper()).status_code == 201


def test_wrong_memorable_word_and_single_use_temporary_token(sb: KashFlowSandbox) -> None:
    step1 = start_login(sb).json()
    wrong = [{"Position": a["Position"], "Value": "#"} for a in answers_for(sb, step1)]
    response = finish_login(sb, step1["TemporaryToken"], wrong)
    assert response.status_code == 400
    assert response.json()["Error"] == "InvalidMemorableWord"
    assert sb.failed_logins == 1

    # The temporary token was used up by the failed attempt.
    retry = finish_login(sb, step1["TemporaryToken"], answers_for(sb, step1))
    assert retry.status_code == 400
    assert retry.json()["Error"] == "InvalidTemporaryToken"
    assert sb.logins == 0


def test_answering_other_positions_is_a_wrong_word(sb: KashFlowSandbox) -> None:
    step1 = start_login(sb).json()
    asked = {item["Position"] for item in step1["MemorableWordList"]}
    others = [p for p in range(1, len(sb.memorable_word) + 1) if p not in asked][:3]
    answers = [{"Position": p, "Value": sb.memorable_word[p - 1]} for p in others]
    response = finish_login(sb, step1["TemporaryToken"], answers)
    assert response.json()["Error"] == "InvalidMemorableWord"


def test_unknown_temporary_token(sb: KashFlowSandbox) -> None:
    response = finish_login(sb, str(uuid.uuid4()), [{"Position": 1, "Value": "p"}])
    assert response.status_code == 400
    assert response.json()["Error"] == "InvalidTemporaryToken"
    assert sb.failed_logins == 0


@pytest.mark.parametrize("method", ["post", "put"])
def test_missing_or_invalid_json_is_400(sb: KashFlowSandbox, method: str) -> None:
    call = getattr(requests, method)
    for data in (b"", b"not json", b"[1, 2]"):
        response = call(f"{sb.url}/sessiontoken", data=data, timeout=TIMEOUT)
        assert response.status_code == 400
        assert response.json()["Error"] == "InvalidRequest"
    assert sb.failed_logins == 0


def test_lockout_after_threshold_and_unlock() -> None:
    with KashFlowSandbox(demo_data=False, lockout_threshold=3) as sb:
        for _ in range(3):
            assert start_login(sb, Password="nope").status_code == 400
        locked = start_login(sb)  # even the right password is refused now
        assert locked.status_code == 401
        assert locked.json() == {
            "Error": "AccountLocked",
            "Message": "User account is locked, please contact administrator.",
        }
        assert sb.failed_logins == 3
        sb.unlock_account()
        login(sb)
        assert sb.logins == 1


def test_wrong_memorable_words_count_towards_lockout() -> None:
    with KashFlowSandbox(demo_data=False, lockout_threshold=2) as sb:
        for _ in range(2):
            step1 = start_login(sb).json()
            wrong = [{"Position": a["Position"], "Value": "#"} for a in answers_for(sb, step1)]
            finish_login(sb, step1["TemporaryToken"], wrong)
        assert start_login(sb).json()["Error"] == "AccountLocked"


def test_lock_account_is_cleared_by_clear_faults(sb: KashFlowSandbox) -> None:
    sb.lock_account()
    assert start_login(sb).status_code == 401
    sb.clear_faults()
    assert start_login(sb).status_code == 201


# --- sessions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [None, "Bearer {token}", "KfToken", "KfToken 0A5335F9-CA73-4CDD-9F79-EA723138B64F", "{token}"],
    ids=["none", "bearer", "kftoken-alone", "unknown-session-token", "bare-token"],
)
def test_kftoken_is_required(sb: KashFlowSandbox, header: str | None) -> None:
    token = login(sb)
    headers = {"Authorization": header.format(token=token)} if header else {}
    for path in ("/invoices", "/invoices/1043", "/customers/ACME01"):
        response = requests.get(sb.url + path, headers=headers, timeout=TIMEOUT)
        assert response.status_code == 401
        assert response.json() == {
            "Error": "InvalidSessionToken",
            "Message": "Session token provided is invalid.",
        }


def test_expire_sessions(api: Api, sb: KashFlowSandbox) -> None:
    assert api.get("/invoices/1").status_code == 200
    sb.expire_sessions()
    assert sb.active_sessions() == 0
    assert api.get("/invoices/1").json()["Error"] == "InvalidSessionToken"


def test_delete_ends_the_session(api: Api, sb: KashFlowSandbox) -> None:
    response = requests.delete(f"{sb.url}/sessiontoken/{api.token}", timeout=TIMEOUT)
    assert response.status_code == 204
    assert response.content == b"" and "Content-Type" not in response.headers
    assert api.get("/invoices/1").status_code == 401
    assert sb.calls["sessiontoken.delete"] == 1


def test_session_tokens_are_never_logged(sb: KashFlowSandbox, caplog: t.Any) -> None:
    caplog.set_level(logging.DEBUG)
    token = login(sb)
    requests.delete(f"{sb.url}/sessiontoken/{token}", timeout=TIMEOUT)
    # Only the server side is ours; urllib3 logs the client's own request line.
    server_log = "\n".join(
        record.getMessage()
        for record in caplog.records
        if record.name.startswith(("kashflow_sandbox", "werkzeug"))
    )
    assert "sessiontoken/***" in server_log
    for secret in (token, token.lower(), sb.password, sb.memorable_word):
        assert secret not in server_log


# --- invoice list ----------------------------------------------------------------------------


def test_paging_through_bigco(api: Api, sb: KashFlowSandbox) -> None:
    pages = []
    url: str | None = f"{sb.url}/invoices?customercode=BIGCO01&perpage=100"
    while url:
        response = api.get(url)
        assert response.status_code == 200
        pages.append(response.json())
        url = pages[-1]["MetaData"]["NextPageUrl"]
    assert [len(page["Data"]) for page in pages] == [100, 100, 60]
    metas = [page["MetaData"] for page in pages]
    assert {meta["TotalRecords"] for meta in metas} == {260}
    assert metas[0]["PreviousPageUrl"] is None
    assert metas[-1]["NextPageUrl"] is None
    assert metas[2]["PreviousPageUrl"].startswith(f"{sb.origin}/v2/invoices?page=2&perpage=100")
    assert "page=3" in metas[0]["LastPageUrl"]
    assert "customercode=BIGCO01" in metas[0]["FirstPageUrl"]
    numbers = [row["Number"] for page in pages for row in page["Data"]]
    assert numbers == sorted(numbers) and len(set(numbers)) == 260
    rows = [row for page in pages for row in page["Data"]]
    assert {row["CustomerCode"] for row in rows} == {"BIGCO01"}
    assert {row["Status"] for row in rows} == {"Paid", "Unpaid", "Overdue", "Overpaid", "NA"}
    total = decimal_json(api.get(metas[0]["FirstPageUrl"]))["MetaData"]["TotalAmount"]
    assert total == sum(inv["GrossAmount"] for inv in sb.data.invoices_of("BIGCO01"))


def test_perpage_is_capped(api: Api, sb: KashFlowSandbox) -> None:
    response = api.get("/invoices", params={"perpage": 500})
    assert len(response.json()["Data"]) == 100
    assert "perpage=100" in response.json()["MetaData"]["NextPageUrl"]
    sb.set_max_perpage(20)
    meta = api.get("/invoices", params={"perpage": 50, "customercode": "BIGCO01"}).json()
    assert "page=13&perpage=20" in meta["MetaData"]["LastPageUrl"]
    assert len(meta["Data"]) == 20


def test_default_page_size_and_first_page(api: Api) -> None:
    body = api.get("/invoices").json()
    assert len(body["Data"]) == 50
    assert [row["Number"] for row in body["Data"][:4]] == [1, 2, 3, 4]


def test_sort_orders(api: Api, sb: KashFlowSandbox) -> None:
    desc = api.get("/invoices", params={"sortby": "Number", "order": "desc"}).json()["Data"]
    numbers = [row["Number"] for row in desc]
    assert numbers[0] == max(sb.invoices) and numbers == sorted(numbers, reverse=True)

    by_gross = decimal_json(
        api.get("/invoices", params={"sortby": "5", "perpage": 100, "customercode": "ACME01"})
    )["Data"]
    grosses = [row["GrossAmount"] for row in by_gross]
    assert grosses == sorted(grosses) and len(grosses) == 12

    by_date = api.get("/invoices", params={"SortBy": "InvoiceDate", "Order": "Desc"}).json()
    dates = [row["IssuedDate"][:10] for row in by_date["Data"]]
    assert dates == sorted(dates, reverse=True)


@pytest.mark.parametrize(
    "params",
    [
        {"page": "0"},
        {"page": "abc"},
        {"perpage": "0"},
        {"perpage": "-5"},
        {"sortby": "Colour"},
        {"order": "sideways"},
        {"filterby": "Bogus"},
    ],
)
def test_bad_list_parameters_are_400(api: Api, params: dict[str, str]) -> None:
    response = api.get("/invoices", params=params)
    assert response.status_code == 400
    assert response.json()["Error"] == "InvalidParameter"


def test_customer_and_status_filters(api: Api, sb: KashFlowSandbox) -> None:
    overdue = api.get("/invoices", params={"CustomerCode": "acme01", "filterby": "overdue"})
    rows = overdue.json()["Data"]
    assert rows and {(r["CustomerCode"], r["Status"]) for r in rows} == {("ACME01", "Overdue")}
    assert 1043 in [r["Number"] for r in rows]

    paid = api.get("/invoices", params={"customercode": "ACME01", "statusfilter": "Paid"})
    assert {r["Status"] for r in paid.json()["Data"]} == {"Paid"}

    # "Unpaid" means exactly the Unpaid status (not Overdue).
    unpaid = api.get("/invoices", params={"filterby": "Unpaid", "perpage": 100}).json()
    assert {r["Status"] for r in unpaid["Data"]} == {"Unpaid"}
    expected = sum(1 for inv in sb.invoices.values() if inv["Status"] == "Unpaid")
    assert unpaid["MetaData"]["TotalRecords"] == expected

    nobody = api.get("/invoices", params={"customercode": "NOBODY"}).json()
    assert nobody["Data"] == [] and nobody["MetaData"]["TotalRecords"] == 0
    assert nobody["MetaData"]["NextPageUrl"] is None


def test_ignore_filters(api: Api, sb: KashFlowSandbox) -> None:
    sb.ignore_filters()
    body = api.get("/invoices", params={"customercode": "ACME01", "filterby": "Paid"}).json()
    assert body["MetaData"]["TotalRecords"] == len(sb.invoices)
    assert {r["CustomerCode"] for r in body["Data"]} != {"ACME01"}
    sb.ignore_filters(False)
    body = api.get("/invoices", params={"customercode": "ACME01"}).json()
    assert body["MetaData"]["TotalRecords"] == 12


def test_list_rows_are_summaries(api: Api, sb: KashFlowSandbox) -> None:
    row = api.get("/invoices", params={"customercode": "ACME01"}).json()["Data"][0]
    for absent in ("Permalink", "PackingSlipPermalink", "ReminderLetters"):
        assert absent not in row
    assert row["LineItems"] is None and row["PaymentLines"] is None
    detail = sb.invoices[row["Number"]]
    assert row["Status"] == detail["Status"] and row["IssuedDate"] == detail["IssuedDate"]


# --- details ---------------------------------------------------------------------------------


def test_invoice_detail(api: Api, sb: KashFlowSandbox) -> None:
    response = api.get("/invoices/1043")
    assert response.status_code == 200
    invoice = decimal_json(response)
    assert invoice["CustomerCode"] == "ACME01"
    assert invoice["CustomerName"] == "Acme Trading Ltd"
    assert invoice["Status"] in ("Unpaid", "Overdue")
    assert re.fullmatch(f"/v2/documents/invoice/{GUID}", invoice["Permalink"])
    assert re.fullmatch(f"v2/documents/packingslip/{GUID}", invoice["PackingSlipPermalink"])
    lines = invoice["LineItems"]
    assert 1 <= len(lines) <= 6
    assert invoice["NetAmount"] == sum(line["Quantity"] * line["Rate"] for line in lines)
    assert invoice["VATAmount"] == sum(line["VATAmount"] for line in lines)
    assert invoice["GrossAmount"] == invoice["NetAmount"] + invoice["VATAmount"]
    assert invoice["DueAmount"] == max(invoice["GrossAmount"] - invoice["TotalPaidAmount"], 0)
    assert invoice["Currency"]["Code"] == "GBP"
    assert invoice["PreviousNumber"] == 1042 and invoice["NextNumber"] == 1044
    assert invoice["GrossAmount"] == sb.invoices[1043]["GrossAmount"]
    if invoice["Status"] == "Overdue":
        assert invoice["OverdueDays"] > 0 and invoice["ReminderLetters"]


def test_documented_invoice_4(api: Api) -> None:
    raw = api.get("/invoices/4").text
    assert '"GrossAmount":117.5000' in raw
    assert '"ExchangeRate":1.0000' in raw
    invoice = decimal_json(api.get("/invoices/4"))
    assert invoice["Status"] == "Paid"
    assert [p["Amount"] for p in invoice["PaymentLines"]] == [Decimal("110.5"), Decimal("7")]
    assert invoice["Permalink"] == "/v2/documents/invoice/3a22b041-8d45-496a-946d-bd2252a0d28c"
    assert invoice["IssuedDate"] == "2012-10-09 12:00:00 +05:30"


@pytest.mark.parametrize(
    ("path", "status", "error"),
    [
        ("/invoices/999999", 404, "NotFound"),
        ("/invoices/abc", 400, "InvalidParameter"),
        ("/customers/NOSUCH", 404, "NotFound"),
        ("/documents/invoice/00000000-0000-4000-8000-000000000000", 404, "NotFound"),
        ("/documents/invoice/payment/00000000-0000-4000-8000-000000000000", 404, "NotFound"),
        ("/documents/customerstatement/00000000-0000-4000-8000-000000000000", 404, "NotFound"),
    ],
)
def test_not_found_and_bad_ids(api: Api, path: str, status: int, error: str) -> None:
    response = api.get(path)
    assert response.status_code == status
    assert response.json()["Error"] == error
    assert response.json()["Message"]


def test_customer_detail(api: Api, sb: KashFlowSandbox) -> None:
    customer = decimal_json(api.get("/customers/acme01"))
    assert customer["Code"] == "ACME01"
    assert customer["Name"] == "Acme Trading Ltd"
    assert re.fullmatch(GUID, customer["Key"])
    assert customer["Contacts"][0]["Email"].endswith(".test")
    assert customer["InvoiceCount"] == 12
    outstanding = sum(
        inv["DueAmount"]
        for inv in sb.data.invoices_of("ACME01")
        if inv["Status"] in ("Unpaid", "Overdue")
    )
    assert customer["OutstandingBalance"] == outstanding > 0
    assert customer["PaymentTerms"] == {"Days": 30, "Type": "AfterIssuedDate"}

    pdri = api.get("/customers/PDRI91").json()
    assert pdri["Name"] == "дравс дравс др"
    assert pdri["FirstInvoiceDate"] == pdri["LastInvoiceDate"] == "1900-01-01 12:00:00 +05:30"
    assert pdri["Key"] == "a397a2e9-87f3-48ca-9bd0-1ad64585c0eb"


def test_amounts_have_four_decimal_places(api: Api) -> None:
    raw = api.get("/invoices", params={"customercode": "BIGCO01", "perpage": 100}).text
    amounts = re.findall(r'"(\w*Amount)":(-?[0-9][0-9.eE+-]*)', raw)
    assert len(amounts) > 500
    assert all(re.fullmatch(r"-?\d+\.\d{4}", value) for _, value in amounts), amounts[:5]
    raw = api.get("/invoices/1043").text
    assert re.search(r'"Quantity":\d+\.\d{4}', raw) and re.search(r'"Rate":\d+\.\d{4}', raw)


def test_both_date_forms_are_used(api: Api) -> None:
    dates: list[str] = []
    url: str | None = "/invoices?perpage=100"
    while url:
        body = api.get(url).json()
        for row in body["Data"]:
            dates += [row["IssuedDate"], row["DueDate"]]
            dates += [row[key] for key in ("PaidDate", "LastPaymentDate") if row[key]]
        url = body["MetaData"]["NextPageUrl"]
    assert all(OFFSET_DATE.match(d) or PLAIN_DATE.match(d) for d in dates)
    assert any(PLAIN_DATE.match(d) for d in dates)
    offsets = {d[-6:] for d in dates if OFFSET_DATE.match(d)}
    assert {"+00:00", "+01:00"} <= offsets


def test_unpaid_invoices_have_null_paid_date(sb: KashFlowSandbox) -> None:
    for invoice in sb.invoices.values():
        if invoice["Status"] in ("Unpaid", "Overdue", "NA"):
            assert invoice["PaidDate"] is None
        else:
            assert invoice["PaidDate"] is not None


# --- documents -------------------------------------------------------------------------------


def test_invoice_pdf(api: Api, sb: KashFlowSandbox) -> None:
    response = api.get(sb.origin + sb.invoices[1043]["Permalink"])
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-") and response.content.endswith(b"%%EOF")
    text = pdf_text(response.content)
    for expected in ("Sandbox Trading Ltd", "1043", "Acme Trading Ltd", "Issued", "£"):
        assert expected in text
    assert sb.calls["documents.get"] == 1


def test_payment_receipt_and_statement_pdfs(api: Api, sb: KashFlowSandbox) -> None:
    paid = next(i for i in sb.data.invoices_of("ACME01") if i["PaymentLines"])
    payment = paid["PaymentLines"][0]
    assert re.fullmatch(f"/v2/documents/invoice/payment/{GUID}", payment["Permalink"])
    receipt = api.get(sb.origin + payment["Permalink"])
    assert receipt.status_code == 200 and receipt.content.endswith(b"%%EOF")
    assert str(paid["Number"]) in pdf_text(receipt.content)

    key = sb.customers["ACME01"]["Key"]
    statement = api.get(
        f"/documents/customerstatement/{key}", params={"filterby": "All", "excludepaid": "false"}
    )
    assert statement.status_code == 200
    assert statement.content.startswith(b"%PDF-") and statement.content.endswith(b"%%EOF")
    assert "1043" in pdf_text(statement.content)

    ranged = api.get(
        f"/documents/customerstatement/{key}",
        params={"startdate": "20250101", "enddate": "20250301"},
    )
    assert "1043" in pdf_text(ranged.content)
    assert api.get(f"/documents/customerstatement/{key}?startdate=2025").status_code == 400


def test_documents_need_a_session(sb: KashFlowSandbox) -> None:
    response = requests.get(sb.origin + sb.invoices[1043]["Permalink"], timeout=TIMEOUT)
    assert response.status_code == 401


def test_truncate_pdf_next(api: Api, sb: KashFlowSandbox) -> None:
    url = sb.origin + sb.invoices[1043]["Permalink"]
    whole = api.get(url).content
    sb.truncate_pdf_next(1)
    # A refused request does not use the fault up.
    assert requests.get(url, timeout=TIMEOUT).status_code == 401
    cut = api.get(url)
    assert cut.status_code == 200 and cut.headers["Content-Type"] == "application/pdf"
    assert cut.content.startswith(b"%PDF-") and not cut.content.endswith(b"%%EOF")
    assert len(cut.content) == int(cut.headers["Content-Length"]) == len(whole) // 2
    assert api.get(url).content == whole


# --- faults ----------------------------------------------------------------------------------


def test_fail_next(api: Api, sb: KashFlowSandbox) -> None:
    sb.fail_next(2)
    for _ in range(2):
        response = api.get("/invoices/1043")
        assert response.status_code == 503
        assert response.json()["Error"] == "ServiceUnavailable"
    assert api.get("/invoices/1043").status_code == 200
    assert sb.calls["invoices.get"] == 3


def test_fail_next_for_one_endpoint_with_custom_body(api: Api, sb: KashFlowSandbox) -> None:
    sb.fail_next(1, 502, endpoint="invoices.get", body="<html>Bad gateway</html>")
    sb.fail_next(1, 500, endpoint="customers", body={"Message": "An error has occurred."})
    assert api.get("/invoices").status_code == 200
    gateway = api.get("/invoices/1")
    assert gateway.status_code == 502 and gateway.text == "<html>Bad gateway</html>"
    assert gateway.headers["Content-Type"].startswith("text/plain")
    error = api.get("/customers/ACME01")
    assert error.status_code == 500 and error.json() == {"Message": "An error has occurred."}

    sb.fail_next(1, 504, endpoint="invoices", headers={"Content-Type": "text/html", "X-A": "1"})
    sb.fail_next(1, 418)
    proxy = api.get("/invoices")
    assert proxy.status_code == 504 and proxy.headers["X-A"] == "1"
    assert api.get("/invoices/1").json()["Error"] == "I'maTeapot"


def test_faults_can_hit_the_login(sb: KashFlowSandbox) -> None:
    sb.fail_next(1, endpoint="sessiontoken.post")
    assert start_login(sb).status_code == 503
    assert start_login(sb).status_code == 201


def test_sql_timeout_next(api: Api, sb: KashFlowSandbox) -> None:
    sb.sql_timeout_next(1, endpoint="invoices.list")
    response = api.get("/invoices")
    assert response.status_code == 400
    assert response.json() == {
        "Error": "-2146232060",
        "Message": (
            "Execution Timeout Expired.  The timeout period elapsed prior to completion of the "
            "operation or the server is not responding."
        ),
    }
    assert api.get("/invoices").status_code == 200


def test_rate_limit_next(api: Api, sb: KashFlowSandbox) -> None:
    sb.rate_limit_next(1, retry_after=2)
    response = api.get("/invoices/1043")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"
    assert api.get("/invoices/1043").status_code == 200


def test_malformed_next(api: Api, sb: KashFlowSandbox) -> None:
    sb.malformed_next(1, endpoint="invoices")
    response = api.get("/invoices/1043")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    with pytest.raises(ValueError):
        response.json()
    assert api.get("/invoices/1043").json()["Number"] == 1043


def test_hang_next_and_latency_really_wait(api: Api, sb: KashFlowSandbox) -> None:
    # Which calls wait, and how long, is tested with an injected sleep (test_sandbox_faults);
    # this proves the default sleep is real, with one short delay and no upper bound to flake.
    sb.hang_next(1, 0.3, endpoint="invoices.get")
    started = time.monotonic()
    assert api.get("/invoices/1043").status_code == 200
    assert time.monotonic() - started >= 0.3
    sb.set_latency(0.3, endpoint="customers")
    started = time.monotonic()
    api.get("/customers/ACME01")
    assert time.monotonic() - started >= 0.3
    sb.set_latency(0, endpoint="customers")


def test_drop_next(api: Api, sb: KashFlowSandbox) -> None:
    sb.drop_next(1, endpoint="invoices.get")
    with pytest.raises(requests.ConnectionError):
        api.get("/invoices/1043")
    assert api.get("/invoices/1043").status_code == 200


def test_fault_arguments_are_checked(sb: KashFlowSandbox) -> None:
    with pytest.raises(ValueError, match="unknown endpoint"):
        sb.fail_next(1, endpoint="invoice.get")
    with pytest.raises(ValueError):
        sb.fail_next(-1)
    with pytest.raises(ValueError):
        sb.fail_next(1, status=999)
    with pytest.raises(ValueError):
        sb.set_max_perpage(0)


# --- control routes and counters -------------------------------------------------------------


def test_control_routes(api: Api, sb: KashFlowSandbox) -> None:
    api.get("/invoices/1043")
    stats = requests.get(f"{sb.origin}/_sandbox/stats", timeout=TIMEOUT).json()
    assert stats["calls"]["invoices.get"] == 1
    assert stats["logins"] == 1 and stats["failed_logins"] == 0
    assert stats["active_sessions"] >= 1

    faults = f"{sb.origin}/_sandbox/faults"
    ok = requests.post(faults, json={"action": "fail_next", "n": 1, "status": 502}, timeout=5)
    assert ok.status_code == 200 and ok.json() == {"ok": True}
    # Control routes are neither counted nor faulted.
    assert requests.get(f"{sb.origin}/_sandbox/stats", timeout=TIMEOUT).status_code == 200
    assert api.get("/invoices/1043").status_code == 502

    for body in ({"action": "explode"}, {"action": "fail_next"}, {"action": "hang_next", "n": 1}):
        response = requests.post(faults, json=body, timeout=TIMEOUT)
        assert response.status_code == 400 and response.json()["ok"] is False

    requests.post(faults, json={"action": "lock_account"}, timeout=TIMEOUT)
    assert start_login(sb).status_code == 401
    requests.post(faults, json={"action": "clear_faults"}, timeout=TIMEOUT)
    requests.post(faults, json={"action": "reset_counters"}, timeout=TIMEOUT)
    stats = requests.get(f"{sb.origin}/_sandbox/stats", timeout=TIMEOUT).json()
    assert stats["calls"] == {} and stats["logins"] == 0


def test_counters(sb: KashFlowSandbox) -> None:
    token = login(sb)
    start_login(sb, Password="wrong")
    headers = {"Authorization": f"KfToken {token}"}
    for path in ("/invoices", "/invoices/1", "/customers/ACME01", "/nope", "/v2/nope"):
        url = sb.url + path if not path.startswith("/v2") else sb.origin + path
        requests.get(url, headers=headers, timeout=TIMEOUT)
    requests.get(sb.origin + sb.invoices[1]["Permalink"], headers=headers, timeout=TIMEOUT)
    requests.delete(f"{sb.url}/invoices/1", headers=headers, timeout=TIMEOUT)  # 405
    requests.delete(f"{sb.url}/sessiontoken/{token}", timeout=TIMEOUT)
    assert sb.calls == Counter(
        {
            "sessiontoken.post": 2,
            "sessiontoken.put": 1,
            "sessiontoken.delete": 1,
            "invoices.list": 1,
            "invoices.get": 1,
            "customers.get": 1,
            "documents.get": 1,
            "other": 3,
        }
    )
    assert (sb.logins, sb.failed_logins) == (1, 1)
    sb.reset_counters()
    assert sb.calls == Counter() and sb.logins == 0 and sb.failed_logins == 0


def test_unknown_routes_are_json_404(sb: KashFlowSandbox) -> None:
    response = requests.get(f"{sb.url}/quotes", timeout=TIMEOUT)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.json()["Error"] == "NotFound"
    assert requests.post(f"{sb.url}/invoices", timeout=TIMEOUT).status_code == 405


# --- data ------------------------------------------------------------------------------------


def test_demo_data_invariants(sb: KashFlowSandbox) -> None:
    invoices, customers = sb.invoices, sb.customers
    assert {i["Status"] for i in invoices.values()} == {
        "Paid",
        "Unpaid",
        "Overdue",
        "Overpaid",
        "NA",
    }
    assert {1, 2, 3, 4} <= set(invoices) and 1043 in invoices
    assert min(n for n in invoices if n > 4) == 1001
    assert Counter(i["CustomerCode"] for i in invoices.values())["BIGCO01"] == 260
    for invoice in invoices.values():
        gross, paid = invoice["GrossAmount"], invoice["TotalPaidAmount"]
        assert gross == invoice["NetAmount"] + invoice["VATAmount"]
        assert invoice["DueAmount"] == max(gross - paid, 0)
        assert 1 <= len(invoice["LineItems"]) <= 6
        status = invoice["Status"]
        if status == "NA":
            assert gross == 0
        elif status == "Overpaid":
            assert paid > gross and invoice["DueAmount"] == 0
        elif status == "Paid":
            assert paid == gross
        elif status == "Overdue":
            assert invoice["OverdueDays"] > 0 and invoice["ReminderLetters"]
        else:
            assert invoice["OverdueDays"] == 0
        if paid:
            assert invoice["PaymentLines"] and invoice["LastPaymentDate"]
    for code, customer in customers.items():
        assert customer["InvoiceCount"] == len(sb.data.invoices_of(code))
        for contact in customer["Contacts"]:
            domain = contact["Email"].rsplit("@", 1)[1]
            assert domain.endswith((".test", "example.com", "example.org")), contact["Email"]
    assert customers["MULLER01"]["Name"] == "Müller & Söhne GmbH"
    assert customers["MULLER01"]["Currency"]["Code"] == "EUR"
    assert customers["MULLER01"]["Currency"]["DisplaySymbolOnRight"] is True
    names = [c["Name"] for c in customers.values()]
    assert any(len(name) > 120 for name in names)
    assert any(re.search("[\u0600-\u06ff]", name) for name in names)  # Arabic
    assert any(re.search("[\u3040-\u30ff\u4e00-\u9fff]", name) for name in names)  # Japanese
    assert customers["TCUST01"]["DisplayName"] == "John Smith, CR21 4RT"
    assert customers["BALA02"]["InvoiceCount"] == 0


def test_demo_data_is_deterministic() -> None:
    one = demo_business(today=TODAY, seed=7)
    assert one.invoices == demo_business(today=TODAY, seed=7).invoices
    other = demo_business(today=TODAY, seed=8)
    assert other.invoices[1043]["CustomerCode"] == "ACME01"
    assert other.invoices[1043]["Status"] in ("Unpaid", "Overdue")
    assert one.invoices != other.invoices


def test_add_update_and_remove() -> None:
    with KashFlowSandbox(demo_data=False, today=TODAY) as sb:
        api = Api(sb)
        customer = sb.add_customer({"Code": "NEW01", "Name": "New Customer Ltd"})
        assert re.fullmatch(GUID, customer["Key"])
        assert customer["FirstInvoiceDate"] == "1900-01-01 12:00:00 +05:30"
        invoice = sb.add_invoice(
            {
                "CustomerCode": "NEW01",
                "IssuedDate": date(2026, 10, 1),
                "LineItems": [{"Description": "Widget", "Quantity": 2, "Rate": "10.00"}],
            }
        )
        assert invoice["Number"] == 1001 and invoice["Status"] == "Unpaid"
        assert invoice["GrossAmount"] == Decimal("24.00")
        assert invoice["DueDate"] == "2026-10-31 12:00:00 +00:00"
        assert api.get("/invoices/1001").json()["Status"] == "Unpaid"
        assert sb.customers["NEW01"]["OutstandingBalance"] == Decimal("24.00")

        sb.update_invoice(1001, PaymentLines=[{"Amount": "24.00", "Date": date(2026, 10, 5)}])
        paid = api.get("/invoices/1001").json()
        assert paid["Status"] == "Paid" and paid["PaidDate"] == "2026-10-05 12:00:00 +01:00"
        assert sb.customers["NEW01"]["OutstandingBalance"] == 0

        sb.update_invoice(1001, DueDate=date(2026, 10, 2), TotalPaidAmount=0)
        overdue = api.get("/invoices/1001").json()
        assert (overdue["Status"], overdue["OverdueDays"]) == ("Overdue", 7)

        sb.add_invoice({"CustomerCode": "NEW01", "GrossAmount": 0})
        assert sb.invoices[1002]["Status"] == "NA"
        assert sb.invoices[1001]["NextNumber"] == 1002

        sb.remove_invoice(1001)
        assert api.get("/invoices/1001").status_code == 404
        assert sb.invoices[1002]["PreviousNumber"] == 0
        with pytest.raises(ValueError):
            sb.add_invoice({"CustomerCode": "NOBODY"})
        api.close()


# --- lifecycle -------------------------------------------------------------------------------


def test_lifecycle_and_account_config() -> None:
    sb = KashFlowSandbox(demo_data=False, port=0)
    with pytest.raises(RuntimeError):
        _ = sb.url
    assert sb.start() is sb
    with pytest.raises(RuntimeError):
        sb.start()
    url = sb.url
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v2", url)
    assert sb.origin == url[: -len("/v2")]
    assert sb.account_config(brand={"name": "Acme"}) == {
        "username": sb.username,
        "password": sb.password,
        "memorable_word": sb.memorable_word,
        "brand": {"name": "Acme"},
    }
    assert "correct horse" not in repr(sb)
    sb.stop()
    sb.stop()  # idempotent
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/invoices", timeout=TIMEOUT)


def test_pdf_wraps_long_names(api: Api, sb: KashFlowSandbox) -> None:
    invoice = sb.data.invoices_of("LONG01")[0]
    text = pdf_text(api.get(sb.origin + invoice["Permalink"]).content)
    assert len(max(text.splitlines(), key=len)) < 100  # wrapped, not run off the page
    assert sb.customers["LONG01"]["Name"] in " ".join(text.split())
    # Characters outside WinAnsi come out as "?", but the document still renders.
    arabic = sb.data.invoices_of("ALUFUQ01")[0]
    assert "ALUFUQ01" in pdf_text(api.get(sb.origin + arabic["Permalink"]).content)
