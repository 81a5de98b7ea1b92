"""The staff pages (``links.staff_blueprint(authorize=...)``) through Flask's test client.

The door first: the blueprint is never made without ``authorize``, which runs before anything
else on every route and method; every POST needs the visitor's form token and a same-origin
request; every response is ``no-store``. Then the flows on the sandbox (the ``variant`` ones on
REST, REST in KashFlow's documented shape, and SOAP): a link minted and shown once, sent,
revoked, every link revoked after a confirmation, reminders dry-run then sent; bad input and an
unreachable KashFlow that change nothing; and no link token in a log record or a URL. The same
pages in Chromium are in test_staff_browser.py.
"""

from __future__ import annotations

import html
import logging
import re
import secrets
import typing as t
from collections import Counter
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask import Flask
from flask import redirect

from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links.testing import KashFlowSandbox

from .helpers import Clock
from .helpers import app_config
from .helpers import host_app
from .helpers import internals
from .helpers import make_app
from .helpers import path
from .helpers import portal_config
from .services import free_port

SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}
STAFF = "/staff"
ACME = f"{STAFF}/customers/ACME01"
TOKEN_FIELD = re.compile(r'name="form_token" value="([^"]+)"')
MINTED_URL = re.compile(r'id="kfl-minted-url"[^>]*value="([^"]+)"')
MESSAGE = re.compile(r'role="(?:status|alert)">([^<]+)<')
LINK_IN_MAIL = re.compile(r"https?://\S+/invoices/([^\s/\"<>]+)")


class Door:
    """The host's ``authorize``: counts its calls and answers what the test says."""

    def __init__(self) -> None:
        self.calls = 0
        self.verdict: t.Any = True

    def __call__(self) -> t.Any:
        self.calls += 1
        return self.verdict


@pytest.fixture
def door() -> Door:
    return Door()


@pytest.fixture
def outbox() -> list[EmailMessage]:
    return []


@pytest.fixture
def staff(
    apps: t.Callable[..., Flask],
    sandbox: KashFlowSandbox,
    door: Door,
    outbox: list[EmailMessage],
) -> t.Iterator[Flask]:
    """An app on the sandbox (in the test's variant) with the staff pages at /staff."""
    app = apps(sandbox, mail=outbox.append)
    app.register_blueprint(KashFlowLinks().staff_blueprint(authorize=door), url_prefix=STAFF)
    with app.app_context():
        yield app


@pytest.fixture
def links() -> KashFlowLinks:
    return KashFlowLinks()


# -- helpers ---------------------------------------------------------------------------------------


def form_token(client: t.Any) -> str:
    """The visitor's form token, from the revoke-all confirmation (a page with a form that
    needs nothing but the link store)."""
    page = client.get(f"{ACME}/revoke-all")
    match = TOKEN_FIELD.search(page.get_data(as_text=True))
    assert match, f"no form on the page (HTTP {page.status_code})"
    return match.group(1)


def post(client: t.Any, url: str, data: dict[str, t.Any], **headers: str) -> t.Any:
    """A POST as the browser sends it from a staff page: with the form token and
    ``Sec-Fetch-Site: same-origin`` (unless *data* or *headers* say otherwise)."""
    fields = {"form_token": form_token(client), **data}
    return client.post(url, data=fields, headers=headers or SAME_ORIGIN)


def text(response: t.Any) -> str:
    """The page's HTML, its character references read (``can&#39;t`` is ``can't``)."""
    return html.unescape(response.get_data(as_text=True))


def messages(response: t.Any) -> list[str]:
    """What the page says it did (or why not): its status and alert messages."""
    return [" ".join(m.split()) for m in MESSAGE.findall(text(response))]


def minted_url(response: t.Any) -> str:
    match = MINTED_URL.search(text(response))
    assert match, "no minted link on the page"
    return match.group(1)


