"""Unit tests of the KashFlow client's HTTP handling, with ``responses``.

Every path: the documented login, token reuse, re-login after 401, lock-out and cool-down,
each retry rule and each error. Retries that need a real socket (connection errors,
``Retry-After`` sleeps) are covered against the sandbox in ``test_kashflow_integration.py``.
"""

from __future__ import annotations

import json
import typing as t
from decimal import Decimal

import pytest
import requests
import responses
from urllib3.exceptions import ReadTimeoutError

from flask_kashflow_links import KashFlowAccountLocked
from flask_kashflow_links import KashFlowAuthError
from flask_kashflow_links import KashFlowBadResponse
from flask_kashflow_links import KashFlowNotFound
from flask_kashflow_links import KashFlowUnavailable
from flask_kashflow_links.cache import SafeCache
from flask_kashflow_links.kashflow.http import BoundedRetry
from flask_kashflow_links.kashflow.rest import PAGE_CONCURRENCY
from flask_kashflow_links.kashflow.rest import RestBackend
from flask_kashflow_links.kashflow.session import SessionTokens

from .helpers import BASE
from .helpers import CREDS
from .helpers import LOGIN
from .helpers import PDF
from .helpers import add_login
from .helpers import invoice_json

SQL_TIMEOUT = {"Error": "-2146232060", "Message": "Execution Timeout Expired."}


def logins(rsps: responses.RequestsMock) -> int:
    return sum(1 for c in rsps.calls if c.request.method == "PUT")


# -- login ---------------------------------------------------------------------------------------


@responses.activate(assert_all_requests_are_fired=False)
def test_login_follows_the_documented_two_steps(rest_client: RestBackend) -> None:
    add_login(responses.mock, positions=(3, 4, 6))
    result = rest_client.sessions.login(CREDS)
    assert result.session_token == "SESSION-1" and result.company_name == "Acme"
    post, put = responses.calls[0].request, responses.calls[1].request
    assert json.loads(post.body) == {"UserName": "owner@acme.example", "Password": "s3cret-pass"}
    # "pineapple": positions 3, 4, 6 (1-based) are n, e, p.
    assert json.loads(put.body) == {
        "TemporaryToken": "temp-123",
        "MemorableWordList": [
            {"Position": 3, "Value": "n"},
            {"Position": 4, "Value": "e"},
            {"Position": 6, "Value": "p"},
        ],
    }
    assert "pineapple" not in repr(result) and "SESSION-1" not in repr(result)


@pytest.mark.parametrize("positions", [(1, 2, 3, 4), tuple(range(1, 10)), (9, 1, 5, 5, 2)])
@responses.activate(assert_all_requests_are_fired=False)
def test_a_login_asking_for_more_than_three_characters_answers_none(
    rest_client: RestBackend, positions: tuple[int, ...]
) -> None:
    """A hostile or mistyped API_BASE_URL asking for every position would learn the word."""
    add_login(responses.mock, positions=positions)
    with pytest.raises(KashFlowBadResponse, match="KASHFLOW_LINKS_API_BASE_URL") as caught:
        rest_client.sessions.login(CREDS)
    assert [c.request.method for c in responses.calls] == ["POST"]  # nothing answered
    assert "characters of the memorable word" in str(caught.value)


@responses.activate(assert_all_requests_are_fired=False)
def test_a_position_asked_twice_counts_once(rest_client: RestBackend) -> None:
    add_login(responses.mock, positions=(6, 3, 6))
    assert rest_client.sessions.login(CREDS).session_token == "SESSION-1"
    answered = json.loads(responses.calls[1].request.body)["MemorableWordList"]
    assert {a["Position"] for a in answered} == {3, 6}


@responses.activate
def test_every_call_sends_kftoken_and_reuses_one_session(rest_client: RestBackend) -> None:
    add_login(responses.mock)
    responses.get(f"{BASE}/invoices/1043", json=invoice_json())
    responses.get(f"{BASE}/invoices/1044", json=invoice_json(1044))
    rest_client.get_invoice(LOGIN, 1043)
    rest_client.get_invoice(LOGIN, 1044)
    gets = [c.request for c in responses.calls if c.request.method == "GET"]
    assert all(r.headers["Authorization"] == "KfToken SESSION-1" for r in gets)
    assert logins(responses.mock) == 1 and rest_client.stats.logins == 1


