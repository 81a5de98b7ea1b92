"""``send()``: one link emailed to its customer, through a real SMTP server (aiosmtpd), and
recorded in the link store (SQLite and Redis).

Who gets it is read from the sandbox's demo data: on REST, the contacts who accept emails
(``ReceiveEmails`` not false), the primary one first; on SOAP, the addresses of the customer's
one ``Email`` field (split on ``;`` and ``,``); never an address or customer in the account's
``no_mail``.
"""

from __future__ import annotations

import logging
import re
import typing as t
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from decimal import Decimal

import pytest
from flask import Flask
from freezegun import freeze_time

from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links import Link
from flask_kashflow_links import MailError
from flask_kashflow_links import NothingToSend
from flask_kashflow_links import Sent
from flask_kashflow_links.testing import KashFlowSandbox

from .helpers import KashFlowVariant
from .helpers import in_the_past
from .helpers import mint
from .helpers import path
from .helpers import registered
from .services import Inbox
from .services import free_port

URL = re.compile(r"http://portal\.example\.test/invoices/[A-Za-z0-9_.=-]+")

#: Who each customer's link goes to, by API (from the sandbox's demo data): REST honours each
#: contact's ReceiveEmails; SOAP has one Email field and no opt-out.
ON_FILE = {
    "rest": {
        "ACME01": ("accounts@acme-trading.test",),
        "BIGCO01": ("ap@bigco-holdings.test", "tom.baker@bigco-holdings.test"),
        "QUIET01": (),  # every contact opted out
        # The primary contact (the front office) opted out; the Email field's repeat of it
        # does not bring it back.
        "MIXED01": ("finance@mixed-media.test", "ravi.patel@mixed-media.test"),
    },
    "soap": {
        "ACME01": ("accounts@acme-trading.test",),
        "BIGCO01": ("ap@bigco-holdings.test", "tom.baker@bigco-holdings.test"),
        "QUIET01": ("accounts@quiet-lane.test", "jo.hale@quiet-lane.test"),
        "MIXED01": ("office@mixed-media.test", "finance@mixed-media.test"),
    },
}


def on_file(kashflow: KashFlowVariant, code: str) -> tuple[str, ...]:
    return ON_FILE["soap" if kashflow.soap else "rest"][code]


@pytest.fixture
def portal_on(portal_on: t.Callable[..., Flask], inbox: Inbox) -> t.Callable[..., Flask]:
    """The shared ``portal_on``, its apps mailing through the test's SMTP server."""

    def make(sandbox: KashFlowSandbox, **settings: t.Any) -> Flask:
        settings.setdefault("mail", inbox.settings())
        return portal_on(sandbox, **settings)

    return make


def owed_by(sandbox: KashFlowSandbox, code: str) -> Decimal:
    """What *code* owes, from the sandbox's records."""
    return sum(
        (
            Decimal(i["DueAmount"])
            for i in sandbox.invoices.values()
            if i["CustomerCode"] == code
            and i["Status"] in ("Unpaid", "Overdue")
            and i.get("Type") != "CreditNote"
        ),
        Decimal(0),
    )


# -- to whom ---------------------------------------------------------------------------------------


@pytest.mark.usefixtures("variant")
def test_a_customer_link_is_emailed_and_recorded(
    sandbox: KashFlowSandbox,
    portal_on: t.Callable[..., Flask],
    inbox: Inbox,
    kashflow: KashFlowVariant,
) -> None:
    app = portal_on(sandbox)
    link = mint(app, "customer", code="ACME01", status="unpaid")
    sent = KashFlowLinks().send(link)

    assert isinstance(sent, Sent) and sent.link_id == link.link_id
    assert sent.to == on_file(kashflow, "ACME01")
    (received,) = inbox.messages
    assert tuple(received.recipients) == sent.to
    message = received.message
    assert message["To"] == ", ".join(sent.to)
    assert message["From"] == "Acme Accounts <billing@acme.example.com>"  # KASHFLOW_LINKS_MAIL
    assert message["Message-ID"] == sent.message_id
    assert sent.message_id.endswith("@acme.example.com>")
    assert message["Subject"] == "Your invoices from Acme Accounts"
    # What it opens, what is owed (ACME01's unpaid invoices, from the sandbox), the URL.
    owed = f"£{owed_by(sandbox, 'ACME01'):,.2f}"
    for part in (received.text, received.html):
        assert "Acme Accounts" in part
        assert "unpaid invoices" in part
        assert owed in part
        assert URL.findall(part) == [link.url]
    # The send is in the register, for every host sharing the store.
    record = registered(link)
    assert record is not None
    assert record.last_sent_at == sent.sent_at
    assert record.last_sent_to == sent.to
    assert record.last_opened_at is None and not record.opened_by_client


