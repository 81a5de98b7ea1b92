"""The sandbox's data store: customers and invoices shaped exactly like KashFlow's REST API v2.

Every stored dict is the full detail object that ``GET /v2/invoices/{number}`` or
``GET /v2/customers/{code}`` returns (in the default "swagger" shape), with KashFlow's
PascalCase field names. Money and rates are :class:`~decimal.Decimal` (serialised with four
decimal places, like KashFlow's ``117.5000``); dates are KashFlow-style strings in both of the
forms seen in the wild, ``"2026-10-09 12:00:00"`` and ``"2026-10-09 12:00:00 +01:00"``.

:class:`SandboxData` keeps the derived fields consistent (see :mod:`.records`): line totals,
amounts due, status, overdue days, paid dates, each customer's balances and invoice dates, and
every invoice's previous and next numbers. :func:`.demo.demo_business` builds the deterministic
demo business on it.
"""

from __future__ import annotations

import contextlib
import random
import typing as t
from datetime import date
from datetime import timedelta

from .demo_extra import add_extra_customers
from .records import DERIVED_INVOICE_FIELDS
from .records import blank_customer
from .records import complete_contacts
from .records import complete_invoice
from .records import refresh_customer
from .values import COMPANY_ADDRESS
from .values import COMPANY_NAME
from .values import JSONDict
from .values import as_kf_date
from .values import currency
from .values import document_key
from .values import kf_date