def test_the_session_token_is_shared_through_the_cache_sealed(
    rest_client: RestBackend, token_cache: SafeCache
) -> None:
    with responses.RequestsMock() as rsps:
        add_login(rsps)
        assert rest_client.sessions.session_token(LOGIN) == "SESSION-1"
    sealed = token_cache.get("ns1:session")
    assert isinstance(sealed, bytes) and b"SESSION-1" not in sealed
    # Another client (another worker) sharing the cache logs in zero times.
    other = RestBackend(BASE, tokens=rest_client.sessions.tokens)
    assert other.sessions.session_token(LOGIN) == "SESSION-1"
    assert other.stats.logins == 0


@responses.activate
def test_401_invalid_session_logs_in_again_once(rest_client: RestBackend) -> None:
    add_login(responses.mock, token="OLD")
    rest_client.sessions.session_token(LOGIN)
    add_login(responses.mock, token="NEW")
    responses.get(
        f"{BASE}/invoices/1043",
        status=401,
        json={"Error": "InvalidSessionToken", "Message": "Session token provided is invalid."},
        match=[responses.matchers.header_matcher({"Authorization": "KfToken OLD"})],
    )
    responses.get(
        f"{BASE}/invoices/1043",
        json=invoice_json(),
        match=[responses.matchers.header_matcher({"Authorization": "KfToken NEW"})],
    )
    assert rest_client.get_invoice(LOGIN, 1043).number == 1043
    assert rest_client.stats.logins == 2


@responses.activate
def test_a_fresh_token_refused_again_stops_and_pauses_logins(rest_client: RestBackend) -> None:
    add_login(responses.mock)
    responses.get(f"{BASE}/invoices/1043", status=401, json={"Error": "InvalidSessionToken"})
    with pytest.raises(KashFlowAuthError, match="IP address"):
        rest_client.get_invoice(LOGIN, 1043)
    assert rest_client.stats.logins == 2  # the first login and exactly one retry
    assert rest_client.sessions.tokens.cooldown_until("ns1") is not None
    with pytest.raises(KashFlowAccountLocked):
        rest_client.get_invoice(LOGIN, 1043)
    assert rest_client.stats.logins == 2


@responses.activate
def test_account_locked_at_login_pauses_logins(rest_client: RestBackend) -> None:
    responses.post(
        f"{BASE}/sessiontoken",
        status=401,
        json={"Error": "AccountLocked", "Message": "User account is locked."},
    )
    with pytest.raises(KashFlowAccountLocked) as info:
        rest_client.get_invoice(LOGIN, 1043)
    assert info.value.retry_at is not None
    calls = len(responses.calls)
    for _ in range(5):
        with pytest.raises(KashFlowAccountLocked):
            rest_client.get_invoice(LOGIN, 1043)
    assert len(responses.calls) == calls  # no further login attempts during the cool-down


@responses.activate
def test_account_locked_mid_session_pauses_logins(rest_client: RestBackend) -> None:
    add_login(responses.mock)
    responses.get(f"{BASE}/invoices/1043", status=401, json={"Error": "AccountLocked"})
    with pytest.raises(KashFlowAccountLocked):
        rest_client.get_invoice(LOGIN, 1043)
    assert rest_client.sessions.tokens.cooldown_until("ns1") is not None


@responses.activate
def test_wrong_password(rest_client: RestBackend) -> None:
    responses.post(
        f"{BASE}/sessiontoken",
        status=400,
        json={"Error": "InvalidCredentials", "Message": "The user name or password is incorrect."},
    )
    with pytest.raises(KashFlowAuthError) as info:
        rest_client.sessions.session_token(LOGIN)
    assert info.value.step == "password" and "InvalidCredentials" in str(info.value)
    assert "s3cret-pass" not in str(info.value)
    assert info.value.request is not None and info.value.request.body is None  # redacted
    assert rest_client.sessions.tokens.cooldown_until("ns1") is not None
    assert rest_client.stats.failed_logins == 1


