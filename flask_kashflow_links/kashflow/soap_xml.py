"""KashFlow's SOAP documents: the few requests written, the answers read into the shared models.

Requests are SOAP 1.1 documents built with the standard library: one element named after the
operation, with a default ``xmlns="KashFlow"`` so that every parameter is qualified (ASMX
silently drops unqualified parameters), and the parameters in the WSDL's order (ASMX binds a
sequence by order). Nothing else is needed for a read-only client of five operations, so no
SOAP library (and no WSDL download) is involved.

Answers are parsed with :mod:`defusedxml`: no DTDs, no entity expansion, no external
references. Every answer has the same shape, ``<OpResponse>`` holding ``<OpResult>``,
``<Status>`` and ``<StatusDetail>``; success is decided on ``Status`` alone. Element names are
matched by their local name, so an answer that qualifies its children differently still reads.

The SOAP objects become the shared :mod:`.models`. The SOAP ``Invoice`` has no gross total,
status, amount due or paid date, so they are derived as KashFlow's own manual describes its
fields:

* gross = ``NetAmount`` + ``VATAmount``;
* **Paid** when ``Paid`` is 1 (KashFlow sets it once the invoice is fully paid), **Overpaid**
  when ``AmountPaid`` then exceeds the gross; otherwise **Overdue** when ``DueDate`` is before
  today (and something is due), else **Unpaid**, with ``AmountPaid`` > 0 making it part-paid;
  an unpaid invoice for nothing (gross 0) is **NA**, as the REST API calls it;
* the amount due is the gross less ``AmountPaid``, never below 0 (an unallocated credit note
  owes nothing, as REST says); the paid date is the latest payment's.

Dates come without an offset (``2016-09-16T00:00:00``) and are the business's calendar dates;
``0001-01-01`` means "no date". The customer's ``Email`` may hold several addresses, separated
by commas or semicolons. Amounts are read as :class:`~decimal.Decimal`, as for REST.
"""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from html import escape

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError
from defusedxml.ElementTree import fromstring

from .models import NA
from .models import OVERDUE
from .models import OVERPAID
from .models import PAID
from .models import UNPAID
from .models import Address
from .models import Contact
from .models import Currency
from .models import Customer
from .models import Invoice
from .models import LineItem
from .models import Payment
from .models import invoice_kind
from .parsing import EMAIL_SEPARATORS
from .parsing import parse_amount
from .parsing import parse_currency_code
from .parsing import parse_date
from .parsing import parse_int
from .parsing import parse_text

if t.TYPE_CHECKING:  # pragma: no cover
    # The type only: every document is parsed by defusedxml.
    from xml.etree.ElementTree import Element  # nosec B405

#: The target namespace of KashFlow's service (the bare string, not a URL).
NAMESPACE = "KashFlow"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
_XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
#: Characters XML 1.0 cannot carry at all.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
#: A parameter name as the WSDL spells them.
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
#: ``VatRate`` of a VAT-exempt line.
EXEMPT = Decimal(-1)


class MalformedAnswer(ValueError):
    """The body is not a KashFlow SOAP answer (not XML, not an envelope, or another shape)."""


@dataclass(frozen=True)
class Fault:
    """A ``soap:Fault``: the service could not process the request (HTTP 500 as a rule)."""

    #: True for a fault of the server (``soap:Server``/``soap:Receiver``), False for one of the
    #: request (``soap:Client``/``soap:Sender``).
    server: bool
    text: str


@dataclass(frozen=True)
class Answer:
    """An ``<OpResponse>``: the result element (``None`` when absent or nil) and the status."""

    status: str
    detail: str
    result: Element | None

    @property
    def ok(self) -> bool:
        """Whether KashFlow answered ``Status`` ``OK`` (its only sign of success)."""
        return self.status.strip().upper() == "OK"


def xml_safe(value: str) -> bool:
    """Whether XML 1.0 can carry *value* (no control characters but tab and newlines)."""
    return not _NOT_XML.search(value)


def request_body(operation: str, params: t.Sequence[tuple[str, str | int]]) -> bytes:
    """A SOAP 1.1 envelope calling *operation* with *params* in the given order.

    :raises ValueError: a value holds characters XML 1.0 cannot carry.
    """
    if not _NAME.fullmatch(operation):
        raise ValueError(f"not an operation name: {operation!r}")
    parts = []
    for name, value in params:
        if not _NAME.fullmatch(name):
            raise ValueError(f"not a parameter name: {name!r}")
        text = str(value)
        if not xml_safe(text):
            raise ValueError(f"{name} holds characters XML cannot carry")
        parts.append(f"<{name}>{escape(text, quote=False)}</{name}>")
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<soap:Envelope xmlns:soap="{SOAP11}"><soap:Body>'
        f'<{operation} xmlns="{NAMESPACE}">{"".join(parts)}</{operation}>'
        "</soap:Body></soap:Envelope>"
    ).encode()


