"""What the pages show: invoices turned into formatted, client-friendly view models.

Money and dates are formatted with Babel in the configured locale and each invoice's own
currency (the symbol where KashFlow says: left or right), rounded half-up to the currency's
smallest unit, the usual UK practice (Babel alone would round half-even). Status wording is
written for a client being chased for payment: "Overdue by 12 days", "Due on 9 December",
"Paid on 3 March".

Formatting is the costly part of a warm page, so view models are cached per process with the
data they were made from (the fetch layer's key and fetch time, and today's date).
"""

from __future__ import annotations

import threading
import typing as t
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import timedelta
from decimal import ROUND_HALF_UP
from decimal import Decimal
from urllib.parse import quote
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.dates import format_datetime
from babel.dates import format_skeleton
from babel.dates import format_timedelta
from babel.numbers import format_decimal
from babel.numbers import get_currency_precision
from babel.numbers import get_currency_symbol
from cachetools import LRUCache

from ..accounts import Brand
from ..kashflow.models import NA
from ..kashflow.models import OVERDUE
from ..kashflow.models import OVERPAID
from ..kashflow.models import PAID
from ..kashflow.models import UNPAID
from ..kashflow.models import Currency
from ..kashflow.models import Invoice
from ..links.claims import Scope
from ..links.claims import in_scope
from ..links.claims import status_allows

DASH = "\u2014"


@dataclass(frozen=True, slots=True)
class StatusView:
    """An invoice's status in words."""

    #: ``paid``, ``unpaid``, ``overdue``, ``nothing`` or ``unknown`` (for CSS and tests).
    key: str
    #: A short label: "Paid", "Due", "Overdue".
    label: str
    #: A sentence: "Overdue by 12 days".
    detail: str


@dataclass(frozen=True, slots=True)
class LineView:
    description: str
    quantity: str
    rate: str
    vat: str
    total: str


@dataclass(frozen=True, slots=True)
class PaymentView:
    date: str
    amount: str
    note: str
    #: A credit note set against the invoice, not money received.
    credit: bool = False


@dataclass(frozen=True, slots=True)
class InvoiceView:
    """Everything the invoice page shows, formatted."""

    number: int
    #: "Invoice" or "Credit note".
    kind: str
    reference: str
    customer_name: str
    issued: str
    due: str
    status: StatusView
    address: tuple[str, ...]
    lines: tuple[LineView, ...]
    net: str
    vat: str
    gross: str
    paid: str
    #: Credit notes set against the invoice, formatted; empty when there are none.
    credited: str
    due_amount: str
    owes: bool
    payments: tuple[PaymentView, ...]
    currency: str
    has_pdf: bool


@dataclass(frozen=True, slots=True)
class RowView:
    """One invoice in a customer's list."""

    number: int
    #: "Invoice" or "Credit note".
    kind: str
    issued: str
    due: str
    status: StatusView
    gross: str
    due_amount: str
    #: Newest first: issue date, then number.
    sort_key: tuple[date, int]