@responses.activate
def test_wrong_memorable_word(rest_client: RestBackend) -> None:
    responses.post(
        f"{BASE}/sessiontoken",
        status=201,
        json={"TemporaryToken": "t", "MemorableWordList": [{"Position": 1}, {"Position": 2}]},
    )
    responses.put(f"{BASE}/sessiontoken", status=400, json={"Error": "InvalidMemorableWord"})
    with pytest.raises(KashFlowAuthError) as info:
        rest_client.sessions.session_token(LOGIN)
    assert info.value.step == "memorable_word"
    assert "pineapple" not in str(info.value)


@responses.activate
def test_memorable_word_too_short_for_the_positions_asked(rest_client: RestBackend) -> None:
    responses.post(
        f"{BASE}/sessiontoken",
        status=201,
        json={"TemporaryToken": "t", "MemorableWordList": [{"Position": 12}]},
    )
    with pytest.raises(KashFlowAuthError, match="only 9 characters"):
        rest_client.sessions.session_token(LOGIN)
    assert len(responses.calls) == 1  # never sent a wrong answer


@responses.activate
def test_api_disabled_or_ip_refused_is_explained(rest_client: RestBackend) -> None:
    responses.post(f"{BASE}/sessiontoken", status=403, json={"Message": "Forbidden"})
    with pytest.raises(KashFlowAuthError, match="API Settings"):
        rest_client.sessions.session_token(LOGIN)


@responses.activate
def test_login_answer_without_session_token_is_a_bad_response(rest_client: RestBackend) -> None:
    responses.post(
        f"{BASE}/sessiontoken",
        status=201,
        json={"TemporaryToken": "t", "MemorableWordList": [{"Position": 1}]},
    )
    responses.put(f"{BASE}/sessiontoken", status=200, json={"CompanyName": "x"})
    with pytest.raises(KashFlowBadResponse):
        rest_client.sessions.session_token(LOGIN)


# -- retries ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [502, 503, 504, 429])
@responses.activate
def test_transient_statuses_are_retried(rest_client: RestBackend, status: int) -> None:
    add_login(responses.mock)
    responses.get(f"{BASE}/invoices/1043", status=status, headers={"Retry-After": "0"})
    responses.get(f"{BASE}/invoices/1043", json=invoice_json())
    assert rest_client.get_invoice(LOGIN, 1043).number == 1043
    assert sum(1 for c in responses.calls if c.request.method == "GET") == 2


@pytest.mark.parametrize("status", [502, 503, 504, 429])
@responses.activate
def test_transient_statuses_give_up_after_the_retries(
    rest_client: RestBackend, status: int
) -> None:
    add_login(responses.mock)
    responses.get(f"{BASE}/invoices/1043", status=status, headers={"Retry-After": "0"})
    with pytest.raises(KashFlowUnavailable, match=str(status)):
        rest_client.get_invoice(LOGIN, 1043)
    assert sum(1 for c in responses.calls if c.request.method == "GET") == 3  # 1 + 2 retries


@pytest.mark.parametrize("status", [500, 501, 400, 409])
@responses.activate
def test_other_failures_are_not_retried(rest_client: RestBackend, status: int) -> None:
    add_login(responses.mock)
    responses.get(f"{BASE}/invoices/1043", status=status, json={"Error": "Oops", "Message": "no"})
    # A 400 for an invoice number is KashFlow's way (one of three) of saying "no such invoice".
    expected = {400: KashFlowNotFound}.get(
        status, KashFlowUnavailable if status >= 500 else KashFlowBadResponse
    )
    with pytest.raises(expected):
        rest_client.get_invoice(LOGIN, 1043)
    assert sum(1 for c in responses.calls if c.request.method == "GET") == 1


