"""Sending links by email, and the weekly reminder of every customer who owes money.

:meth:`Sender.send` emails one link to its customer's addresses on file (or to the addresses
given), through the mailer the fresh-link email uses, and records the send in the link store:
when, and to whom. :meth:`Sender.remind` does that for each customer owing money, once a
period, with one lasting link per customer and status: a customer who bookmarked the link of a
first reminder finds the same link in every later one.

A reminder is claimed in the store before its email goes, so two hosts running ``remind`` at
once never mail a customer twice; a reminder whose email fails gives its claim back, so a rerun
mails exactly the customers not yet done.
"""

from __future__ import annotations

import logging
import time
import typing as t
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace as dataclass_replace
from datetime import date
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from decimal import Decimal
from email.message import EmailMessage

from .config import Account
from .config import AccountRegistry
from .config import Brand
from .config import MailSettings
from .exceptions import KashFlowError
from .exceptions import KashFlowLinksError
from .fetch import Fetcher
from .fetch.owing import CustomerSummary
from .fetch.owing import choice
from .fetch.owing import customer_summaries
from .formatting import Formatter
from .kashflow.models import Currency
from .kashflow.models import Customer
from .kashflow.models import Invoice
from .kashflow.models import customer_key
from .kashflow.parsing import EMAIL
from .links.claims import CustomerScope
from .links.claims import InvoiceScope
from .links.claims import Scope
from .links.link import Link
from .links.link import configured_host
from .links.link import mailed_url
from .links.service import LinkService
from .links.store.base import LinkRecord
from .mail import MailError
from .mail import build_message
from .mail import send as hand_over
from .mail import sender_of

log = logging.getLogger(__name__)

#: What a reminder may be about: customers with an overdue invoice, or with anything unpaid.
REMIND_STATUSES = ("overdue", "unpaid")


@dataclass(frozen=True)
class Sent:
    """A link emailed by :meth:`~flask_kashflow_links.KashFlowLinks.send`."""

    #: The link's id (as :meth:`~flask_kashflow_links.KashFlowLinks.active_links` lists it).
    link_id: str
    #: The addresses it went to.
    to: tuple[str, ...]
    #: When (UTC).
    sent_at: datetime
    #: The email's ``Message-ID``.
    message_id: str


@dataclass(frozen=True)
class Reminder:
    """One customer of a reminder run: who, where, how much, which link, and what happened."""

    #: The customer code.
    customer: str
    #: The customer's name in KashFlow.
    name: str
    #: The addresses the reminder goes to (:attr:`.CustomerSummary.emails`).
    emails: tuple[str, ...]
    #: What the customer owes, and the part of it overdue, in :attr:`currency`.
    owed: Decimal
    overdue: Decimal
    #: The ISO code of the amounts' currency.
    currency: str
    #: How long the oldest overdue invoice is past its due date, in days (0: none is).
    days_overdue: int
    #: The link the reminder carries (or would carry): the customer's lasting link, or the
    #: one minted for it (withdrawn again when the reminder failed); ``None`` for a new link
    #: in a dry run, or a customer skipped before one was chosen.
    link_id: str | None = None
    #: Whether that link is new (``False``: the customer's lasting link, sent again).
    new_link: bool = False
    #: Why the customer was skipped or failed; empty for one reminded.
    reason: str = ""


@dataclass
class Reminders:
    """What a reminder run did (or, in a dry run, would do)."""

    #: Reminded (or, in a dry run, to be reminded).
    sent: list[Reminder] = field(default_factory=list)
    #: Left out, each with its reason ("reminded 3 days ago", "no email address on file").
    skipped: list[Reminder] = field(default_factory=list)
    #: Not reminded because sending failed; a rerun tries them again.
    failed: list[Reminder] = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        """Whether no customer failed."""
        return not self.failed


class NothingToSend(KashFlowLinksError, ValueError):
    """A link could not be emailed: no address on file that may be mailed, or no way to
    build its URL from configuration. Nothing was sent."""


