"""How stored records are presented on the wire: the list row, the invoice and the customer.

KashFlow's REST API has two published readings that disagree (see the fact sheet's "Where the
official docs and the Swagger copy disagree"), and a portal must work with both:

``"swagger"`` (the default)
    What the Swagger copy describes, and what the store holds: ``DueAmount`` on list rows and
    the detail, ``CustomerCode`` on the detail, ``Type`` ("Invoice" or "CreditNote"),
    ``IsPaymentCreditNote`` on payment lines, ``TotalPaidAmount`` in the invoice's currency.
``"documented"``
    Exactly the fields of the examples on KashFlow's official pages (invoice list, invoice
    detail, customer detail): no ``DueAmount``, no ``Type``, no ``CustomerCode`` on the
    detail (the list rows keep it: the documented list example has it), payment lines
    without ``IsPaymentCreditNote``, the customer's currency with ``DisplayOnRight`` and no
    ``Id``, and ``TotalPaidAmount`` in the **home** currency (pounds), as the field table
    says: the invoice-currency total divided by the invoice's ``ExchangeRate`` (units of the
    invoice's currency per pound, the convention of ``HomeCurrencyGrossAmount``), rounded
    half-up to the penny. Fields keep the order of the examples.

Contacts carry ``IsPrimary`` and ``ReceiveEmails`` in both shapes: a portal must honour an
opt-out whenever KashFlow sends one.
"""

from __future__ import annotations

import typing as t
from decimal import Decimal

from .values import JSONDict
from .values import money
from .values import to_decimal

#: Detail-only fields KashFlow's list omits (see the documented list example).
_DETAIL_ONLY = frozenset({"Permalink", "PackingSlipPermalink", "ReminderLetters"})

