"""Customers and invoices for the KashFlow sandbox, shaped exactly like KashFlow's REST API v2.

Every stored dict is the full detail object that ``GET /v2/invoices/{number}`` or
``GET /v2/customers/{code}`` returns, with KashFlow's PascalCase field names. Money and rates
are :class:`~decimal.Decimal` (serialised with four decimal places, like KashFlow's
``117.5000``); dates are KashFlow-style strings in both of the forms seen in the wild,
``"2026-10-09 12:00:00"`` and ``"2026-10-09 12:00:00 +01:00"``.

:class:`SandboxData` keeps the derived fields consistent: line totals, amounts due, status,
overdue days, paid dates, each customer's balances and invoice dates, and every invoice's
previous and next numbers. :meth:`SandboxData.demo` builds the deterministic demo business.
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

_CENT = Decimal("0.01")
_ZERO = Decimal("0.0000")
_BANK_ACCOUNT_ID = 55166
#: Payment method ids as they appear in KashFlow's examples; the names go in the note.
_METHODS = ((409844, "BACS"), (409845, "Card payment"), (409846, "Cheque"))

_CURRENCIES: dict[str, JSONDict] = {
    "GBP": {"Name": "British Pounds", "Symbol": "£", "ExchangeRate": "1.0000", "Id": 0},
    "EUR": {"Name": "Euros", "Symbol": "€", "ExchangeRate": "1.1650", "Id": 1},
    "USD": {"Name": "US Dollars", "Symbol": "$", "ExchangeRate": "1.2700", "Id": 2},
    "JPY": {"Name": "Japanese Yen", "Symbol": "¥", "ExchangeRate": "190.0000", "Id": 3},
}

#: Fields of an invoice that :class:`SandboxData` computes. ``update_invoice`` recomputes them
#: unless the caller passes a value explicitly.
DERIVED_INVOICE_FIELDS = frozenset(
    {
        "NetAmount",
        "VATAmount",
        "GrossAmount",
        "TotalPaidAmount",
        "DueAmount",
        "HomeCurrencyGrossAmount",
        "Status",
        "OverdueDays",
        "PaidDate",
        "LastPaymentDate",
        "PreviousNumber",
        "NextNumber",
    }
)

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
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def currency(code: str, **overrides: t.Any) -> JSONDict:
    """A KashFlow ``Currency`` object for ISO *code*, e.g. ``currency("EUR")``."""
    try:
        known = _CURRENCIES[code]
    except KeyError:
        raise ValueError(f"unknown currency {code!r}; known: {', '.join(_CURRENCIES)}") from None
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


def _as_kf_date(value: t.Any, style: DateStyle) -> str | None:
    """Accept a :class:`date`, :class:`datetime`, KashFlow string or None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return kf_date(value, style)
    parse_kf_date(value)  # validates
    return str(value)