def _local(tag: t.Any) -> str:
    """The local name of an ElementTree tag (``"{ns}name"`` or ``"name"``)."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def _child(element: Element | None, name: str) -> Element | None:
    """The first child of *element* named *name* (any namespace), or ``None``."""
    if element is None:
        return None
    for item in element:
        if _local(item.tag) == name:
            return item
    return None


def _child_text(element: Element | None, name: str) -> str | None:
    """The text of *element*'s child *name*: ``""`` for an empty element, ``None`` when absent
    or nil."""
    found = _child(element, name)
    if found is None or _is_nil(found):
        return None
    return found.text or ""


def _is_nil(element: Element) -> bool:
    """Whether *element* says ``xsi:nil="true"``."""
    return element.get(_XSI_NIL, "").strip().lower() in ("true", "1")


def items(element: Element | None) -> list[Element]:
    """The items of a list element: every child element. A missing, empty or nil list is empty
    (KashFlow writes all three), and a list of one is still a list."""
    if element is None or _is_nil(element):
        return []
    return [item for item in element if isinstance(item.tag, str)]


def body_of(content: bytes) -> Element:
    """The element inside a SOAP 1.1 or 1.2 envelope's body.

    :raises MalformedAnswer: not XML, XML with a DTD or entities, or not a SOAP envelope.
    """
    if not content.strip():
        raise MalformedAnswer("an empty answer")
    try:
        root = fromstring(content, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError) as e:
        raise MalformedAnswer(f"not well-formed XML ({type(e).__name__})") from None
    namespace = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    if _local(root.tag) != "Envelope" or namespace not in (SOAP11, SOAP12):
        raise MalformedAnswer("not a SOAP envelope")
    body = root.find(f"{{{namespace}}}Body")
    payload = next(iter(items(body)), None)
    if payload is None:
        raise MalformedAnswer("an empty SOAP body")
    return payload


def fault_of(payload: Element) -> Fault | None:
    """The fault *payload* is, if it is a ``soap:Fault`` (1.1 or 1.2)."""
    if _local(payload.tag) != "Fault":
        return None
    # SOAP 1.1: faultcode and faultstring; SOAP 1.2: Code/Value and Reason/Text.
    code = _child_text(payload, "faultcode") or _child_text(_child(payload, "Code"), "Value") or ""
    message = (
        _child_text(payload, "faultstring") or _child_text(_child(payload, "Reason"), "Text") or ""
    )
    server = _local(code.split(":")[-1]) in ("Server", "Receiver")
    return Fault(server=server, text=" ".join(message.split())[:300])


def answer_of(payload: Element, operation: str) -> Answer:
    """The answer to *operation* in *payload*.

    :raises MalformedAnswer: the payload answers another operation, or has no ``Status``.
    """
    if _local(payload.tag) != f"{operation}Response":
        raise MalformedAnswer(
            f"{_local(payload.tag) or 'something'} instead of {operation}Response"
        )
    status = _child_text(payload, "Status")
    if status is None:
        raise MalformedAnswer(f"{operation}Response without a Status")
    result = _child(payload, f"{operation}Result")
    detail = " ".join((_child_text(payload, "StatusDetail") or "").split())
    return Answer(
        status=status,
        detail=detail[:500],
        result=None if result is None or _is_nil(result) else result,
    )


# -- SOAP objects into the shared models ----------------------------------------------------------


def _amount(element: Element | None, name: str) -> Decimal | None:
    """The amount in *element*'s child *name*, read as every KashFlow amount is."""
    return parse_amount(_child_text(element, name))


def _text(element: Element | None, name: str, limit: int) -> str:
    """The text of *element*'s child *name*, cleaned and cut to *limit* characters."""
    return parse_text(_child_text(element, name), limit=limit)


def _line_from_soap(element: Element) -> LineItem:
    """One ``InvoiceLine`` (an ``anyType`` of ``Lines``).

    KashFlow's WSDL gives the line a ``ProductID`` but no ``ProductName``; a line that
    carries one (as REST lines do) has it read, so a line with no description still says
    what was sold. None is looked up by ``ProductID``: that would cost a call per page.
    """
    vat_rate = _amount(element, "VatRate")
    return LineItem(
        description=_text(element, "Description", 2000),
        product_name=_text(element, "ProductName", 200),
        quantity=_amount(element, "Quantity"),
        rate=_amount(element, "Rate"),
        vat_amount=_amount(element, "VatAmount"),
        vat_rate=None if vat_rate == EXEMPT else vat_rate,
    )


