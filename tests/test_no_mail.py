"""Who the portal never mails, on each API (issue 21, point 4).

KashFlow's REST contacts carry an opt-out (``ReceiveEmails``); its SOAP ``Customer`` has one
``Email`` field (which may hold several addresses) and no opt-out, so over SOAP the portal
mails that field, where KashFlow itself sends invoices. An account's ``no_mail`` (addresses and
customer codes, compared ignoring case) says who must not be mailed whatever the API: the
"email me a fresh link" renewal, :meth:`~flask_kashflow_links.KashFlowLinks.send` and
:meth:`~flask_kashflow_links.KashFlowLinks.remind` all leave them out.

The sandbox's MIXED01 has four contacts, two opted out (``office@`` and ``old.partner@``), and
an ``Email`` field of ``office@mixed-media.test, finance@mixed-media.test``; QUIET01's two
contacts both opted out and its SOAP ``Email`` is their two addresses joined with ``;``.
"""

from __future__ import annotations

import typing as t
from email.message import EmailMessage
from pathlib import Path

import pytest

from flask_kashflow_links import ConfigurationError
from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links import Link
from flask_kashflow_links.sending import NothingToSend
from flask_kashflow_links.testing import KashFlowSandbox

from .helpers import REST_VARIANTS
from .helpers import KashFlowVariant
from .helpers import in_the_past
from .helpers import make_app
from .helpers import renew

pytestmark = pytest.mark.usefixtures("variant")

OFFICE = "office@mixed-media.test"
FINANCE = "finance@mixed-media.test"
RAVI = "ravi.patel@mixed-media.test"
QUIET = ["accounts@quiet-lane.test", "jo.hale@quiet-lane.test"]


class Outbox:
    """A portal on the sandbox whose mail is a callable keeping every message."""

    def __init__(
        self, tmp_path: Path, sandbox: KashFlowSandbox, kashflow: KashFlowVariant, **account: t.Any
    ) -> None:
        self.messages: list[EmailMessage] = []
        accounts = {"acme": kashflow.account(sandbox, **account)}
        self.app = make_app(
            tmp_path, **kashflow.config(sandbox, accounts=accounts, mail=self.messages.append)
        )

    def recipients(self) -> list[list[str]]:
        """The sorted addresses of each message, in order."""
        return [sorted(a.strip() for a in str(m["To"]).split(",")) for m in self.messages]

    def renewed(self, customer: str) -> str:
        """Press "Email me a fresh link" on an expired link to *customer*; the page."""
        with self.app.test_request_context(), in_the_past():
            link = KashFlowLinks().mint_customer(customer, expires_in=60)
        response = renew(self.app, link)
        assert response.status_code == 200
        return t.cast(str, response.get_data(as_text=True))

    def link(self, customer: str) -> Link:
        with self.app.test_request_context():
            return KashFlowLinks().mint_customer(customer)

    def send(self, customer: str, **kwargs: t.Any) -> list[str]:
        """Send a new link to *customer*; the addresses it went to."""
        with self.app.app_context():
            return list(KashFlowLinks().send(self.link(customer), **kwargs).to)

    def remind(self, customer: str) -> tuple[list[str], str]:
        """Remind *customer* of what is unpaid: the addresses mailed, or the reason skipped."""
        with self.app.app_context():
            done = KashFlowLinks().remind(status="unpaid", customers=[customer])
        assert not done.failed, done.failed
        if done.skipped:
            return [], done.skipped[0].reason
        [reminder] = done.sent
        return sorted(reminder.emails), ""


# -- over SOAP: the customer's Email field is mailed --------------------------------------------


@pytest.mark.parametrize("variant", ["soap"], indirect=True, scope="module")
def test_over_soap_every_address_of_the_email_field_is_mailed(
    tmp_path: Path, sandbox: KashFlowSandbox, kashflow: KashFlowVariant
) -> None:
    """SOAP has no opt-out: the addresses in ``Email`` (separated by ``;`` or ``,``) are where
    KashFlow itself sends invoices, so the renewal, a sent link and a reminder go there."""
    out = Outbox(tmp_path, sandbox, kashflow)
    assert "on its way" in out.renewed("QUIET01")
    assert out.send("QUIET01") == QUIET
    assert out.remind("QUIET01") == (sorted(QUIET), "")
    out.renewed("MIXED01")
    assert out.recipients() == [QUIET, QUIET, QUIET, sorted([OFFICE, FINANCE])]