def _guid(rng: random.Random) -> str:
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
    """
    if gross == 0:
        return "NA"
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


def invoice_summary(invoice: t.Mapping[str, t.Any]) -> JSONDict:
    """The list form of *invoice*, as ``GET /v2/invoices`` returns it.

    KashFlow's list omits the document links and reminder letters and nulls out the
    collections (see the documented list example), so a client must call the detail endpoint
    for permalinks and line items.
    """
    summary = {
        key: value
        for key, value in invoice.items()
        if key not in {"Permalink", "PackingSlipPermalink", "ReminderLetters"}
    }
    summary["LineItems"] = None
    summary["PaymentLines"] = None
    summary["DeliveryAddress"] = None
    return summary


# --- the store -------------------------------------------------------------------------------


class SandboxData:
    """The sandbox's customers and invoices, with their derived fields kept consistent.

    Not thread-safe by itself: :class:`~flask_kashflow_links.testing.KashFlowSandbox` calls it
    under its lock.
    """

    def __init__(self, *, today: date | None = None, seed: int = 7) -> None:
        #: The date statuses and overdue days are computed against.
        self.today = today or date.today()
        #: Full customer details by ``Code``.
        self.customers: dict[str, JSONDict] = {}
        #: Full invoice details by ``Number``.
        self.invoices: dict[int, JSONDict] = {}
        # Demo data only needs to be reproducible, not unpredictable.
        self._rng = random.Random(seed)  # noqa: S311  # nosec B311
        self._next_customer_id = 9100001
        self._next_payment_id = 1000
        # While True, per-insert recomputation is skipped; see _bulk_load().
        self._bulk = False

    @classmethod
    def demo(cls, *, today: date | None = None, seed: int = 7) -> SandboxData:
        """The demo business: the documented examples plus generated customers and invoices."""
        data = cls(today=today, seed=seed)
        _build_demo(data)
        return data

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

        ``Code`` is required. ``Currency`` may be an ISO code string. The invoice-derived
        fields (``InvoiceCount``, balances, first and last invoice dates) are always computed.
        """
        code = data.get("Code")
        if not isinstance(code, str) or not code:
            raise ValueError("a customer needs a Code")
        if self.customer(code) is not None:
            raise ValueError(f"customer {code!r} already exists")
        name = str(data.get("Name") or code)
        created = kf_date(self.today - timedelta(days=400))
        customer: JSONDict = {
            "Addresses": [],
            "ApplyWHT": False,
            "AutoIncludeVATNumber": False,
            "AutomaticCreditControlEnabled": False,
            "AverageDaysToPay": 0,
            "Code": code,
            "Contacts": [],
            "CreateCustomerCodeIfDuplicate": False,
            "CreateCustomerNameIfEmptyOrNull": False,
            "CreatedDate": created,
            "Currency": currency("GBP"),
            "CustomCheckBoxes": [],
            "CustomTextBoxes": [],
            "DefaultCustomerReference": "",
            "DefaultNominalCode": 4000,
            "DeliveryAddresses": [],
            "DiscountRate": _ZERO,
            "DisplayName": name,
            "Email": "",
            "EmailTemplateNumber": 0,
            "EnvelopeUrl": f"/v2/documents/customers/{_guid(self._rng)}",
            "FaxNumber": "",
            "FirstInvoiceDate": NO_DATE,
            "Id": self._next_customer_id,
            "InvoiceCount": 0,
            "InvoiceFileFormat": None,
            "InvoicedNetAmount": _ZERO,
            "InvoicedVATAmount": _ZERO,
            "IsArchived": False,
            "IsGoCardlessMandateSet": False,
            "IsRegisteredInEC": False,
            "IsRegisteredOutsideEC": False,
            "Key": _guid(self._rng),
            "LastInvoiceDate": NO_DATE,
            "LastUpdatedDate": created,
            "MobileNumber": "",
            "Name": name,
            "Note": None,
            "OutstandingBalance": _ZERO,
            "OverrideInvoiceFileFormat": False,
            "PDFThemeId": 0,
            "PaymentTerms": {"Days": 30, "Type": "AfterIssuedDate"},
            "ReceivesWholesalePricing": False,
            "ShowDiscount": False,
            "Source": 0,
            "TelephoneNumber": "",
            "TotalPaidAmount": _ZERO,
            "UniqueEntityNumber": "",
            "UseCustomDeliveryAddress": False,
            "VATNumber": "",
            "WHTRate": _ZERO,
            "WHTReferences": [],
            "Website": "",
        }
        self._next_customer_id += 1
        customer.update(data)
        if isinstance(customer["Currency"], str):
            customer["Currency"] = currency(customer["Currency"])
        for field in ("CreatedDate", "LastUpdatedDate"):
            customer[field] = _as_kf_date(customer[field], "offset")
        self.customers[code] = dict(sorted(customer.items()))
        self._refresh_customer(code)
        return self.customers[code]

    def _refresh_customer(self, code: str) -> None:
        customer = self.customers.get(code)
        if customer is None:
            return
        invoices = sorted(
            self.invoices_of(code), key=lambda i: (parse_kf_date(i["IssuedDate"]), i["Number"])
        )
        customer["InvoiceCount"] = len(invoices)
        customer["InvoicedNetAmount"] = sum((i["NetAmount"] for i in invoices), _ZERO)
        customer["InvoicedVATAmount"] = sum((i["VATAmount"] for i in invoices), _ZERO)
        customer["TotalPaidAmount"] = sum((i["TotalPaidAmount"] for i in invoices), _ZERO)
        # "Total amount of unpaid and overdue invoices" (KashFlow's field description).
        customer["OutstandingBalance"] = sum(
            (i["DueAmount"] for i in invoices if i["Status"] in ("Unpaid", "Overdue")), _ZERO
        )
        customer["FirstInvoiceDate"] = invoices[0]["IssuedDate"] if invoices else NO_DATE
        customer["LastInvoiceDate"] = invoices[-1]["IssuedDate"] if invoices else NO_DATE
        days = [
            (parse_kf_date(i["PaidDate"]) - parse_kf_date(i["IssuedDate"])).days
            for i in invoices
            if i.get("PaidDate")
        ]
        customer["AverageDaysToPay"] = round(sum(days) / len(days)) if days else 0

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
        invoice = self._complete_invoice({**data, "Number": number})
        self.invoices[number] = invoice
        if not self._bulk:
            self._relink()
            self._refresh_customer(invoice["CustomerCode"])
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
        invoice = self._complete_invoice(base)
        self.invoices[number] = invoice
        self._relink()
        self._refresh_customer(current["CustomerCode"])
        self._refresh_customer(invoice["CustomerCode"])
        return invoice

    def remove_invoice(self, number: int) -> None:
        """Delete invoice *number* (``KeyError`` if there is none)."""
        invoice = self.invoices.pop(number)
        self._relink()
        self._refresh_customer(invoice["CustomerCode"])

    def _relink(self) -> None:
        """Set every invoice's PreviousNumber/NextNumber (0 when there is none)."""
        numbers = sorted(self.invoices)
        for index, number in enumerate(numbers):
            invoice = self.invoices[number]
            invoice["PreviousNumber"] = numbers[index - 1] if index > 0 else 0
            invoice["NextNumber"] = numbers[index + 1] if index + 1 < len(numbers) else 0

    def _complete_invoice(self, data: t.Mapping[str, t.Any]) -> JSONDict:
        code = data.get("CustomerCode")
        customer = self.customer(code) if isinstance(code, str) else None
        if customer is None:
            raise ValueError(f"unknown CustomerCode {code!r}; add the customer first")
        number: int = data["Number"]
        given = {k: v for k, v in data.items() if v is not None or k not in DERIVED_INVOICE_FIELDS}

        # The date form of an invoice follows its IssuedDate, so each invoice is consistent.
        issued_raw = given.get("IssuedDate")
        style: DateStyle = date_style(issued_raw) if isinstance(issued_raw, str) else "offset"
        issued_text = _as_kf_date(issued_raw, style) or kf_date(self.today, style)
        issued = parse_kf_date(issued_text)
        due_text = _as_kf_date(given.get("DueDate"), style) or kf_date(
            due_date(issued, customer.get("PaymentTerms")), style
        )
        due = parse_kf_date(due_text)

        cur = given.get("Currency") or customer.get("Currency") or currency("GBP")
        cur = currency(cur) if isinstance(cur, str) else dict(cur)
        default_vat = Decimal("20.0000") if cur.get("Code") == "GBP" else _ZERO

        raw_lines = given.get("LineItems")
        if raw_lines is None:
            vat = to_decimal(given.get("VATAmount", 0))
            if "NetAmount" in given:
                net = to_decimal(given["NetAmount"])
            else:
                net = to_decimal(given.get("GrossAmount", 0)) - vat
            raw_lines = [
                {"Description": "Goods and services", "Rate": net, "VATAmount": vat}
                | ({"VATLevel": money(vat * 100 / net)} if net else {"VATLevel": _ZERO})
            ]
        lines = [self._complete_line(i, line, default_vat) for i, line in enumerate(raw_lines)]
        net_total = sum((line["Quantity"] * line["Rate"] for line in lines), _ZERO)
        vat_total = sum((line["VATAmount"] for line in lines), _ZERO)
        gross = net_total + vat_total

        raw_payments = given.get("PaymentLines")
        if raw_payments is None:
            paid_given = to_decimal(given.get("TotalPaidAmount", 0))
            raw_payments = [{"Amount": paid_given}] if paid_given else []
        payments = [self._complete_payment(p, number, issued_text, style) for p in raw_payments]
        paid = sum((p["Amount"] for p in payments), _ZERO)

        paid_date: str | None = None
        running = _ZERO
        for payment in sorted(payments, key=lambda p: parse_kf_date(p["Date"])):
            running += payment["Amount"]
            if gross > 0 and running >= gross:
                paid_date = payment["Date"]
                break
        last_payment = max(payments, key=lambda p: parse_kf_date(p["Date"]), default=None)

        status = given.get("Status") or compute_status(gross, paid, due, self.today)
        overdue_days = given.get("OverdueDays")
        if overdue_days is None:
            overdue_days = max((self.today - due).days, 0) if status == "Overdue" else 0
        rate = to_decimal(cur.get("ExchangeRate") or 1)
        invoice_key = document_key(given.get("Permalink")) or _guid(self._rng)
        use_delivery = bool(given.get("UseCustomDeliveryAddress", False))
        delivery = None
        if use_delivery:
            delivery = given.get("DeliveryAddress") or next(
                iter(customer.get("DeliveryAddresses") or ()), None
            )

        invoice: JSONDict = {
            "Address": next(iter(customer.get("Addresses") or ()), None),
            "AutomaticCreditControlEnabled": bool(customer.get("AutomaticCreditControlEnabled")),
            "CustomerCode": customer["Code"],
            "CustomerDiscount": 0,
            "CustomerId": customer["Id"],
            "CustomerName": customer.get("DisplayName") or customer.get("Name"),
            "CustomerReference": "",
            "EmailCount": 0,
            "Id": 600000 + number,
            "InvoiceInECMemberState": False,
            "InvoiceOutsideECMemberState": cur.get("Code") != "GBP",
            "IsWhtDeductionToBeApplied": False,
            "PackingSlipPermalink": f"v2/documents/packingslip/{invoice_key}",
            "PayOnlinePaymentProcessor": 0,
            "ReminderLetters": [],
            "SuppressNumber": 0,
            "UpdateCustomerAddress": False,
            "UpdateCustomerDeliveryAddress": False,
            "VATNumber": "",
        }
        invoice.update(given)
        invoice.update(
            {
                "Currency": cur,
                "CustomerCode": customer["Code"],
                "DeliveryAddress": delivery,
                "DueAmount": max(gross - paid, _ZERO),
                "DueDate": due_text,
                "GrossAmount": gross,
                "HomeCurrencyGrossAmount": money(gross / rate) if rate else gross,
                "IssuedDate": issued_text,
                "LastPaymentDate": last_payment["Date"] if last_payment else None,
                "LineItems": lines,
                "NetAmount": net_total,
                "Number": number,
                "OverdueDays": int(overdue_days),
                "PaidDate": paid_date,
                "PaymentLines": payments,
                "Permalink": f"/v2/documents/invoice/{invoice_key}",
                "Status": status,
                "TotalPaidAmount": paid,
                "UseCustomDeliveryAddress": use_delivery,
                "VATAmount": vat_total,
            }
        )
        for field in ("PreviousNumber", "NextNumber"):
            invoice.setdefault(field, 0)
        # KashFlow (a .NET DataContract serialiser) emits fields in alphabetical order.
        return dict(sorted(invoice.items()))

    def _complete_line(
        self, index: int, line: t.Mapping[str, t.Any], default_vat: Decimal
    ) -> JSONDict:
        quantity = to_decimal(line.get("Quantity", 1))
        rate = to_decimal(line.get("Rate", 0))
        level = to_decimal(line.get("VATLevel", default_vat))
        vat = (
            to_decimal(line["VATAmount"])
            if line.get("VATAmount") is not None
            else money(quantity * rate * level / 100)
        )
        out: JSONDict = {
            "ApplyTax1": False,
            "ApplyTax2": False,
            "ApplyTax3": False,
            "ApplyTax4": False,
            "ApplyTax5": False,
            "Description": "",
            "NominalCode": 4000,
            "ProductCode": "",
            "ProductName": "",
            "ProjectNumber": 0,
            "Tax1Amount": _ZERO,
            "Tax2Amount": _ZERO,
            "Tax3Amount": _ZERO,
            "Tax4Amount": _ZERO,
            "Tax5Amount": _ZERO,
            "VATExempt": 0,
        }
        out.update(line)
        out.update(
            {
                # Line numbers are 1-based; 0 means "new line" in KashFlow's PUT, so renumber.
                "Number": int(line.get("Number") or index + 1),
                "Quantity": quantity,
                "Rate": rate,
                "VATAmount": vat,
                "VATLevel": level,
            }
        )
        return dict(sorted(out.items()))

    def _complete_payment(
        self, payment: t.Mapping[str, t.Any], number: int, issued: str, style: DateStyle
    ) -> JSONDict:
        method, note = _METHODS[0]
        out: JSONDict = {
            "AccountId": _BANK_ACCOUNT_ID,
            "Method": method,
            "Note": note,
        }
        out.update(payment)
        payment_id = payment.get("Id")
        if payment_id is None:
            self._next_payment_id += 1
            payment_id = self._next_payment_id
        key = document_key(payment.get("Permalink")) or _guid(self._rng)
        out.update(
            {
                "Amount": to_decimal(payment.get("Amount", 0)),
                "Date": _as_kf_date(payment.get("Date"), style) or issued,
                "Id": payment_id,
                "InvoiceNumber": number,
                "Permalink": f"/v2/documents/invoice/payment/{key}",
            }
        )
        return dict(sorted(out.items()))


