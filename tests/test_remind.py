"""``remind()``: the weekly reminder of every customer who owes money, with one lasting link
per customer and status, through a real SMTP server (aiosmtpd) or a mail callable.

Who must be reminded is read from the sandbox's own data (an invoice is owed when KashFlow
says Unpaid or Overdue and it is not a credit note; overdue when past its due date), and who
may be mailed from its demo contacts (QUIET01's contacts all opted out, on REST).
"""

from __future__ import annotations

import re
import threading
import typing as t
from collections import Counter
from datetime import date
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import jinja2
import pytest
from flask import Flask

from flask_kashflow_links import KashFlowError
from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links import Reminder
from flask_kashflow_links import Reminders
from flask_kashflow_links.testing import KashFlowSandbox

from .helpers import Clock
from .helpers import KashFlowVariant
from .helpers import internals
from .helpers import path
from .services import Inbox

URL = re.compile(r"http://portal\.example\.test/invoices/[A-Za-z0-9_.=-]+")
WEEK = timedelta(days=7)


def today() -> date:
    return datetime.now(ZoneInfo("Europe/London")).date()


def owing(sandbox: KashFlowSandbox, status: str = "overdue") -> dict[str, list[dict[str, t.Any]]]:
    """The invoices each customer owes (*status* ``"overdue"``: those past their due date),
    from the sandbox's records."""
    found: dict[str, list[dict[str, t.Any]]] = {}
    for invoice in sandbox.invoices.values():
        if invoice["Status"] not in ("Unpaid", "Overdue") or invoice.get("Type") == "CreditNote":
            continue
        due = date.fromisoformat(invoice["DueDate"][:10])
        if status == "overdue" and not due < today():
            continue
        found.setdefault(invoice["CustomerCode"], []).append(invoice)
    return found


def no_address(kashflow: KashFlowVariant) -> set[str]:
    """Customers with no address that may be mailed (QUIET01's contacts opted out; SOAP has
    no opt-out)."""
    return set() if kashflow.soap else {"QUIET01"}


def codes(reminders: list[Reminder]) -> list[str]:
    return [r.customer for r in reminders]


def live_links(status: str | None = None) -> dict[str, list[str]]:
    """The live customer links, by customer: their link ids (of *status* if given)."""
    found: dict[str, list[str]] = {}
    for record in KashFlowLinks().active_links():
        if status is None or record.status == status:
            found.setdefault(t.cast(str, record.customer), []).append(record.link_id)
    return found


def last_reminded(code: str) -> float | None:
    """When *code* was last reminded, as the store says (private: no public way)."""
    return internals().links.last_reminded("acme", code)