class SandboxData:
    """The sandbox's customers and invoices, with their derived fields kept consistent.

    Not thread-safe by itself: :class:`~kashflow_sandbox.KashFlowSandbox` calls it
    under its lock.
    """

    def __init__(self, *, today: date | None = None, seed: int = 7) -> None:
        #: The date statuses and overdue days are computed against.
        self.today = today or date.today()
        #: The seed of the generated data (demo and extra customers).
        self.seed = seed
        #: Full customer details by ``Code``.
        self.customers: dict[str, JSONDict] = {}
        #: Full invoice details by ``Number``.
        self.invoices: dict[int, JSONDict] = {}
        #: Where new GUIDs come from. Demo data only needs to be reproducible, not
        #: unpredictable, so one seeded generator serves every id in call order.
        self.rng = random.Random(seed)  # noqa: S311  # nosec B311
        self._next_customer_id = 9100001
        self._next_payment_id = 1000
        # While True, per-insert recomputation is skipped; see bulk_load().
        self._bulk = False

    # -- lookups ------------------------------------------------------------------------------

    def customer(self, code: str) -> JSONDict | None:
        """The customer with *code*, compared case-insensitively."""
        found = self.customers.get(code)
        if found is not None:
            return found
        wanted = code.upper()
        return next((c for k, c in self.customers.items() if k.upper() == wanted), None)

    def customer_by_key(self, key: str) -> JSONDict | None:
        """The customer whose ``Key`` GUID is *key*."""
        key = key.lower()
        return next(
            (c for c in self.customers.values() if str(c.get("Key", "")).lower() == key), None
        )

    def customer_by_id(self, customer_id: int) -> JSONDict | None:
        """The customer whose internal ``Id`` is *customer_id*."""
        return next((c for c in self.customers.values() if c.get("Id") == customer_id), None)

    def invoice_by_key(self, key: str) -> JSONDict | None:
        """The invoice whose ``Permalink`` (or packing slip permalink) ends in *key*."""
        key = key.lower()
        return next(
            (i for i in self.invoices.values() if document_key(i.get("Permalink")) == key), None
        )

    def payment_by_key(self, key: str) -> tuple[JSONDict, JSONDict] | None:
        """``(invoice, payment line)`` for the payment whose ``Permalink`` ends in *key*."""
        key = key.lower()
        for invoice in self.invoices.values():
            for payment in invoice.get("PaymentLines") or ():
                if document_key(payment.get("Permalink")) == key:
                    return invoice, payment
        return None

    def invoices_of(self, code: str) -> list[JSONDict]:
        """The invoices of customer *code*, by number."""
        wanted = code.upper()
        return [
            inv
            for _, inv in sorted(self.invoices.items())
            if str(inv.get("CustomerCode", "")).upper() == wanted
        ]

    # -- customers ----------------------------------------------------------------------------

    def add_customer(self, data: t.Mapping[str, t.Any]) -> JSONDict:
        """Store a customer built from *data*, filling every missing field with a default.

        ``Code`` is required. ``Currency`` may be an ISO code string. Contacts get
        ``IsPrimary`` (the first) and ``ReceiveEmails`` (True) unless given. The
        invoice-derived fields (``InvoiceCount``, balances, first and last invoice dates) are
        always computed.
        """
        code = data.get("Code")
        if not isinstance(code, str) or not code:
            raise ValueError("a customer needs a Code")
        if self.customer(code) is not None:
            raise ValueError(f"customer {code!r} already exists")
        name = str(data.get("Name") or code)
        created = kf_date(self.today - timedelta(days=400))
        customer = blank_customer(code, name, created, self._next_customer_id, self)
        self._next_customer_id += 1
        customer.update(data)
        customer["Contacts"] = complete_contacts(customer["Contacts"])
        if isinstance(customer["Currency"], str):
            customer["Currency"] = currency(customer["Currency"])
        for field in ("CreatedDate", "LastUpdatedDate"):
            customer[field] = as_kf_date(customer[field], "offset")
        self.customers[code] = dict(sorted(customer.items()))
        self.refresh_customer(code)
        return self.customers[code]

    def add_extra_customers(self, count: int, *, invoices_each: int = 4) -> list[str]:
        """Add *count* generated customers who owe money, for benchmarks; returns their codes.

        Codes ``EXTRA0001`` upward, each customer with *invoices_each* invoices (at least 2):
        one overdue, one not yet due, then a mix of paid, unpaid and overdue; about a third of
        those owed part-paid. The same seed, ``today`` and arguments give the same customers
        and amounts; nothing already in the store changes but the invoices' neighbours
        (``NextNumber`` of the last one).
        """
        return add_extra_customers(self, count, invoices_each)

    def refresh_customer(self, code: str) -> None:
        """Recompute the invoice-derived fields of customer *code* (if it exists)."""
        customer = self.customers.get(code)
        if customer is not None:
            refresh_customer(customer, self.invoices_of(code))

    # -- invoices -----------------------------------------------------------------------------

    def add_invoice(self, data: t.Mapping[str, t.Any]) -> JSONDict:
        """Store an invoice built from *data* (``CustomerCode`` required) and return it.

        Missing fields get defaults: the next free ``Number`` (1001 upward), ``Id``, document
        permalinks, the customer's name, address and currency, dates (issued today, due by the
        customer's payment terms), line items. Amounts are always computed from
        ``LineItems`` and ``PaymentLines``; without line items, one line is made from
        ``NetAmount``/``GrossAmount`` (and ``VATAmount``); without payment lines, one payment
        is made from ``TotalPaidAmount``. ``Status`` and ``OverdueDays`` are computed unless
        given.
        """
        number = data.get("Number")
        if number is None:
            number = max([1000, *self.invoices]) + 1
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            raise ValueError(f"invoice Number must be a positive int, not {number!r}")
        if number in self.invoices:
            raise ValueError(f"invoice {number} already exists")
        invoice = self._complete({**data, "Number": number})
        self.invoices[number] = invoice
        if not self._bulk:
            self.relink()
            self.refresh_customer(invoice["CustomerCode"])
        return invoice

    def update_invoice(self, number: int, fields: t.Mapping[str, t.Any]) -> JSONDict:
        """Change fields of invoice *number* and recompute the derived ones; returns it.

        Derived fields (amounts, status, paid dates ...) are recomputed unless passed in
        *fields*, so e.g. adding a payment line turns an Unpaid invoice Paid.
        """
        current = self.invoices.get(number)
        if current is None:
            raise KeyError(number)
        if "Number" in fields and fields["Number"] != number:
            raise ValueError("an invoice's Number cannot be changed")
        base = {k: v for k, v in current.items() if k not in DERIVED_INVOICE_FIELDS}
        # Setting an amount directly replaces the lines (or payments) it would contradict.
        if "LineItems" not in fields and {"NetAmount", "GrossAmount", "VATAmount"} & set(fields):
            base.pop("LineItems", None)
        if "PaymentLines" not in fields and "TotalPaidAmount" in fields:
            base.pop("PaymentLines", None)
        if "CustomerCode" in fields and fields["CustomerCode"] != current["CustomerCode"]:
            # A new customer brings its own name, id, currency and address unless given.
            for key in ("CustomerName", "CustomerId", "Currency", "Address"):
                base.pop(key, None)
        base.update(fields)
        invoice = self._complete(base)
        self.invoices[number] = invoice
        self.relink()
        self.refresh_customer(current["CustomerCode"])
        self.refresh_customer(invoice["CustomerCode"])
        return invoice

    def remove_invoice(self, number: int) -> None:
        """Delete invoice *number* (``KeyError`` if there is none)."""
        invoice = self.invoices.pop(number)
        self.relink()
        self.refresh_customer(invoice["CustomerCode"])

    def relink(self) -> None:
        """Set every invoice's PreviousNumber/NextNumber (0 when there is none)."""
        numbers = sorted(self.invoices)
        for index, number in enumerate(numbers):
            invoice = self.invoices[number]
            invoice["PreviousNumber"] = numbers[index - 1] if index > 0 else 0
            invoice["NextNumber"] = numbers[index + 1] if index + 1 < len(numbers) else 0

    @contextlib.contextmanager
    def bulk_load(self) -> t.Iterator[None]:
        """Add many invoices at once: neighbours and balances are recomputed once, at the end.

        Recomputing them after each of hundreds of inserts would be quadratic.
        """
        self._bulk = True
        try:
            yield
        finally:
            self._bulk = False
        self.relink()
        # Each customer's invoices in one pass, not one scan of every invoice per customer.
        mine: dict[str, list[JSONDict]] = {}
        for _, invoice in sorted(self.invoices.items()):
            mine.setdefault(str(invoice.get("CustomerCode", "")).upper(), []).append(invoice)
        for code, customer in self.customers.items():
            refresh_customer(customer, mine.get(code.upper(), []))

    def next_payment_id(self) -> int:
        """A payment id not used before (ids of generated payments count up from 1001)."""
        self._next_payment_id += 1
        return self._next_payment_id

    def _complete(self, data: t.Mapping[str, t.Any]) -> JSONDict:
        code = data.get("CustomerCode")
        customer = self.customer(code) if isinstance(code, str) else None
        if customer is None:
            raise ValueError(f"unknown CustomerCode {code!r}; add the customer first")
        return complete_invoice(data, customer, self.today, self)


__all__ = ["COMPANY_ADDRESS", "COMPANY_NAME", "JSONDict", "SandboxData"]