# --- the demo business -----------------------------------------------------------------------


def _address(
    line1: str,
    line2: str | None,
    line3: str | None,
    post_code: str | None,
    country_code: str,
    country_name: str,
    line4: str | None = None,
) -> JSONDict:
    return {
        "CountryCode": country_code,
        "CountryName": country_name,
        "Line1": line1,
        "Line2": line2,
        "Line3": line3,
        "Line4": line4,
        "PostCode": post_code,
    }


def _contact(
    email: str,
    name: str | None = None,
    first: str | None = None,
    last: str | None = None,
    telephone: str | None = None,
    title: str | None = None,
) -> JSONDict:
    return {
        "Email": email,
        "Fax": None,
        "Firstname": first,
        "LastName": last,
        "Mobile": None,
        "Name": name,
        "Telephone": telephone,
        "Title": title,
        "Website": "",
    }


#: (description, product code, product name, nominal code, GBP rate, quantity kind, VAT %)
_CATALOGUE: tuple[tuple[str, str, str, int, str, str, str], ...] = (
    ("Consultancy", "CONS", "Consultancy (per hour)", 4000, "85.00", "hours", "20"),
    ("Website hosting, monthly plan", "HOST-M", "Hosting", 4010, "25.00", "units", "20"),
    ("Domain name renewal (1 year)", "DOM-1Y", "Domain renewal", 4010, "14.99", "units", "20"),
    ("Stainless steel widgets, box of 100", "WID-100", "Widgets", 4020, "42.50", "units", "20"),
    ("Delivery", "DEL", "Delivery", 4900, "9.95", "one", "20"),
    ("Annual support retainer", "SUP-A", "Support", 4000, "450.00", "one", "20"),
    ("On-site training day", "TRN-D", "Training", 4000, "650.00", "days", "20"),
    ("Design work", "DES", "Design (per hour)", 4000, "60.00", "hours", "20"),
    ("Printed reference manual", "BOOK-1", "Manual", 4030, "19.50", "units", "0"),
)

