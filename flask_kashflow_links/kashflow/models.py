"""Typed models of the KashFlow objects the portal shows.

Built with ``from_api(data)`` from KashFlow's JSON. Missing and null fields become defaults,
unknown fields are ignored, money is :class:`~decimal.Decimal`, dates are :class:`~datetime.date`
(``None`` for "no date"). Every backend answers with these models, and the fetch layer caches
them as they are (pickled), so :data:`MODELS_VERSION` is part of every cache namespace: change
it when a model's fields change, and a deploy starts with a cold cache instead of unpickling
objects of the old shape.
"""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from decimal import Decimal

from .parsing import EMAIL
from .parsing import as_list
from .parsing import as_mapping
from .parsing import parse_amount
from .parsing import parse_bool
from .parsing import parse_date
from .parsing import parse_int
from .parsing import parse_text

#: KashFlow's invoice statuses ("NA" means a zero-amount invoice).
PAID, OVERPAID, UNPAID, OVERDUE, NA, UNKNOWN = (
    "Paid",
    "Overpaid",
    "Unpaid",
    "Overdue",
    "NA",
    "Unknown",
)
#: The version of these models' fields (see the module docstring).
MODELS_VERSION = 1

_STATUSES = {s.lower(): s for s in (PAID, OVERPAID, UNPAID, OVERDUE, NA)}


def normalise_status(value: t.Any) -> str:
    """One of :data:`PAID`, :data:`OVERPAID`, :data:`UNPAID`, :data:`OVERDUE`, :data:`NA`, or
    :data:`UNKNOWN` for anything else."""
    return _STATUSES.get(parse_text(value).lower(), UNKNOWN)


@dataclass(frozen=True, slots=True)
class Currency:
    """An invoice's currency, as KashFlow describes it."""

    code: str = ""
    name: str = ""
    symbol: str = ""
    symbol_on_right: bool = False
    exchange_rate: Decimal | None = None

    @classmethod
    def from_api(cls, data: t.Any) -> Currency:
        data = as_mapping(data)
        # The customers page spells it DisplayOnRight; the invoices page DisplaySymbolOnRight.
        on_right = data.get("DisplaySymbolOnRight", data.get("DisplayOnRight"))
        code = parse_text(data.get("Code"), limit=3).upper()
        return cls(
            code=code if re.fullmatch(r"[A-Z]{3}", code) else "",
            name=parse_text(data.get("Name"), limit=60),
            symbol=parse_text(data.get("Symbol"), limit=5),
            symbol_on_right=parse_bool(on_right),
            exchange_rate=parse_amount(data.get("ExchangeRate")),
        )


@dataclass(frozen=True, slots=True)
class Address:
    """A postal address."""

    lines: tuple[str, ...] = ()
    post_code: str = ""
    country: str = ""

    @classmethod
    def from_api(cls, data: t.Any) -> Address | None:
        if not isinstance(data, dict):
            return None
        lines = tuple(
            line
            for line in (parse_text(data.get(f"Line{i}"), limit=200) for i in range(1, 5))
            if line
        )
        address = cls(
            lines=lines,
            post_code=parse_text(data.get("PostCode"), limit=20),
            country=parse_text(data.get("CountryName"), limit=80),
        )
        return address if (address.lines or address.post_code or address.country) else None


@dataclass(frozen=True, slots=True)
class LineItem:
    """One line of an invoice."""

    description: str = ""
    product_name: str = ""
    quantity: Decimal | None = None
    rate: Decimal | None = None
    vat_amount: Decimal | None = None
    vat_rate: Decimal | None = None

    @property
    def net(self) -> Decimal | None:
        """Quantity times rate, when both are known."""
        if self.quantity is None or self.rate is None:
            return None
        return self.quantity * self.rate

    @classmethod
    def from_api(cls, data: t.Any) -> LineItem:
        data = as_mapping(data)
        return cls(
            description=parse_text(data.get("Description")),
            product_name=parse_text(data.get("ProductName"), limit=200),
            quantity=parse_amount(data.get("Quantity")),
            rate=parse_amount(data.get("Rate")),
            vat_amount=parse_amount(data.get("VATAmount")),
            vat_rate=parse_amount(data.get("VATLevel")),
        )


