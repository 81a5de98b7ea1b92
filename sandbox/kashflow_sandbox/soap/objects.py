"""KashFlow's SOAP objects, built from the same stored records the REST API serves.

Element names, spelling and order follow the 2017 WSDL (``PermaLink`` with a capital L,
``VATAmount`` on the invoice but ``VatAmount`` on its lines, ``Lines`` as
``<anyType xsi:type="InvoiceLine">``). The SOAP invoice has no gross, status or paid date:
clients derive them (gross = ``NetAmount`` + ``VATAmount``; ``Paid`` is 1 when fully paid).

Choices where the sources are silent: ``AmountPaid`` is in the invoice's currency (the sum of
its payment lines, like the REST Swagger shape); ``Paid`` is 1 exactly when the REST status is
Paid or Overpaid (so 0 for a zero-value "NA" invoice); ``ChargeType`` is a made-up nominal id
(17380000 + the nominal code); ``LineID`` is the invoice id times 100 plus the line number. A
line with a product name also carries ``ProductName`` after the WSDL's fields (the WSDL has
none), so that a client reading it where KashFlow sends it can be tried.
"""

from __future__ import annotations

import typing as t

from ..values import JSONDict
from .xmlwrite import element
from .xmlwrite import elements
from .xmlwrite import soap_date
from .xmlwrite import wrap

_PAID = ("Paid", "Overpaid")
_ADDRESS = ("Line1", "Line2", "Line3", "Line4")


def invoice_xml(invoice: JSONDict, origin: str) -> str:
    """The children of an ``Invoice`` for stored *invoice*; links absolute on *origin*."""
    currency = invoice.get("Currency") or {}
    lines = "".join(_line_xml(invoice, line) for line in invoice.get("LineItems") or ())
    delivery = invoice.get("DeliveryAddress") or {}
    return "".join(
        (
            elements(
                (
                    ("InvoiceDBID", invoice.get("Id")),
                    ("InvoiceNumber", invoice.get("Number")),
                    ("InvoiceDate", soap_date(invoice.get("IssuedDate"))),
                    ("DueDate", soap_date(invoice.get("DueDate"))),
                    ("Customer", invoice.get("CustomerCode")),
                    ("CustomerID", invoice.get("CustomerId")),
                    ("Paid", 1 if invoice.get("Status") in _PAID else 0),
                    ("CustomerReference", invoice.get("CustomerReference") or ""),
                    ("ProjectID", 0),
                    ("CurrencyCode", currency.get("Code")),
                    ("ExchangeRate", currency.get("ExchangeRate")),
                    ("ReadableString", _readable(invoice)),
                )
            ),
            wrap("Lines", lines),
            elements(
                (
                    ("NetAmount", invoice.get("NetAmount")),
                    ("VATAmount", invoice.get("VATAmount")),
                    ("AmountPaid", invoice.get("TotalPaidAmount")),
                    ("CustomerName", invoice.get("CustomerName")),
                    ("PermaLink", _absolute(origin, invoice.get("Permalink"))),
                )
            ),
            wrap(
                "DeliveryAddress",
                elements(
                    [("Name", delivery.get("Name") or "")]
                    + [(name, delivery.get(name) or "") for name in _ADDRESS]
                    + [
                        ("PostCode", delivery.get("PostCode") or ""),
                        ("CountryName", delivery.get("CountryName") or ""),
                        ("CountryCode", delivery.get("CountryCode") or ""),
                    ]
                ),
            ),
            element("UseCustomDeliveryAddress", bool(invoice.get("UseCustomDeliveryAddress"))),
        )
    )


def _line_xml(invoice: JSONDict, line: JSONDict) -> str:
    number = int(line.get("Number") or 0)
    nominal = line.get("NominalCode")
    inner = elements(
        (
            ("Quantity", line.get("Quantity")),
            ("Description", line.get("Description") or ""),
            ("Rate", line.get("Rate")),
            ("ChargeType", 17380000 + int(nominal) if isinstance(nominal, int) else 0),
            ("VatRate", line.get("VATLevel")),
            ("VatAmount", line.get("VATAmount")),
            ("ProductID", 0),
            ("Sort", number),
            ("ProjID", line.get("ProjectNumber") or 0),
            ("LineID", int(invoice.get("Id") or 0) * 100 + number),
        )
    )
    product = line.get("ProductName")
    if product:
        # Not in the WSDL's InvoiceLine: sent where the line has a product name, so that a
        # client reading it where KashFlow sends it (as REST does) can be tried.
        inner += element("ProductName", product)
    return wrap("anyType", inner, ' xsi:type="InvoiceLine"')


