"""KashFlow's value formats: dates, money, currencies, statuses and document keys.

Dates are KashFlow-style strings in both of the forms seen in the wild,
``"2026-10-09 12:00:00"`` and ``"2026-10-09 12:00:00 +01:00"``; money and rates are
:class:`~decimal.Decimal`, rounded half-up to the penny where KashFlow would round.
"""

from __future__ import annotations

import calendar
import random
import re
import typing as t
import uuid
from datetime import date
from datetime import datetime
from datetime import timedelta
from decimal import ROUND_HALF_UP
from decimal import Decimal
from decimal import InvalidOperation

JSONDict = dict[str, t.Any]

#: The business whose KashFlow account the sandbox pretends to be.
COMPANY_NAME = "Sandbox Trading Ltd"
COMPANY_ADDRESS = ("Sandbox Trading Ltd", "1 Example Street", "Testington", "TE1 1ST")

#: KashFlow's "no date" value for a customer's first and last invoice dates.
NO_DATE = "1900-01-01 12:00:00 +05:30"

#: Every invoice status KashFlow documents. "NA" means the invoice total is zero.
STATUSES = ("Paid", "Unpaid", "Overdue", "Overpaid", "NA")

#: How a date is written: ``"offset"`` (UK offset of the day, the documented form),
#: ``"plain"`` (no offset) or an explicit offset such as ``"+05:30"``.
DateStyle = str

#: One penny (cent), the precision amounts are rounded to.
CENT = Decimal("0.01")
#: Zero written as KashFlow writes it.
ZERO = Decimal("0.0000")
#: The bank account id of KashFlow's examples, used for every payment.
BANK_ACCOUNT_ID = 55166
#: Payment method ids as they appear in KashFlow's examples; the names go in the note.
PAYMENT_METHODS = ((409844, "BACS"), (409845, "Card payment"), (409846, "Cheque"))

#: The currencies the sandbox knows. ``ExchangeRate`` is units of that currency per pound
#: (the home currency), so an amount in pounds is the foreign amount divided by the rate.
CURRENCIES: dict[str, JSONDict] = {
    "GBP": {"Name": "British Pounds", "Symbol": "£", "ExchangeRate": "1.0000", "Id": 0},
    "EUR": {"Name": "Euros", "Symbol": "€", "ExchangeRate": "1.1650", "Id": 1},
    "USD": {"Name": "US Dollars", "Symbol": "$", "ExchangeRate": "1.2700", "Id": 2},
    "JPY": {"Name": "Japanese Yen", "Symbol": "¥", "ExchangeRate": "190.0000", "Id": 3},
}

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}")


# --- small helpers ---------------------------------------------------------------------------


def to_decimal(value: t.Any) -> Decimal:
    """*value* (Decimal, int, str or float) as a Decimal; floats go through ``str`` first."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not an amount: {value!r}")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None


def money(value: Decimal) -> Decimal:
    """*value* rounded half-up to whole pence (cents)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def currency(code: str, **overrides: t.Any) -> JSONDict:
    """A KashFlow ``Currency`` object for ISO *code*, e.g. ``currency("EUR")``."""
    try:
        known = CURRENCIES[code]
    except KeyError:
        raise ValueError(f"unknown currency {code!r}; known: {', '.join(CURRENCIES)}") from None
    result: JSONDict = {
        "Code": code,
        "DisplaySymbolOnRight": False,
        "ExchangeRate": Decimal(known["ExchangeRate"]),
        "Id": known["Id"],
        "Name": known["Name"],
        "Symbol": known["Symbol"],
    }
    result.update(overrides)
    return result


def uk_offset(day: date) -> str:
    """The UK's UTC offset at midday on *day*: ``+01:00`` in British Summer Time, else ``+00:00``.

    BST runs from the last Sunday of March to the last Sunday of October (switching at 01:00
    UTC, so midday on either Sunday is already on the new offset).
    """

    def last_sunday(month: int) -> date:
        last = date(day.year, month, calendar.monthrange(day.year, month)[1])
        return last - timedelta(days=(last.weekday() + 1) % 7)

    return "+01:00" if last_sunday(3) <= day < last_sunday(10) else "+00:00"