# -- over REST: contacts who opted out are never mailed ------------------------------------------


@pytest.mark.parametrize("variant", REST_VARIANTS, indirect=True, scope="module")
def test_over_rest_opted_out_contacts_get_no_email_of_any_kind(
    tmp_path: Path, sandbox: KashFlowSandbox, kashflow: KashFlowVariant
) -> None:
    out = Outbox(tmp_path, sandbox, kashflow)
    assert "don't have an email address" in out.renewed("QUIET01")
    with pytest.raises(NothingToSend, match="that may be mailed"):
        out.send("QUIET01")
    assert out.remind("QUIET01") == ([], "no email address on file that may be mailed")
    assert out.messages == []
    # MIXED01: not office@ (opted out, though its Email field repeats it) nor old.partner@.
    out.renewed("MIXED01")
    assert sorted(out.send("MIXED01")) == [FINANCE, RAVI]
    assert out.remind("MIXED01") == (sorted([FINANCE, RAVI]), "")
    assert out.recipients() == [sorted([FINANCE, RAVI])] * 3


# -- no_mail, on every API -----------------------------------------------------------------------


def test_no_mail_by_address_leaves_it_out_of_every_email(
    tmp_path: Path, sandbox: KashFlowSandbox, kashflow: KashFlowVariant
) -> None:
    """Listed in another case than KashFlow's: addresses compare ignoring case."""
    out = Outbox(tmp_path, sandbox, kashflow, no_mail=[FINANCE.upper()])
    left = [OFFICE] if kashflow.soap else [RAVI]  # SOAP: the Email field; REST: the contacts
    out.renewed("MIXED01")
    assert out.send("MIXED01") == left
    assert out.remind("MIXED01") == (left, "")
    assert out.recipients() == [left] * 3
    assert all(FINANCE not in str(m).lower() for m in out.messages)


def test_no_mail_by_customer_code_stops_every_email(
    tmp_path: Path, sandbox: KashFlowSandbox, kashflow: KashFlowVariant
) -> None:
    out = Outbox(tmp_path, sandbox, kashflow, no_mail=["mixed01"])
    assert "don't have an email address" in out.renewed("MIXED01")
    with pytest.raises(NothingToSend, match="that may be mailed"):
        out.send("MIXED01")
    # Not even to an address typed by hand: the list means never.
    with pytest.raises(NothingToSend, match="customer MIXED01 is on the no_mail list"):
        out.send("MIXED01", to=["accounts@elsewhere.example"])
    assert out.remind("MIXED01") == ([], "on the account's no_mail list")
    assert out.messages == []
    with out.app.app_context():
        # Nothing recorded as sent, and the reminder's link was never minted.
        assert all(r.last_sent_at is None for r in KashFlowLinks().active_links())
    # Other customers of the account are mailed as before.
    assert out.send("ACME01")


def test_an_address_on_no_mail_given_by_hand_is_refused(
    tmp_path: Path, sandbox: KashFlowSandbox, kashflow: KashFlowVariant
) -> None:
    out = Outbox(tmp_path, sandbox, kashflow, no_mail=["Accounts@Elsewhere.example"])
    link = out.link("ACME01")
    with out.app.app_context():
        with pytest.raises(NothingToSend, match=r"accounts@elsewhere\.example is on the no_mail"):
            KashFlowLinks().send(link, to=["me@acme.example", "accounts@elsewhere.example"])
        assert out.messages == []
        [record] = [r for r in KashFlowLinks().active_links() if r.link_id == link.link_id]
        assert record.last_sent_at is None
        assert KashFlowLinks().send(link, to=["me@acme.example"]).to == ("me@acme.example",)


@pytest.mark.parametrize("bad", ["quiet@example.test", [""], [42], {"a": 1}])
def test_no_mail_must_be_a_list_of_addresses_and_codes(
    tmp_path: Path, sandbox: KashFlowSandbox, kashflow: KashFlowVariant, bad: t.Any
) -> None:
    with pytest.raises(ConfigurationError, match="no_mail must be a list"):
        Outbox(tmp_path, sandbox, kashflow, no_mail=bad)