@dataclass(frozen=True, slots=True)
class Payment:
    """A payment made against an invoice."""

    date: date | None = None
    amount: Decimal | None = None
    note: str = ""
    permalink: str = ""

    @classmethod
    def from_api(cls, data: t.Any) -> Payment:
        data = as_mapping(data)
        return cls(
            date=parse_date(data.get("Date")),
            amount=parse_amount(data.get("Amount")),
            note=parse_text(data.get("Note"), limit=500),
            permalink=parse_text(data.get("Permalink"), limit=300),
        )


@dataclass(frozen=True, slots=True)
class Invoice:
    """A KashFlow invoice: a list summary or the full detail (``detailed``)."""

    number: int
    customer_code: str = ""
    customer_name: str = ""
    customer_reference: str = ""
    status: str = UNKNOWN
    issued: date | None = None
    due: date | None = None
    paid_on: date | None = None
    net: Decimal | None = None
    vat: Decimal | None = None
    gross: Decimal | None = None
    paid: Decimal | None = None
    due_amount: Decimal | None = None
    overdue_days: int | None = None
    currency: Currency = field(default_factory=Currency)
    address: Address | None = None
    line_items: tuple[LineItem, ...] = ()
    payments: tuple[Payment, ...] = ()
    permalink: str = ""
    detailed: bool = False

    @classmethod
    def from_api(cls, data: t.Any, *, detailed: bool = False) -> Invoice | None:
        """Build an invoice; ``None`` if *data* has no usable invoice number."""
        data = as_mapping(data)
        number = parse_int(data.get("Number"))
        if number is None or number <= 0:
            return None
        gross = parse_amount(data.get("GrossAmount"))
        paid = parse_amount(data.get("TotalPaidAmount"))
        status = normalise_status(data.get("Status"))
        due_amount = parse_amount(data.get("DueAmount"))
        if due_amount is None and gross is not None:
            # Older payloads lack DueAmount. Note TotalPaidAmount is documented "in home
            # currency", so only trust the difference for paid statuses (nothing due).
            due_amount = Decimal(0) if status in (PAID, OVERPAID, NA) else None
        payments = tuple(Payment.from_api(p) for p in as_list(data.get("PaymentLines")))
        paid_on = parse_date(data.get("PaidDate"))
        if paid_on is None and status in (PAID, OVERPAID):
            paid_on = parse_date(data.get("LastPaymentDate"))
        return cls(
            number=number,
            customer_code=parse_text(data.get("CustomerCode"), limit=255),
            customer_name=parse_text(data.get("CustomerName"), limit=300),
            customer_reference=parse_text(data.get("CustomerReference"), limit=200),
            status=status,
            issued=parse_date(data.get("IssuedDate")),
            due=parse_date(data.get("DueDate")),
            paid_on=paid_on,
            net=parse_amount(data.get("NetAmount")),
            vat=parse_amount(data.get("VATAmount")),
            gross=gross,
            paid=paid,
            due_amount=due_amount,
            overdue_days=parse_int(data.get("OverdueDays")),
            currency=Currency.from_api(data.get("Currency")),
            address=Address.from_api(data.get("Address")),
            line_items=tuple(LineItem.from_api(li) for li in as_list(data.get("LineItems"))),
            payments=tuple(p for p in payments if p.amount is not None or p.date is not None),
            permalink=parse_text(data.get("Permalink"), limit=300),
            detailed=detailed,
        )

    # -- what the portal needs to decide scope and wording -----------------------------------

    @property
    def amount_paid(self) -> Decimal | None:
        """What has been paid, in the invoice's currency.

        From the payment lines when present; else gross minus due. ``TotalPaidAmount`` is
        documented as home-currency, so it is the last resort.
        """
        amounts = [p.amount for p in self.payments if p.amount is not None]
        if amounts:
            return sum(amounts, Decimal(0))
        if self.gross is not None and self.due_amount is not None:
            return max(self.gross - self.due_amount, Decimal(0))
        return self.paid

    @property
    def is_paid(self) -> bool:
        """Paid or Overpaid."""
        return self.status in (PAID, OVERPAID)

    @property
    def is_unpaid(self) -> bool:
        """Unpaid or Overdue."""
        return self.status in (UNPAID, OVERDUE)

    def is_overdue(self, today: date) -> bool:
        """Overdue per KashFlow, or Unpaid with a due date before *today*."""
        if self.status == OVERDUE:
            return True
        return self.status == UNPAID and self.due is not None and self.due < today

    def days_overdue(self, today: date) -> int | None:
        """How many days past the due date, for an overdue invoice."""
        if not self.is_overdue(today):
            return None
        if self.due is not None:
            return max((today - self.due).days, 0)
        return self.overdue_days


