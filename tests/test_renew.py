"""'Email me a fresh link', end to end through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import email
import email.policy
import re
import typing as t
from datetime import datetime
from datetime import timezone
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from freezegun import freeze_time

from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links import Link
from flask_kashflow_links import signals
from flask_kashflow_links.portal.renew import RENEW_LIMIT_PER_ADDRESS
from flask_kashflow_links.portal.renew import RENEW_LIMIT_PER_LINK
from flask_kashflow_links.testing import KashFlowSandbox

from .helpers import REST_VARIANTS
from .helpers import KashFlowVariant
from .helpers import form_token
from .helpers import in_the_past
from .helpers import internals
from .helpers import make_app
from .helpers import path
from .helpers import renew
from .services import free_port

# Every test runs against the REST and the SOAP API (tests/helpers.py: VARIANTS).
pytestmark = pytest.mark.usefixtures("variant")


class Inbox:
    """An aiosmtpd handler keeping every message received."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: t.Any, session: t.Any, envelope: t.Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), t.cast(EmailMessage, message)))
        return "250 Message accepted"


@pytest.fixture
def smtp() -> t.Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def app(
    tmp_path: Path, sandbox: KashFlowSandbox, smtp: tuple[Inbox, int], kashflow: KashFlowVariant
) -> Flask:
    mail = {
        "host": "127.0.0.1",
        "port": smtp[1],
        "sender": "Acme Accounts <billing@acme.example.com>",
    }
    return make_app(tmp_path, **kashflow.config(sandbox, mail=mail))


def expired_link(app: Flask, kind: str = "customer", lifetime: int = 2) -> Link:
    """A link minted an hour ago with a *lifetime* of seconds: expired now."""
    links = KashFlowLinks()
    with app.test_request_context(), in_the_past():
        if kind == "customer":
            link = links.mint_customer("ACME01", status="unpaid", expires_in=lifetime)
        else:
            link = links.mint_invoice(1043, expires_in=lifetime)
    return link