#: The fields of a row of the documented ``GET /invoices`` example, in its order.
DOCUMENTED_ROW = (
    "Address",
    "AutomaticCreditControlEnabled",
    "Currency",
    "CustomerCode",
    "CustomerDiscount",
    "CustomerId",
    "CustomerName",
    "CustomerReference",
    "DeliveryAddress",
    "DueDate",
    "EmailCount",
    "GrossAmount",
    "Id",
    "InvoiceInECMemberState",
    "InvoiceOutsideECMemberState",
    "IssuedDate",
    "LineItems",
    "LastPaymentDate",
    "NetAmount",
    "Number",
    "OverdueDays",
    "PaidDate",
    "PaymentLines",
    "Status",
    "SuppressNumber",
    "TotalPaidAmount",
    "UpdateCustomerAddress",
    "UpdateCustomerDeliveryAddress",
    "VATAmount",
    "VATNumber",
)
#: The fields of the documented ``GET /invoices/{number}`` example, in its order.
DOCUMENTED_INVOICE = (
    "Address",
    "Currency",
    "AutomaticCreditControlEnabled",
    "CustomerDiscount",
    "CustomerId",
    "CustomerName",
    "CustomerReference",
    "DeliveryAddress",
    "DueDate",
    "EmailCount",
    "GrossAmount",
    "HomeCurrencyGrossAmount",
    "Id",
    "InvoiceInECMemberState",
    "InvoiceOutsideECMemberState",
    "IssuedDate",
    "LineItems",
    "LastPaymentDate",
    "NetAmount",
    "Number",
    "OverdueDays",
    "PaidDate",
    "PaymentLines",
    "Status",
    "SuppressNumber",
    "TotalPaidAmount",
    "UpdateCustomerAddress",
    "UpdateCustomerDeliveryAddress",
    "UseCustomDeliveryAddress",
    "VATAmount",
    "VATNumber",
    "PreviousNumber",
    "NextNumber",
    "Permalink",
    "PackingSlipPermalink",
    "ReminderLetters",
    "IsWhtDeductionToBeApplied",
    "PayOnlinePaymentProcessor",
)
DOCUMENTED_CURRENCY = ("Code", "ExchangeRate", "Id", "Name", "Symbol", "DisplaySymbolOnRight")
DOCUMENTED_LINE = (
    "ApplyTax1",
    "ApplyTax2",
    "ApplyTax3",
    "ApplyTax4",
    "ApplyTax5",
    "NominalCode",
    "Description",
    "Number",
    "ProductCode",
    "ProductName",
    "Quantity",
    "Rate",
    "Tax1Amount",
    "Tax2Amount",
    "Tax3Amount",
    "Tax4Amount",
    "Tax5Amount",
    "VATAmount",
    "VATExempt",
    "VATLevel",
    "ProjectNumber",
)
DOCUMENTED_PAYMENT = ("AccountId", "Amount", "Id", "InvoiceNumber", "Date", "Method", "Note")
DOCUMENTED_REMINDER = ("IsSent", "Number", "SentDate")
#: The fields of the documented ``GET /customers/{code}`` example, in its order.
DOCUMENTED_CUSTOMER = (
    "ApplyWHT",
    "AutoIncludeVATNumber",
    "AverageDaysToPay",
    "Code",
    "Contacts",
    "CreatedDate",
    "Currency",
    "CustomCheckBoxes",
    "CustomTextBoxes",
    "Addresses",
    "DefaultNominalCode",
    "DefaultCustomerReference",
    "DeliveryAddresses",
    "DiscountRate",
    "DisplayName",
    "IsRegisteredInEC",
    "Email",
    "EmailTemplateNumber",
    "FaxNumber",
    "FirstInvoiceDate",
    "UseCustomDeliveryAddress",
    "Id",
    "InvoiceCount",
    "InvoiceFileFormat",
    "InvoicedNetAmount",
    "InvoicedVATAmount",
    "IsArchived",
    "IsGoCardlessMandateSet",
    "ReceivesWholesalePricing",
    "Key",
    "LastInvoiceDate",
    "LastUpdatedDate",
    "MobileNumber",
    "Name",
    "Note",
    "OutstandingBalance",
    "IsRegisteredOutsideEC",
    "OverrideInvoiceFileFormat",
    "PaymentTerms",
    "CreateCustomerCodeIfDuplicate",
    "CreateCustomerNameIfEmptyOrNull",
    "TotalPaidAmount",
    "ShowDiscount",
    "Source",
    "TelephoneNumber",
    "UniqueEntityNumber",
    "VATNumber",
    "Website",
    "WHTRate",
    "WHTReferences",
    "AutomaticCreditControlEnabled",
    "EnvelopeUrl",
    "PDFThemeId",
)
#: The documented contact fields, plus the two opt-in flags the Swagger copy adds.
DOCUMENTED_CONTACT = (
    "Email",
    "Fax",
    "Firstname",
    "LastName",
    "Mobile",
    "Name",
    "Telephone",
    "Title",
    "Website",
    "IsPrimary",
    "ReceiveEmails",
)


def invoice_summary(invoice: t.Mapping[str, t.Any]) -> JSONDict:
    """The list form of *invoice*, as ``GET /v2/invoices`` returns it.

    KashFlow's list omits the document links and reminder letters and nulls out the
    collections (see the documented list example), so a client must call the detail endpoint
    for permalinks and line items.
    """
    summary = {key: value for key, value in invoice.items() if key not in _DETAIL_ONLY}
    summary["LineItems"] = None
    summary["PaymentLines"] = None
    summary["DeliveryAddress"] = None
    return summary


def home_currency(amount: Decimal, currency: t.Mapping[str, t.Any] | None) -> Decimal:
    """*amount* of *currency* in pounds: divided by its ``ExchangeRate`` (units per pound)."""
    try:
        rate = to_decimal((currency or {}).get("ExchangeRate") or 1)
    except ValueError:
        return amount
    return money(amount / rate) if rate and rate != 1 else amount


class Shape(t.Protocol):
    """Presents stored records as one reading of KashFlow's API."""

    name: str

    def invoice_row(self, invoice: JSONDict) -> JSONDict:
        """The row of ``GET /v2/invoices`` for *invoice*."""

    def invoice(self, invoice: JSONDict) -> JSONDict:
        """The body of ``GET /v2/invoices/{number}``."""

    def customer(self, customer: JSONDict) -> JSONDict:
        """The body of ``GET /v2/customers/{code}``."""