def state(app: Flask, outbox: list[EmailMessage]) -> tuple[t.Any, ...]:
    """Everything a staff action could change: the register's live links and their sends,
    the reminders, and the mail sent."""
    with app.app_context():
        live = [(r.link_id, r.last_sent_at, r.last_sent_to) for r in KashFlowLinks().active_links()]
        store = internals().links.store
        reminded = [store.last_reminded("acme", c) for c in ("ACME01", "BIGCO01")]
    return tuple(live), tuple(reminded), len(outbox)


def staff_rules(app: Flask) -> list[tuple[str, str]]:
    """Every (URL, method) of the staff blueprint, with ACME01 for a customer code."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("kashflow_links_staff."):
            url = rule.rule.replace("<code>", "ACME01")
            found += [(url, method) for method in sorted(rule.methods or ())]
    return found


def mailed_tokens(outbox: list[EmailMessage]) -> list[str]:
    tokens = []
    for message in outbox:
        body = message.get_body(("plain",))
        assert body is not None
        tokens += LINK_IN_MAIL.findall(body.get_content())
    return tokens


# -- the door --------------------------------------------------------------------------------------


def test_the_blueprint_is_never_made_without_authorize(links: KashFlowLinks) -> None:
    for wrong in (None, "yes", True):
        with pytest.raises(TypeError, match="needs authorize="):
            links.staff_blueprint(authorize=wrong)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        links.staff_blueprint()  # type: ignore[call-arg]


def test_registering_needs_the_extension_and_a_secret_key(
    tmp_path: Path, links: KashFlowLinks
) -> None:
    bare = Flask("bare", instance_path=str(tmp_path / "bare"))
    with pytest.raises(RuntimeError, match="init_app"):
        bare.register_blueprint(links.staff_blueprint(authorize=lambda: True))
    app = make_app(tmp_path, SECRET_KEY=None, signing_keys=[secrets.token_urlsafe(32)])
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        app.register_blueprint(links.staff_blueprint(authorize=lambda: True))


@pytest.mark.parametrize("verdict", [False, None, "redirect"])
def test_every_route_and_method_asks_authorize_before_anything_else(
    staff: Flask,
    door: Door,
    sandbox: KashFlowSandbox,
    outbox: list[EmailMessage],
    links: KashFlowLinks,
    verdict: t.Any,
) -> None:
    client = staff.test_client()
    link = links.mint_customer("ACME01")
    token = form_token(client)
    before = state(staff, outbox)
    sandbox.reset_counters()
    door.calls = 0
    door.verdict = redirect("/login?next=staff") if verdict == "redirect" else verdict
    rules = staff_rules(staff)
    assert {m for _, m in rules} == {"GET", "HEAD", "OPTIONS", "POST"}
    assert len({u for u, _ in rules}) == 7
    fields = {
        "form_token": token,
        "link_id": link.link_id,
        "kind": "customer",
        "status": "overdue",
        "expires": "never",
        "every": "7",
        "customer": "ACME01",
    }
    for url, method in rules:
        response = client.open(url, method=method, data=fields, headers=SAME_ORIGIN)
        if verdict == "redirect":
            assert (response.status_code, response.location) == (302, "/login?next=staff"), url
        else:
            assert response.status_code == 403, (method, url)
            if method == "GET":
                assert "You can't open this page" in text(response)
                assert "Customers" not in text(response)  # no staff navigation for strangers
    assert door.calls == len(rules)
    assert state(staff, outbox) == before
    assert sum(sandbox.calls.values()) == 0  # nothing asked of KashFlow either


def test_a_truthy_object_is_not_a_yes(staff: Flask, door: Door) -> None:
    class AnonymousUser:  # Flask-Login's anonymous user is truthy
        pass

    door.verdict = AnonymousUser()
    with pytest.raises(TypeError, match="must return True, False or a response"):
        staff.test_client().get(f"{STAFF}/")


def test_every_post_needs_the_visitors_form_token_and_this_origin(
    staff: Flask, outbox: list[EmailMessage], links: KashFlowLinks
) -> None:
    client = staff.test_client()
    token = form_token(client)
    someone_else = form_token(staff.test_client())
    link = links.mint_customer("ACME01")
    before = state(staff, outbox)
    posts = [url for url, method in staff_rules(staff) if method == "POST"]
    assert len(posts) == 5
    fields = {
        "link_id": link.link_id,
        "kind": "customer",
        "status": "overdue",
        "expires": "never",
        "every": "7",
        "customer": "ACME01",
    }
    refused: list[tuple[str | None, dict[str, str]]] = [
        (None, SAME_ORIGIN),  # no form token
        ("not-a-token", SAME_ORIGIN),
        (someone_else, SAME_ORIGIN),  # another visitor's
        (token, {"Sec-Fetch-Site": "cross-site"}),
        (token, {"Sec-Fetch-Site": "same-site"}),  # a sibling subdomain is not this site
        (token, {"Origin": "https://evil.example"}),
        (token, {"Origin": "null"}),
        (token, {}),  # no evidence of where it came from
    ]
    for url in posts:
        for value, headers in refused:
            data = dict(fields, **({"form_token": value} if value else {}))
            response = client.post(url, data=data, headers=headers)
            assert response.status_code == 400, (url, value, headers)
            assert "This form has expired" in text(response)
    assert state(staff, outbox) == before
    # The same form, with its token, from this site's page: accepted.
    origin = {"Origin": "http://portal.example.test"}
    response = client.post(f"{ACME}/revoke", data={"form_token": token, **fields}, headers=origin)
    assert response.status_code == 200
    assert messages(response) == [f"Revoked link {link.link_id}: it stopped working at once."]


def test_form_tokens_expire_and_end_with_the_session(
    staff: Flask, clock: Clock, links: KashFlowLinks
) -> None:
    client = staff.test_client()
    link = links.mint_customer("ACME01")
    data = {"form_token": form_token(client), "link_id": link.link_id}
    clock.tick(8 * 3600 + 60)
    assert client.post(f"{ACME}/revoke", data=data, headers=SAME_ORIGIN).status_code == 400
    data["form_token"] = form_token(client)
    with client.session_transaction() as cookie:
        cookie.clear()  # the host signs the visitor out
    assert client.post(f"{ACME}/revoke", data=data, headers=SAME_ORIGIN).status_code == 400
    with staff.app_context():
        assert link.link_id in {r.link_id for r in links.active_links()}


def test_every_response_is_no_store_unindexed_and_unframed(staff: Flask, door: Door) -> None:
    client = staff.test_client()
    responses = [
        client.get(f"{STAFF}/"),
        client.get(ACME),
        client.get(f"{STAFF}/reminders?status=overdue&every=7"),
        post(client, f"{ACME}/mint", {"kind": "invoice", "number": "1043", "expires": "never"}),
        client.post(f"{ACME}/revoke"),  # refused: no form token
        client.get(f"{STAFF}/customers/NOSUCH"),
    ]
    door.verdict = False
    responses.append(client.get(f"{STAFF}/"))
    door.verdict = redirect("/login")
    responses.append(client.get(f"{STAFF}/"))
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 400, 404, 403, 302]
    for response in responses:
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["X-Robots-Tag"] == "noindex, nofollow"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Content-Security-Policy"] == "frame-ancestors 'none'"


# -- the flows, on every variant -------------------------------------------------------------------


def test_a_minted_link_is_shown_once_and_opens(
    staff: Flask, links: KashFlowLinks, variant: str
) -> None:
    client = staff.test_client()
    page = client.get(ACME)
    assert page.status_code == 200
    assert "Acme Trading Ltd" in text(page) and "Invoice 1043" in text(page)

    minted = post(client, f"{ACME}/mint", {"kind": "customer", "status": "unpaid", "expires": "90"})
    assert minted.status_code == 200
    url = minted_url(minted)
    assert url.startswith("http://portal.example.test/invoices/")
    assert "New link: Unpaid invoices" in text(minted)
    opened = client.get(path(url))
    assert opened.status_code == 200 and "Outstanding balance" in text(opened)
    (record,) = links.active_links(customer="ACME01")
    assert (record.status, record.customer) == ("unpaid", "ACME01")
    assert record.expires_at is not None
    assert abs(record.expires_at - record.minted_at - timedelta(days=90)) < timedelta(seconds=2)

    again = text(client.get(ACME))  # shown once: never again
    token = url.rsplit("/", 1)[1]
    assert token not in again and record.link_id in again
    assert "Unpaid invoices" in again and "Not sent yet" in again
    assert "Opened by the client on" in again  # opened above, never sent: no mail scanner

    invoice = post(
        client, f"{ACME}/mint", {"kind": "invoice", "number": "1043", "expires": "never"}
    )
    assert "New link: Invoice 1043" in text(invoice)
    assert "Invoice 1043" in text(client.get(path(minted_url(invoice))))
    assert len(links.active_links(customer="ACME01")) == 2


def test_send_emails_a_live_link_to_the_addresses_on_file_and_records_it(
    staff: Flask, links: KashFlowLinks, outbox: list[EmailMessage], variant: str
) -> None:
    client = staff.test_client()
    (acme,) = [s for s in links.customers() if s.code == "ACME01"]
    minted = post(client, f"{ACME}/mint", {"kind": "customer", "status": "all", "expires": "never"})
    (record,) = links.active_links(customer="ACME01")
    assert f'name="link_id" value="{record.link_id}"' in text(minted)  # the "send it" button

    sent = post(client, f"{ACME}/send", {"link_id": record.link_id})
    assert sent.status_code == 200
    assert messages(sent) == [f"Sent link {record.link_id} to {', '.join(acme.emails)}."]
    assert minted_url(minted) not in text(sent)
    (message,) = outbox
    assert message["To"] == ", ".join(acme.emails)
    (token,) = mailed_tokens(outbox)
    assert client.get(f"/invoices/{token}").status_code == 200
    (record,) = links.active_links(customer="ACME01")
    assert record.last_sent_at is not None and record.last_sent_to == acme.emails
    assert "Sent " in text(sent) and acme.emails[0] in text(sent)


def test_revoke_one_then_every_link_after_a_confirmation(
    staff: Flask, links: KashFlowLinks, variant: str
) -> None:
    client = staff.test_client()
    first = links.mint_customer("ACME01", status="unpaid")
    second = links.mint_invoice(1043, customer="ACME01")
    other = links.mint_customer("BIGCO01")

    revoked = post(client, f"{ACME}/revoke", {"link_id": first.link_id})
    assert messages(revoked) == [f"Revoked link {first.link_id}: it stopped working at once."]
    assert client.get(path(first)).status_code == 410
    assert client.get(path(second)).status_code == 200

    confirm = client.get(f"{ACME}/revoke-all")
    assert confirm.status_code == 200
    assert "Revoke every link of" in text(confirm) and second.link_id in text(confirm)
    assert client.get(path(second)).status_code == 200  # asking changed nothing

    done = post(client, f"{ACME}/revoke-all", {})
    assert messages(done) == [
        "Revoked every link of ACME01 minted until now (1 live link). Links you mint from "
        "now on work."
    ]
    assert client.get(path(second)).status_code == 410
    assert client.get(path(other)).status_code == 200  # another customer's
    assert client.get(path(links.mint_customer("ACME01"))).status_code == 200


def test_reminders_dry_run_then_send_exactly_those_shown(
    staff: Flask, links: KashFlowLinks, outbox: list[EmailMessage], variant: str
) -> None:
    client = staff.test_client()
    form = client.get(f"{STAFF}/reminders")
    assert form.status_code == 200 and "Show who would be reminded" in text(form)

    dry = client.get(f"{STAFF}/reminders?status=overdue&every=7")
    assert dry.status_code == 200
    shown = re.findall(r'name="customer" value="([^"]+)"', text(dry))
    expected = links.remind(status="overdue", dry_run=True)
    assert shown == [r.customer for r in expected.sent] and len(shown) >= 3
    assert f"Send these {len(shown)} reminders" in text(dry)
    assert outbox == [] and links.active_links() == []  # a dry run mints and sends nothing

    chosen = shown[:2]
    result = post(
        client, f"{STAFF}/reminders", {"status": "overdue", "every": "7", "customer": chosen}
    )
    assert result.status_code == 200
    assert "Reminded (2)" in text(result) and messages(result) == ["2 reminders sent."]
    assert sorted(m["To"] for m in outbox) == sorted(
        ", ".join(r.emails) for r in expected.sent if r.customer in chosen
    )
    assert sorted(r.customer for r in links.active_links()) == sorted(chosen)
    after = links.remind(status="overdue", dry_run=True)
    assert [r.customer for r in after.skipped] == chosen
    assert {r.reason for r in after.skipped} == {"reminded just now"}
    assert [r.customer for r in after.sent] == shown[2:]

    again = text(client.get(f"{STAFF}/reminders?status=overdue&every=7"))
    assert "Skipped (2)" in again and "Reminded just now" in again


def test_links_say_whether_the_client_opened_them_or_only_a_mail_scanner(
    staff: Flask, links: KashFlowLinks, clock: Clock
) -> None:
    client = staff.test_client()
    checked = links.mint_customer("ACME01", status="unpaid")
    opened = links.mint_customer("ACME01", status="all")
    assert text(client.get(ACME)).count("Not opened yet") == 2
    links.send(checked)
    client.get(path(checked))  # within a minute of its email: a mail system's link checker
    links.send(opened)
    clock.tick(120)
    client.get(path(opened))  # minutes later: the client
    for page in (text(client.get(ACME)), text(client.get(f"{STAFF}/"))):
        assert page.count("Only checked by a mail scanner") == 1
        assert page.count("Opened by the client on") == 1
        assert "Not opened yet" not in page


# -- bad input and an unreachable KashFlow ---------------------------------------------------------


def test_bad_input_gives_a_clear_message_and_changes_nothing(
    staff: Flask, links: KashFlowLinks, outbox: list[EmailMessage]
) -> None:
    client = staff.test_client()
    bigco = links.mint_customer("BIGCO01")
    before = state(staff, outbox)
    never = {"expires": "never"}
    cases: list[tuple[str, dict[str, t.Any], int, str]] = [
        (
            f"{ACME}/mint",
            {"kind": "invoice", "number": "abc", **never},
            400,
            "Enter an invoice number",
        ),
        (
            f"{ACME}/mint",
            {"kind": "invoice", "number": "-5", **never},
            400,
            "Enter an invoice number",
        ),
        (
            f"{ACME}/mint",
            {"kind": "invoice", "number": "999999", **never},
            400,
            "KashFlow has no invoice 999999",
        ),
        (
            f"{STAFF}/customers/BIGCO01/mint",
            {"kind": "invoice", "number": "1043", **never},
            400,
            "not BIGCO01's",
        ),
        (
            f"{ACME}/mint",
            {"kind": "customer", "status": "everything", **never},
            400,
            "Choose which invoices",
        ),
        (
            f"{ACME}/mint",
            {"kind": "customer", "status": "all", "expires": "7"},
            400,
            "Choose when the link expires",
        ),
        (f"{ACME}/mint", {"kind": "page", "status": "all", **never}, 400, "Choose a link"),
        (
            f"{STAFF}/customers/NOSUCH/mint",
            {"kind": "customer", "status": "all", **never},
            404,
            "KashFlow has no customer NOSUCH",
        ),
        (f"{ACME}/send", {"link_id": bigco.link_id}, 400, "Nothing sent: that is not a live link"),
        (
            f"{ACME}/revoke",
            {"link_id": "aaaaaaaaaaaaa"},
            400,
            "Nothing revoked: that is not a live link",
        ),
        (f"{STAFF}/customers/NOSUCH/revoke-all", {}, 404, "KashFlow has no customer NOSUCH"),
        (
            f"{STAFF}/reminders",
            {"status": "soon", "every": "7", "customer": "ACME01"},
            400,
            "Choose whom to remind",
        ),
        (
            f"{STAFF}/reminders",
            {"status": "overdue", "every": "1", "customer": "ACME01"},
            400,
            "Choose how often",
        ),
        (f"{STAFF}/reminders", {"status": "overdue", "every": "7"}, 400, "No customers to remind"),
    ]
    for url, data, status, said in cases:
        response = post(client, url, data)
        assert response.status_code == status, (url, data, text(response)[:300])
        assert said in text(response), (url, data)
    for url, status in [
        (f"{STAFF}/customers/NOSUCH", 404),
        (f"{STAFF}/customers/NOSUCH/revoke-all", 404),
        (f"{ACME}?status=someday", 400),
        (f"{ACME}?page=0", 400),
        (f"{STAFF}/?owing=lots", 400),
        (f"{STAFF}/reminders?status=soon&every=7", 400),
    ]:
        assert client.get(url).status_code == status, url
    assert state(staff, outbox) == before
    assert client.get(path(bigco)).status_code == 200


def test_with_kashflow_unreachable_nothing_changes_but_links_can_be_revoked(
    tmp_path: Path, sandbox: KashFlowSandbox, outbox: list[EmailMessage], links: KashFlowLinks
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    app = make_app(
        tmp_path,
        **portal_config(sandbox, api_base_url=f"{closed}/v2", soap_url=closed, mail=outbox.append),
    )
    app.register_blueprint(links.staff_blueprint(authorize=lambda: True), url_prefix=STAFF)
    client = app.test_client()
    with app.app_context():
        link = links.mint_customer("ACME01")  # minting without asking KashFlow works
    before = state(app, outbox)

    for url in (f"{STAFF}/", ACME, f"{STAFF}/reminders?status=overdue&every=7"):
        page = client.get(url)
        assert page.status_code == 503, url
        assert "KashFlow is not answering just now" in text(page), url
    assert link.link_id in text(client.get(f"{STAFF}/"))  # customers known from their links
    assert f'name="link_id" value="{link.link_id}"' in text(client.get(ACME))

    refused = [
        (
            f"{ACME}/mint",
            {"kind": "customer", "status": "all", "expires": "never"},
            "No link minted.",
        ),
        (f"{ACME}/send", {"link_id": link.link_id}, "Nothing sent."),
        (
            f"{STAFF}/reminders",
            {"status": "overdue", "every": "7", "customer": "ACME01"},
            "Nothing sent.",
        ),
    ]
    for url, data, said in refused:
        response = post(client, url, data)
        assert response.status_code == 503, url
        assert said in text(response) and "try again in a few minutes" in text(response), url
    assert state(app, outbox) == before

    revoked = post(client, f"{ACME}/revoke", {"link_id": link.link_id})
    assert messages(revoked)[0] == f"Revoked link {link.link_id}: it stopped working at once."
    with app.app_context():
        assert links.active_links() == []


def test_links_of_a_customer_kashflow_no_longer_has_can_still_be_revoked(
    staff: Flask, links: KashFlowLinks
) -> None:
    client = staff.test_client()
    gone = links.mint_customer("GONE01")  # minted without asking KashFlow
    page = client.get(f"{STAFF}/customers/GONE01")
    assert page.status_code == 200
    assert "KashFlow has no customer GONE01." in text(page) and gone.link_id in text(page)
    minted = post(
        client,
        f"{STAFF}/customers/GONE01/mint",
        {"kind": "customer", "status": "all", "expires": "never"},
    )
    assert minted.status_code == 404 and "No link minted." in text(minted)
    done = post(client, f"{STAFF}/customers/GONE01/revoke-all", {})
    assert done.status_code == 200
    assert messages(done)[0].startswith("Revoked every link of GONE01 minted until now (1 live")
    assert client.get(path(gone)).status_code == 410


# -- what never leaks ------------------------------------------------------------------------------


def test_no_link_token_in_any_log_record_nor_in_any_url(
    staff: Flask,
    links: KashFlowLinks,
    outbox: list[EmailMessage],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    client = staff.test_client()
    answers = [client.get(f"{STAFF}/"), client.get(ACME)]
    minted = post(client, f"{ACME}/mint", {"kind": "customer", "status": "unpaid", "expires": "30"})
    answers.append(minted)
    token = minted_url(minted).rsplit("/", 1)[1]
    (record,) = links.active_links(customer="ACME01")
    answers.append(post(client, f"{ACME}/send", {"link_id": record.link_id}))
    assert client.get(f"/invoices/{token}").status_code == 200  # the portal's page, not staff's
    answers.append(client.get(f"{STAFF}/reminders?status=unpaid&every=7"))
    codes = re.findall(r'name="customer" value="([^"]+)"', text(answers[-1]))
    answers.append(
        post(client, f"{STAFF}/reminders", {"status": "unpaid", "every": "7", "customer": codes})
    )
    answers.append(post(client, f"{ACME}/revoke", {"link_id": record.link_id}))
    answers.append(client.get(f"{ACME}/revoke-all"))
    answers.append(post(client, f"{ACME}/revoke-all", {}))

    tokens = {token, *mailed_tokens(outbox)}
    assert len(tokens) >= 3 and len(outbox) >= 3
    logged = [
        " ".join((r.getMessage(), str(r.args), r.exc_text or "", str(r.__dict__)))
        for r in caplog.records
    ]
    assert any(record.link_id in line for line in logged)  # link ids are logged, not tokens
    for secret in tokens:
        assert not [line for line in logged if secret in line]
        for answer in answers:
            urls = re.findall(r'(?:href|action|src)="([^"]*)"', text(answer))
            urls.append(answer.headers.get("Location", ""))
            assert not [u for u in urls if secret in u]
    # The minted link is in the answer to the POST that minted it, in the copy field only.
    assert text(minted).count(token) == 1
    assert all(token not in text(a) for a in answers if a is not minted)
    with client.session_transaction() as cookie:
        assert all(token not in str(v) for v in cookie.values())


class _Structure(HTMLParser):
    """Well-formedness as far as a test needs: every element closed in order, ids unique,
    every label for an existing control."""

    VOID = frozenset(("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta"))

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.problems: list[str] = []
        self.ids: Counter[str] = Counter()
        self.label_for: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids[t.cast(str, found["id"])] += 1
        if tag == "label" and found.get("for"):
            self.label_for.append(t.cast(str, found["for"]))
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            self.problems.append(f"</{tag}>")
        elif not self.open or self.open[-1] != tag:
            self.problems.append(f"</{tag}> closes <{self.open[-1] if self.open else ''}>")
        else:
            self.open.pop()

    def check(self, html: str) -> list[str]:
        self.feed(html)
        self.close()
        problems = list(self.problems)
        problems += [f"<{tag}> never closed" for tag in self.open]
        problems += [f"id {i!r} used {n} times" for i, n in self.ids.items() if n > 1]
        problems += [f"label for missing #{i}" for i in self.label_for if i not in self.ids]
        return problems


def test_every_page_is_well_formed_html(staff: Flask, links: KashFlowLinks, door: Door) -> None:
    client = staff.test_client()
    links.mint_invoice(1043, customer="ACME01")
    pages = [
        client.get(f"{STAFF}/"),
        client.get(ACME),
        client.get(f"{STAFF}/customers/BIGCO01?status=paid&page=2"),
        post(client, f"{ACME}/mint", {"kind": "customer", "status": "all", "expires": "365"}),
        client.get(f"{ACME}/revoke-all"),
        client.get(f"{STAFF}/reminders"),
        client.get(f"{STAFF}/reminders?status=unpaid&every=30"),
        post(
            client, f"{STAFF}/reminders", {"status": "unpaid", "every": "30", "customer": "ACME01"}
        ),
        client.get(f"{STAFF}/customers/NOSUCH"),
    ]
    door.verdict = False
    pages.append(client.get(f"{STAFF}/"))
    for page in pages:
        html = text(page)
        assert html.startswith("<!doctype html>")
        assert html.count("<h1") == 1
        assert _Structure().check(html) == [], page.request.path


# -- mounting --------------------------------------------------------------------------------------


def test_customers_search_and_filter(staff: Flask, links: KashFlowLinks) -> None:
    client = staff.test_client()
    every = text(client.get(f"{STAFF}/"))
    assert len(re.findall(r"/staff/customers/\w+\"", every)) == len(links.customers())
    assert "Acme Trading Ltd" in every and "£2,799.30" in every

    def listed(query: str) -> list[str]:
        return re.findall(r'/staff/customers/(\w+)"', text(client.get(f"{STAFF}/?{query}")))

    assert listed("q=acme") == ["ACME01"]
    assert listed("q=bigco01") == ["BIGCO01"]
    overdue = [s.code for s in links.customers(owing="overdue")]
    assert listed("owing=overdue") == overdue
    assert listed("owing=unpaid&q=trading") == ["ACME01"]
    assert "0 customers" in text(client.get(f"{STAFF}/?q=nobody-at-all"))


def test_one_blueprint_serves_every_app_the_extension_was_initialised_on(
    tmp_path: Path, sandbox: KashFlowSandbox
) -> None:
    links = KashFlowLinks()
    made = []
    for name in ("site_a", "site_b"):
        app = Flask(name, instance_path=str(tmp_path / name))
        app.config.update(
            TESTING=True,
            SERVER_NAME=f"{name.replace('_', '-')}.example.test",
            **app_config(**portal_config(sandbox)),
        )
        links.init_app(app)
        made.append(app)
    blueprint = links.staff_blueprint(authorize=lambda: True)
    for app in made:
        app.register_blueprint(blueprint, url_prefix=STAFF)
    site_a, site_b = made
    with site_a.app_context():
        link = links.mint_customer("ACME01")
    assert link.link_id in text(site_a.test_client().get(ACME))
    assert link.link_id not in text(site_b.test_client().get(ACME))
    assert "No live links." in text(site_b.test_client().get(ACME))


def test_the_staff_pages_wear_the_host_layout(tmp_path: Path, sandbox: KashFlowSandbox) -> None:
    app = host_app(tmp_path, sandbox, KASHFLOW_LINKS_BASE_TEMPLATE="host_layout.html")
    app.register_blueprint(
        KashFlowLinks().staff_blueprint(authorize=lambda: True), url_prefix="/office"
    )
    html = text(app.test_client().get("/office/customers/ACME01"))
    assert 'id="host-header"' in html and 'id="host-footer"' in html
    assert "<title>Acme Trading Ltd · Staff · Harbour Lane | Harbour Lane</title>" in html
    assert "kfl-masthead" not in html  # the portal's own layout is not used
    for sheet in ("portal.css", "staff.css", "/kashflow-links/brand/"):
        assert sheet in html
    assert 'href="/office/reminders"' in html


def test_minted_expiry_is_what_the_form_chose(staff: Flask, links: KashFlowLinks) -> None:
    client = staff.test_client()
    now = datetime.now(timezone.utc)
    for choice, days in (("30", 30), ("365", 365), ("never", None)):
        post(client, f"{ACME}/mint", {"kind": "invoice", "number": "1043", "expires": choice})
        newest = links.active_links(customer="ACME01")[0]
        if days is None:
            assert newest.expires_at is None
        else:
            assert newest.expires_at is not None
            assert abs(newest.expires_at - now - timedelta(days=days)) < timedelta(minutes=1)


def test_a_links_session_value_is_made_only_for_pages_with_forms(staff: Flask) -> None:
    client = staff.test_client()
    client.get(f"{STAFF}/")  # no form posts anywhere: no session cookie needed
    with client.session_transaction() as cookie:
        assert dict(cookie) == {}
    form_token(client)
    with client.session_transaction() as cookie:
        assert list(cookie) == ["_kashflow_links_staff"]