@pytest.mark.usefixtures("variant")
@pytest.mark.parametrize("code", ["BIGCO01", "MIXED01", "QUIET01"])
def test_the_addresses_on_file(
    sandbox: KashFlowSandbox,
    portal_on: t.Callable[..., Flask],
    inbox: Inbox,
    kashflow: KashFlowVariant,
    code: str,
) -> None:
    app = portal_on(sandbox)
    link = mint(app, "customer", code=code)
    wanted = on_file(kashflow, code)
    if not wanted:
        with pytest.raises(NothingToSend, match="no email address on file"):
            KashFlowLinks().send(link)
        assert inbox.messages == []
        assert registered(link).last_sent_at is None  # type: ignore[union-attr]
        return
    sent = KashFlowLinks().send(link)
    assert sent.to == wanted
    assert [m.recipients for m in inbox.messages] == [list(wanted)]


@pytest.mark.usefixtures("variant")
@pytest.mark.parametrize("variant", ["rest", "rest-documented"], indirect=True)
def test_the_primary_contact_comes_first(portal_on: t.Callable[..., Flask], inbox: Inbox) -> None:
    with KashFlowSandbox() as own:
        own.add_customer(
            {
                "Code": "PAIR01",
                "Name": "Pair Ltd",
                "Contacts": [
                    {"Email": "second@pair.test", "Name": "Second", "IsPrimary": False},
                    {"Email": "first@pair.test", "Name": "First", "IsPrimary": True},
                    {"Email": "quiet@pair.test", "Name": "Quiet", "ReceiveEmails": False},
                ],
            }
        )
        app = portal_on(own)
        sent = KashFlowLinks().send(mint(app, "customer", code="PAIR01"))
    assert sent.to == ("first@pair.test", "second@pair.test")


@pytest.mark.usefixtures("variant")
@pytest.mark.parametrize("variant", ["soap"], indirect=True)
def test_soap_s_one_email_field_holds_several_addresses(
    portal_on: t.Callable[..., Flask], inbox: Inbox
) -> None:
    with KashFlowSandbox() as own:
        own.add_customer(
            {
                "Code": "LIST01",
                "Name": "List Ltd",
                "Email": "a@list.test;b@list.test , c@list.test; not-an-address",
            }
        )
        app = portal_on(own)
        sent = KashFlowLinks().send(mint(app, "customer", code="LIST01"))
    assert sent.to == ("a@list.test", "b@list.test", "c@list.test")
    assert inbox.messages[0].recipients == list(sent.to)


@pytest.mark.usefixtures("variant")
def test_an_invoice_link_goes_to_the_invoice_s_own_customer(
    sandbox: KashFlowSandbox,
    portal_on: t.Callable[..., Flask],
    inbox: Inbox,
    kashflow: KashFlowVariant,
) -> None:
    """Invoice 1043 is ACME01's: its link goes to ACME01, even when it was minted (without
    --verify) under another customer's code by mistake."""
    app = portal_on(sandbox)
    for customer in (None, "TCUST01"):
        link = mint(app, number=1043, customer=customer)
        sent = KashFlowLinks().send(link)
        assert sent.to == on_file(kashflow, "ACME01")
    assert inbox.to("john.smith@example.com") == []  # TCUST01's address
    first = inbox.messages[0]
    assert first.message["Subject"] == "Invoice 1043 from Acme Accounts"
    assert f"£{Decimal(sandbox.invoices[1043]['DueAmount']):,.2f}" in first.text