@responses.activate
def test_sql_timeout_400_is_retried_with_backoff(token_cache: SafeCache) -> None:
    sleeps: list[float] = []
    client = RestBackend(
        BASE,
        tokens=SessionTokens(token_cache, lambda b: b, lambda b: b),
        retries=2,
        backoff=0.5,
        sleep=sleeps.append,
    )
    add_login(responses.mock)
    responses.get(f"{BASE}/invoices/1043", status=400, json=SQL_TIMEOUT)
    responses.get(f"{BASE}/invoices/1043", status=400, json=SQL_TIMEOUT)
    responses.get(f"{BASE}/invoices/1043", json=invoice_json())
    assert client.get_invoice(LOGIN, 1043).number == 1043
    assert sleeps == [2.0, 8.0]  # 0.5 * 4**n: the 2 s / 8 s KashFlow users settled on
    assert client.stats.sql_timeout_retries == 2


@responses.activate
def test_sql_timeout_400_gives_up_as_unavailable(rest_client: RestBackend) -> None:
    add_login(responses.mock)
    responses.get(f"{BASE}/invoices/1043", status=400, json=SQL_TIMEOUT)
    with pytest.raises(KashFlowUnavailable, match="timed out"):
        rest_client.get_invoice(LOGIN, 1043)
    assert sum(1 for c in responses.calls if c.request.method == "GET") == 3


def test_retry_after_is_bounded() -> None:
    retry = BoundedRetry(total=2, status_forcelist=(429,), respect_retry_after_header=True)
    retry.max_retry_after = 1.5

    class FakeResponse:
        headers = {"Retry-After": "600"}

    assert retry.get_retry_after(FakeResponse()) == 1.5
    assert retry.new().max_retry_after == 1.5


def test_read_timeouts_are_not_retried() -> None:
    retry = BoundedRetry(total=2, read=2)
    error = ReadTimeoutError(None, "/v2/invoices", "timed out")  # type: ignore[arg-type]
    with pytest.raises(ReadTimeoutError):
        retry.increment("GET", "/v2/invoices", error=error)


@responses.activate
def test_connection_errors_become_unavailable(rest_client: RestBackend) -> None:
    add_login(responses.mock)
    responses.get(f"{BASE}/invoices/1043", body=requests.ConnectionError("refused"))
    with pytest.raises(KashFlowUnavailable, match="cannot reach"):
        rest_client.get_invoice(LOGIN, 1043)


@responses.activate
def test_timeouts_become_unavailable(rest_client: RestBackend) -> None:
    add_login(responses.mock)
    responses.get(f"{BASE}/invoices/1043", body=requests.ReadTimeout("slow"))
    with pytest.raises(KashFlowUnavailable, match="in time"):
        rest_client.get_invoice(LOGIN, 1043)


def test_every_call_has_a_timeout(rest_client: RestBackend) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        add_login(rsps)
        rsps.get(f"{BASE}/invoices/1043", json=invoice_json())
        rest_client.get_invoice(LOGIN, 1043)
        assert [c.request.req_kwargs["timeout"] for c in rsps.calls] == [(3.05, 10.0)] * 3


# -- answers ------------------------------------------------------------------------------------


@responses.activate
def test_not_found(rest_client: RestBackend) -> None:
    add_login(responses.mock)
    responses.get(f"{BASE}/invoices/9", status=404, json={"Error": "NotFound"})
    with pytest.raises(KashFlowNotFound):
        rest_client.get_invoice(LOGIN, 9)


@responses.activate
def test_malformed_json_is_a_bad_response(rest_client: RestBackend) -> None:
    add_login(responses.mock)
    responses.get(
        f"{BASE}/invoices/1043", body='{"Number": 1043, "Gross', content_type="application/json"
    )
    with pytest.raises(KashFlowBadResponse, match="malformed"):
        rest_client.get_invoice(LOGIN, 1043)


@responses.activate
def test_another_invoice_than_asked_is_refused(rest_client: RestBackend) -> None:
    add_login(responses.mock)
    responses.get(f"{BASE}/invoices/1043", json=invoice_json(1044))
    with pytest.raises(KashFlowBadResponse, match="got invoice 1044"):
        rest_client.get_invoice(LOGIN, 1043)