_LONG_NAME = (
    "The Extraordinarily Long-Named Consolidated Amalgamated Widget, Sprocket, Flange and "
    "General Precision Engineering Supplies Company of Greater Manchester Limited"
)

#: Fixed invoice numbers of ACME01 (1043 is the one the docs and demos refer to).
ACME_NUMBERS = (1004, 1015, 1027, 1043, 1066, 1098, 1131, 1167, 1203, 1240, 1268, 1283)
#: How many generated invoices each other customer gets.
_OTHER_COUNTS = {
    "BIGCO01": 260,
    "MULLER01": 4,
    "LONG01": 2,
    "ALUFUQ01": 3,
    "SAKURA01": 3,
    "BALA01": 1,
}
_FIRST_GENERATED = 1001


def _build_demo(data: SandboxData) -> None:
    _add_documented_customers(data)
    _add_generated_customers(data)
    # Recomputing neighbours and balances after each of ~300 inserts is quadratic; do it once.
    data._bulk = True
    try:
        _add_documented_invoices(data)
        _add_generated_invoices(data)
    finally:
        data._bulk = False
    data._relink()
    for code in data.customers:
        data._refresh_customer(code)


def _add_documented_customers(data: SandboxData) -> None:
    """The customers of KashFlow's documentation, with the invalid JSON fixed up."""
    data.add_customer(
        {
            "Code": "TCUST01",
            "Id": 136514,
            "Name": "John Smith",
            "DisplayName": "John Smith, CR21 4RT",
            "Contacts": [
                _contact("john.smith@example.com", "John Smith", "John", "Smith", "020 7946 0001")
            ],
            "Addresses": [_address("12 High Street", "Croydon", "Surrey", "CR21 4RT", "GB", "UK")],
            "PaymentTerms": {"Days": 28, "Type": "AfterIssuedDate"},
            "AutomaticCreditControlEnabled": True,
            "CreatedDate": "2008-03-01 12:00:00",
            "LastUpdatedDate": "2008-03-01 12:00:00",
        }
    )
    data.add_customer(
        {
            "Code": "TCUST02",
            "Id": 280459,
            "Name": "KashFlow Customer",
            "DisplayName": "KashFlow Customer, CM19 4PT",
            "Contacts": [_contact("accounts@example.org", "Accounts Department")],
            "Addresses": [
                _address("1 Example Road", "Harlow", "Essex", "CM19 4PT", "GB", "United Kingdom")
            ],
            "CreatedDate": "2008-04-01 12:00:00",
            "LastUpdatedDate": "2012-10-09 12:00:00 +05:30",
        }
    )
    for code, cid, email, terms, avg in (
        ("BALA01", 7925606, "balazs.holenda@example.com", 0, 5),
        ("BALA02", 12469289, "balazs.holenda@example.org", 30, 0),
    ):
        data.add_customer(
            {
                "Code": code,
                "Id": cid,
                "Name": "Balazs Holenda",
                # The documented list example really has an empty DisplayName and no address.
                "DisplayName": "",
                "Addresses": None,
                "DeliveryAddresses": None,
                "Contacts": [_contact(email)],
                "Currency": currency("EUR", ExchangeRate=Decimal("1.0000")),
                "DefaultNominalCode": 4905,
                "PaymentTerms": {"Days": terms, "Type": "AfterIssuedDate"},
                "AverageDaysToPay": avg,
                "CreatedDate": None,
                "LastUpdatedDate": None,
            }
        )
    doncaster = _address(
        "1 Ashwood Close",
        "Branton",
        "Doncaster, South Yorkshire",
        "DN3 3UB",
        "GB",
        "United Kingdom",
    )
    doncaster["Line4"] = "GB"
    data.add_customer(
        {
            "Code": "PDRI91",
            "Id": 10535,
            "Key": "a397a2e9-87f3-48ca-9bd0-1ad64585c0eb",
            "Name": "дравс дравс др",
            "DisplayName": "дравс дравс др, DN3 3UB",
            "ApplyWHT": True,
            "WHTRate": Decimal("12.0000"),
            "WHTReferences": [
                {"Name": "UTR No", "Value": "321"},
                {"Name": "Company Reg. Number", "Value": "333"},
                {"Name": "NI number", "Value": "5555"},
                {"Name": "Verification Number", "Value": "55533"},
            ],
            "Contacts": [_contact("pdri91@example.test")],
            "CreatedDate": "2013-02-05 12:00:00 +05:30",
            "LastUpdatedDate": "2013-02-05 12:00:00 +05:30",
            "CustomCheckBoxes": [
                {"Name": "FirstCheckbox", "Value": "1"},
                {"Name": "SecondCheckbox", "Value": "1"},
                {"Name": "ThirdCheckBox", "Value": "1"},
            ],
            "CustomTextBoxes": [
                {"Name": "FirstName", "Value": "kjhkjh"},
                {"Name": "LastName", "Value": "kjhkjh"},
            ],
            "Addresses": [doncaster],
            "DeliveryAddresses": [dict(doncaster)],
            "UseCustomDeliveryAddress": True,
            "DefaultNominalCode": 1,
            "EmailTemplateNumber": 6,
            "InvoiceFileFormat": "test",
            "OverrideInvoiceFileFormat": True,
            "IsGoCardlessMandateSet": True,
            "Note": "test note",
            "PaymentTerms": {"Days": 50, "Type": "AfterMonthEnd"},
            "Source": 43400,
            "EnvelopeUrl": "/v2/documents/customers/c91b10ad-1ec8-40c8-8e8b-839fbbc3055b",
            "PDFThemeId": 456,
        }
    )


