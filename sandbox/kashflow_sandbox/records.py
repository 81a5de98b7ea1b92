"""Complete KashFlow records from partial data, and the fields derived from them.

A stored invoice is the full detail ``GET /v2/invoices/{number}`` returns: line totals, VAT,
gross, amount paid and due, status, overdue days, paid and last-payment dates and document
permalinks all follow from the line items, payment lines and dates, exactly as KashFlow
computes them. A customer's invoice count, balances and first and last invoice dates follow
from its invoices.
"""

from __future__ import annotations

import random
import typing as t
from datetime import date
from decimal import Decimal

from .values import BANK_ACCOUNT_ID
from .values import NO_DATE
from .values import PAYMENT_METHODS
from .values import ZERO
from .values import DateStyle
from .values import JSONDict
from .values import as_kf_date
from .values import compute_status
from .values import currency
from .values import date_style
from .values import document_key
from .values import due_date
from .values import guid
from .values import kf_date
from .values import money
from .values import parse_kf_date
from .values import to_decimal

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


#: ``Type`` of an ordinary invoice and of a credit note (Swagger shape). The Swagger copy only
#: calls the field an "invoice type label"; the values are the sandbox's choice.
INVOICE, CREDIT_NOTE = "Invoice", "CreditNote"


class IdSource(t.Protocol):
    """Where new ids and GUIDs come from (the store, so demo data is reproducible)."""

    rng: random.Random

    def next_payment_id(self) -> int:
        """A payment id not used before."""


def blank_customer(code: str, name: str, created: str, customer_id: int, ids: IdSource) -> JSONDict:
    """A customer with every field KashFlow returns, set to its default."""
    return {
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
        "DiscountRate": ZERO,
        "DisplayName": name,
        "Email": "",
        "EmailTemplateNumber": 0,
        "EnvelopeUrl": f"/v2/documents/customers/{guid(ids.rng)}",
        "FaxNumber": "",
        "FirstInvoiceDate": NO_DATE,
        "Id": customer_id,
        "InvoiceCount": 0,
        "InvoiceFileFormat": None,
        "InvoicedNetAmount": ZERO,
        "InvoicedVATAmount": ZERO,
        "IsArchived": False,
        "IsGoCardlessMandateSet": False,
        "IsRegisteredInEC": False,
        "IsRegisteredOutsideEC": False,
        "Key": guid(ids.rng),
        "LastInvoiceDate": NO_DATE,
        "LastUpdatedDate": created,
        "MobileNumber": "",
        "Name": name,
        "Note": None,
        "OutstandingBalance": ZERO,
        "OverrideInvoiceFileFormat": False,
        "PDFThemeId": 0,
        "PaymentTerms": {"Days": 30, "Type": "AfterIssuedDate"},
        "ReceivesWholesalePricing": False,
        "ShowDiscount": False,
        "Source": 0,
        "TelephoneNumber": "",
        "TotalPaidAmount": ZERO,
        "UniqueEntityNumber": "",
        "UseCustomDeliveryAddress": False,
        "VATNumber": "",
        "WHTRate": ZERO,
        "WHTReferences": [],
        "Website": "",
    }


def refresh_customer(customer: JSONDict, invoices: t.Iterable[JSONDict]) -> None:
    """Recompute *customer*'s invoice-derived fields from its *invoices*."""
    ordered = sorted(invoices, key=lambda i: (parse_kf_date(i["IssuedDate"]), i["Number"]))
    customer["InvoiceCount"] = len(ordered)
    customer["InvoicedNetAmount"] = sum((i["NetAmount"] for i in ordered), ZERO)
    customer["InvoicedVATAmount"] = sum((i["VATAmount"] for i in ordered), ZERO)
    customer["TotalPaidAmount"] = sum((i["TotalPaidAmount"] for i in ordered), ZERO)
    # "Total amount of unpaid and overdue invoices" (KashFlow's field description).
    customer["OutstandingBalance"] = sum(
        (i["DueAmount"] for i in ordered if i["Status"] in ("Unpaid", "Overdue")), ZERO
    )
    customer["FirstInvoiceDate"] = ordered[0]["IssuedDate"] if ordered else NO_DATE
    customer["LastInvoiceDate"] = ordered[-1]["IssuedDate"] if ordered else NO_DATE
    days = [
        (parse_kf_date(i["PaidDate"]) - parse_kf_date(i["IssuedDate"])).days
        for i in ordered
        if i.get("PaidDate")
    ]
    customer["AverageDaysToPay"] = round(sum(days) / len(days)) if days else 0


