"""Formatting for people: money, dates and statuses in words (Babel), and brand colours.

Money and dates are formatted with Babel in the configured locale and each invoice's own
currency (the symbol where KashFlow says: left or right), rounded half-up to the currency's
smallest unit, the usual UK practice (Babel alone would round half-even). Status wording is
written for a client being chased for payment: "Overdue by 12 days", "Due on 9 December",
"Paid on 3 March". The portal's pages, the staff pages and the emails all use it.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import timedelta
from decimal import ROUND_HALF_UP
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.dates import format_datetime
from babel.dates import format_skeleton
from babel.dates import format_timedelta
from babel.numbers import format_decimal
from babel.numbers import get_currency_precision
from babel.numbers import get_currency_symbol

from .config import Brand
from .kashflow.models import NA
from .kashflow.models import OVERDUE
from .kashflow.models import OVERPAID
from .kashflow.models import PAID
from .kashflow.models import UNPAID
from .kashflow.models import Currency
from .kashflow.models import Invoice

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


# -- brand colours -------------------------------------------------------------------------------


def brand_colours(brand: Brand) -> str:
    """The brand stylesheet's name (the portal's ``brand_css`` route, which the portal and the
    staff pages link to): accent and text-on-accent colours, e.g. ``1f5fa8-ffffff``."""
    return f"{hex_digits(brand.accent_colour)}-{hex_digits(text_on(brand.accent_colour))}"


def hex_digits(colour: str) -> str:
    """A ``#rgb`` or ``#rrggbb`` colour as its six lower-case hex digits (``rrggbb``)."""
    digits = colour.lstrip("#").lower()
    return "".join(c * 2 for c in digits) if len(digits) == 3 else digits


def _luminance(colour: str) -> float:
    colour = hex_digits(colour)
    channels = [int(colour[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _mix(colour: str, other: str, share: float) -> str:
    """*colour* moved *share* (0 to 1) of the way towards *other*, as ``#rrggbb``."""
    a, b = hex_digits(colour), hex_digits(other)
    mixed = (
        round(int(a[i : i + 2], 16) * (1 - share) + int(b[i : i + 2], 16) * share)
        for i in (0, 2, 4)
    )
    return "#" + "".join(f"{channel:02x}" for channel in mixed)


def text_on(colour: str) -> str:
    """Black or white, whichever reads better on *colour* (WCAG contrast): the text of a
    button in the brand's accent colour."""
    black, white = "#000000", "#ffffff"
    return black if _contrast(colour, black) >= _contrast(colour, white) else white


def readable_on(colour: str, background: str, minimum: float = 4.5) -> str:
    """*colour* if text in it reads on *background* (WCAG contrast of at least *minimum*),
    else its nearest shade that does: darkened on a light background, lightened on a dark
    one. Links and outline buttons use it, so they wear the brand's colour wherever it
    reads."""
    towards = text_on(background)
    for step in range(21):
        shade = _mix(colour, towards, step / 20)
        if _contrast(shade, background) >= minimum:
            return shade
    return towards