class Mailbox:
    """A mail callable keeping what it is handed; it fails for the addresses in ``refuse``
    (a mailer that raises), and runs ``during`` (a slow server's time) for each message."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse: set[str] = set()
        self.during: t.Callable[[], None] = lambda: None
        self._lock = threading.Lock()

    def __call__(self, message: EmailMessage) -> None:
        self.during()
        if self.refuse & set(message["To"].split(", ")):
            raise ConnectionRefusedError("the mail server is away")
        with self._lock:
            self.messages.append(message)

    def recipients(self) -> Counter[str]:
        return Counter(a for m in self.messages for a in m["To"].split(", "))


# -- one run, and the next -------------------------------------------------------------------------


@pytest.mark.usefixtures("variant")
def test_each_customer_owing_is_reminded_once(
    sandbox: KashFlowSandbox,
    portal_on: t.Callable[..., Flask],
    inbox: Inbox,
    kashflow: KashFlowVariant,
) -> None:
    portal_on(sandbox, mail=inbox.settings())
    expected = owing(sandbox)
    assert {"ACME01", "BIGCO01", "MULLER01"} <= set(expected)
    result = KashFlowLinks().remind()

    assert isinstance(result, Reminders) and result.ok and not result.dry_run
    assert set(codes(result.sent)) == set(expected) - no_address(kashflow)
    assert len(result.sent) == len(set(codes(result.sent)))
    assert result.failed == []
    assert len(inbox.messages) == len(result.sent)
    links = live_links("overdue")
    for reminder in result.sent:
        invoices = expected[reminder.customer]
        assert reminder.overdue == sum(Decimal(i["DueAmount"]) for i in invoices), reminder
        assert reminder.new_link and reminder.link_id is not None and reminder.reason == ""
        assert links[reminder.customer] == [reminder.link_id]  # one lasting link, live
        (received,) = [m for m in inbox.messages if m.recipients == list(reminder.emails)]
        (url,) = set(URL.findall(received.text))
        claims = KashFlowLinks().verify(url.rsplit("/", 1)[1])
        assert claims.link_id == reminder.link_id and claims.expires_at is None
        assert claims.scope.customer == reminder.customer and claims.scope.status == "overdue"
    records = {r.link_id: r for r in KashFlowLinks().active_links()}
    assert all(records[r.link_id].last_sent_to == r.emails for r in result.sent)  # type: ignore[index]

    again = KashFlowLinks().remind()
    assert again.sent == [] and again.failed == []
    assert {r.customer: r.reason for r in again.skipped} == {
        **{code: "reminded just now" for code in codes(result.sent)},
        **{code: "no email address on file" for code in no_address(kashflow) & set(expected)},
    }
    assert len(inbox.messages) == len(result.sent)  # nothing more
    assert live_links("overdue") == links  # nothing minted


@pytest.mark.usefixtures("variant")
def test_what_the_client_receives(
    sandbox: KashFlowSandbox, portal_on: t.Callable[..., Flask], inbox: Inbox
) -> None:
    app = portal_on(sandbox, mail=inbox.settings())
    KashFlowLinks().remind(customers=["ACME01"])
    (received,) = inbox.messages
    assert received.message["Subject"] == "Overdue invoices from Acme Accounts"
    assert received.message["From"] == "Acme Accounts <billing@acme.example.com>"
    overdue = sorted(owing(sandbox)["ACME01"], key=lambda i: i["DueDate"])
    every = owing(sandbox, "unpaid")["ACME01"]
    total = sum(Decimal(i["DueAmount"]) for i in overdue)
    days = (today() - date.fromisoformat(overdue[0]["DueDate"][:10])).days
    for part in (received.text, received.html):
        assert f"£{total:,.2f} overdue" in re.sub(r"<[^>]+>", "", part)
        assert f"the oldest by {days} days" in part
        for invoice in overdue:
            assert str(invoice["Number"]) in part
            assert f"£{Decimal(invoice['DueAmount']):,.2f}" in part
        if len(every) > len(overdue):  # and what else is still to pay
            assert f"In all, £{sum(Decimal(i['DueAmount']) for i in every):,.2f}" in part
    (url,) = set(URL.findall(received.text))
    assert URL.findall(received.html) == [url]
    page = app.test_client().get(path(url))
    assert page.status_code == 200
    numbers = set(re.findall(r"/invoices/[^/\"]+/(\d+)\"", page.get_data(as_text=True)))
    assert numbers == {str(i["Number"]) for i in overdue}  # the link opens what is overdue


@pytest.mark.usefixtures("variant")
@pytest.mark.parametrize("code", ["MULLER01", "SAKURA01"])
def test_totals_read_as_the_invoices_do(
    sandbox: KashFlowSandbox, portal_on: t.Callable[..., Flask], code: str
) -> None:
    """Euros with the symbol where KashFlow places it, yen as the invoice writes them: the
    total and the rows of one email agree."""
    mailbox = Mailbox()
    portal_on(sandbox, mail=mailbox)
    KashFlowLinks().remind(customers=[code])
    (message,) = mailbox.messages
    text = t.cast(t.Any, message.get_body(("plain",))).get_content()
    total = re.search(r"Our records show (.+) overdue", text)
    row = re.search(r"Invoice \d+: (.+), overdue by", text)
    assert total and row and total[1] == row[1]


def test_the_lasting_link_is_sent_again_after_every(
    sandbox: KashFlowSandbox, portal_on: t.Callable[..., Flask], clock: Clock
) -> None:
    """Within ``every`` a customer is skipped, saying when they were reminded; from then on
    reminded again, with the same link (a client who bookmarked it keeps one link)."""
    mailbox = Mailbox()
    app = portal_on(sandbox, mail=mailbox)
    links = KashFlowLinks()
    first = {r.customer: r for r in links.remind(customers=["ACME01", "TCUST01"]).sent}
    assert set(first) == {"ACME01", "TCUST01"}

    clock.tick(3 * 86400)
    later = links.remind(customers=["ACME01", "TCUST01"])
    assert later.sent == []
    assert {r.reason for r in later.skipped} == {"reminded 3 days ago"}

    clock.tick(4 * 86400 - 120)  # a week less two minutes after the first run
    assert links.remind(customers=["ACME01"]).sent == []
    clock.tick(180)  # a week and a minute
    second = {r.customer: r for r in links.remind(customers=["ACME01", "TCUST01"]).sent}
    assert set(second) == {"ACME01", "TCUST01"}
    for code, reminder in second.items():
        assert not reminder.new_link and reminder.link_id == first[code].link_id
    assert len(mailbox.messages) == 4
    # Each customer's two emails carry the same link (written out again: the store keeps no
    # token), and the URL of the first still opens.
    for code, reminder in first.items():
        urls = [
            url
            for m in mailbox.messages
            if m["To"] == ", ".join(reminder.emails)
            for url in set(URL.findall(t.cast(t.Any, m.get_body(("plain",))).get_content()))
        ]
        assert len(urls) == 2, code
        assert {links.verify(u.rsplit("/", 1)[1]).link_id for u in urls} == {reminder.link_id}
        assert app.test_client().get(path(urls[0])).status_code == 200

    assert links.remind(customers=["ACME01"], every=timedelta(0)).sent  # every=0: no wait


def test_a_dry_run_mints_claims_and_sends_nothing(
    sandbox: KashFlowSandbox, portal_on: t.Callable[..., Flask], clock: Clock
) -> None:
    mailbox = Mailbox()
    portal_on(sandbox, mail=mailbox)
    links = KashFlowLinks()
    dry = links.remind(dry_run=True)
    assert dry.dry_run and set(codes(dry.sent)) == set(owing(sandbox))
    assert all(r.new_link and r.link_id is None for r in dry.sent)
    assert mailbox.messages == [] and links.active_links() == []
    assert all(last_reminded(code) is None for code in owing(sandbox))

    real = links.remind()  # nothing was claimed: everyone is reminded
    assert codes(real.sent) == codes(dry.sent)
    assert [(r.owed, r.overdue, r.emails) for r in real.sent] == [
        (r.owed, r.overdue, r.emails) for r in dry.sent
    ]
    assert {r.reason for r in links.remind(dry_run=True).skipped} == {"reminded just now"}

    clock.tick(WEEK.total_seconds())
    next_week = links.remind(dry_run=True)
    assert [(r.customer, r.link_id) for r in next_week.sent] == [
        (r.customer, r.link_id) for r in real.sent
    ]
    assert not any(r.new_link for r in next_week.sent)
    assert len(mailbox.messages) == len(real.sent)


@pytest.mark.usefixtures("variant")
def test_unpaid_reminds_more_customers_with_links_of_their_own(
    sandbox: KashFlowSandbox,
    portal_on: t.Callable[..., Flask],
    inbox: Inbox,
    kashflow: KashFlowVariant,
) -> None:
    portal_on(sandbox, mail=inbox.settings())
    links = KashFlowLinks()
    overdue = links.remind()
    unpaid = links.remind(status="unpaid")
    expected = owing(sandbox, "unpaid")
    assert set(expected) > set(owing(sandbox))  # some owe what is not yet due
    # A status's reminder is claimed for the customer: those reminded of what is overdue a
    # moment ago are not mailed again for what is unpaid.
    assert set(codes(unpaid.sent)) == set(expected) - set(codes(overdue.sent)) - no_address(
        kashflow
    )
    skipped = {r.customer: r.reason for r in unpaid.skipped}
    for code in no_address(kashflow):
        assert skipped[code] == "no email address on file that may be mailed"
    for reminder in unpaid.sent:
        assert reminder.owed == sum(Decimal(i["DueAmount"]) for i in expected[reminder.customer])
        assert reminder.overdue == 0
    assert set(live_links("unpaid")) == set(codes(unpaid.sent))
    assert set(live_links("overdue")) == set(codes(overdue.sent))


def test_only_the_customers_asked_for(
    sandbox: KashFlowSandbox, portal_on: t.Callable[..., Flask]
) -> None:
    mailbox = Mailbox()
    portal_on(sandbox, mail=mailbox)
    asked = ["acme01", "TCUST01", "ACME01", "LONG01", "long01"]
    result = KashFlowLinks().remind(customers=asked)
    assert codes(result.sent) == ["ACME01", "TCUST01"]
    assert [(r.customer, r.reason) for r in result.skipped] == [("LONG01", "owes nothing overdue")]
    assert sorted(mailbox.recipients()) == ["accounts@acme-trading.test", "john.smith@example.com"]
    assert KashFlowLinks().remind(customers=[]).sent == []


def test_unknown_choices_are_refused(
    sandbox: KashFlowSandbox, portal_on: t.Callable[..., Flask]
) -> None:
    portal_on(sandbox, mail=Mailbox())
    with pytest.raises(ValueError, match="overdue, unpaid"):
        KashFlowLinks().remind(status="paid")
    with pytest.raises(ValueError, match="negative"):
        KashFlowLinks().remind(every=timedelta(days=-1))
    assert sandbox.calls == Counter()


# -- failures --------------------------------------------------------------------------------------


@pytest.mark.usefixtures("variant")
def test_kashflow_unreachable_first_nothing_minted_or_sent(
    sandbox: KashFlowSandbox, portal_on: t.Callable[..., Flask]
) -> None:
    mailbox = Mailbox()
    portal_on(sandbox, mail=mailbox)
    sandbox.fail_next(100, 503)
    with pytest.raises(KashFlowError):
        KashFlowLinks().remind()
    assert mailbox.messages == [] and KashFlowLinks().active_links() == []
    assert all(last_reminded(code) is None for code in owing(sandbox))
    sandbox.clear_faults()
    assert len(KashFlowLinks().remind().sent) == len(owing(sandbox))


@pytest.mark.usefixtures("variant")
def test_one_mail_failing_and_the_rerun(
    sandbox: KashFlowSandbox, portal_on: t.Callable[..., Flask], inbox: Inbox
) -> None:
    """A refused email is reported and the run goes on; its new link is revoked (never a live
    link nobody received) and its claim given back, so a rerun mails only that customer."""
    inbox.refuse.add("accounts@acme-trading.test")
    portal_on(sandbox, mail=inbox.settings())
    links = KashFlowLinks()
    first = links.remind()
    assert not first.ok
    (failed,) = first.failed
    assert failed.customer == "ACME01" and "SMTP" in failed.reason and failed.new_link
    assert set(codes(first.sent)) == set(owing(sandbox)) - {"ACME01"}
    assert "ACME01" not in live_links()
    assert failed.link_id not in {r.link_id for r in links.active_links()}
    assert last_reminded("ACME01") is None

    inbox.refuse.clear()
    rerun = links.remind()
    assert codes(rerun.sent) == ["ACME01"] and rerun.ok
    assert {r.reason for r in rerun.skipped} == {"reminded just now"}
    assert len(inbox.to("accounts@acme-trading.test")) == 1
    assert len(inbox.messages) == len(owing(sandbox))


def test_a_failed_email_keeps_the_lasting_link(
    sandbox: KashFlowSandbox, portal_on: t.Callable[..., Flask], clock: Clock
) -> None:
    mailbox = Mailbox()
    portal_on(sandbox, mail=mailbox)
    links = KashFlowLinks()
    (week1,) = links.remind(customers=["ACME01"]).sent
    clock.tick(WEEK.total_seconds())
    reminded = last_reminded("ACME01")
    mailbox.refuse.add("accounts@acme-trading.test")
    (failed,) = links.remind(customers=["ACME01"]).failed
    assert "the mail callable failed" in failed.reason
    assert failed.link_id == week1.link_id and not failed.new_link
    assert live_links() == {"ACME01": [week1.link_id]}  # the client's bookmark still opens
    assert last_reminded("ACME01") == reminded  # the claim given back
    mailbox.refuse.clear()
    (week2,) = links.remind(customers=["ACME01"]).sent
    assert week2.link_id == week1.link_id


def test_the_send_is_recorded_when_the_mail_went(
    sandbox: KashFlowSandbox, portal_on: t.Callable[..., Flask], clock: Clock
) -> None:
    """A slow mail server: the send time (from which a mail scanner's fetch is told from the
    client's) is when the message was handed over, not when the run began."""
    mailbox = Mailbox()
    mailbox.during = lambda: clock.tick(30)
    portal_on(sandbox, mail=mailbox)
    started = datetime.now(ZoneInfo("UTC"))
    (reminder,) = KashFlowLinks().remind(customers=["ACME01"]).sent
    (record,) = KashFlowLinks().active_links(customer="ACME01")
    assert record.link_id == reminder.link_id
    assert record.last_sent_at is not None
    assert record.last_sent_at - started >= timedelta(seconds=30)
    assert record.last_sent_at >= record.minted_at


def test_a_broken_template_ends_the_run_and_leaves_nothing_behind(
    sandbox: KashFlowSandbox, portal_on: t.Callable[..., Flask]
) -> None:
    """A reminder template that cannot render (a site's override gone wrong) stops the run:
    the customer's claim is given back and the link minted for it withdrawn."""
    mailbox = Mailbox()
    app = portal_on(sandbox, mail=mailbox)
    broken = jinja2.DictLoader({"kashflow_links/email/reminder.txt": "{{ brand.nope.deeper }}"})
    app.jinja_env.loader = jinja2.ChoiceLoader([broken, t.cast(t.Any, app.jinja_env.loader)])
    with pytest.raises(jinja2.UndefinedError):
        KashFlowLinks().remind(customers=["ACME01"])
    assert mailbox.messages == [] and KashFlowLinks().active_links() == []
    assert last_reminded("ACME01") is None


@pytest.mark.usefixtures("variant")
def test_no_mail_customers_are_skipped(
    sandbox: KashFlowSandbox, portal_on: t.Callable[..., Flask], kashflow: KashFlowVariant
) -> None:
    mailbox = Mailbox()
    account = kashflow.account(sandbox, no_mail=["acme01", "tom.baker@bigco-holdings.test"])
    portal_on(sandbox, mail=mailbox, accounts={"acme": account})
    result = KashFlowLinks().remind(customers=["ACME01", "BIGCO01"])
    assert [(r.customer, r.reason) for r in result.skipped] == [
        ("ACME01", "on the account's no_mail list")
    ]
    (bigco,) = result.sent
    assert bigco.emails == ("ap@bigco-holdings.test",)
    assert [m["To"] for m in mailbox.messages] == ["ap@bigco-holdings.test"]


# -- two hosts -------------------------------------------------------------------------------------


def test_two_hosts_at_once_mail_each_customer_once(
    sandbox: KashFlowSandbox, apps: t.Callable[..., Flask], redis_url: str
) -> None:
    """Two apps sharing one Redis link store (two hosts, each with its own cache) run the
    weekly reminder at the same moment: every customer is mailed exactly once, with one link."""
    mailboxes = [Mailbox(), Mailbox()]
    hosts = [
        apps(sandbox, name=f"host{n}", mail=mailboxes[n], revocation_url=redis_url)
        for n in range(2)
    ]
    for host in hosts:  # who owes what, cached on each host: the race is on the claims
        with host.app_context():
            KashFlowLinks().customers(owing="overdue")
    start = threading.Barrier(2)
    results: list[Reminders] = []
    errors: list[BaseException] = []

    def run(host: Flask) -> None:
        try:
            with host.app_context():
                start.wait()
                results.append(KashFlowLinks().remind())
        except BaseException as e:  # reported by the test
            errors.append(e)

    threads = [threading.Thread(target=run, args=(host,)) for host in hosts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    expected = set(owing(sandbox))
    sent = [code for result in results for code in codes(result.sent)]
    assert sorted(sent) == sorted(expected)  # each customer once, by one host or the other
    mailed = mailboxes[0].recipients() + mailboxes[1].recipients()
    assert set(mailed.values()) == {1}
    assert len(mailboxes[0].messages) + len(mailboxes[1].messages) == len(expected)
    for result in results:
        assert {r.reason for r in result.skipped} <= {"reminded just now"}
    with hosts[0].app_context():
        assert {code: len(ids) for code, ids in live_links("overdue").items()} == {
            code: 1 for code in expected
        }