def test_a_fresh_link_is_emailed_to_the_addresses_on_file(
    app: Flask, sandbox: KashFlowSandbox, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    old = expired_link(app)
    with captured_signal() as sent:
        response = renew(app, old, email="attacker@evil.example")  # a typed address is ignored
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "on its way" in html
    on_file = [c["Email"] for c in sandbox.customers["ACME01"]["Contacts"] if c.get("Email")]
    assert on_file
    for address in on_file:
        assert address not in html  # masked on the page
    assert re.search(r"\w{1,2}\*\*\*@", html)

    assert len(inbox.messages) == 1
    recipients, message = inbox.messages[0]
    assert sorted(recipients) == sorted(on_file)
    assert "attacker@evil.example" not in recipients
    assert message["From"] == "Acme Accounts <billing@acme.example.com>"
    assert "Acme Accounts" in message["Subject"]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html_part = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    url = re.search(r"http://portal\.example\.test/invoices/\S+", text).group(0)  # type: ignore[union-attr]
    assert url in html_part
    assert old.token not in text

    # The new link has the same scope and the same lifetime, counted from the renewal.
    with app.app_context():
        claims = KashFlowLinks().verify(url.rsplit("/", 1)[1])
    assert claims.scope == old.scope
    assert claims.lifetime is not None and claims.lifetime.total_seconds() == 2
    assert app.test_client().get(path(url)).status_code == 200
    assert (
        sent and sent[0]["new_link_id"] == claims.link_id and sent[0]["recipients"] == len(on_file)
    )


def test_an_invoice_link_is_renewed_for_the_invoices_customer(
    app: Flask, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    assert renew(app, expired_link(app, "invoice")).status_code == 200
    assert len(inbox.messages) == 1
    with app.app_context():
        live = KashFlowLinks().active_links(customer="ACME01")
    assert any(r.scope.invoice == 1043 for r in live)


def test_a_withdrawn_link_cannot_be_renewed(app: Flask, smtp: tuple[Inbox, int]) -> None:
    link = expired_link(app)
    token = form_token(app, link)
    with app.app_context():
        KashFlowLinks().revoke(link.link_id)
    response = app.test_client().post(
        path(link) + "/renew", data={"form_token": token}, headers={"Sec-Fetch-Site": "same-origin"}
    )
    assert response.status_code == 410
    assert smtp[0].messages == []


def test_revoke_customer_blocks_renewal_of_invoice_links(
    app: Flask, smtp: tuple[Inbox, int]
) -> None:
    link = expired_link(app, "invoice")
    token = form_token(app, link)
    with app.app_context():
        KashFlowLinks().revoke_customer("ACME01")
    response = app.test_client().post(
        path(link) + "/renew", data={"form_token": token}, headers={"Sec-Fetch-Site": "same-origin"}
    )
    assert response.status_code == 410
    assert smtp[0].messages == []


@pytest.mark.parametrize(
    ("data", "headers"),
    [
        ({}, {"Sec-Fetch-Site": "same-origin"}),
        ({"form_token": "forged"}, {"Sec-Fetch-Site": "same-origin"}),
        (None, {"Sec-Fetch-Site": "cross-site"}),
        (None, {"Origin": "https://evil.example"}),
    ],
)
def test_cross_site_or_forged_posts_send_nothing(
    app: Flask, smtp: tuple[Inbox, int], data: dict[str, str] | None, headers: dict[str, str]
) -> None:
    link = expired_link(app, lifetime=1)
    fields = data if data is not None else {"form_token": form_token(app, link)}
    response = app.test_client().post(path(link) + "/renew", data=fields, headers=headers)
    assert response.status_code == 400
    assert smtp[0].messages == []


def test_origin_null_from_a_no_referrer_page_is_accepted(
    app: Flask, smtp: tuple[Inbox, int]
) -> None:
    """Browsers without Sec-Fetch-Site send ``Origin: null`` under ``no-referrer``."""
    link = expired_link(app, lifetime=1)
    response = app.test_client().post(
        path(link) + "/renew",
        data={"form_token": form_token(app, link)},
        headers={"Origin": "null"},
    )
    assert response.status_code == 200 and len(smtp[0].messages) == 1


@pytest.fixture
def mid_window() -> t.Iterator[None]:
    """Time running from the middle of a day (the counters' windows are fixed: an hour for an
    address, a day for a link), so that no window ends during the test."""
    noon = datetime.now(timezone.utc).replace(hour=12, minute=0, second=0, microsecond=0)
    with freeze_time(noon, tick=True):
        yield


@pytest.mark.usefixtures("mid_window")
def test_renewals_are_throttled_per_link(app: Flask, smtp: tuple[Inbox, int]) -> None:
    link = expired_link(app, lifetime=1)
    statuses = [renew(app, link).status_code for _ in range(RENEW_LIMIT_PER_LINK + 1)]
    assert statuses == [200] * RENEW_LIMIT_PER_LINK + [429]
    assert len(smtp[0].messages) == RENEW_LIMIT_PER_LINK


@pytest.mark.usefixtures("mid_window")
def test_renewals_are_throttled_per_address(app: Flask, smtp: tuple[Inbox, int]) -> None:
    # Enough links that no one of them reaches its own limit first.
    expired = [expired_link(app, lifetime=1) for _ in range(4)]
    statuses = [
        renew(app, expired[i % len(expired)]).status_code
        for i in range(RENEW_LIMIT_PER_ADDRESS + 1)
    ]
    assert statuses == [200] * RENEW_LIMIT_PER_ADDRESS + [429]


def test_no_address_on_file(app: Flask, sandbox: KashFlowSandbox, smtp: tuple[Inbox, int]) -> None:
    if "NOMAIL01" not in sandbox.customers:  # the shared sandbox: added by an earlier variant
        sandbox.add_customer({"Code": "NOMAIL01", "Name": "No Mail Ltd", "Contacts": []})
    sandbox.customers["NOMAIL01"]["Contacts"] = []
    sandbox.customers["NOMAIL01"]["Email"] = ""
    with app.test_request_context(), in_the_past():
        link = KashFlowLinks().mint_customer("NOMAIL01", expires_in=60)
    response = renew(app, link)
    assert response.status_code == 200
    assert "don't have an email address" in response.get_data(as_text=True)
    assert smtp[0].messages == []


# KashFlow's REST contacts carry ReceiveEmails (in both shapes); its SOAP API has no such flag.
@pytest.mark.parametrize("variant", REST_VARIANTS, indirect=True, scope="module")
def test_contacts_who_opted_out_get_no_fresh_link(app: Flask, smtp: tuple[Inbox, int]) -> None:
    links = KashFlowLinks()
    with app.test_request_context(), in_the_past():
        quiet = links.mint_customer("QUIET01", expires_in=60)  # every contact opted out
        mixed = links.mint_customer("MIXED01", expires_in=60)  # the primary one among them
    response = renew(app, quiet)
    assert response.status_code == 200
    assert "don't have an email address" in response.get_data(as_text=True)
    assert smtp[0].messages == []
    assert renew(app, mixed).status_code == 200
    recipients, _ = smtp[0].messages[0]
    # Not office@ (opted out, though the customer's Email field repeats it), nor old.partner@.
    assert sorted(recipients) == ["finance@mixed-media.test", "ravi.patel@mixed-media.test"]


def test_smtp_down_says_so_and_leaves_no_live_link(
    tmp_path: Path, sandbox: KashFlowSandbox, kashflow: KashFlowVariant
) -> None:
    mail = {
        "host": "127.0.0.1",
        "port": free_port(),
        "sender": "billing@acme.example.com",
        "timeout": 2,
    }
    app = make_app(tmp_path, **kashflow.config(sandbox, mail=mail))
    link = expired_link(app, lifetime=1)
    with app.app_context():
        before = {r.link_id for r in KashFlowLinks().active_links()}
    response = renew(app, link)
    assert response.status_code == 503
    with app.app_context():
        assert {r.link_id for r in KashFlowLinks().active_links()} == before


def test_a_mail_callable_gets_an_email_message(
    tmp_path: Path, sandbox: KashFlowSandbox, kashflow: KashFlowVariant
) -> None:
    sent: list[EmailMessage] = []
    app = make_app(tmp_path, **kashflow.config(sandbox, mail=sent.append))
    assert renew(app, expired_link(app, lifetime=1)).status_code == 200
    assert len(sent) == 1 and isinstance(sent[0], EmailMessage)
    assert sent[0]["From"] == "Acme Accounts <billing@acme.example.com>"
    with app.app_context():
        assert internals().settings.mail is not None


class captured_signal:
    def __enter__(self) -> list[dict[str, t.Any]]:
        self.seen: list[dict[str, t.Any]] = []
        signals.fresh_link_sent.connect(self._record)
        return self.seen

    def _record(self, sender: t.Any, **kwargs: t.Any) -> None:
        self.seen.append(kwargs)

    def __exit__(self, *exc: object) -> None:
        signals.fresh_link_sent.disconnect(self._record)