class SwaggerShape:
    """The fields of KashFlow's published Swagger, which the store holds as they are."""

    name = "swagger"

    def invoice_row(self, invoice: JSONDict) -> JSONDict:
        """The stored invoice without its detail-only fields."""
        return invoice_summary(invoice)

    def invoice(self, invoice: JSONDict) -> JSONDict:
        """The stored invoice itself."""
        return invoice

    def customer(self, customer: JSONDict) -> JSONDict:
        """The stored customer itself."""
        return customer


class DocumentedShape:
    """Exactly the fields of the examples on KashFlow's official REST pages."""

    name = "documented"

    def invoice_row(self, invoice: JSONDict) -> JSONDict:
        """A documented list row: summary fields only, collections and addresses null."""
        row = _pick(invoice, DOCUMENTED_ROW)
        row.update(Address=None, DeliveryAddress=None, LineItems=None, PaymentLines=None)
        return self._common(invoice, row)

    def invoice(self, invoice: JSONDict) -> JSONDict:
        """The documented invoice detail (no ``CustomerCode``, no ``DueAmount``)."""
        detail = _pick(invoice, DOCUMENTED_INVOICE)
        detail["LineItems"] = _pick_each(invoice.get("LineItems"), DOCUMENTED_LINE)
        detail["PaymentLines"] = [
            {**_pick(p, DOCUMENTED_PAYMENT), "Permalink": p.get("Permalink")}
            for p in invoice.get("PaymentLines") or ()
        ]
        detail["ReminderLetters"] = _pick_each(invoice.get("ReminderLetters"), DOCUMENTED_REMINDER)
        return self._common(invoice, detail)

    def customer(self, customer: JSONDict) -> JSONDict:
        """The documented customer detail (its currency spelled as on the customers page)."""
        out = _pick(customer, DOCUMENTED_CUSTOMER)
        out["Contacts"] = _pick_each(customer.get("Contacts"), DOCUMENTED_CONTACT)
        currency = customer.get("Currency")
        if isinstance(currency, dict):
            out["Currency"] = {
                "Code": currency.get("Code"),
                "ExchangeRate": currency.get("ExchangeRate"),
                "DisplayOnRight": currency.get("DisplaySymbolOnRight", False),
                "Name": currency.get("Name"),
                "Symbol": currency.get("Symbol"),
            }
        return out

    @staticmethod
    def _common(invoice: JSONDict, out: JSONDict) -> JSONDict:
        currency = invoice.get("Currency")
        if isinstance(currency, dict):
            out["Currency"] = _pick(currency, DOCUMENTED_CURRENCY)
        paid = invoice.get("TotalPaidAmount")
        if isinstance(paid, Decimal) and paid.is_finite():
            # "Total amount paid in home currency" (KashFlow's field table).
            out["TotalPaidAmount"] = home_currency(paid, currency)
        return out


def _pick(record: t.Mapping[str, t.Any], fields: t.Sequence[str]) -> JSONDict:
    return {name: record.get(name) for name in fields}


def _pick_each(records: t.Any, fields: t.Sequence[str]) -> list[JSONDict] | None:
    if not isinstance(records, list):
        return None if records is None else records
    return [_pick(r, fields) if isinstance(r, dict) else r for r in records]


#: The shapes by name.
SHAPES: dict[str, Shape] = {"swagger": SwaggerShape(), "documented": DocumentedShape()}


def shape_named(name: str) -> Shape:
    """The shape called *name*; ``ValueError`` for any other name."""
    try:
        return SHAPES[name]
    except (KeyError, TypeError):
        raise ValueError(f"shape must be one of {', '.join(SHAPES)}, not {name!r}") from None


__all__ = [
    "SHAPES",
    "DocumentedShape",
    "Shape",
    "SwaggerShape",
    "home_currency",
    "invoice_summary",
    "shape_named",
]
