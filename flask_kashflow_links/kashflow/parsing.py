"""Tolerant parsing of KashFlow's JSON values: dates, money, numbers and text.

KashFlow's REST API is documented as a work in progress and real responses vary: dates come
with and without an offset (``"2012-10-09 12:00:00 +05:30"``, ``"2008-04-08 12:00:00"``),
``1900-01-01`` stands for "no date", amounts are JSON numbers with four decimals, and fields
appear, disappear or are null. Every parser here returns ``None`` for what it cannot read
instead of raising, so one odd field never takes a page down.
"""

from __future__ import annotations

import json
import re
import typing as t
from datetime import date
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from decimal import Decimal
from decimal import InvalidOperation

#: Amounts at or beyond this magnitude are treated as unreadable: no real invoice is a
#: quadrillion, and formatting a 400-digit number would only ever be an attack.
MAX_AMOUNT = Decimal(10) ** 15

_DATE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,7})?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?"
)
_DOTNET_DATE = re.compile(r"/Date\((-?\d{1,15})([+-]\d{4})?\)/")
# One way to split digits between the integer and fraction parts, so a long run of digits that
# is not a number fails in linear time (``\d+\.?\d*`` retried every split: quadratic).
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
#: An email address as the portal accepts one (contacts on file, the brand's address).
EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
#: What separates the addresses of a KashFlow ``Email`` field that holds several.
EMAIL_SEPARATORS = re.compile(r"[,;]")


def loads(content: bytes | str) -> t.Any:
    """Parse a KashFlow JSON body, reading every non-integer number as a :class:`Decimal`."""
    return json.loads(content, parse_float=Decimal)


def parse_date(value: t.Any) -> date | None:
    """The calendar date of a KashFlow date value, as written (the offset is not applied).

    KashFlow stores date-only values at midday, so the written date is the business date
    whatever the offset. ``1900-01-01`` (and .NET's ``0001-01-01``) mean "no date".
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    match = _DATE.fullmatch(text)
    if match:
        try:
            day = date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        except ValueError:
            return None
    else:
        dotnet = _DOTNET_DATE.fullmatch(text)
        if not dotnet:
            return None
        millis = int(dotnet.group(1))
        offset = dotnet.group(2) or "+0000"
        sign = -1 if offset[0] == "-" else 1
        shift = timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5])) * sign
        try:
            moment = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=millis)
        except OverflowError:
            return None
        day = (moment + shift).date()
    if day.year <= 1900:
        return None
    return day


def parse_amount(value: t.Any) -> Decimal | None:
    """A money amount as :class:`Decimal`, or ``None`` if absent, malformed or absurd."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float):
        amount = Decimal(repr(value))
    elif isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            return None
    else:
        return None
    if not amount.is_finite() or abs(amount) >= MAX_AMOUNT:
        return None
    return amount


def parse_int(value: t.Any) -> int | None:
    """An integer field (ids, numbers, days), or ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal) and value == value.to_integral_value() and value.is_finite():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value) < 20:
        return int(value.strip())
    return None


#: Control characters other than tab and newline (C0 and DEL).
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def parse_text(value: t.Any, *, limit: int = 2000) -> str:
    """A text field, trimmed, without control characters, at most *limit* characters.

    Markup is kept as text: templates escape it. Bidirectional-control characters are kept so
    right-to-left names render properly; templates isolate them with ``dir="auto"``/``<bdi>``.
    """
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, int | Decimal):
        value = str(value)
    if not isinstance(value, str):
        return ""
    return _CONTROL_CHARACTERS.sub("", value).strip()[:limit]


def parse_currency_code(value: t.Any) -> str:
    """An ISO 4217 currency code (``GBP``), or ``""`` for anything that is not one."""
    code = parse_text(value, limit=3).upper()
    return code if re.fullmatch(r"[A-Z]{3}", code) else ""


def parse_bool(value: t.Any) -> bool:
    """A boolean field (also ``1``/``0`` and ``"true"``)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return False


def as_mapping(value: t.Any) -> t.Mapping[str, t.Any]:
    """*value* if it is a JSON object, else an empty mapping."""
    return value if isinstance(value, dict) else {}


def as_list(value: t.Any) -> list[t.Any]:
    """*value* if it is a JSON array, else an empty list."""
    return value if isinstance(value, list) else []