def complete_invoice(
    data: t.Mapping[str, t.Any], customer: JSONDict, today: date, ids: IdSource
) -> JSONDict:
    """The full invoice detail for *data* (which has its ``Number``), for *customer*.

    Amounts, status, overdue days, paid and last-payment dates and document links are
    derived; see :meth:`~kashflow_sandbox.SandboxData.add_invoice`.
    """
    number: int = data["Number"]
    given = {k: v for k, v in data.items() if v is not None or k not in DERIVED_INVOICE_FIELDS}

    # The date form of an invoice follows its IssuedDate, so each invoice is consistent.
    issued_raw = given.get("IssuedDate")
    style: DateStyle = date_style(issued_raw) if isinstance(issued_raw, str) else "offset"
    issued_text = as_kf_date(issued_raw, style) or kf_date(today, style)
    issued = parse_kf_date(issued_text)
    due_text = as_kf_date(given.get("DueDate"), style) or kf_date(
        due_date(issued, customer.get("PaymentTerms")), style
    )
    due = parse_kf_date(due_text)

    cur = given.get("Currency") or customer.get("Currency") or currency("GBP")
    cur = currency(cur) if isinstance(cur, str) else dict(cur)
    default_vat = Decimal("20.0000") if cur.get("Code") == "GBP" else ZERO

    raw_lines = given.get("LineItems")
    if raw_lines is None:
        vat = to_decimal(given.get("VATAmount", 0))
        if "NetAmount" in given:
            net = to_decimal(given["NetAmount"])
        else:
            net = to_decimal(given.get("GrossAmount", 0)) - vat
        raw_lines = [
            {"Description": "Goods and services", "Rate": net, "VATAmount": vat}
            | ({"VATLevel": money(vat * 100 / net)} if net else {"VATLevel": ZERO})
        ]
    lines = [complete_line(i, line, default_vat) for i, line in enumerate(raw_lines)]
    net_total = sum((line["Quantity"] * line["Rate"] for line in lines), ZERO)
    vat_total = sum((line["VATAmount"] for line in lines), ZERO)
    gross = net_total + vat_total

    raw_payments = given.get("PaymentLines")
    if raw_payments is None:
        paid_given = to_decimal(given.get("TotalPaidAmount", 0))
        raw_payments = [{"Amount": paid_given}] if paid_given else []
    payments = [complete_payment(p, number, issued_text, style, ids) for p in raw_payments]
    paid = sum((p["Amount"] for p in payments), ZERO)

    paid_date: str | None = None
    running = ZERO
    for payment in sorted(payments, key=lambda p: parse_kf_date(p["Date"])):
        running += payment["Amount"]
        if (gross > 0 and running >= gross) or (gross < 0 and running <= gross):
            paid_date = payment["Date"]
            break
    last_payment = max(payments, key=lambda p: parse_kf_date(p["Date"]), default=None)

    status = given.get("Status") or compute_status(gross, paid, due, today)
    overdue_days = given.get("OverdueDays")
    if overdue_days is None:
        overdue_days = max((today - due).days, 0) if status == "Overdue" else 0
    rate = to_decimal(cur.get("ExchangeRate") or 1)
    invoice_key = document_key(given.get("Permalink")) or guid(ids.rng)
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
        # The Swagger copy's discriminator; the documented examples have no such field.
        "Type": INVOICE,
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
            "DueAmount": max(gross - paid, ZERO),
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


def complete_line(index: int, line: t.Mapping[str, t.Any], default_vat: Decimal) -> JSONDict:
    """Line item number *index* + 1 with defaults filled and its VAT computed if not given."""
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
        "Tax1Amount": ZERO,
        "Tax2Amount": ZERO,
        "Tax3Amount": ZERO,
        "Tax4Amount": ZERO,
        "Tax5Amount": ZERO,
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


def complete_payment(
    payment: t.Mapping[str, t.Any], number: int, issued: str, style: DateStyle, ids: IdSource
) -> JSONDict:
    """A payment line of invoice *number* with defaults, an id and a receipt permalink."""
    method, note = PAYMENT_METHODS[0]
    out: JSONDict = {
        "AccountId": BANK_ACCOUNT_ID,
        # True on an allocation of a credit note (Swagger copy only).
        "IsPaymentCreditNote": False,
        "Method": method,
        "Note": note,
    }
    out.update(payment)
    payment_id = payment.get("Id")
    if payment_id is None:
        payment_id = ids.next_payment_id()
    key = document_key(payment.get("Permalink")) or guid(ids.rng)
    out.update(
        {
            "Amount": to_decimal(payment.get("Amount", 0)),
            "Date": as_kf_date(payment.get("Date"), style) or issued,
            "Id": payment_id,
            "InvoiceNumber": number,
            "Permalink": f"/v2/documents/invoice/payment/{key}",
        }
    )
    return dict(sorted(out.items()))


def address(
    line1: str,
    line2: str | None,
    line3: str | None,
    post_code: str | None,
    country_code: str,
    country_name: str,
    line4: str | None = None,
) -> JSONDict:
    """A KashFlow address object (``Addresses[]``, ``Address``, ``DeliveryAddress``)."""
    return {
        "CountryCode": country_code,
        "CountryName": country_name,
        "Line1": line1,
        "Line2": line2,
        "Line3": line3,
        "Line4": line4,
        "PostCode": post_code,
    }


def contact(
    email: str,
    name: str | None = None,
    first: str | None = None,
    last: str | None = None,
    telephone: str | None = None,
    title: str | None = None,
    *,
    receive_emails: bool = True,
) -> JSONDict:
    """A KashFlow ``Contacts[]`` entry: the documented example's fields, plus ``ReceiveEmails``
    from the Swagger copy (``IsPrimary`` is set when the customer is stored)."""
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
        "ReceiveEmails": receive_emails,
    }


def complete_contacts(contacts: t.Any) -> t.Any:
    """*contacts* with ``IsPrimary`` (the first one, unless any says) and ``ReceiveEmails``
    (True unless given) on each: the Swagger copy's opt-in flags."""
    if not isinstance(contacts, list):
        return contacts
    any_primary = any(isinstance(c, dict) and "IsPrimary" in c for c in contacts)
    out: list[t.Any] = []
    for index, item in enumerate(contacts):
        if isinstance(item, dict):
            item = {**item}
            item.setdefault("IsPrimary", index == 0 and not any_primary)
            item.setdefault("ReceiveEmails", True)
        out.append(item)
    return out


__all__ = [
    "CREDIT_NOTE",
    "DERIVED_INVOICE_FIELDS",
    "INVOICE",
    "IdSource",
    "address",
    "blank_customer",
    "complete_contacts",
    "complete_invoice",
    "complete_line",
    "complete_payment",
    "contact",
    "refresh_customer",
]