def _add_documented_invoices(data: SandboxData) -> None:
    """Invoices 1-3 of the documented list and the documented detail example (as number 4).

    The documentation's paid amounts exceed the totals while the status says Overdue; here
    the payments are made consistent with the Overdue status instead.
    """
    common = {"VATNumber": None, "CustomerReference": ""}
    data.add_invoice(
        {
            **common,
            "Number": 1,
            "Id": 266693,
            "CustomerCode": "TCUST01",
            "IssuedDate": "2008-03-11 12:00:00",
            "DueDate": "2008-04-08 12:00:00",
            "EmailCount": 3,
            "AutomaticCreditControlEnabled": True,
            "LineItems": [
                {"Description": "Consultancy services, March 2008", "Rate": "1100.00"}
                | {"VATLevel": 0, "ProductCode": "CONS", "ProductName": "Consultancy"}
            ],
            "PaymentLines": [],
            "ReminderLetters": [
                {"IsSent": True, "Number": 1, "SentDate": "2008-04-15 12:00:00"},
                {"IsSent": True, "Number": 2, "SentDate": "2008-05-02 12:00:00"},
            ],
        }
    )
    data.add_invoice(
        {
            **common,
            "Number": 2,
            "Id": 490022,
            "CustomerCode": "TCUST01",
            "IssuedDate": "2008-04-01 12:00:00",
            "DueDate": "2008-08-26 12:00:00",
            "AutomaticCreditControlEnabled": False,
            "LineItems": [
                {"Description": "Consultancy services, April 2008", "Rate": "1000.00"}
                | {"VATLevel": 0, "ProductCode": "CONS", "ProductName": "Consultancy"}
            ],
            "PaymentLines": [
                {"Amount": "400.00", "Date": "2008-09-30 12:00:00", "Note": "Part payment"}
            ],
            "ReminderLetters": [{"IsSent": True, "Number": 1, "SentDate": "2008-09-02 12:00:00"}],
        }
    )
    data.add_invoice(
        {
            **common,
            "Number": 3,
            "Id": 490024,
            "CustomerCode": "TCUST02",
            "IssuedDate": "2008-04-17 12:00:00",
            "DueDate": "2008-09-16 12:00:00",
            "AutomaticCreditControlEnabled": False,
            "LineItems": [
                {"Description": "Monthly service", "Quantity": 12, "Rate": "126.00"}
                | {"VATLevel": 0, "ProductCode": "SVC-M", "ProductName": "Service"}
            ],
            "PaymentLines": [],
            "ReminderLetters": [{"IsSent": True, "Number": 1, "SentDate": "2008-09-23 12:00:00"}],
        }
    )
    data.add_invoice(
        {
            "Number": 4,
            "Id": 196172,
            "CustomerCode": "TCUST02",
            "IssuedDate": "2012-10-09 12:00:00 +05:30",
            "DueDate": "2012-10-09 12:00:00 +05:30",
            "Address": _address("123 Tooley Street", None, None, None, "BR", "Brazil"),
            "AutomaticCreditControlEnabled": True,
            "InvoiceOutsideECMemberState": True,
            "IsWhtDeductionToBeApplied": True,
            "Permalink": "/v2/documents/invoice/3a22b041-8d45-496a-946d-bd2252a0d28c",
            "LineItems": [
                {
                    "NominalCode": 2341,
                    "Description": "",
                    "Number": 1,
                    "ProductCode": "510",
                    "ProductName": "Mobile",
                    "Quantity": "10.0000",
                    "Rate": "10.0000",
                    "VATAmount": "17.5000",
                    "VATLevel": "17.5000",
                }
            ],
            "PaymentLines": [
                {
                    "AccountId": 55166,
                    "Amount": "110.5000",
                    "Id": 2,
                    "Date": "2012-10-09 12:00:00 +05:30",
                    "Method": 409844,
                    "Note": "Test Payment",
                    "Permalink": (
                        "/v2/documents/invoice/payment/3a22b041-8d45-496a-946d-bd2252a0d28c"
                    ),
                },
                {
                    "AccountId": 55166,
                    "Amount": "7.0000",
                    "Id": 53,
                    "Date": "2012-10-09 12:00:00 +05:30",
                    "Method": 409844,
                    "Note": "",
                    "Permalink": (
                        "/v2/documents/invoice/payment/3a22b041-8d45-496a-946d-bd2252a0d546"
                    ),
                },
            ],
        }
    )