class Formatter:
    """Babel formatting in one locale and time zone."""

    def __init__(self, locale: str, timezone: ZoneInfo) -> None:
        self.locale = locale
        self.timezone = timezone

    def today(self) -> date:
        """Today in the configured time zone (overdue days count from it)."""
        return datetime.now(self.timezone).date()

    def money(self, amount: Decimal | None, currency: Currency) -> str:
        """``£1,234.50`` or ``1.234,50 €`` as KashFlow places the symbol; a dash if unknown."""
        if amount is None:
            return DASH
        code = currency.code
        digits = get_currency_precision(code) if code else 2
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        amount = amount.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
        number = format_decimal(abs(amount), format=pattern, locale=self.locale)
        symbol = currency.symbol or (get_currency_symbol(code, locale=self.locale) if code else "")
        if not symbol:
            text = number
        elif currency.symbol_on_right:
            text = f"{number}\u00a0{symbol}"
        else:
            text = f"{symbol}{number}"
        return f"\u2212{text}" if amount < 0 else text

    def number(self, value: Decimal | None) -> str:
        """A quantity: up to four decimals, no trailing zeros."""
        if value is None:
            return DASH
        return format_decimal(value, format="#,##0.####", locale=self.locale)

    def percent(self, value: Decimal | None) -> str:
        """A VAT rate such as ``20%``."""
        if value is None:
            return DASH
        return format_decimal(value, format="#,##0.##", locale=self.locale) + "%"

    def long_date(self, value: date | None) -> str:
        """``3 March 2026`` (long form), or a dash."""
        return format_date(value, "long", locale=self.locale) if value else DASH

    def short_date(self, value: date | None) -> str:
        """``3 Mar 2026`` for tables, or a dash."""
        return format_date(value, "medium", locale=self.locale) if value else DASH

    def day_month(self, value: date, today: date) -> str:
        """``3 March`` this year, ``3 March 2025`` otherwise."""
        if value.year == today.year:
            return format_skeleton("MMMMd", value, locale=self.locale)
        return self.long_date(value)

    def days(self, count: int) -> str:
        """``1 day``, ``12 days`` (never rounded to weeks or months)."""
        return format_timedelta(
            timedelta(days=count), granularity="day", threshold=10**9, locale=self.locale
        )

    def moment(self, value: datetime) -> str:
        """A point in time for "as of" notes: ``3 March 2026 at 14:05``."""
        local = value.astimezone(self.timezone)
        clock = format_datetime(local, "HH:mm", locale=self.locale)
        return f"{self.long_date(local.date())} at {clock}"

    def until(self, value: datetime, now: datetime | None = None) -> str:
        """When a link stops working: ``20 February 2027``, or, within a day of *now*, to the
        minute with the zone (``3 March 2026 at 14:05 GMT``): a date alone would say "today"
        for a link that stops working this afternoon."""
        now = now or datetime.now(self.timezone)
        if value - now > timedelta(days=1):
            return self.long_date(value.astimezone(self.timezone).date())
        zone = format_datetime(value.astimezone(self.timezone), "z", locale=self.locale)
        return f"{self.moment(value)} {zone}"

    # -- status --------------------------------------------------------------------------------

    def status(self, invoice: Invoice, today: date) -> StatusView:
        """The invoice's status as a client would say it."""
        if invoice.is_credit_note:
            if invoice.status in (PAID, OVERPAID):
                return StatusView("credit", "Credit note", "Set against your invoices")
            if not invoice.gross:
                return StatusView("credit", "Credit note", "In your favour")
            amount = self.money(abs(invoice.gross), invoice.currency)
            return StatusView("credit", "Credit note", f"{amount} in your favour")
        if invoice.status in (PAID, OVERPAID):
            detail = (
                f"Paid on {self.day_month(invoice.paid_on, today)}"
                if invoice.paid_on
                else "Paid in full"
            )
            if invoice.status == OVERPAID:
                detail += "; you have a credit with us"
            return StatusView("paid", "Paid", detail)
        if invoice.status == NA:
            return StatusView("nothing", "Nothing to pay", "Nothing to pay")
        if invoice.is_overdue(today):
            days = invoice.days_overdue(today)
            detail = f"Overdue by {self.days(days)}" if days else "Overdue"
            return StatusView("overdue", "Overdue", detail + self._part_paid(invoice))
        if invoice.status in (UNPAID, OVERDUE):
            if invoice.due is None:
                detail = "Awaiting payment"
            elif invoice.due == today:
                detail = "Due today"
            elif invoice.due == today + timedelta(days=1):
                detail = "Due tomorrow"
            else:
                detail = f"Due on {self.day_month(invoice.due, today)}"
            return StatusView("unpaid", "Due", detail + self._part_paid(invoice))
        return StatusView("unknown", "Unknown", "Status unavailable; please contact us")

    def _part_paid(self, invoice: Invoice) -> str:
        paid = invoice.amount_paid
        if paid is not None and paid > 0:
            return f"; {self.money(paid, invoice.currency)} paid so far"
        return ""

    # -- views ---------------------------------------------------------------------------------

    def invoice_view(self, invoice: Invoice, today: date) -> InvoiceView:
        """The invoice page's view model."""
        money = self.money
        cur = invoice.currency
        lines = tuple(
            LineView(
                description=line.description or line.product_name,
                quantity=self.number(line.quantity),
                rate=money(line.rate, cur),
                vat=money(line.vat_amount, cur),
                total=money(line.net, cur),
            )
            for line in invoice.line_items
        )
        address: tuple[str, ...] = ()
        if invoice.address is not None:
            parts = (*invoice.address.lines, invoice.address.post_code, invoice.address.country)
            address = tuple(part for part in parts if part)
        owes = bool(invoice.is_unpaid and invoice.due_amount and invoice.due_amount > 0)
        credited = invoice.amount_credited
        return InvoiceView(
            number=invoice.number,
            kind="Credit note" if invoice.is_credit_note else "Invoice",
            reference=invoice.customer_reference,
            customer_name=invoice.customer_name,
            issued=self.long_date(invoice.issued),
            due=self.long_date(invoice.due),
            status=self.status(invoice, today),
            address=address,
            lines=lines,
            net=money(invoice.net, cur),
            vat=money(invoice.vat, cur),
            gross=money(invoice.gross, cur),
            paid=money(invoice.amount_paid, cur),
            credited=money(credited, cur) if credited else "",
            due_amount=money(invoice.due_amount, cur),
            owes=owes,
            payments=tuple(
                PaymentView(self.long_date(p.date), money(p.amount, cur), p.note, p.is_credit)
                for p in invoice.payments
            ),
            currency=cur.code,
            has_pdf=bool(invoice.permalink),
        )

    def row_view(self, invoice: Invoice, today: date) -> RowView:
        """One row of a customer's list."""
        return RowView(
            number=invoice.number,
            kind="Credit note" if invoice.is_credit_note else "Invoice",
            issued=self.short_date(invoice.issued),
            due=self.short_date(invoice.due),
            status=self.status(invoice, today),
            gross=self.money(invoice.gross, invoice.currency),
            due_amount=self.money(invoice.due_amount, invoice.currency)
            if invoice.is_unpaid
            else self.money(Decimal(0), invoice.currency),
            sort_key=(invoice.issued or date.min, invoice.number),
        )

    def balances(self, invoices: t.Iterable[Invoice]) -> list[str]:
        """What is owed, per currency (a client may be invoiced in two), from the same amounts
        the rows show. Credit notes owe nothing; a currency in which some amount owed is not
        known is left out rather than shown with a wrong total."""
        totals: dict[str, tuple[Currency, Decimal]] = {}
        unknown: set[str] = set()
        for invoice in invoices:
            if not invoice.is_unpaid:
                continue
            if invoice.due_amount is None:
                unknown.add(invoice.currency.code)
            elif invoice.due_amount:
                currency, total = totals.get(invoice.currency.code, (invoice.currency, Decimal(0)))
                totals[invoice.currency.code] = (currency, total + invoice.due_amount)
        return [
            self.money(total, currency)
            for code, (currency, total) in totals.items()
            if total and code not in unknown
        ]


