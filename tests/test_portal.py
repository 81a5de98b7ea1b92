"""Portal behaviour: pages, errors, headers, side effects, signals, throttling, embed mode."""

from __future__ import annotations

import re
import typing as t
from pathlib import Path

import pytest
from flask import Flask

from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links import signals
from flask_kashflow_links.testing import KashFlowSandbox

from .helpers import KashFlowVariant
from .helpers import captured
from .helpers import in_the_past
from .helpers import internals
from .helpers import make_app
from .helpers import mint
from .helpers import path
from .helpers import registered

# Every test here runs against each way of meeting KashFlow (helpers.VARIANTS): REST as the
# Swagger copy describes it and as KashFlow's pages document it, and SOAP.
pytestmark = pytest.mark.usefixtures("variant")

SECURITY_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "private, no-store",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
}


# -- headers on every response type -------------------------------------------------------------


def every_response(app: Flask, sandbox: KashFlowSandbox) -> dict[str, t.Any]:
    client = app.test_client()
    invoice = mint(app)
    customer = mint(app, "customer")
    with in_the_past():
        expired = mint(app, expires_in=60)
    withdrawn = mint(app)
    KashFlowLinks().revoke(withdrawn.link_id)
    responses = {
        "invoice page": client.get(path(invoice)),
        "customer page": client.get(path(customer)),
        "invoice in list": client.get(path(customer) + "/1043"),
        "invoice pdf": client.get(path(invoice) + "/pdf"),
        "statement pdf": client.get(path(customer) + "/pdf"),
        "not found": client.get("/invoices/not-a-token"),
        "out of scope": client.get(path(customer) + "/1005"),
        "withdrawn": client.get(path(withdrawn)),
        "head": client.head(path(invoice)),
        "stylesheet": client.get("/kashflow-links-static/kashflow_links/portal.css"),
        "brand css": client.get("/kashflow-links/brand/1f5fa8-ffffff.css"),
        "renew of live link": client.post(path(invoice) + "/renew"),
    }
    responses["expired"] = client.get(path(expired))
    responses["renew without form token"] = client.post(path(expired) + "/renew")
    sandbox.fail_next(20, 503)
    responses["unavailable"] = client.get(path(mint(app, number=1004)))
    sandbox.clear_faults()
    return responses


@pytest.mark.settings(mail=lambda message: None)
def test_security_headers_on_every_response_type(
    portal: Flask, sandbox: KashFlowSandbox, kashflow: KashFlowVariant
) -> None:
    responses = every_response(portal, sandbox)
    expected_status = {
        "invoice page": 200,
        "customer page": 200,
        "invoice in list": 200,
        "invoice pdf": 200,
        # The SOAP API has no statements: not offered, and 404 if asked for.
        "statement pdf": 404 if kashflow.soap else 200,
        "not found": 404,
        "out of scope": 404,
        "withdrawn": 410,
        "head": 200,
        "stylesheet": 200,
        "brand css": 200,
        "renew of live link": 303,
        "expired": 410,
        "renew without form token": 400,
        "unavailable": 503,
    }
    for name, response in responses.items():
        assert response.status_code == expected_status[name], name
        for header, value in SECURITY_HEADERS.items():
            assert response.headers.get(header) == value, (name, header)
        if response.mimetype == "text/html":
            csp = response.headers["Content-Security-Policy"]
            assert "default-src 'none'" in csp and "script-src" not in csp, name
            assert "frame-ancestors 'none'" in csp, name
    assert responses["unavailable"].headers["Retry-After"]
    assert responses["invoice pdf"].mimetype == "application/pdf"