def _add_generated_customers(data: SandboxData) -> None:
    data.add_customer(
        {
            "Code": "ACME01",
            "Name": "Acme Trading Ltd",
            "Contacts": [
                _contact(
                    "accounts@acme-trading.test",
                    "Priya Shah",
                    "Priya",
                    "Shah",
                    "0161 496 0123",
                    "Ms",
                )
            ],
            "Addresses": [
                _address(
                    "Unit 4, Example Business Park",
                    "Salford",
                    "Greater Manchester",
                    "M50 9ZZ",
                    "GB",
                    "United Kingdom",
                )
            ],
            "PaymentTerms": {"Days": 30, "Type": "AfterIssuedDate"},
            "AutomaticCreditControlEnabled": True,
            "VATNumber": "GB 123 4567 89",
        }
    )
    data.add_customer(
        {
            "Code": "BIGCO01",
            "Name": "Bigco Holdings plc",
            "Contacts": [
                _contact("ap@bigco-holdings.test", "Accounts Payable"),
                _contact(
                    "tom.baker@bigco-holdings.test", "Tom Baker", "Tom", "Baker", "020 7946 0999"
                ),
            ],
            "Addresses": [
                _address(
                    "Bigco House", "100 Example Way", "London", "EC1A 9ZZ", "GB", "United Kingdom"
                )
            ],
            "DeliveryAddresses": [
                _address(
                    "Goods In, Bigco Warehouse",
                    "Dock Road",
                    "Tilbury",
                    "RM18 9ZZ",
                    "GB",
                    "United Kingdom",
                )
            ],
            "UseCustomDeliveryAddress": True,
            "PaymentTerms": {"Days": 30, "Type": "AfterMonthEnd"},
            "DefaultCustomerReference": "PO-",
        }
    )
    data.add_customer(
        {
            "Code": "MULLER01",
            "Name": "Müller & Söhne GmbH",
            "Contacts": [
                _contact("buchhaltung@mueller-soehne.test", "Jürgen Müller", "Jürgen", "Müller")
            ],
            "Addresses": [_address("Königstraße 12", "Stuttgart", None, "70173", "DE", "Germany")],
            # Prices such as "1.234,50 €": the symbol goes after the amount.
            "Currency": currency("EUR", DisplaySymbolOnRight=True),
            "PaymentTerms": {"Days": 14, "Type": "AfterIssuedDate"},
            "IsRegisteredOutsideEC": True,
            "VATNumber": "DE123456789",
        }
    )
    data.add_customer(
        {
            "Code": "LONG01",
            "Name": _LONG_NAME,
            "Contacts": [_contact("ap@extraordinarily-long.example.org", "Accounts")],
            "Addresses": [
                _address(
                    "The Very Long Building Name Industrial Estate, Unit 123456",
                    "Somewhere-on-the-Long-Road-near-Manchester",
                    "Greater Manchester",
                    "M1 9ZZ",
                    "GB",
                    "United Kingdom",
                )
            ],
        }
    )
    data.add_customer(
        {
            "Code": "ALUFUQ01",
            "Name": "شركة الأفق للتجارة العامة ذ.م.م",
            "Contacts": [_contact("finance@alufuq.test", "خالد المنصوري", "خالد", "المنصوري")],
            "Addresses": [
                _address(
                    "برج الأفق، شارع الشيخ زايد", "دبي", None, None, "AE", "United Arab Emirates"
                )
            ],
            "Currency": currency("USD"),
            "PaymentTerms": {"Days": 45, "Type": "AfterIssuedDate"},
            "IsRegisteredOutsideEC": True,
        }
    )
    data.add_customer(
        {
            "Code": "SAKURA01",
            "Name": "株式会社さくら商事",
            "Contacts": [_contact("keiri@sakura-shoji.test", "山田 太郎", "太郎", "山田")],
            "Addresses": [_address("丸の内1-1-1", "千代田区", "東京都", "100-0005", "JP", "Japan")],
            "Currency": currency("JPY"),
            "PaymentTerms": {"Days": 30, "Type": "AfterMonthEnd"},
            "IsRegisteredOutsideEC": True,
        }
    )