@responses.activate
def test_amounts_are_decimal_and_unknown_fields_ignored(rest_client: RestBackend) -> None:
    add_login(responses.mock)
    responses.get(
        f"{BASE}/invoices/1043",
        body='{"Number": 1043, "GrossAmount": 117.5000, "VATAmount": 0.1000, "Brand": {"x": 1},'
        ' "IssuedDate": "2008-04-08 12:00:00", "PaidDate": null, "LineItems": null,'
        ' "CustomerCode": "ACME01"}',
        content_type="application/json",
    )
    invoice = rest_client.get_invoice(LOGIN, 1043)
    assert invoice.gross == Decimal("117.5000") and invoice.vat == Decimal("0.1000")
    assert invoice.line_items == () and invoice.paid_on is None


@responses.activate
def test_customer_lookup_quotes_the_code(rest_client: RestBackend) -> None:
    add_login(responses.mock)
    responses.get(f"{BASE}/customers/A%2FB%20C", json={"Code": "A/B C", "Name": "Slash"})
    assert rest_client.get_customer(LOGIN, "A/B C").name == "Slash"


@responses.activate
def test_customer_answer_for_another_code_is_refused(rest_client: RestBackend) -> None:
    add_login(responses.mock)
    responses.get(f"{BASE}/customers/ACME01", json={"Code": "OTHER", "Name": "x"})
    with pytest.raises(KashFlowBadResponse):
        rest_client.get_customer(LOGIN, "ACME01")


# -- paging -------------------------------------------------------------------------------------


def page(numbers: range, total: int | None, next_url: str | bool | None = True) -> dict[str, t.Any]:
    meta: dict[str, t.Any] = {}
    if total is not None:
        meta["TotalRecords"] = total
    if next_url is not True:
        meta["NextPageUrl"] = next_url
    return {"Data": [invoice_json(n) for n in numbers], "MetaData": meta}


@responses.activate
def test_paging_asks_documented_parameters_and_follows_to_the_end(rest_client: RestBackend) -> None:
    add_login(responses.mock)
    responses.get(f"{BASE}/invoices", json=page(range(1, 101), 250, "https://x/invoices?page=2"))
    responses.get(f"{BASE}/invoices", json=page(range(101, 201), 250, "https://x/invoices?page=3"))
    responses.get(f"{BASE}/invoices", json=page(range(201, 251), 250, None))
    invoices = rest_client.list_invoices(LOGIN, customer="ACME01", status="unpaid")
    assert [i.number for i in invoices] == list(range(1, 251))
    gets = [c.request for c in responses.calls if c.request.method == "GET"]
    assert len(gets) == 3
    assert gets[0].params == {
        "perpage": "100",
        "sortby": "Number",
        "order": "Asc",
        "customercode": "ACME01",
        "filterby": "Unpaid",
        "page": "1",
    }
    # Page 1 first; it says how many there are, so pages 2 and 3 are asked for together.
    assert gets[0].params["page"] == "1"
    assert sorted(g.params["page"] for g in gets[1:]) == ["2", "3"]


@responses.activate
def test_paging_copes_with_a_server_capping_page_size(rest_client: RestBackend) -> None:
    add_login(responses.mock)
    for start in range(1, 251, 50):
        responses.get(f"{BASE}/invoices", json=page(range(start, min(start + 50, 251)), 250))
    assert len(rest_client.list_invoices(LOGIN, customer="ACME01")) == 250


@responses.activate
def test_paging_never_follows_metadata_urls(rest_client: RestBackend) -> None:
    add_login(responses.mock)
    responses.get(f"{BASE}/invoices", json=page(range(1, 3), 4, "https://evil.example/steal"))
    responses.get(f"{BASE}/invoices", json=page(range(3, 5), 4, None))
    rest_client.list_invoices(LOGIN)
    assert all(c.request.url.startswith(BASE) for c in responses.calls)


@responses.activate
def test_paging_stops_when_a_server_repeats_a_page(rest_client: RestBackend) -> None:
    add_login(responses.mock)
    responses.get(f"{BASE}/invoices", json=page(range(1, 101), 1000, "next"))
    assert len(rest_client.list_invoices(LOGIN)) == 100
    # Page 1, then one round of pages asked for together, which brings nothing new: it stops
    # there rather than asking for the 10 pages the server's count promises.
    gets = sum(1 for c in responses.calls if c.request.method == "GET")
    assert gets == 1 + PAGE_CONCURRENCY