@pytest.mark.usefixtures("variant")
def test_to_sends_elsewhere(
    sandbox: KashFlowSandbox, portal_on: t.Callable[..., Flask], inbox: Inbox
) -> None:
    app = portal_on(sandbox)
    link = mint(app, "customer", code="QUIET01")  # nobody on file may be mailed on REST
    sent = KashFlowLinks().send(link, to=["Office@Elsewhere.test", "office@elsewhere.test"])
    assert sent.to == ("Office@Elsewhere.test",)
    assert inbox.messages[0].recipients == ["Office@Elsewhere.test"]
    with pytest.raises(NothingToSend, match="not an email address"):
        KashFlowLinks().send(link, to=["someone at elsewhere"])
    assert len(inbox.messages) == 1


@pytest.mark.usefixtures("variant")
def test_no_mail_by_address_and_by_code(
    sandbox: KashFlowSandbox,
    portal_on: t.Callable[..., Flask],
    inbox: Inbox,
    kashflow: KashFlowVariant,
) -> None:
    account = kashflow.account(sandbox, no_mail=["Tom.Baker@bigco-holdings.test", "acme01"])
    app = portal_on(sandbox, accounts={"acme": account})
    links = KashFlowLinks()
    sent = links.send(mint(app, "customer", code="BIGCO01"))
    assert sent.to == ("ap@bigco-holdings.test",)
    acme = mint(app, "customer", code="ACME01")
    with pytest.raises(NothingToSend):
        links.send(acme)
    # Never mailed, even when typed: the list is who must never get the portal's mail.
    with pytest.raises(NothingToSend):
        links.send(acme, to=["someone@elsewhere.test"])
    with pytest.raises(NothingToSend):
        links.send(mint(app, "customer", code="BIGCO01"), to=["tom.baker@bigco-holdings.test"])
    assert [m.recipients for m in inbox.messages] == [["ap@bigco-holdings.test"]]
    assert registered(acme).last_sent_at is None  # type: ignore[union-attr]


# -- from configuration only -----------------------------------------------------------------------


def test_the_url_and_the_sender_come_from_configuration(
    sandbox: KashFlowSandbox, portal_on: t.Callable[..., Flask], inbox: Inbox
) -> None:
    """Sent while serving a request that claims another host: the email names the
    configured site, never the request's."""
    app = portal_on(sandbox, public_url="https://www.acme.example.com/billing")
    link = mint(app, "customer", code="ACME01")
    with app.test_request_context("/", base_url="http://evil.example:8080"):
        KashFlowLinks().send(link)
    (received,) = inbox.messages
    urls = re.findall(r"https?://\S+/invoices/\S+", received.text)
    assert urls == [f"https://www.acme.example.com/billing/invoices/{link.token}"]
    assert "evil.example" not in received.text + received.html + str(received.message)


@pytest.mark.parametrize(
    ("brand", "sender"),
    [
        (
            {"name": "Acme Accounts", "email": "billing@acme.example.com"},
            "billing@acme.example.com",
        ),
        ({"name": "Acme Accounts"}, "no-reply@portal.example.test"),
    ],
)
def test_a_mail_callable_sends_from_the_brand_or_the_site(
    sandbox: KashFlowSandbox,
    portal_on: t.Callable[..., Flask],
    brand: dict[str, str],
    sender: str,
) -> None:
    messages: list[t.Any] = []
    app = portal_on(sandbox, mail=messages.append, brand=brand)
    with app.test_request_context("/", base_url="http://evil.example"):
        sent = KashFlowLinks().send(mint(app, "customer", code="ACME01"))
    (message,) = messages
    assert message["From"] == f"Acme Accounts <{sender}>"
    assert sent.message_id.endswith("@" + sender.split("@")[1] + ">")


def test_without_a_mailer_nothing_is_sent(
    sandbox: KashFlowSandbox, portal_on: t.Callable[..., Flask]
) -> None:
    app = portal_on(sandbox, mail=None)
    link = mint(app, "customer", code="ACME01")
    with pytest.raises(NothingToSend, match="KASHFLOW_LINKS_MAIL"):
        KashFlowLinks().send(link)
    assert registered(link).last_sent_at is None  # type: ignore[union-attr]