def test_a_server_error_inside_the_portal_gets_a_page_with_headers(
    portal: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    portal.testing = False  # let Flask handle the error as in production
    portal.config["PROPAGATE_EXCEPTIONS"] = False
    link = mint(portal)

    def explode(*args: t.Any, **kwargs: t.Any) -> t.Any:
        raise RuntimeError("bug")

    monkeypatch.setattr(internals().fetcher, "invoice", explode)
    response = portal.test_client().get(path(link))
    assert response.status_code == 500
    assert "Acme Accounts" in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "private, no-store"


# -- what each page says ---------------------------------------------------------------------------


def test_invoice_page_contents(portal: Flask, sandbox: KashFlowSandbox) -> None:
    html = portal.test_client().get(path(mint(portal))).get_data(as_text=True)
    invoice = sandbox.invoices[1043]
    assert "Invoice 1043" in html
    assert re.search(r"Overdue by \d+ days?", html)
    assert "Amount due" in html and "Download PDF" in html
    for line in invoice["LineItems"]:
        assert line["Description"] in html
    assert "Billed to" in html and invoice["CustomerName"] in html
    assert "billing@acme.example.com" in html  # the business's contact details


def test_a_line_without_a_description_shows_its_product_name(portal: Flask) -> None:
    """Invoice 4 (KashFlow's documented example) has a line for the product "Mobile" with an
    empty description: every API shows the product's name (issue 21, point 9)."""
    html = portal.test_client().get(path(mint(portal, number=4))).get_data(as_text=True)
    rows = re.findall(r"<tr[^>]*>.*?</tr>", html, re.DOTALL)
    assert [row for row in rows if re.search(r">\s*Mobile\s*<", row)], html


def test_customer_page_is_paged_newest_first(portal: Flask, sandbox: KashFlowSandbox) -> None:
    link = mint(portal, "customer", code="BIGCO01")
    client = portal.test_client()
    first = client.get(path(link)).get_data(as_text=True)
    numbers = [int(n) for n in re.findall(r"/invoices/[^/\"]+/(\d+)\"", first)]
    assert len(numbers) == 20
    issued = [sandbox.invoices[n]["IssuedDate"][:10] for n in numbers]
    assert issued == sorted(issued, reverse=True)
    assert "Page 1 of 13" in first
    last = client.get(path(link) + "?page=13").get_data(as_text=True)
    assert len(re.findall(r"/invoices/[^/\"]+/(\d+)\"", last)) == 260 - 12 * 20
    assert "Outstanding balance" in first


def test_stale_pages_say_as_of_when(
    portal: Flask, sandbox: KashFlowSandbox, age_cache: t.Callable[..., None]
) -> None:
    link = mint(portal)
    client = portal.test_client()
    assert "as of" not in client.get(path(link)).get_data(as_text=True)
    age_cache()
    sandbox.fail_next(20, 503)
    response = client.get(path(link))
    assert response.status_code == 200
    assert "as of" in response.get_data(as_text=True)


def test_unavailable_only_when_nothing_cached(portal: Flask, sandbox: KashFlowSandbox) -> None:
    sandbox.fail_next(20, 502)
    response = portal.test_client().get(path(mint(portal)))
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert "try again" in response.get_data(as_text=True)


def test_error_pages_do_not_say_which_check_failed(portal: Flask) -> None:
    client = portal.test_client()
    good = mint(portal)
    tampered = good.token[:-2] + ("AA" if not good.token.endswith("AA") else "BB")
    pages = [
        client.get("/invoices/garbage"),
        client.get(f"/invoices/{tampered}"),
        client.get(f"/invoices/{good.token}x"),
        client.get(path(mint(portal, "customer")) + "/1005"),
    ]
    bodies = {p.get_data(as_text=True) for p in pages}
    assert {p.status_code for p in pages} == {404}
    assert len(bodies) == 1  # the same page whatever failed
    assert good.token not in next(iter(bodies))


def test_withdrawn_and_expired_says_withdrawn_and_offers_nothing(portal: Flask) -> None:
    portal.config["KASHFLOW_LINKS_MAIL"] = None
    with in_the_past():
        link = mint(portal, expires_in=60)
    KashFlowLinks().revoke(link.link_id)
    response = portal.test_client().get(path(link))
    assert response.status_code == 410
    body = response.get_data(as_text=True)
    assert "withdrawn" in body and "fresh link" not in body


def test_expired_page_offers_a_fresh_link_only_with_mail(
    tmp_path: Path, sandbox: KashFlowSandbox, kashflow: KashFlowVariant
) -> None:
    for mail, offered in ((None, False), (lambda m: None, True)):
        app = make_app(tmp_path, f"mail{offered}", **kashflow.config(sandbox, mail=mail))
        with in_the_past():
            link = mint(app, expires_in=60)
        response = app.test_client().get(path(link))
        assert response.status_code == 410
        assert ("Email me a fresh link" in response.get_data(as_text=True)) is offered


# -- GET and HEAD, last opened, signals ----------------------------------------------------------


def test_head_records_nothing_and_sends_nothing(portal: Flask) -> None:
    link = mint(portal)
    with captured(signals.link_opened) as opened, captured(signals.invoice_viewed) as viewed:
        assert portal.test_client().head(path(link)).status_code == 200
    assert opened == [] and viewed == []
    record = registered(link)
    assert record is not None and record.last_opened_at is None
    assert record.customer is None  # not even the learnt customer


def test_get_records_last_opened_once_per_interval(portal: Flask) -> None:
    link = mint(portal)
    client = portal.test_client()
    client.get(path(link))
    first = registered(link)
    assert first is not None and first.last_opened_at is not None
    assert first.customer == "ACME01"  # learnt from the invoice
    client.get(path(link))
    assert registered(link).last_opened_at == first.last_opened_at  # type: ignore[union-attr]


def test_signals_carry_ids_never_the_token(portal: Flask) -> None:
    link = mint(portal, "customer")
    client = portal.test_client()
    with (
        captured(signals.link_opened) as opened,
        captured(signals.invoice_viewed) as viewed,
        captured(signals.pdf_downloaded) as downloaded,
        captured(signals.link_rejected) as rejected,
    ):
        client.get(path(link), headers={"User-Agent": "Mail/1.0"})
        client.get(path(link) + "/1043")
        client.get(path(link) + "/1043/pdf")
        client.get("/invoices/nope")
    assert opened[0]["link_id"] == link.link_id and opened[0]["customer"] == "ACME01"
    assert opened[0]["user_agent"] == "Mail/1.0" and opened[0]["account"] == "acme"
    assert viewed[0]["invoice"] == 1043
    assert downloaded[0]["invoice"] == 1043
    assert rejected[0]["reason"] == "invalid" and rejected[0]["link_id"] is None
    for payload in opened + viewed + downloaded + rejected:
        assert link.token not in repr(payload)


def test_get_consumes_nothing(portal: Flask) -> None:
    link = mint(portal)
    client = portal.test_client()
    for _ in range(5):  # mail scanners open links before people do
        assert client.get(path(link)).status_code == 200
    assert KashFlowLinks().active_links()[0].link_id == link.link_id


# -- throttling -------------------------------------------------------------------------------


@pytest.mark.settings(throttle_limit=5)
def test_bad_tokens_are_throttled_per_address(portal: Flask) -> None:
    client = portal.test_client()
    statuses = [
        client.get("/invoices/bad-token", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code
        for _ in range(8)
    ]
    assert statuses[:5] == [404] * 5 and statuses[5:] == [429] * 3
    throttled = client.get("/invoices/bad", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert int(throttled.headers["Retry-After"]) > 0
    # Another address is unaffected; a genuine link from the same address still opens.
    assert (
        client.get("/invoices/bad", environ_base={"REMOTE_ADDR": "198.51.100.1"}).status_code == 404
    )
    good = path(mint(portal))
    assert client.get(good, environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 200


# -- embed mode --------------------------------------------------------------------------------


def test_embed_mode_needs_no_credentials_on_the_server(
    tmp_path: Path, sandbox: KashFlowSandbox, kashflow: KashFlowVariant
) -> None:
    minting = make_app(tmp_path, "minting", **kashflow.config(sandbox, embed_credentials=True))
    serving = make_app(
        tmp_path,
        "serving",
        **kashflow.config(
            sandbox, embed_credentials=True, accounts={"acme": {"brand": {"name": "Acme"}}}
        ),
    )
    link = mint(minting, "customer")
    assert "pineapple" not in link.token
    response = serving.test_client().get(path(link))
    assert response.status_code == 200 and "Invoice 1043" in response.get_data(as_text=True)


def test_embed_links_stop_when_the_password_changes_and_get_no_stale_data(
    tmp_path: Path, age_cache: t.Callable[..., None], kashflow: KashFlowVariant
) -> None:
    with KashFlowSandbox() as sandbox:
        app = make_app(
            tmp_path,
            **kashflow.config(sandbox, embed_credentials=True, accounts={"acme": {}}),
        )
        with app.test_request_context():
            link = KashFlowLinks().mint_invoice(1043, credentials=kashflow.credentials(sandbox))
        client = app.test_client()
        assert client.get(path(link)).status_code == 200
        sandbox.password = "a brand new password"
        sandbox.expire_sessions()
        age_cache(app)
        response = client.get(path(link))
        # Changing the password withdrew the link: no stale data, and it says so.
        assert response.status_code == 410
        body = response.get_data(as_text=True)
        assert "Invoice 1043" not in body and "no longer active" in body
        sandbox.reset_counters()
        # KashFlow is not asked again (paused for a day), and the link stays withdrawn.
        assert client.get(path(link)).status_code == 410
        assert sum(sandbox.calls.values()) == 0


def test_a_link_for_an_account_the_site_no_longer_has_is_404(
    tmp_path: Path, sandbox: KashFlowSandbox, kashflow: KashFlowVariant
) -> None:
    first = make_app(tmp_path, "first", **kashflow.config(sandbox))
    link = mint(first)
    later = make_app(
        tmp_path, "later", **kashflow.config(sandbox, accounts={"other": sandbox.account_config()})
    )
    assert later.test_client().get(path(link)).status_code == 404


def test_a_warm_page_checks_the_store_once(portal: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    store = internals().links.store
    calls: list[str | None] = []
    real = store.revoked_reason

    def counted(link_id: str, account: str, customer: str | None, minted_at: float) -> str | None:
        calls.append(customer)
        return real(link_id, account, customer, minted_at)

    monkeypatch.setattr(store, "revoked_reason", counted)
    client = portal.test_client()
    invoice, customer = mint(portal), mint(portal, "customer")
    for link, suffix in ((invoice, ""), (customer, ""), (customer, "/1043")):
        client.get(path(link) + suffix)  # warm
        calls.clear()
        assert client.get(path(link) + suffix).status_code == 200
        assert calls == ["ACME01"]  # one round trip, customer cut-off included


def test_revoke_customer_catches_a_warm_invoice_link(portal: Flask) -> None:
    link = mint(portal)
    client = portal.test_client()
    assert client.get(path(link)).status_code == 200  # warm: its customer is now known
    KashFlowLinks().revoke_customer("ACME01")
    assert client.get(path(link)).status_code == 410