#: The status tabs a customer link may show, by the link's own status filter.
TABS: dict[str, tuple[tuple[str, str], ...]] = {
    "all": (("all", "All"), ("unpaid", "Unpaid"), ("overdue", "Overdue"), ("paid", "Paid")),
    "unpaid": (("unpaid", "Unpaid"), ("overdue", "Overdue")),
    "overdue": (("overdue", "Overdue"),),
    "paid": (("paid", "Paid"),),
}


def pay_url(brand: Brand, invoice: Invoice) -> str | None:
    """The brand's online-payment URL for *invoice*, or ``None`` if it has none."""
    if not brand.pay_url:
        return None
    amount = str(invoice.due_amount) if invoice.due_amount is not None else ""
    return brand.pay_url.replace("{number}", str(invoice.number)).replace("{amount}", quote(amount))


def listing(
    formatter: Formatter,
    invoices: t.Sequence[Invoice],
    scope: Scope,
    today: date,
) -> dict[str, t.Any]:
    """The formatted, scope-checked list of a customer link, newest first, per status tab
    (cached with the data it was made from)."""
    visible = [i for i in invoices if in_scope(scope, i, today)]
    ordered: list[tuple[RowView, Invoice]] = sorted(
        ((formatter.row_view(i, today), i) for i in visible),
        key=lambda pair: pair[0].sort_key,
        reverse=True,
    )
    return {
        "rows": {
            key: [row for row, invoice in ordered if status_allows(key, invoice, today)]
            for key, _ in TABS["all"]
        },
        "balances": formatter.balances(visible),
        "customer_name": next((i.customer_name for i in visible if i.customer_name), ""),
    }