class Sender:
    """Emails links and reminders for one application.

    :param links: mints, reissues and records the links.
    :param fetcher: KashFlow through the cache (customers, their invoices, who owes what).
    :param accounts: the accounts, for brands and credentials.
    :param mail: ``KASHFLOW_LINKS_MAIL`` (``None``: nothing can be sent).
    :param clock: POSIX time; tests move it.
    """

    def __init__(
        self,
        links: LinkService,
        fetcher: Fetcher,
        accounts: AccountRegistry,
        formatter: Formatter,
        *,
        mail: MailSettings | t.Callable[..., t.Any] | None,
        clock: t.Callable[[], float] | None = None,
    ) -> None:
        self.links = links
        self.fetcher = fetcher
        self.accounts = accounts
        self.formatter = formatter
        self.mail = mail
        # Looked up on every call (not bound once), so that frozen test clocks apply.
        self.clock = clock or (lambda: time.time())

    # -- one link ------------------------------------------------------------------------------

    def send(self, link: Link | str, *, to: t.Sequence[str] | None = None) -> Sent:
        """Email *link* (a :class:`Link`, or a live link's id, token or URL) to its customer's
        addresses on file, or to *to*.

        :raises NothingToSend: no address (on file, that may be mailed), an address of *to*
            or the link's customer on the account's ``no_mail`` list, or no way to build the
            link's URL from configuration. Nothing is sent.
        :raises MailError: the mail server refused it or could not be reached (nothing is
            recorded).
        :raises KashFlowError: KashFlow could not say who the customer is or where they are.
        :raises ValueError: a link (or link id) revoked, expired, or not in the register.
        """
        if isinstance(link, str):
            link = self.links.existing(link)
        claims = self.links.decode(link.token)
        # A Link object may have been revoked (or have expired) since it was minted.
        self.links.require_live(claims)
        account = self.accounts.for_link(claims.scope.account, claims.credentials)
        scope = claims.scope
        if isinstance(scope, CustomerScope):
            code, invoices = scope.customer, self._invoices_of(account, scope)
        else:
            invoice = self.fetcher.invoice(account, scope.invoice).value
            # The invoice's own customer decides where its link goes, never the customer the
            # link was registered under (a hint given when minting, unchecked without verify).
            code, invoices = invoice.customer_code, [invoice]
            if code:
                self.links.require_live(claims, customer=code)  # withdrawn with its customer?
        customer = self._customer(account, code, needed=to is None)
        if to is not None:
            recipients = _addresses(to)
            _refuse_no_mail(account, code, recipients)
        else:
            recipients = account.recipients(customer) if customer else []
        if not recipients:
            raise NothingToSend(
                f"no email address on file for {scope.describe()} that may be mailed "
                "(contacts who opted out and the account's no_mail list are left out); "
                "nothing sent. Pass to= (or --to) to send it elsewhere."
            )
        message = build_message(
            "link",
            subject=_subject(scope, account.brand.name),
            recipients=recipients,
            sender=self.from_address(account.brand),
            brand=account.brand,
            link_url=self._url(link),
            scope=scope,
            customer_name=(customer.display_name or customer.name) if customer else "",
            owed=self.formatter.balances(invoices),
            expires=self.formatter.until(link.expires_at) if link.expires_at else None,
        )
        sent = self.deliver(message, recipients, link.link_id)
        log.info("sent link %s to %d address(es)", link.link_id, len(sent.to))
        return sent

    def deliver(self, message: EmailMessage, recipients: t.Sequence[str], link_id: str) -> Sent:
        """Send *message*, which carries link *link_id*, to *recipients*, and record the send
        for those the mail server took it for.

        :raises NothingToSend: no mail is configured.
        :raises MailError: the mail server refused it or could not be reached (nothing is
            recorded).
        """
        took = self._hand_over(message, recipients)
        # When the message was handed over (a slow mail server takes a while): a mail
        # scanner's fetch is told from the client's by the time since then.
        now = self.clock()
        self.links.record_sent(link_id, now, took)
        return Sent(
            link_id=link_id,
            to=took,
            sent_at=datetime.fromtimestamp(now, tz=timezone.utc),
            message_id=str(message["Message-ID"]),
        )

    # -- reminders -----------------------------------------------------------------------------

    def remind(
        self,
        account: Account,
        *,
        status: str,
        every: timedelta,
        customers: t.Collection[str] | None,
        dry_run: bool,
        progress: t.Callable[[Reminder], object] | None = None,
    ) -> Reminders:
        """Remind each customer of *account* owing money (*status*: ``"overdue"`` or
        ``"unpaid"``) who was not reminded in the last *every*, with their lasting link.

        KashFlow is asked who owes what before anything is minted or sent: if it cannot say,
        this raises and nothing happens.

        :raises ValueError: an unknown *status*.
        :raises KashFlowError: KashFlow could not say who owes what.
        """
        choice(status, REMIND_STATUSES, "status")
        if every < timedelta(0):
            raise ValueError("every must not be negative")
        today = self.formatter.today()
        owing = customer_summaries(self.fetcher, account, owing=status, today=today)
        result = Reminders(dry_run=dry_run)
        if customers is not None:
            # Each customer once, however often (or in whatever case) it was asked for.
            wanted: dict[str, str] = {}
            for code in customers:
                wanted.setdefault(customer_key(code), code)
            listed = {customer_key(s.code) for s in owing}
            for key, code in wanted.items():
                if key not in listed:
                    nothing = Reminder(code, code, (), Decimal(0), Decimal(0), "", 0)
                    self._done(result.skipped, nothing, f"owes nothing {status}", progress)
            owing = [s for s in owing if customer_key(s.code) in wanted]
        for summary in owing:
            self._remind_one(account, summary, status, every, today, result, progress)
        return result

    def _remind_one(
        self,
        account: Account,
        summary: CustomerSummary,
        status: str,
        every: timedelta,
        today: date,
        result: Reminders,
        progress: t.Callable[[Reminder], object] | None,
    ) -> None:
        reminder = Reminder(
            customer=summary.code,
            name=summary.name,
            emails=summary.emails,
            owed=summary.owed,
            overdue=summary.overdue,
            currency=summary.currency,
            days_overdue=summary.days_overdue(today),
        )
        if not summary.emails:
            reason = (
                "no email address on file that may be mailed"
                if account.may_mail(summary.code, "")
                else "on the account's no_mail list"
            )
            self._done(result.skipped, reminder, reason, progress)
            return
        now = self.clock()
        if result.dry_run:
            last = self.links.last_reminded(account.id, summary.code)
            if last is not None and now - last < every.total_seconds():
                self._done(result.skipped, reminder, f"reminded {self._ago(now - last)}", progress)
                return
            record = self._lasting_link(account, summary.code, status)
            chosen = _with(reminder, link_id=record.link_id if record else None)
            self._done(result.sent, _with(chosen, new_link=record is None), "", progress)
            return
        previous = self.links.last_reminded(account.id, summary.code)
        stands = self.links.claim_reminder(
            account.id, summary.code, now=now, every=every.total_seconds()
        )
        if stands is not None:
            self._done(result.skipped, reminder, f"reminded {self._ago(now - stands)}", progress)
            return
        try:
            link, new = self._link_for(account, summary.code, status)
        except BaseException:
            self.links.release_reminder(account.id, summary.code, previous=previous)
            raise
        reminder = _with(reminder, link_id=link.link_id, new_link=new)
        try:
            message = self._reminder_message(account, summary, status, link, today)
            took = self._hand_over(message, summary.emails)
        except BaseException as e:
            # Not sent: the claim goes back (a rerun mails this customer) and a new link is
            # withdrawn (never a live link nobody received). A mail failure is this
            # customer's; anything else (a broken template, say) ends the run.
            self.links.release_reminder(account.id, summary.code, previous=previous)
            if new:
                self.links.revoke(link.link_id)
            if not isinstance(e, MailError | NothingToSend):
                raise
            log.warning("reminder to customer %s not sent: %s", summary.code, e)
            self._done(result.failed, reminder, str(e), progress)
            return
        # When the message was handed over (a slow mail server takes a while): a fetch by a
        # mail scanner is told from the client's by the time since then.
        self.links.record_sent(link.link_id, self.clock(), took)
        self._done(result.sent, _with(reminder, emails=took), "", progress)

    def _lasting_link(self, account: Account, code: str, status: str) -> LinkRecord | None:
        """The customer's newest live link of *status* that never expires, if any."""
        for record in self.links.active_links(customer=code, account=account.id):
            scope = record.scope
            if (
                isinstance(scope, CustomerScope)
                and scope.status == status
                and record.expires_at is None
            ):
                return record
        return None

    def _link_for(self, account: Account, code: str, status: str) -> tuple[Link, bool]:
        """The customer's lasting link of *status* (written out again), or a new one."""
        record = self._lasting_link(account, code, status)
        if record is not None:
            return self.links.reissue(record), False
        return self.links.mint(Scope.for_customer(account.id, code, status)), True

    def _reminder_message(
        self,
        account: Account,
        summary: CustomerSummary,
        status: str,
        link: Link,
        today: date,
    ) -> t.Any:
        money = self.formatter.money
        # The totals read as the rows do: the invoices' own currency (its symbol and where
        # KashFlow places it), not just its code.
        currency = next(
            (i.currency for i in summary.invoices if i.currency.code == summary.currency),
            Currency(code=summary.currency),
        )
        rows = [
            {
                "number": i.number,
                "due": self.formatter.long_date(i.due),
                "days_overdue": i.days_overdue(today) or 0,
                "late": self.formatter.days(i.days_overdue(today) or 0)
                if i.is_overdue(today)
                else "",
                "owed": money(i.owed, i.currency) if i.owed is not None else "",
            }
            for i in summary.invoices
            if status == "unpaid" or i.is_overdue(today)
        ]
        return build_message(
            "reminder",
            subject=(
                f"Overdue invoices from {account.brand.name}"
                if summary.overdue_count
                else f"Invoices to pay from {account.brand.name}"
            ),
            recipients=summary.emails,
            sender=self.from_address(account.brand),
            brand=account.brand,
            link_url=self._url(link),
            scope=link.scope,
            customer_name=summary.name,
            invoices=rows,
            owed=money(summary.owed, currency),
            overdue=money(summary.overdue, currency) if summary.overdue else "",
            days_overdue=summary.days_overdue(today),
            late=self.formatter.days(summary.days_overdue(today)),
        )

    # -- shared --------------------------------------------------------------------------------

    def _customer(self, account: Account, code: str, *, needed: bool) -> Customer | None:
        """The customer *code* (its addresses and name); when it is not *needed* (the
        addresses were given), a KashFlow that cannot say costs only the greeting's name."""
        if not code:
            return None
        try:
            return self.fetcher.customer(account, code).value
        except KashFlowError:
            if needed:
                raise
            return None

    def _invoices_of(self, account: Account, scope: CustomerScope) -> list[Invoice]:
        today = self.formatter.today()
        found = self.fetcher.customer_invoices(account, scope.customer).value
        return [i for i in found if i.is_unpaid and i.has_status(scope.status, today)]

    def _url(self, link: Link) -> str:
        url = mailed_url(link.token, self.links.public_url)
        if url is None:
            raise NothingToSend(
                "cannot build the link's URL from configuration: set KASHFLOW_LINKS_PUBLIC_URL "
                "(e.g. 'https://www.example.co.uk/billing') or Flask's SERVER_NAME. Nothing sent."
            )
        return url

    def from_address(self, brand: Brand) -> str:
        """The From address of the emails of *brand* (from configuration, never a request).

        :raises NothingToSend: no mail is configured.
        """
        if self.mail is None:
            raise NothingToSend(
                "no mail is configured: set KASHFLOW_LINKS_MAIL (SMTP settings or a callable). "
                "Nothing sent."
            )
        return sender_of(self.mail, brand, configured_host(self.links.public_url))

    def _hand_over(self, message: t.Any, recipients: t.Sequence[str]) -> tuple[str, ...]:
        """Send *message*; the *recipients* the mail server took it for."""
        if self.mail is None:
            raise NothingToSend("no mail is configured: set KASHFLOW_LINKS_MAIL. Nothing sent.")
        refused = hand_over(self.mail, message)
        if refused:
            # smtplib raises only when every recipient is refused: the others got it.
            log.warning("the mail server refused %d of the message's addresses", len(refused))
        return tuple(a for a in recipients if a not in refused)

    def _ago(self, seconds: float) -> str:
        # Another host's claim may be a moment younger than this run's "now".
        seconds = max(seconds, 0.0)
        days = int(seconds // 86400)
        if days >= 1:
            return f"{self.formatter.days(days)} ago"
        hours = int(seconds // 3600)
        return f"{hours} hour{'s' if hours != 1 else ''} ago" if hours else "just now"

    @staticmethod
    def _done(
        into: list[Reminder],
        reminder: Reminder,
        reason: str,
        progress: t.Callable[[Reminder], object] | None,
    ) -> None:
        done = _with(reminder, reason=reason) if reason else reminder
        into.append(done)
        if progress is not None:
            progress(done)


def _with(reminder: Reminder, **changes: t.Any) -> Reminder:
    return dataclass_replace(reminder, **changes)


def _subject(scope: InvoiceScope | CustomerScope, business: str) -> str:
    if isinstance(scope, InvoiceScope):
        return f"Invoice {scope.invoice} from {business}"
    return f"Your invoices from {business}"


def _refuse_no_mail(account: Account, customer: str, recipients: t.Sequence[str]) -> None:
    """Refuse addresses given by hand when the account's ``no_mail`` names them or the link's
    customer: the list means "never mailed by the portal", whoever typed the address."""
    if customer and not account.may_mail(customer, ""):
        raise NothingToSend(
            f"customer {customer} is on the no_mail list of account {account.id!r}; nothing sent"
        )
    refused = [address for address in recipients if not account.may_mail(customer, address)]
    if refused:
        raise NothingToSend(
            f"{', '.join(refused)} {'is' if len(refused) == 1 else 'are'} on the no_mail list "
            f"of account {account.id!r}; nothing sent"
        )


def _addresses(to: t.Sequence[str] | str) -> list[str]:
    """Distinct, valid addresses from *to* (one address, or several)."""
    items = [to] if isinstance(to, str) else list(to)
    found: dict[str, str] = {}
    for item in items:
        address = item.strip() if isinstance(item, str) else ""
        if not EMAIL.fullmatch(address):
            raise NothingToSend(f"{item!r} is not an email address; nothing sent")
        found.setdefault(address.casefold(), address)
    return list(found.values())