def kf_date(day: date, style: DateStyle = "offset") -> str:
    """*day* as a KashFlow date string at midday.

    *style* is ``"offset"`` (``"2026-10-09 12:00:00 +01:00"``, UK offset of that day),
    ``"plain"`` (``"2026-10-09 12:00:00"``) or an explicit offset such as ``"+05:30"``.
    """
    text = f"{day.isoformat()} 12:00:00"
    if style == "plain":
        return text
    if style == "offset":
        return f"{text} {uk_offset(day)}"
    return f"{text} {style}"


def parse_kf_date(value: str) -> date:
    """The calendar date of a KashFlow date string (either form)."""
    if not isinstance(value, str) or not _DATE_RE.match(value):
        raise ValueError(f"not a KashFlow date: {value!r}")
    return date.fromisoformat(value[:10])


def date_style(value: str | None) -> DateStyle:
    """The :data:`DateStyle` of a KashFlow date string, to write related dates the same way."""
    if value is None or len(value) <= 19:
        return "plain"
    offset = value[19:].strip()
    # UK offsets follow the calendar (BST or not); any other offset is copied as it is.
    return "offset" if offset in ("+00:00", "+01:00") else offset


def as_kf_date(value: t.Any, style: DateStyle) -> str | None:
    """Accept a :class:`date`, :class:`datetime`, KashFlow string or None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return kf_date(value, style)
    parse_kf_date(value)  # validates
    return str(value)


def guid(rng: random.Random) -> str:
    """A version-4 GUID drawn from *rng*, so demo data is reproducible."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def due_date(issued: date, terms: t.Mapping[str, t.Any] | None) -> date:
    """The default due date for an invoice issued on *issued* under KashFlow ``PaymentTerms``."""
    days = int((terms or {}).get("Days") or 0)
    if (terms or {}).get("Type") == "AfterMonthEnd":
        month_end = date(
            issued.year, issued.month, calendar.monthrange(issued.year, issued.month)[1]
        )
        return month_end + timedelta(days=days)
    return issued + timedelta(days=days)


def compute_status(gross: Decimal, paid: Decimal, due: date, today: date) -> str:
    """KashFlow's invoice status from the amounts and due date.

    Zero total -> "NA"; paid more than the total -> "Overpaid"; paid in full -> "Paid";
    otherwise "Overdue" once the due date has passed, else "Unpaid" (part-paid included).

    A credit note (negative total) is "Paid" once fully allocated (its allocations are
    negative amounts) and "Unpaid" until then, never overdue. KashFlow does not document
    how it words credit notes; this reading keeps every status invariant true and still
    puts an unallocated credit note among the "Unpaid" rows a careless client would chase.
    """
    if gross == 0:
        return "NA"
    if gross < 0:
        return "Paid" if paid <= gross else "Unpaid"
    if paid > gross:
        return "Overpaid"
    if paid == gross:
        return "Paid"
    return "Overdue" if due < today else "Unpaid"


def document_key(permalink: str | None) -> str | None:
    """The GUID at the end of a KashFlow document permalink, lower-cased."""
    if not permalink:
        return None
    return permalink.rstrip("/").rsplit("/", 1)[-1].lower()


__all__ = [
    "BANK_ACCOUNT_ID",
    "CENT",
    "COMPANY_ADDRESS",
    "COMPANY_NAME",
    "CURRENCIES",
    "NO_DATE",
    "PAYMENT_METHODS",
    "STATUSES",
    "ZERO",
    "DateStyle",
    "JSONDict",
    "as_kf_date",
    "compute_status",
    "currency",
    "date_style",
    "document_key",
    "due_date",
    "guid",
    "kf_date",
    "money",
    "parse_kf_date",
    "to_decimal",
    "uk_offset",
]
