"""The sandbox's faults from the documented-vs-Swagger review, and its injectable clock and
sleep, over real HTTP."""

from __future__ import annotations

import typing as t
from urllib.parse import urlsplit

import pytest
import requests

from kashflow_sandbox import KashFlowSandbox
from sandbox_client import TIMEOUT
from sandbox_client import TODAY
from sandbox_client import Api
from sandbox_client import answers_for
from sandbox_client import finish_login
from sandbox_client import login
from sandbox_client import start_login


def control(sb: KashFlowSandbox, **body: t.Any) -> requests.Response:
    return requests.post(f"{sb.origin}/_sandbox/faults", json=body, timeout=TIMEOUT)


def permalink(sb: KashFlowSandbox, number: int = 1043) -> str:
    return sb.origin + sb.invoices[number]["Permalink"]


# --- a 401 that is not an expired session ----------------------------------------------------


def test_other_401_on_documents(api: Api, sb: KashFlowSandbox) -> None:
    sb.other_401_next(1)
    assert api.get("/invoices/1043").status_code == 200  # documents only, by default
    refused = api.get(permalink(sb))
    assert refused.status_code == 401
    assert refused.json() == {
        "Error": "Unauthorized",
        "Message": "Authorization has been denied for this request.",
    }
    assert refused.json()["Error"] != "InvalidSessionToken"
    assert sb.active_sessions() >= 1  # the session itself is still good
    assert api.get(permalink(sb)).status_code == 200
    assert sb.calls["documents.get"] == 2


def test_other_401_with_a_role_message_and_by_control_route(api: Api, sb: KashFlowSandbox) -> None:
    sb.other_401_next(1, "invoices.get", error="AccessDenied", message="Role may not view.")
    assert api.get("/invoices/1043").json() == {
        "Error": "AccessDenied",
        "Message": "Role may not view.",
    }
    assert control(sb, action="other_401_next", n=2).json() == {"ok": True}
    assert [api.get(permalink(sb)).status_code for _ in range(3)] == [401, 401, 200]
    with pytest.raises(ValueError, match="unknown endpoint"):
        sb.other_401_next(1, "document")


# --- documents behind redirects, and as HTML ---------------------------------------------------


def test_redirect_to_the_same_host(api: Api, sb: KashFlowSandbox) -> None:
    whole = api.get(permalink(sb)).content
    sb.redirect_documents("same")
    moved = api.get(permalink(sb), allow_redirects=False)
    assert moved.status_code == 302
    target = moved.headers["Location"]
    assert target.startswith(f"{sb.origin}/v2/documents/download/")
    # The target needs no session token, like a pre-signed storage URL.
    landed = requests.get(target, timeout=TIMEOUT)
    assert landed.status_code == 200 and landed.headers["Content-Type"] == "application/pdf"
    assert landed.content == whole
    followed = api.get(permalink(sb))  # requests follows the redirect by itself
    assert followed.content == whole and followed.history[0].status_code == 302
    assert sb.calls["documents.get"] == 3 and sb.calls["documents.download"] == 2
    # A refused request is refused before it is redirected.
    assert requests.get(permalink(sb), allow_redirects=False, timeout=TIMEOUT).status_code == 401
    assert requests.get(f"{sb.url}/documents/download/nope", timeout=TIMEOUT).status_code == 404


def test_redirect_to_another_host_name(api: Api, sb: KashFlowSandbox) -> None:
    sb.redirect_documents("other")
    moved = api.get(permalink(sb), allow_redirects=False)
    target = urlsplit(moved.headers["Location"])
    assert target.hostname == "localhost" and target.port == sb.port
    # requests drops the Authorization header when the host changes; the file still comes.
    followed = api.get(permalink(sb))
    assert followed.status_code == 200 and followed.content.startswith(b"%PDF-")
    assert "Authorization" not in followed.request.headers


def test_redirect_to_a_given_url_and_back(api: Api, sb: KashFlowSandbox) -> None:
    sb.redirect_documents("http://files.example.test:9")
    moved = api.get(permalink(sb), allow_redirects=False)
    assert moved.headers["Location"].startswith(
        "http://files.example.test:9/v2/documents/download/"
    )
    sb.redirect_documents(None)
    assert api.get(permalink(sb), allow_redirects=False).status_code == 200
    assert control(sb, action="redirect_documents", to="same").json() == {"ok": True}
    assert api.get(permalink(sb), allow_redirects=False).status_code == 302
    sb.clear_faults()
    assert api.get(permalink(sb), allow_redirects=False).status_code == 200
    for bad in ("", "ftp://x", "elsewhere", 3):
        with pytest.raises(ValueError):
            sb.redirect_documents(bad)  # type: ignore[arg-type]


def test_every_document_route_redirects(api: Api, sb: KashFlowSandbox) -> None:
    invoice = sb.invoices[4]
    key = sb.customers["ACME01"]["Key"]
    paths = [
        invoice["Permalink"],
        "/" + invoice["PackingSlipPermalink"],
        invoice["PaymentLines"][0]["Permalink"],
        f"/v2/documents/customerstatement/{key}?filterby=All",
    ]
    sb.redirect_documents()
    for path in paths:
        response = api.get(sb.origin + path)
        assert response.history and response.history[0].status_code == 302
        assert response.content.startswith(b"%PDF-")