def offers_statement(scope: Scope, api_has_statements: bool) -> bool:
    """Whether a customer link offers a statement PDF: only an all-invoices link (a KashFlow
    statement cannot be filtered to the link's status, so it would show more than the link
    may), and only from an API that has statements."""
    return scope.status == "all" and api_has_statements


def customer_context(
    listing: dict[str, t.Any],
    scope: Scope,
    base: str,
    *,
    tab: str,
    page: int,
    page_size: int,
    statement: bool,
) -> dict[str, t.Any] | None:
    """What ``customer.html`` is given for one tab and page of a cached listing (``as_of``
    aside), or ``None`` for a page past the end. *base* is the link's own URL path;
    *statement* whether the link offers a statement PDF (:func:`offers_statement`)."""
    tabs = TABS[scope.status]
    rows = listing["rows"][tab]
    pages = max(1, -(-len(rows) // page_size))
    if page > pages:
        return None

    def tab_url(status: str, page_number: int = 1) -> str:
        args = {}
        if status != scope.status:
            args["status"] = status
        if page_number > 1:
            args["page"] = str(page_number)
        return f"{base}?{urlencode(args)}" if args else base

    return {
        "customer_name": listing["customer_name"] or scope.customer,
        "balances": listing["balances"],
        "tabs": [
            {
                "label": label,
                "url": tab_url(key),
                "current": key == tab,
                "count": len(listing["rows"][key]),
            }
            for key, label in tabs
        ]
        if len(tabs) > 1
        else [],
        "tab": tab,
        "rows": rows[(page - 1) * page_size : page * page_size],
        "total": len(rows),
        "page": page,
        "pages": pages,
        "prev_url": tab_url(tab, page - 1) if page > 1 else None,
        "next_url": tab_url(tab, page + 1) if page < pages else None,
        "invoice_url": lambda number: f"{base}/{number}",
        "statement_url": f"{base}/pdf" if statement else None,
    }


class ViewCache:
    """A small per-process LRU of view models, keyed by what they were made from."""

    def __init__(self, size: int = 1024) -> None:
        self._items: LRUCache[t.Hashable, t.Any] = LRUCache(size)
        self._lock = threading.Lock()

    def get_or_make(self, key: t.Hashable, make: t.Callable[[], t.Any]) -> t.Any:
        """The cached value for *key*, made (once) if absent."""
        with self._lock:
            if key in self._items:
                return self._items[key]
        value = make()
        with self._lock:
            self._items[key] = value
        return value


__all__ = [
    "TABS",
    "Formatter",
    "InvoiceView",
    "RowView",
    "StatusView",
    "ViewCache",
    "customer_context",
    "listing",
    "offers_statement",
    "pay_url",
]