def _payment_from_soap(element: Element) -> Payment:
    """One ``Payment`` of ``GetInvoicePayment`` (SOAP has no payment receipt link)."""
    return Payment(
        date=parse_date(_child_text(element, "PayDate")),
        amount=_amount(element, "PayAmount"),
        note=_text(element, "PayNote", 500),
    )


def payments_from_soap(result: Element | None) -> tuple[Payment, ...]:
    """The payments of an ``ArrayOfPayment`` (missing, empty or nil: none)."""
    payments = (_payment_from_soap(item) for item in items(result))
    return tuple(p for p in payments if p.recorded)


def _status(paid_flag: int | None, gross: Decimal | None, paid: Decimal | None) -> str:
    if paid_flag == 1:
        return OVERPAID if gross is not None and paid is not None and paid > gross else PAID
    if gross is not None and gross == 0:
        return NA
    return UNPAID


def invoice_from_soap(
    element: Element | None,
    *,
    today: date,
    payments: tuple[Payment, ...] = (),
    detailed: bool = False,
) -> Invoice | None:
    """An :class:`~.models.Invoice` from a SOAP ``Invoice``; ``None`` for a missing object or
    one without a usable number (KashFlow's way of saying "no such invoice" may be an object
    whose numbers are 0)."""
    if element is None:
        return None
    number = parse_int(_child_text(element, "InvoiceNumber"))
    if number is None or number <= 0:
        return None
    net, vat, paid = (_amount(element, n) for n in ("NetAmount", "VATAmount", "AmountPaid"))
    gross = net + vat if net is not None and vat is not None else None
    status = _status(parse_int(_child_text(element, "Paid")), gross, paid)
    due_amount = None
    if status in (PAID, OVERPAID, NA):
        due_amount = Decimal(0)
    elif gross is not None:
        # Never below nothing: an unallocated credit note (negative gross) owes nothing.
        due_amount = max(gross - (paid or Decimal(0)), Decimal(0))
    due = parse_date(_child_text(element, "DueDate"))
    if status == UNPAID and due is not None and due < today and due_amount != 0:
        status = OVERDUE
    dated = [p.date for p in payments if p.date is not None]
    return Invoice(
        number=number,
        customer_code=_text(element, "Customer", 255),
        customer_name=_text(element, "CustomerName", 300),
        customer_reference=_text(element, "CustomerReference", 200),
        status=status,
        issued=parse_date(_child_text(element, "InvoiceDate")),
        due=due,
        paid_on=max(dated) if dated and status in (PAID, OVERPAID) else None,
        net=net,
        vat=vat,
        gross=gross,
        paid=paid,
        due_amount=due_amount,
        overdue_days=(today - due).days if status == OVERDUE and due is not None else None,
        currency=Currency(
            code=parse_currency_code(_child_text(element, "CurrencyCode")),
            exchange_rate=_amount(element, "ExchangeRate"),
        ),
        # A list's rows show no lines: keep cached lists small.
        line_items=tuple(_line_from_soap(line) for line in items(_child(element, "Lines")))
        if detailed
        else (),
        payments=payments,
        permalink=_text(element, "PermaLink", 300),
        detailed=detailed,
        kind=invoice_kind(None, gross),  # SOAP has no Type: a negative total is a credit note
    )


def customer_id(element: Element | None) -> int | None:
    """KashFlow's numeric ``CustomerID`` of a SOAP ``Customer`` (what
    ``GetInvoicesForCustomer`` takes), or ``None`` when missing or 0."""
    number = parse_int(_child_text(element, "CustomerID"))
    return number if number is not None and number > 0 else None


def customer_from_soap(element: Element | None) -> Customer | None:
    """A :class:`~.models.Customer` from a SOAP ``Customer``; ``None`` without a code or ID.

    SOAP has no statement document, so the customer has no ``key``. Each address in
    ``Email`` becomes a contact (the first one named by ``Contact``), so the fresh-link email
    reaches every address KashFlow holds.
    """
    if element is None or customer_id(element) is None:
        return None
    code = _text(element, "Code", 255)
    if not code:
        return None
    name = _text(element, "Contact", 200)
    phone = _text(element, "Telephone", 50)
    emails = [e.strip() for e in EMAIL_SEPARATORS.split(_text(element, "Email", 1000)) if e.strip()]
    contacts = tuple(
        Contact(name=name if i == 0 else "", email=email[:254], telephone=phone if i == 0 else "")
        for i, email in enumerate(emails)
    ) or ((Contact(name=name, telephone=phone),) if name or phone else ())
    address = Address.of(
        [_child_text(element, f"Address{i}") for i in range(1, 5)],
        post_code=_child_text(element, "Postcode"),
        country=_child_text(element, "CountryName"),
    )
    return Customer(code=code, name=_text(element, "Name", 300), contacts=contacts, address=address)