def test_html_instead_of_a_pdf(api: Api, sb: KashFlowSandbox) -> None:
    sb.html_documents_next(1)
    assert api.get("/invoices/1043").status_code == 200  # only documents
    page = api.get(permalink(sb))
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.text.startswith("<!DOCTYPE html>") and "Sign in" in page.text
    assert api.get(permalink(sb)).headers["Content-Type"] == "application/pdf"
    assert control(sb, action="html_documents_next", n=1).json() == {"ok": True}
    assert api.get(permalink(sb)).headers["Content-Type"].startswith("text/html")


# --- unknown invoices -------------------------------------------------------------------------


def test_missing_invoice_answers(api: Api, sb: KashFlowSandbox) -> None:
    assert api.get("/invoices/999999").status_code == 404
    sb.set_missing_invoice_answer("400")
    refused = api.get("/invoices/999999")
    assert refused.status_code == 400
    assert refused.json() == {
        "Error": "InvalidInvoiceNumber",
        "Message": "Invoice number 999999 does not exist.",
    }
    sb.set_missing_invoice_answer("null")
    empty = api.get("/invoices/999999")
    assert (empty.status_code, empty.text) == (200, "null")
    assert empty.headers["Content-Type"] == "application/json; charset=utf-8"
    assert api.get("/invoices/1043").json()["Number"] == 1043  # known ones are untouched
    assert api.get("/invoices/abc").status_code == 400  # not a number: still a bad request
    assert control(sb, action="set_missing_invoice_answer", answer="404").json() == {"ok": True}
    assert api.get("/invoices/999999").json()["Error"] == "NotFound"
    sb.set_missing_invoice_answer("null")
    sb.clear_faults()
    assert api.get("/invoices/999999").status_code == 404
    with pytest.raises(ValueError):
        sb.set_missing_invoice_answer("410")
    assert control(sb, action="set_missing_invoice_answer", answer=404).status_code == 400


# --- login ------------------------------------------------------------------------------------


def test_password_expired_at_login(sb: KashFlowSandbox) -> None:
    sb.password_expired_next()
    expired = start_login(sb)
    assert expired.status_code == 400
    assert expired.json()["Error"] == "PasswordExpired" and expired.json()["Message"]
    assert sb.failed_logins == 0  # the password was right
    assert start_login(sb).status_code == 201
    sb.password_expired_next(1, status=401)
    assert start_login(sb).status_code == 401
    assert control(sb, action="password_expired_next", n=1).json() == {"ok": True}
    assert start_login(sb).json()["Error"] == "PasswordExpired"
    with pytest.raises(ValueError):
        sb.password_expired_next(1, status=403)


def test_the_documented_lockout_message(sb: KashFlowSandbox) -> None:
    sb.lock_account()
    locked = start_login(sb)
    assert locked.status_code == 401
    assert locked.json() == {
        "Error": "AccountLocked",
        "Message": "User account is locked, please contact administrator.",
    }


# --- lists without MetaData ---------------------------------------------------------------------


def test_null_metadata(api: Api, sb: KashFlowSandbox) -> None:
    sb.null_metadata_next(1)
    assert api.get("/invoices/1043").status_code == 200  # lists only
    body = api.get("/invoices", params={"customercode": "ACME01"}).json()
    assert body["MetaData"] is None and len(body["Data"]) == 12
    assert body["Data"][0]["CustomerCode"] == "ACME01"
    assert api.get("/invoices").json()["MetaData"]["TotalRecords"] == len(sb.invoices)
    assert control(sb, action="null_metadata_next", n=2).json() == {"ok": True}
    metas = [api.get("/invoices", params={"page": p}).json()["MetaData"] for p in (1, 2, 3)]
    assert metas[:2] == [None, None] and metas[2]["TotalRecords"] == len(sb.invoices)


# --- time, injected --------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_session_and_temporary_token_timeouts_follow_the_clock() -> None:
    clock = FakeClock()
    with KashFlowSandbox(demo_data=False, clock=clock, session_idle_timeout=60) as sb:
        headers = {"Authorization": f"KfToken {login(sb)}"}
        for _ in range(3):
            clock.now += 59  # 177 s in all, but never 60 s idle
            assert requests.get(f"{sb.url}/invoices", headers=headers, timeout=5).status_code == 200
        clock.now += 61
        assert requests.get(f"{sb.url}/invoices", headers=headers, timeout=5).status_code == 401
        assert sb.active_sessions() == 0

        step1 = start_login(sb).json()
        clock.now += sb.temporary_token_ttl + 1
        late = finish_login(sb, step1["TemporaryToken"], answers_for(sb, step1))
        assert late.json()["Error"] == "InvalidTemporaryToken"


def test_latency_and_hangs_use_the_given_sleep() -> None:
    slept: list[float] = []
    with KashFlowSandbox(today=TODAY, sleep=slept.append) as sb:
        api = Api(sb)
        sb.set_latency(2.5, endpoint="customers")
        sb.hang_next(1, 7.0, endpoint="invoices.get")
        assert api.get("/customers/ACME01").status_code == 200
        assert api.get("/invoices/1043").status_code == 200
        assert api.get("/invoices/1043").status_code == 200
        assert slept == [2.5, 7.0]
        sb.set_latency(0, endpoint="customers")
        assert api.get("/customers/ACME01").status_code == 200
        assert slept == [2.5, 7.0]
        api.close()