def _slot_codes(rng: random.Random) -> list[str]:
    """Which customer gets each generated invoice number, 1001 upward."""
    others = [code for code, count in _OTHER_COUNTS.items() for _ in range(count)]
    rng.shuffle(others)
    total = len(others) + len(ACME_NUMBERS)
    codes: list[str] = []
    for number in range(_FIRST_GENERATED, _FIRST_GENERATED + total):
        codes.append("ACME01" if number in ACME_NUMBERS else others.pop())
    return codes


def _pick_status(rng: random.Random, not_yet_due: bool) -> str:
    if not_yet_due:
        choices, weights = ("Unpaid", "Paid", "Overpaid", "NA"), (60, 25, 5, 10)
    else:
        choices, weights = ("Paid", "Overdue", "Overpaid", "NA"), (70, 20, 5, 5)
    return rng.choices(choices, weights)[0]


def _line_items(rng: random.Random, code: str, target: str) -> list[JSONDict]:
    cur = str(currency_code_of(code))
    if target == "NA":
        return [
            {
                "Description": "Warranty replacement, no charge",
                "ProductCode": "WAR",
                "ProductName": "Warranty",
                "NominalCode": 4000,
                "Quantity": Decimal(1),
                "Rate": Decimal(0),
                "VATLevel": Decimal(20 if cur == "GBP" else 0),
            }
        ]
    count = rng.choices((1, 2, 3, 4, 5, 6), (30, 25, 20, 12, 8, 5))[0]
    lines: list[JSONDict] = []
    for item in rng.sample(_CATALOGUE, count):
        description, product_code, product_name, nominal, gbp, kind, vat = item
        rate = Decimal(gbp)
        if cur == "JPY":
            rate = (rate * 190).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        elif cur != "GBP":
            rate = money(rate * to_decimal(_CURRENCIES[cur]["ExchangeRate"]))
        if kind == "hours":
            quantity = Decimal(rng.choice(("1", "1.5", "2", "2.5", "3", "4", "6", "7.5", "8")))
            # Keep line totals in whole pence: half hours only at even-penny rates.
            if (rate * 100) % 2:
                quantity = quantity.to_integral_value(rounding=ROUND_HALF_UP)
        elif kind == "units":
            quantity = Decimal(rng.randint(1, 10))
        elif kind == "days":
            quantity = Decimal(rng.randint(1, 3))
        else:
            quantity = Decimal(1)
        lines.append(
            {
                "Description": description,
                "ProductCode": product_code,
                "ProductName": product_name,
                "NominalCode": nominal,
                "Quantity": quantity,
                "Rate": rate,
                # Exports outside the UK are zero-rated.
                "VATLevel": Decimal(vat if cur == "GBP" else 0),
            }
        )
    return lines


_DEMO_CURRENCY = {
    "BIGCO01": "GBP",
    "ACME01": "GBP",
    "LONG01": "GBP",
    "MULLER01": "EUR",
    "BALA01": "EUR",
    "ALUFUQ01": "USD",
    "SAKURA01": "JPY",
}


def currency_code_of(code: str) -> str:
    """The currency of a generated demo customer."""
    return _DEMO_CURRENCY.get(code, "GBP")


def _gross_of(lines: list[JSONDict]) -> Decimal:
    return sum(
        (
            line["Quantity"] * line["Rate"]
            + money(line["Quantity"] * line["Rate"] * line["VATLevel"] / 100)
            for line in lines
        ),
        _ZERO,
    )