def _readable(invoice: JSONDict) -> str:
    """KashFlow's debug text ("don't parse it"), in its shape."""
    issued = soap_date(invoice.get("IssuedDate"))
    day = f"{issued[8:10]}/{issued[5:7]}/{issued[:4]} 00:00:00"
    parts = [
        f"Invoice Number : {invoice.get('Number')}",
        f"DBID: {invoice.get('Id')}",
        f"Date: {day}",
        f"Customer: {invoice.get('CustomerCode')}",
    ]
    for index, line in enumerate(invoice.get("LineItems") or (), start=1):
        parts.append(f"Line {index} : {line.get('Quantity')} x {line.get('Description') or ''}")
    return " / ".join(parts)


def _absolute(origin: str, link: t.Any) -> str | None:
    if not isinstance(link, str) or not link:
        return None
    return f"{origin}/{link.lstrip('/')}"


def customer_xml(customer: JSONDict) -> str:
    """The children of a ``Customer`` for stored *customer* (the WSDL fields it can fill)."""
    contacts = [c for c in customer.get("Contacts") or () if isinstance(c, dict)]
    primary = next((c for c in contacts if c.get("IsPrimary")), contacts[0] if contacts else {})
    address = next(iter(customer.get("Addresses") or ()), None) or {}
    delivery = next(iter(customer.get("DeliveryAddresses") or ()), None) or {}
    currency = customer.get("Currency") or {}
    pairs: list[tuple[str, t.Any]] = [
        ("CustomerID", customer.get("Id")),
        ("Code", customer.get("Code")),
        ("Name", customer.get("Name")),
        ("Contact", primary.get("Name") or _full_name(primary)),
        ("Telephone", customer.get("TelephoneNumber") or primary.get("Telephone") or ""),
        ("Mobile", customer.get("MobileNumber") or ""),
        ("Fax", customer.get("FaxNumber") or ""),
        ("Email", email_field(customer)),
        *((f"Address{i}", address.get(f"Line{i}") or "") for i in range(1, 5)),
        ("CountryName", address.get("CountryName") or ""),
        ("CountryCode", address.get("CountryCode") or ""),
        ("Postcode", address.get("PostCode") or ""),
        ("Website", customer.get("Website") or ""),
        ("EC", int(bool(customer.get("IsRegisteredInEC")))),
        ("OutsideEC", int(bool(customer.get("IsRegisteredOutsideEC")))),
        ("Notes", customer.get("Note") or ""),
        ("Source", customer.get("Source") or 0),
        ("Discount", customer.get("DiscountRate")),
        ("ShowDiscount", bool(customer.get("ShowDiscount"))),
        ("PaymentTerms", int((customer.get("PaymentTerms") or {}).get("Days") or 0)),
        # ExtraText1-20 are null strings here (left out); the check boxes are ints (always).
        *((f"CheckBox{i}", 0) for i in range(1, 21)),
        ("Created", soap_date(customer.get("CreatedDate"))),
        ("Updated", soap_date(customer.get("LastUpdatedDate"))),
        ("CurrencyID", currency.get("Id") or 0),
        ("ContactTitle", primary.get("Title") or ""),
        ("ContactFirstName", primary.get("Firstname") or ""),
        ("ContactLastName", primary.get("LastName") or ""),
        ("CustHasDeliveryAddress", int(bool(customer.get("UseCustomDeliveryAddress")))),
        *((f"DeliveryAddress{i}", delivery.get(f"Line{i}") or "") for i in range(1, 5)),
        ("DeliveryCountryName", delivery.get("CountryName") or ""),
        ("DeliveryCountryCode", delivery.get("CountryCode") or ""),
        ("DeliveryPostcode", delivery.get("PostCode") or ""),
        ("VATNumber", customer.get("VATNumber") or ""),
    ]
    return elements(pairs)


def email_field(customer: JSONDict) -> str:
    """The SOAP ``Email``: the customer's own field if set, else its contacts' addresses
    joined with ``"; "`` (KashFlow's field may hold several, separated by ``;`` or ``,``)."""
    own = customer.get("Email")
    if isinstance(own, str) and own:
        return own
    contacts = customer.get("Contacts") or ()
    return "; ".join(c["Email"] for c in contacts if isinstance(c, dict) and c.get("Email"))


def _full_name(contact: t.Mapping[str, t.Any]) -> str:
    parts = (contact.get("Firstname"), contact.get("LastName"))
    return " ".join(p for p in parts if isinstance(p, str) and p)


def payment_xml(invoice: JSONDict, payment: JSONDict) -> str:
    """The children of a ``Payment`` (from ``GetInvoicePayment``)."""
    return elements(
        (
            ("PayID", payment.get("Id")),
            ("PayInvoice", invoice.get("Number")),
            ("PayDate", soap_date(payment.get("Date"))),
            ("PayNote", payment.get("Note") or ""),
            ("PayMethod", payment.get("Method") or 0),
            ("PayAccount", payment.get("AccountId") or 0),
            ("PayAmount", payment.get("Amount")),
        )
    )


__all__ = ["customer_xml", "email_field", "invoice_xml", "payment_xml"]