@responses.activate
def test_paging_without_metadata_stops_at_an_empty_page(rest_client: RestBackend) -> None:
    add_login(responses.mock)
    responses.get(f"{BASE}/invoices", json={"Data": [invoice_json(n) for n in range(1, 4)]})
    responses.get(f"{BASE}/invoices", json={"Data": []})
    assert len(rest_client.list_invoices(LOGIN)) == 3


@responses.activate
def test_list_without_data_is_a_bad_response(rest_client: RestBackend) -> None:
    add_login(responses.mock)
    responses.get(f"{BASE}/invoices", json={"Items": []})
    with pytest.raises(KashFlowBadResponse, match="no Data"):
        rest_client.list_invoices(LOGIN)


# -- documents ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("permalink", "url"),
    [
        ("/v2/documents/invoice/abc", "https://api.kashflow.test/v2/documents/invoice/abc"),
        ("v2/documents/packingslip/abc", "https://api.kashflow.test/v2/documents/packingslip/abc"),
        ("/documents/invoice/abc", "https://api.kashflow.test/v2/documents/invoice/abc"),
        (
            "https://api.kashflow.test/v2/documents/invoice/abc",
            "https://api.kashflow.test/v2/documents/invoice/abc",
        ),
    ],
)
def test_document_urls_stay_on_the_api_host(
    rest_client: RestBackend, permalink: str, url: str
) -> None:
    assert rest_client.document_url(permalink) == url


@pytest.mark.parametrize(
    "permalink",
    [
        "https://evil.example/v2/documents/invoice/abc",
        "//evil.example/v2/documents/invoice/abc",
        "http://api.kashflow.test/v2/documents/invoice/abc",
        "/v2/invoices/1043",
        "/v2/documents/../sessiontoken",
    ],
)
def test_document_urls_elsewhere_are_refused(rest_client: RestBackend, permalink: str) -> None:
    with pytest.raises(KashFlowBadResponse):
        rest_client.document_url(permalink)


@responses.activate
def test_document_download(rest_client: RestBackend) -> None:
    add_login(responses.mock)
    responses.get(f"{BASE}/documents/invoice/abc", body=PDF, content_type="application/pdf")
    assert rest_client.get_document(LOGIN, "/v2/documents/invoice/abc", max_bytes=10_000) == PDF
    assert responses.calls[-1].request.headers["Authorization"] == "KfToken SESSION-1"


@pytest.mark.parametrize(
    ("body", "kind", "message"),
    [
        (PDF[:20], "application/pdf", "incomplete"),
        (b"<html>login</html>", "text/html", "text/html"),
        (PDF + b"x" * 200, "application/pdf", "exceeds"),
    ],
)
@responses.activate
def test_bad_documents_are_refused(
    rest_client: RestBackend, body: bytes, kind: str, message: str
) -> None:
    add_login(responses.mock)
    responses.get(f"{BASE}/documents/invoice/abc", body=body, content_type=kind)
    with pytest.raises(KashFlowBadResponse, match=message):
        rest_client.get_document(LOGIN, "/v2/documents/invoice/abc", max_bytes=len(PDF) + 100)


def test_redirects_are_not_followed(rest_client: RestBackend) -> None:
    with responses.RequestsMock() as rsps:
        add_login(rsps)
        rsps.get(f"{BASE}/invoices/1043", status=302, headers={"Location": "https://evil.example/"})
        with pytest.raises(KashFlowBadResponse, match="302"):
            rest_client.get_invoice(LOGIN, 1043)
        assert all("evil" not in c.request.url for c in rsps.calls)


def test_exceptions_carry_a_redacted_request(rest_client: RestBackend) -> None:
    with responses.RequestsMock() as rsps:
        add_login(rsps)
        rsps.get(f"{BASE}/invoices/1043", status=500, json={"Error": "Boom"})
        with pytest.raises(KashFlowUnavailable) as info:
            rest_client.get_invoice(LOGIN, 1043)
    error = info.value
    assert error.response is not None and error.status_code == 500
    assert error.request is not None
    assert error.request.headers["Authorization"] == "KfToken ***"
    assert "SESSION-1" not in str(error)
