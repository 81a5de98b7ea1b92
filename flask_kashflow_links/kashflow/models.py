"""Typed models of the KashFlow objects the portal shows.

Built with ``from_api(data)`` from KashFlow's JSON. Missing and null fields become defaults,
unknown fields are ignored, money is :class:`~decimal.Decimal`, dates are :class:`~datetime.date`
(``None`` for "no date"). Every backend answers with these models, and the fetch layer caches
them as they are (pickled), so :data:`MODELS_VERSION` is part of every cache namespace: change
it when a model's fields change, and a deploy starts with a cold cache instead of unpickling
objects of the old shape.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from decimal import Decimal

from .parsing import EMAIL
from .parsing import EMAIL_SEPARATORS
from .parsing import as_list
from .parsing import as_mapping
from .parsing import parse_amount
from .parsing import parse_bool
from .parsing import parse_currency_code
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
#: What a KashFlow "invoice" is: an invoice, or a credit note (negative amounts).
INVOICE, CREDIT_NOTE = "invoice", "credit_note"
#: The version of these models' fields (see the module docstring).
MODELS_VERSION = 2

_STATUSES = {s.lower(): s for s in (PAID, OVERPAID, UNPAID, OVERDUE, NA)}


def customer_key(code: str) -> str:
    """A customer code as every comparison sees it: without surrounding spaces, case-folded.

    KashFlow treats customer codes case-insensitively, so ``tcust01`` and ``TCUST01`` are one
    customer. This one function decides it for scope (what a link shows), revocation (what
    ``revoke_customer`` revokes) and the API clients, so a link can never see a customer its
    revocation would miss.
    """
    return code.strip().casefold()


def same_customer(code: str, other: str) -> bool:
    """Whether two customer codes name one customer (an empty code names none)."""
    return bool(code.strip()) and customer_key(code) == customer_key(other)


def _normalise_status(value: t.Any) -> str:
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

    @property
    def one_to_one(self) -> bool:
        """Whether amounts in this currency equal their home-currency figures (an exchange
        rate of exactly 1), so a home-currency amount such as ``TotalPaidAmount`` may be
        shown in it. An unknown rate is not one to one."""
        return self.exchange_rate is not None and self.exchange_rate == 1

    @classmethod
    def from_api(cls, data: t.Any) -> Currency:
        """A currency from KashFlow's ``Currency`` object (missing fields are defaults)."""
        data = as_mapping(data)
        # The customers page spells it DisplayOnRight; the invoices page DisplaySymbolOnRight.
        on_right = data.get("DisplaySymbolOnRight", data.get("DisplayOnRight"))
        return cls(
            code=parse_currency_code(data.get("Code")),
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
        """An address from one of KashFlow's address objects; ``None`` when it is not an
        object or all its fields are empty."""
        if not isinstance(data, dict):
            return None
        return cls.of(
            [data.get(f"Line{i}") for i in range(1, 5)],
            post_code=data.get("PostCode"),
            country=data.get("CountryName"),
        )

    @classmethod
    def of(cls, lines: t.Iterable[t.Any], *, post_code: t.Any, country: t.Any) -> Address | None:
        """An address from raw values (up to four lines), or ``None`` when all are empty."""
        address = cls(
            lines=tuple(line for line in (parse_text(v, limit=200) for v in lines) if line),
            post_code=parse_text(post_code, limit=20),
            country=parse_text(country, limit=80),
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
        """One entry of an invoice's ``LineItems``."""
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
    """A payment line of an invoice: money received, or a credit note set against it
    (``IsPaymentCreditNote``, when KashFlow sends it)."""

    date: date | None = None
    amount: Decimal | None = None
    note: str = ""
    permalink: str = ""
    #: A credit note allocated to the invoice, not money received.
    is_credit: bool = False

    @classmethod
    def from_api(cls, data: t.Any) -> Payment:
        """One entry of an invoice's ``PaymentLines``."""
        data = as_mapping(data)
        return cls(
            date=parse_date(data.get("Date")),
            amount=parse_amount(data.get("Amount")),
            note=parse_text(data.get("Note"), limit=500),
            permalink=parse_text(data.get("Permalink"), limit=300),
            is_credit=parse_bool(data.get("IsPaymentCreditNote")),
        )

    @property
    def recorded(self) -> bool:
        """Whether the line records anything (an amount or a date): empty lines are dropped."""
        return self.amount is not None or self.date is not None


@dataclass(frozen=True, slots=True)
class Invoice:
    """A KashFlow invoice or credit note: a list summary or the full detail (``detailed``).

    Amounts are in the invoice's own currency, except :attr:`paid`, which is KashFlow's
    ``TotalPaidAmount`` as sent: documented as being in the **home** currency.
    """

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
    #: ``TotalPaidAmount``: in the home currency (use :attr:`amount_paid` to show a figure).
    paid: Decimal | None = None
    #: What is still owed, in the invoice's currency (``None`` when it cannot be known).
    due_amount: Decimal | None = None
    overdue_days: int | None = None
    currency: Currency = field(default_factory=Currency)
    address: Address | None = None
    line_items: tuple[LineItem, ...] = ()
    payments: tuple[Payment, ...] = ()
    permalink: str = ""
    detailed: bool = False
    #: :data:`INVOICE` or :data:`CREDIT_NOTE`.
    kind: str = INVOICE
    #: KashFlow's internal customer id (``CustomerId``), when sent.
    customer_id: int | None = None

    @classmethod
    def from_api(cls, data: t.Any, *, detailed: bool = False) -> Invoice | None:
        """Build an invoice; ``None`` if *data* has no usable invoice number."""
        data = as_mapping(data)
        number = parse_int(data.get("Number"))
        if number is None or number <= 0:
            return None
        gross = parse_amount(data.get("GrossAmount"))
        status = _normalise_status(data.get("Status"))
        kind = invoice_kind(data.get("Type"), gross)
        currency = Currency.from_api(data.get("Currency"))
        lines = data.get("PaymentLines")
        payments = tuple(
            p for p in (Payment.from_api(line) for line in as_list(lines)) if p.recorded
        )
        paid = parse_amount(data.get("TotalPaidAmount"))
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
            due_amount=_owed(
                kind,
                status,
                gross,
                parse_amount(data.get("DueAmount")),
                payments if isinstance(lines, list) else None,
                paid if currency.one_to_one or paid == 0 else None,
            ),
            overdue_days=parse_int(data.get("OverdueDays")),
            currency=currency,
            address=Address.from_api(data.get("Address")),
            line_items=tuple(LineItem.from_api(li) for li in as_list(data.get("LineItems"))),
            payments=payments,
            permalink=parse_text(data.get("Permalink"), limit=300),
            detailed=detailed,
            kind=kind,
            customer_id=parse_int(data.get("CustomerId")),
        )

    # -- what the portal needs to decide scope and wording -----------------------------------

    @property
    def is_credit_note(self) -> bool:
        """A credit note: money the business owes back or has set against invoices, never an
        invoice the client owes."""
        return self.kind == CREDIT_NOTE

    @property
    def amount_paid(self) -> Decimal | None:
        """Money received against the invoice, in the invoice's currency (credit notes set
        against it are :attr:`amount_credited`).

        From the payment lines when present; else gross minus due minus credits. The
        home-currency ``TotalPaidAmount`` only for a currency worth one home unit.
        """
        if self.payments:
            return sum(
                (p.amount for p in self.payments if p.amount is not None and not p.is_credit),
                Decimal(0),
            )
        if self.gross is not None and self.due_amount is not None:
            return max(self.gross - self.due_amount, Decimal(0))
        return self.paid if self.currency.one_to_one else None

    @property
    def amount_credited(self) -> Decimal:
        """Credit notes set against the invoice (payment lines KashFlow marks as credits)."""
        return sum(
            (p.amount for p in self.payments if p.amount is not None and p.is_credit), Decimal(0)
        )

    @property
    def is_paid(self) -> bool:
        """Paid or Overpaid (an invoice, not a credit note)."""
        return self.status in (PAID, OVERPAID) and not self.is_credit_note

    @property
    def is_unpaid(self) -> bool:
        """Unpaid or Overdue (an invoice, not a credit note: nothing is owed on one)."""
        return self.status in (UNPAID, OVERDUE) and not self.is_credit_note

    @property
    def owed(self) -> Decimal | None:
        """What is still owed on it, in its currency: nothing on a paid invoice or a credit
        note, ``None`` when it cannot be known."""
        return self.due_amount if self.is_unpaid else Decimal(0)

    def is_overdue(self, today: date) -> bool:
        """Overdue per KashFlow, or Unpaid with a due date before *today*."""
        if not self.is_unpaid:
            return False
        if self.status == OVERDUE:
            return True
        return self.due is not None and self.due < today

    def has_status(self, status: str, today: date) -> bool:
        """Whether a status filter (``all``, ``unpaid``, ``overdue``, ``paid``) admits it,
        judged from its own Status and due date (an unknown filter admits nothing)."""
        if status == "all":
            return True
        if status == "unpaid":
            return self.is_unpaid
        if status == "overdue":
            return self.is_overdue(today)
        if status == "paid":
            return self.is_paid
        return False

    def days_overdue(self, today: date) -> int | None:
        """How many days past the due date, for an overdue invoice."""
        if not self.is_overdue(today):
            return None
        if self.due is not None:
            return max((today - self.due).days, 0)
        return self.overdue_days


def invoice_kind(value: t.Any, gross: Decimal | None) -> str:
    """:data:`CREDIT_NOTE` when KashFlow's ``Type`` says so; without a ``Type`` (KashFlow's
    documented examples and its SOAP API have none), a negative total marks a credit note."""
    text = parse_text(value, limit=40).replace(" ", "").casefold()
    if text:
        return CREDIT_NOTE if text.startswith("credit") else INVOICE
    return CREDIT_NOTE if gross is not None and gross < 0 else INVOICE


def _owed(
    kind: str,
    status: str,
    gross: Decimal | None,
    due: Decimal | None,
    payments: tuple[Payment, ...] | None,
    paid_here: Decimal | None,
) -> Decimal | None:
    """What is still owed, in the invoice's currency, or ``None`` when it cannot be known.

    ``DueAmount`` when sent (only the Swagger copy lists it); else gross minus the payment
    lines (credit allocations included: they settle the invoice too); else gross minus
    ``TotalPaidAmount`` when that home-currency figure is also the invoice's (*paid_here*: the
    currency is worth one home unit, or nothing was paid). Nothing is owed on a credit note,
    nor on a paid invoice.
    """
    if kind == CREDIT_NOTE:
        return Decimal(0)
    if due is not None:
        return due
    if status in (PAID, OVERPAID, NA):
        return Decimal(0)
    if gross is None:
        return None
    if payments is not None:
        settled = sum((p.amount for p in payments if p.amount is not None), Decimal(0))
        return max(gross - settled, Decimal(0))
    if paid_here is not None:
        return max(gross - paid_here, Decimal(0))
    return None


@dataclass(frozen=True, slots=True)
class Contact:
    """A contact person of a customer."""

    name: str = ""
    email: str = ""
    telephone: str = ""
    #: ``IsPrimary``: the customer's main contact (when KashFlow says).
    is_primary: bool = False
    #: ``ReceiveEmails``: ``False`` when the contact opted out of emails; ``True`` when sent
    #: as true or not sent at all (KashFlow's documented contacts have no such field).
    receive_emails: bool = True

    @classmethod
    def from_api(cls, data: t.Any) -> Contact:
        """One entry of a customer's ``Contacts``: the name is ``Name``, else ``Firstname``
        and ``LastName``."""
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
            is_primary=parse_bool(data.get("IsPrimary")),
            # Only an explicit "no" opts out: a missing or null flag is not a refusal.
            receive_emails=data.get("ReceiveEmails") in (None, "")
            or parse_bool(data.get("ReceiveEmails")),
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
        """Where a fresh link may be emailed: valid, distinct addresses on file, in order.

        The contacts who accept emails (``ReceiveEmails`` not false), the primary contact
        first, then the customer's own ``Email`` field (which may hold several addresses,
        separated by commas or semicolons). An address of a contact who opted out is never
        used, even when the customer's ``Email`` field repeats it.
        """
        refused = {c.email.strip().lower() for c in self.contacts if not c.receive_emails}
        willing = sorted(
            (c for c in self.contacts if c.receive_emails), key=lambda c: not c.is_primary
        )
        candidates = [c.email for c in willing] + EMAIL_SEPARATORS.split(self.email)
        seen: dict[str, str] = {}
        for candidate in candidates:
            address = candidate.strip()
            key = address.lower()
            if EMAIL.fullmatch(address) and key not in seen and key not in refused:
                seen[key] = address
        return list(seen.values())