def _payments(
    rng: random.Random,
    target: str,
    gross: Decimal,
    issued: date,
    due: date,
    today: date,
    style: DateStyle,
    code: str,
) -> list[JSONDict]:
    def on(day: date) -> str:
        return kf_date(min(max(day, issued), today), style)

    def payment(amount: Decimal, day: date) -> JSONDict:
        method, note = rng.choice(_METHODS)
        return {"Amount": amount, "Date": on(day), "Method": method, "Note": note}

    whole = Decimal(1) if currency_code_of(code) == "JPY" else _CENT
    terms = max((due - issued).days, 1)
    if target in ("Paid", "Overpaid"):
        first_day = issued + timedelta(days=rng.randint(1, terms + 15))
        if rng.random() < 0.3:
            part = (gross * Decimal(rng.randint(30, 70)) / 100).quantize(whole)
            second_day = first_day + timedelta(days=rng.randint(1, 20))
            lines = [payment(part, first_day), payment(gross - part, second_day)]
        else:
            lines = [payment(gross, first_day)]
        if target == "Overpaid":
            extra = Decimal(rng.choice(("0.50", "5.00", "10.00", "25.00")))
            if whole == 1:
                extra = extra * 100
            extra_day = parse_kf_date(lines[-1]["Date"]) + timedelta(days=rng.randint(0, 10))
            lines.append(payment(extra, extra_day) | {"Note": "Paid twice in error"})
        return lines
    if target in ("Unpaid", "Overdue") and rng.random() < 0.35:
        part = (gross * Decimal(rng.randint(20, 60)) / 100).quantize(whole)
        return [payment(part, issued + timedelta(days=rng.randint(1, terms)))]
    return []


def _reminders(due: date, today: date) -> list[JSONDict]:
    letters: list[JSONDict] = []
    for number, after in enumerate((7, 21, 35), start=1):
        sent = due + timedelta(days=after)
        if sent > today:
            break
        letters.append({"IsSent": True, "Number": number, "SentDate": kf_date(sent, "plain")})
    if not letters:
        letters.append({"IsSent": True, "Number": 1, "SentDate": kf_date(today, "plain")})
    return letters


def _add_generated_invoices(data: SandboxData) -> None:
    rng = data._rng
    today = data.today
    codes = _slot_codes(rng)
    count = len(codes)
    first_day = today - timedelta(days=720)

    plans: list[dict[str, t.Any]] = []
    for index, code in enumerate(codes):
        number = _FIRST_GENERATED + index
        issued = first_day + timedelta(days=index * 716 // (count - 1))
        customer = data.customers[code]
        due = due_date(issued, customer["PaymentTerms"])
        plans.append(
            {
                "number": number,
                "code": code,
                "issued": issued,
                "due": due,
                "target": _pick_status(rng, due >= today),
            }
        )

    # Guarantees the docs and tests rely on, fixed after the random draw so that the rest of
    # the data does not shift when these rules change.
    by_number = {plan["number"]: plan for plan in plans}
    by_number[1043]["target"] = "Overdue"
    by_number[ACME_NUMBERS[-1]]["target"] = "Unpaid"
    for code, needed in (
        ("BIGCO01", STATUSES),
        ("ACME01", ("Paid", "Unpaid", "Overdue", "Overpaid")),
        ("MULLER01", ("Paid", "Overdue")),
    ):
        mine = [plan for plan in plans if plan["code"] == code]
        for status in needed:
            if any(plan["target"] == status for plan in mine):
                continue
            if status == "Unpaid":
                candidates = [p for p in reversed(mine) if p["due"] >= today]
            elif status == "Overdue":
                candidates = [p for p in mine if p["due"] < today and p["target"] == "Paid"]
            else:
                candidates = [p for p in mine if p["target"] == "Paid"]
            candidates = [p for p in candidates if p["number"] not in (1043, ACME_NUMBERS[-1])]
            if candidates:
                candidates[0]["target"] = status
    for plan in plans:
        if plan["code"] == "BALA01":
            # Matches the documented TotalPaidAmount of 120.87 and AverageDaysToPay of 5.
            plan["target"] = "Paid-BALA"

    for plan in plans:
        number, code, issued, due = plan["number"], plan["code"], plan["issued"], plan["due"]
        target: str = plan["target"]
        # Both date forms appear: every third invoice has no UTC offset.
        style: DateStyle = "plain" if number % 3 == 0 else "offset"
        if target == "Paid-BALA":
            lines: list[JSONDict] = [
                {"Description": "Translation services", "Rate": Decimal("120.87"), "VATLevel": 0}
            ]
            payments = [
                {
                    "Amount": Decimal("120.87"),
                    "Date": kf_date(min(issued + timedelta(days=5), today), style),
                }
            ]
            target = "Paid"
        else:
            lines = _line_items(rng, code, target)
            gross = _gross_of(lines)
            payments = _payments(rng, target, gross, issued, due, today, style, code)
        reference = ""
        if code == "BIGCO01":
            reference = f"PO-{40000 + number * 7 % 10000:05d}"
        elif code == "ACME01" and number % 2:
            reference = f"ACME/{issued.year}/{number % 1000:03d}"
        data.add_invoice(
            {
                "Number": number,
                "CustomerCode": code,
                "IssuedDate": kf_date(issued, style),
                "DueDate": kf_date(due, style),
                "CustomerReference": reference,
                "EmailCount": rng.randint(1, 3) if target != "NA" else 0,
                "LineItems": lines,
                "PaymentLines": payments,
                "ReminderLetters": _reminders(due, today) if target == "Overdue" else [],
                "UseCustomDeliveryAddress": bool(
                    data.customers[code].get("UseCustomDeliveryAddress")
                ),
            }
        )