def test_the_token_is_never_logged(
    sandbox: KashFlowSandbox,
    portal_on: t.Callable[..., Flask],
    inbox: Inbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = portal_on(sandbox)
    caplog.set_level(logging.DEBUG)
    link = mint(app, "customer", code="ACME01")
    sent = KashFlowLinks().send(link.link_id)
    reissued = URL.findall(inbox.messages[0].text)[0].rsplit("/", 1)[1]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert sent.link_id in logged  # the send is logged, by link id
    assert link.token not in logged and reissued not in logged


# -- by link id ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("variant")
def test_a_link_sent_by_its_id_is_the_same_link(
    sandbox: KashFlowSandbox, portal_on: t.Callable[..., Flask], inbox: Inbox
) -> None:
    """The store keeps no token: a link sent by its id is written out again, and opens,
    lists and is revoked as the link it is."""
    app = portal_on(sandbox)
    links = KashFlowLinks()
    # Minted at a fraction of a second, with an expiry: the copy must expire when it does.
    with freeze_time(datetime.now(timezone.utc).replace(microsecond=900_000), tick=True):
        link = mint(app, "customer", code="ACME01", expires_in=timedelta(days=90))
    sent = links.send(link.link_id)
    assert sent.link_id == link.link_id
    (url,) = URL.findall(inbox.messages[0].text)
    copy = url.rsplit("/", 1)[1]
    claims = links.verify(copy)
    assert claims.link_id == link.link_id and claims.scope == link.scope
    assert claims.expires_at == link.expires_at
    assert [r.link_id for r in links.active_links(customer="ACME01")] == [link.link_id]
    client = app.test_client()
    assert client.get(path(url)).status_code == 200
    links.revoke(link.link_id)
    assert client.get(path(url)).status_code == 410
    assert client.get(path(link)).status_code == 410


def test_a_dead_link_is_not_sent(
    sandbox: KashFlowSandbox, portal_on: t.Callable[..., Flask], inbox: Inbox
) -> None:
    app = portal_on(sandbox)
    links = KashFlowLinks()
    revoked = mint(app, "customer", code="ACME01")
    links.revoke(revoked.link_id)
    with in_the_past():
        expired = mint(app, "customer", code="TCUST01", expires_in=60)
    withdrawn_with_customer = mint(app, number=1043)
    links.revoke_customer("ACME01")
    for dead, why in ((revoked, "is revoked"), (expired, "has expired")):
        for given in (dead.link_id, dead.token, dead.url, dead):
            with pytest.raises(ValueError, match=why):
                links.send(t.cast("Link | str", given))
    with pytest.raises(ValueError, match="revoked"):
        links.send(withdrawn_with_customer)
    with pytest.raises(ValueError, match="not in the register"):
        links.send("abcdefghjkmnp")
    with pytest.raises(ValueError, match="not a link id"):
        links.send("nonsense")
    assert inbox.messages == []


# -- when mail fails -------------------------------------------------------------------------------


def test_a_mail_server_refusing_records_nothing(
    sandbox: KashFlowSandbox, portal_on: t.Callable[..., Flask], inbox: Inbox
) -> None:
    inbox.refuse.add("accounts@acme-trading.test")
    app = portal_on(sandbox)
    link = mint(app, "customer", code="ACME01")
    with pytest.raises(MailError, match="SMTP"):
        KashFlowLinks().send(link)
    assert registered(link).last_sent_at is None  # type: ignore[union-attr]
    inbox.refuse.clear()
    KashFlowLinks().send(link)  # the server takes it now
    assert registered(link).last_sent_at is not None  # type: ignore[union-attr]


@pytest.mark.usefixtures("variant")
def test_addresses_the_mail_server_refuses_are_not_recorded_as_sent(
    sandbox: KashFlowSandbox,
    portal_on: t.Callable[..., Flask],
    inbox: Inbox,
    kashflow: KashFlowVariant,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A server refusing one mailbox of two (RCPT TO 550) takes the message for the other:
    # the send stands, for the address that got it.
    *took, unknown = on_file(kashflow, "BIGCO01")
    inbox.unknown.add(unknown)
    app = portal_on(sandbox)
    link = mint(app, "customer", code="BIGCO01")
    sent = KashFlowLinks().send(link)
    assert sent.to == tuple(took)
    assert [m.recipients for m in inbox.messages] == [took]
    assert registered(link).last_sent_to == tuple(took)  # type: ignore[union-attr]
    assert "refused 1 of the message's addresses" in caplog.text
    # Every address refused: not sent, nothing recorded.
    inbox.unknown.update(took)
    other = mint(app, "customer", code="BIGCO01", status="unpaid")
    with pytest.raises(MailError, match="SMTP"):
        KashFlowLinks().send(other)
    assert registered(other).last_sent_at is None  # type: ignore[union-attr]


def test_a_mail_server_that_cannot_be_reached(
    sandbox: KashFlowSandbox, portal_on: t.Callable[..., Flask]
) -> None:
    nowhere = {"host": "127.0.0.1", "port": free_port(), "sender": "billing@acme.example.com"}
    app = portal_on(sandbox, mail=nowhere)
    link = mint(app, "customer", code="ACME01")
    with pytest.raises(MailError):
        KashFlowLinks().send(link)
    assert registered(link).last_sent_at is None  # type: ignore[union-attr]


# -- the record, in both stores --------------------------------------------------------------------


@pytest.mark.parametrize("store", ["sqlite", "redis"])
def test_every_send_is_recorded_in_the_store(
    sandbox: KashFlowSandbox,
    portal_on: t.Callable[..., Flask],
    inbox: Inbox,
    request: pytest.FixtureRequest,
    store: str,
) -> None:
    settings = {"revocation_url": request.getfixturevalue("redis_url")} if store == "redis" else {}
    app = portal_on(sandbox, **settings)
    links = KashFlowLinks()
    link = mint(app, "customer", code="BIGCO01")
    other = mint(app, "customer", code="ACME01")
    first = links.send(link)
    second = links.send(link, to=["ap@bigco-holdings.test"])
    assert second.sent_at >= first.sent_at
    records = {r.link_id: r for r in links.active_links()}
    assert records[link.link_id].last_sent_at == second.sent_at
    assert records[link.link_id].last_sent_to == ("ap@bigco-holdings.test",)
    assert records[other.link_id].last_sent_at is None
    assert records[other.link_id].last_sent_to == ()
    if store == "redis":
        # Another app sharing the store (another host) sees the same.
        twin = portal_on(sandbox, name="twin", **settings)
        with twin.app_context():
            (record,) = KashFlowLinks().active_links(customer="BIGCO01")
        assert record.last_sent_at == second.sent_at


def test_a_paid_invoices_link_says_nothing_is_owed(
    sandbox: KashFlowSandbox, portal_on: t.Callable[..., Flask], inbox: Inbox
) -> None:
    """The email says what the link opens: a link to the paid invoices shows nothing owed."""
    app = portal_on(sandbox)
    KashFlowLinks().send(mint(app, "customer", code="ACME01", status="paid"))
    KashFlowLinks().send(mint(app, "customer", code="ACME01", status="overdue"))
    paid, overdue = inbox.messages
    assert "paid invoices" in paid.text and "Still to pay" not in paid.text + paid.html
    expected = sum(
        Decimal(i["DueAmount"])
        for i in sandbox.invoices.values()
        if i["CustomerCode"] == "ACME01" and i["Status"] == "Overdue"
    )
    assert f"Still to pay: £{expected:,.2f}." in overdue.text


@pytest.mark.parametrize("site_holds_credentials", [True, False])
def test_embed_mode_links_sent_by_id(
    sandbox: KashFlowSandbox,
    portal_on: t.Callable[..., Flask],
    inbox: Inbox,
    site_holds_credentials: bool,
) -> None:
    """The register keeps no credentials: in embed mode a link is written out again with the
    site's own, or not at all (the Link object the mint returned can always be sent)."""
    account = sandbox.account_config() if site_holds_credentials else {"brand": {"name": "Acme"}}
    app = portal_on(sandbox, embed_credentials=True, accounts={"acme": account})
    links = KashFlowLinks()
    creds = KashFlowVariant("rest").credentials(sandbox)
    link = mint(app, "customer", code="ACME01", credentials=creds)
    links.send(link)
    assert len(inbox.messages) == 1
    if not site_holds_credentials:
        with pytest.raises(ValueError, match="cannot be written out again"):
            links.send(link.link_id)
        assert len(inbox.messages) == 1
        return
    links.send(link.link_id)
    (url,) = URL.findall(inbox.messages[-1].text)
    assert links.verify(url.rsplit("/", 1)[1]).credentials == creds
    assert app.test_client().get(path(url)).status_code == 200
