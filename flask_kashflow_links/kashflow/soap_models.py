"""KashFlow's SOAP objects turned into the shared :mod:`.models`.

The SOAP ``Invoice`` has no gross total, status, amount due or paid date, so they are derived
as KashFlow's own manual describes its fields:

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

import typing as t
from datetime import date
from decimal import Decimal

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
from .soap_xml import child
from .soap_xml import items
from .soap_xml import text

if t.TYPE_CHECKING:  # pragma: no cover
    # The type only: every document is parsed by defusedxml.
    from xml.etree.ElementTree import Element  # nosec B405

#: ``VatRate`` of a VAT-exempt line.
EXEMPT = Decimal(-1)


def _amount(element: Element | None, name: str) -> Decimal | None:
    return parse_amount(text(element, name))


def _text(element: Element | None, name: str, limit: int) -> str:
    return parse_text(text(element, name), limit=limit)


def line_from_soap(element: Element) -> LineItem:
    """One ``InvoiceLine`` (an ``anyType`` of ``Lines``)."""
    vat_rate = _amount(element, "VatRate")
    return LineItem(
        description=_text(element, "Description", 2000),
        quantity=_amount(element, "Quantity"),
        rate=_amount(element, "Rate"),
        vat_amount=_amount(element, "VatAmount"),
        vat_rate=None if vat_rate == EXEMPT else vat_rate,
    )


def payment_from_soap(element: Element) -> Payment:
    """One ``Payment`` of ``GetInvoicePayment`` (SOAP has no payment receipt link)."""
    return Payment(
        date=parse_date(text(element, "PayDate")),
        amount=_amount(element, "PayAmount"),
        note=_text(element, "PayNote", 500),
    )


def payments_from_soap(result: Element | None) -> tuple[Payment, ...]:
    """The payments of an ``ArrayOfPayment`` (missing, empty or nil: none)."""
    payments = (payment_from_soap(item) for item in items(result))
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
    number = parse_int(text(element, "InvoiceNumber"))
    if number is None or number <= 0:
        return None
    net, vat, paid = (_amount(element, n) for n in ("NetAmount", "VATAmount", "AmountPaid"))
    gross = net + vat if net is not None and vat is not None else None
    status = _status(parse_int(text(element, "Paid")), gross, paid)
    due_amount = None
    if status in (PAID, OVERPAID, NA):
        due_amount = Decimal(0)
    elif gross is not None:
        # Never below nothing: an unallocated credit note (negative gross) owes nothing.
        due_amount = max(gross - (paid or Decimal(0)), Decimal(0))
    due = parse_date(text(element, "DueDate"))
    if status == UNPAID and due is not None and due < today and due_amount != 0:
        status = OVERDUE
    dated = [p.date for p in payments if p.date is not None]
    return Invoice(
        number=number,
        customer_code=_text(element, "Customer", 255),
        customer_name=_text(element, "CustomerName", 300),
        customer_reference=_text(element, "CustomerReference", 200),
        status=status,
        issued=parse_date(text(element, "InvoiceDate")),
        due=due,
        paid_on=max(dated) if dated and status in (PAID, OVERPAID) else None,
        net=net,
        vat=vat,
        gross=gross,
        paid=paid,
        due_amount=due_amount,
        overdue_days=(today - due).days if status == OVERDUE and due is not None else None,
        currency=Currency(
            code=parse_currency_code(text(element, "CurrencyCode")),
            exchange_rate=_amount(element, "ExchangeRate"),
        ),
        # A list's rows show no lines: keep cached lists small.
        line_items=tuple(line_from_soap(line) for line in items(child(element, "Lines")))
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
    number = parse_int(text(element, "CustomerID"))
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
        [text(element, f"Address{i}") for i in range(1, 5)],
        post_code=text(element, "Postcode"),
        country=text(element, "CountryName"),
    )
    return Customer(code=code, name=_text(element, "Name", 300), contacts=contacts, address=address)


__all__ = [
    "EXEMPT",
    "customer_from_soap",
    "customer_id",
    "invoice_from_soap",
    "line_from_soap",
    "payment_from_soap",
    "payments_from_soap",
]
