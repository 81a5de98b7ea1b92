"""What the staff pages show: customers, invoices, links and reminders, formatted for people.

Money, dates and statuses are worded by the portal's
:class:`~flask_kashflow_links.formatting.Formatter`, so staff see an invoice's status as the
client does. A link's history says who opened it: the client (a fetch that was not a mail
system's link checker), only a mail scanner, or nobody yet.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from datetime import date
from datetime import datetime

from ..fetch.owing import CustomerSummary
from ..formatting import Formatter
from ..formatting import StatusView
from ..kashflow.models import Currency
from ..kashflow.models import Invoice
from ..links.claims import CustomerScope
from ..links.store.base import LinkRecord
from ..sending import Reminder

#: What a customer link opens, in words.
STATUS_WORDS = {
    "all": "All invoices",
    "unpaid": "Unpaid invoices",
    "overdue": "Overdue invoices",
    "paid": "Paid invoices",
}


@dataclass(frozen=True)
class LinkView:
    """One live link and its history (never its token: the register has none)."""

    link_id: str
    #: "Invoice 1043", "Unpaid invoices".
    opens: str
    minted: str
    #: A date, or "Never".
    expires: str
    #: "Sent 3 March 2026 at 14:05", or "Not sent yet".
    sent: str
    #: Where it was last sent: the addresses.
    sent_to: tuple[str, ...]
    #: ``client``, ``scanner`` or ``none`` (for CSS and tests).
    opened_by: str
    #: "Opened by the client on ...", "Only checked by a mail scanner (...)", "Not opened yet".
    opened: str


@dataclass(frozen=True)
class CustomerView:
    """One customer in the list: what they owe (when KashFlow said) and their live links."""

    code: str
    name: str
    emails: tuple[str, ...]
    #: Formatted amounts; empty when KashFlow could not be asked.
    owed: str
    overdue: str
    #: "2 of 3 invoices overdue".
    counts: str
    links: tuple[LinkView, ...]


@dataclass(frozen=True)
class InvoiceRow:
    """One invoice of a customer, as the portal shows it."""

    number: int
    kind: str
    issued: str
    due: str
    status: StatusView
    gross: str
    owed: str


@dataclass(frozen=True)
class ReminderView:
    """One customer of a reminder run."""

    code: str
    name: str
    emails: tuple[str, ...]
    owed: str
    overdue: str
    #: "12 days", or "" when nothing is overdue.
    late: str
    #: "A new link", "Link abc… again", or "" (skipped).
    link: str
    reason: str


class Presenter:
    """Formats for the staff pages, in the application's locale and time zone."""

    def __init__(self, formatter: Formatter) -> None:
        self.formatter = formatter

    def when(self, value: datetime) -> str:
        """A moment in the business's time zone: ``3 March 2026 at 14:05``."""
        return self.formatter.moment(value)

    def link(self, record: LinkRecord) -> LinkView:
        """A live link and its history."""
        scope = record.scope
        if isinstance(scope, CustomerScope):
            opens = STATUS_WORDS[scope.status]
        else:
            opens = f"Invoice {scope.invoice}"
        if record.last_sent_at is not None:
            sent = f"Sent {self.when(record.last_sent_at)}"
        else:
            sent = "Not sent yet"
        if record.opened_by_client and record.last_opened_at is not None:
            opened_by, opened = (
                "client",
                f"Opened by the client on {self.when(record.last_opened_at)}",
            )
        elif record.last_checked_at is not None:
            when = self.when(record.last_checked_at)
            opened_by, opened = "scanner", f"Only checked by a mail scanner ({when})"
        else:
            opened_by, opened = "none", "Not opened yet"
        return LinkView(
            link_id=record.link_id,
            opens=opens,
            minted=self.when(record.minted_at),
            expires=self.formatter.until(record.expires_at) if record.expires_at else "Never",
            sent=sent,
            sent_to=record.last_sent_to,
            opened_by=opened_by,
            opened=opened,
        )

    def customer(self, summary: CustomerSummary, links: t.Sequence[LinkRecord]) -> CustomerView:
        money = self.formatter.money
        currency = Currency(code=summary.currency)
        owed = money(summary.owed, currency)
        if summary.owed_elsewhere:
            others = (money(v, Currency(code=k)) for k, v in sorted(summary.owed_elsewhere.items()))
            owed = " + ".join([owed, *others])
        if summary.estimated:
            owed += " (estimated)"
        if summary.unpaid_count:
            plural = "s" if summary.unpaid_count != 1 else ""
            counts = f"{summary.overdue_count} of {summary.unpaid_count} invoice{plural} overdue"
        else:
            counts = "Nothing owed"
        return CustomerView(
            code=summary.code,
            name=summary.name,
            emails=summary.emails,
            owed=owed,
            overdue=money(summary.overdue, currency),
            counts=counts,
            links=tuple(self.link(r) for r in links),
        )

    def unknown_customer(self, code: str, links: t.Sequence[LinkRecord]) -> CustomerView:
        """A customer known only from the link register (KashFlow is not answering)."""
        return CustomerView(code, code, (), "", "", "", tuple(self.link(r) for r in links))

    def invoice(self, invoice: Invoice, today: date) -> InvoiceRow:
        """An invoice of the customer's page, its status worded as the portal words it."""
        money, cur = self.formatter.money, invoice.currency
        return InvoiceRow(
            number=invoice.number,
            kind="Credit note" if invoice.is_credit_note else "Invoice",
            issued=self.formatter.short_date(invoice.issued),
            due=self.formatter.short_date(invoice.due),
            status=self.formatter.status(invoice, today),
            gross=money(invoice.gross, cur),
            owed=money(invoice.owed, cur),
        )

    def reminder(self, reminder: Reminder) -> ReminderView:
        """A customer of a reminder run (or of its dry run)."""
        money = self.formatter.money
        currency = Currency(code=reminder.currency)
        if reminder.reason:
            link = ""
        elif reminder.new_link or reminder.link_id is None:
            link = "A new link"
        else:
            link = f"Link {reminder.link_id} again"
        return ReminderView(
            code=reminder.customer,
            name=reminder.name,
            emails=reminder.emails,
            owed=money(reminder.owed, currency) if reminder.currency else "",
            overdue=money(reminder.overdue, currency) if reminder.currency else "",
            late=self.formatter.days(reminder.days_overdue) if reminder.days_overdue else "",
            link=link,
            reason=reminder.reason[:1].upper() + reminder.reason[1:],
        )