@dataclass(frozen=True, slots=True)
class Contact:
    """A contact person of a customer."""

    name: str = ""
    email: str = ""
    telephone: str = ""

    @classmethod
    def from_api(cls, data: t.Any) -> Contact:
        data = as_mapping(data)
        name = parse_text(data.get("Name"), limit=200) or " ".join(
            part
            for part in (
                parse_text(data.get("Firstname"), limit=100),
                parse_text(data.get("LastName"), limit=100),
            )
            if part
        )
        return cls(
            name=name,
            email=parse_text(data.get("Email"), limit=254),
            telephone=parse_text(data.get("Telephone"), limit=50),
        )


@dataclass(frozen=True, slots=True)
class Customer:
    """A KashFlow customer."""

    code: str
    name: str = ""
    display_name: str = ""
    key: str = ""
    contacts: tuple[Contact, ...] = ()
    email: str = ""
    address: Address | None = None
    currency: Currency = field(default_factory=Currency)
    outstanding_balance: Decimal | None = None

    @classmethod
    def from_api(cls, data: t.Any) -> Customer | None:
        """Build a customer; ``None`` if *data* has no customer code."""
        data = as_mapping(data)
        code = parse_text(data.get("Code"), limit=255)
        if not code:
            return None
        addresses = [a for a in (Address.from_api(x) for x in as_list(data.get("Addresses"))) if a]
        return cls(
            code=code,
            name=parse_text(data.get("Name"), limit=300),
            display_name=parse_text(data.get("DisplayName"), limit=300),
            key=parse_text(data.get("Key") or data.get("CustomerKey"), limit=64),
            contacts=tuple(Contact.from_api(c) for c in as_list(data.get("Contacts"))),
            email=parse_text(data.get("Email"), limit=254),
            address=addresses[0] if addresses else None,
            currency=Currency.from_api(data.get("Currency")),
            outstanding_balance=parse_amount(data.get("OutstandingBalance")),
        )

    @property
    def email_addresses(self) -> list[str]:
        """Valid, distinct contact email addresses on file (for fresh links), in order."""
        seen: dict[str, str] = {}
        for candidate in [c.email for c in self.contacts] + [self.email]:
            address = candidate.strip()
            if EMAIL.fullmatch(address) and address.lower() not in seen:
                seen[address.lower()] = address
        return list(seen.values())


__all__ = [
    "MODELS_VERSION",
    "NA",
    "OVERDUE",
    "OVERPAID",
    "PAID",
    "UNKNOWN",
    "UNPAID",
    "Address",
    "Contact",
    "Currency",
    "Customer",
    "Invoice",
    "LineItem",
    "Payment",
    "normalise_status",
]
