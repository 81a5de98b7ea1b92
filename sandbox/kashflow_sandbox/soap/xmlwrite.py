"""Writing SOAP XML the way ASMX does: elements in WSDL order, empty strings as ``<X />``,
null strings and objects left out, decimals with four places, dates without an offset.

Written as text rather than through ElementTree so that the default ``xmlns="KashFlow"`` sits
on the response element, as on the wire, instead of on the envelope.
"""

from __future__ import annotations

import re
import typing as t
from decimal import Decimal

from ..jsonfmt import format_decimal
from ..values import parse_kf_date

#: Characters XML 1.0 cannot carry at all (.NET would refuse to write them): dropped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
#: KashFlow's "no date" on the SOAP side.
NO_DATE = "0001-01-01T00:00:00"


def escape(value: str) -> str:
    """*value* as XML character data (``&``, ``<``, ``>`` escaped; invalid characters gone)."""
    value = _NOT_XML.sub("", value)
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def soap_date(value: t.Any) -> str:
    """A KashFlow REST date string as ``xs:dateTime`` without offset (``2016-09-16T00:00:00``);
    the "no date" values for a missing or 1900 date."""
    if not isinstance(value, str):
        return NO_DATE
    try:
        day = parse_kf_date(value)
    except ValueError:
        return NO_DATE
    return NO_DATE if day.year <= 1900 else f"{day.isoformat()}T00:00:00"


def scalar(value: t.Any) -> str | None:
    """The text of a simple value; None for a null (the element is left out)."""
    if value is None:
        return None
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format_decimal(value) if value.is_finite() else None
    return escape(str(value))


def element(name: str, value: t.Any) -> str:
    """``<name>value</name>``, ``<name />`` for an empty string, nothing for None."""
    text = scalar(value)
    if text is None:
        return ""
    if text == "":
        return f"<{name} />"
    return f"<{name}>{text}</{name}>"


def elements(pairs: t.Iterable[tuple[str, t.Any]]) -> str:
    """The elements of *pairs*, in order."""
    return "".join(element(name, value) for name, value in pairs)


def wrap(name: str, inner: str, attributes: str = "") -> str:
    """``<name attributes>inner</name>`` (``<name />`` when there is nothing inside)."""
    if not inner:
        return f"<{name}{attributes} />"
    return f"<{name}{attributes}>{inner}</{name}>"


__all__ = ["NO_DATE", "element", "elements", "escape", "scalar", "soap_date", "wrap"]
