"""Demo customers for the awkward cases a portal must get right.

- ``CREDIT01``: credit notes (``Type: "CreditNote"``, negative amounts) next to the invoices
  they were allocated to (payment lines with ``IsPaymentCreditNote: true``), and one credit
  note not allocated yet;
- ``DUBOIS01``: a part-paid invoice in euros, whose ``TotalPaidAmount`` in the documented
  shape (pounds) differs from the sum of its payment lines (euros);
- ``QUIET01``: every contact opted out of emails (``ReceiveEmails: false``);
- ``MIXED01``: contacts opted in and out, the primary one out.

They are added after the rest of the demo business, with the next free invoice numbers, so
the customers and invoices before them are exactly what they always were.
"""

from __future__ import annotations

import typing as t
from datetime import timedelta
from decimal import Decimal

from .records import CREDIT_NOTE
from .records import address
from .records import contact
from .values import currency
from .values import kf_date

if t.TYPE_CHECKING:  # pragma: no cover
    from .data import SandboxData


def add_case_customers(data: SandboxData) -> None:
    """Add the customers and invoices of the awkward cases to *data*."""
    data.add_customer(
        {
            "Code": "CREDIT01",
            "Name": "Kestrel Fixtures Ltd",
            "Contacts": [contact("ledger@kestrel-fixtures.test", "Sam Okafor", "Sam", "Okafor")],
            "Addresses": [
                _uk("Unit 9, Kestrel Yard", "Leeds", "West Yorkshire", "LS9 9ZZ"),
            ],
        }
    )
    data.add_customer(
        {
            "Code": "DUBOIS01",
            "Name": "Dubois et Fils SARL",
            "Contacts": [contact("compta@dubois-fils.test", "Claire Dubois", "Claire", "Dubois")],
            "Addresses": [address("12 rue de la Paix", "Lyon", None, "69002", "FR", "France")],
            "Currency": currency("EUR"),
            "PaymentTerms": {"Days": 30, "Type": "AfterIssuedDate"},
            "IsRegisteredOutsideEC": True,
        }
    )
    data.add_customer(
        {
            "Code": "QUIET01",
            "Name": "Quiet Lane Studio Ltd",
            "Contacts": [
                contact("accounts@quiet-lane.test", "Accounts", receive_emails=False),
                contact("jo.hale@quiet-lane.test", "Jo Hale", "Jo", "Hale", receive_emails=False),
            ],
            "Addresses": [_uk("3 Quiet Lane", "Bath", "Somerset", "BA1 9ZZ")],
        }
    )
    data.add_customer(
        {
            "Code": "MIXED01",
            "Name": "Mixed Media Partners LLP",
            # KashFlow's single Email field may hold several addresses (SOAP's Customer.Email).
            "Email": "office@mixed-media.test, finance@mixed-media.test",
            "Contacts": [
                contact("office@mixed-media.test", "Front Office", receive_emails=False),
                contact("finance@mixed-media.test", "Finance Team"),
                contact("ravi.patel@mixed-media.test", "Ravi Patel", "Ravi", "Patel"),
                contact("old.partner@mixed-media.test", "Former Partner", receive_emails=False),
            ],
            "Addresses": [_uk("Studio 5, 40 Canal Street", "Manchester", None, "M1 9ZZ")],
        }
    )
    _add_credit_notes(data)
    _add_foreign_part_paid(data)
    for code, net in (("QUIET01", "240.00"), ("MIXED01", "480.00")):
        _add(
            data,
            {
                "CustomerCode": code,
                "IssuedDate": kf_date(data.today - timedelta(days=7)),
                "LineItems": [_line("Design work", net)],
            },
        )


def _add_credit_notes(data: SandboxData) -> None:
    """An invoice part-settled by a credit note, one settled by a credit note alone, the two
    credit notes, and a credit note not yet allocated."""
    today = data.today
    first, first_credit = _next(data), _next(data) + 1
    # Part-paid: a credit note allocation and a bank payment; not yet due.
    _add(
        data,
        {
            "Number": first,
            "CustomerCode": "CREDIT01",
            "IssuedDate": kf_date(today - timedelta(days=20)),
            "DueDate": kf_date(today + timedelta(days=10)),
            "LineItems": [_line("Stainless steel widgets, box of 100", "50.00", quantity=10)],
            "PaymentLines": [
                _credit(Decimal("120.00"), today - timedelta(days=15), first_credit),
                {"Amount": "200.00", "Date": today - timedelta(days=12), "Note": "BACS"},
            ],
        },
    )
    _add(
        data,
        {
            "Number": first_credit,
            "Type": CREDIT_NOTE,
            "CustomerCode": "CREDIT01",
            "IssuedDate": kf_date(today - timedelta(days=15)),
            "DueDate": kf_date(today - timedelta(days=15)),
            "CustomerReference": f"Credit for invoice {first}",
            "LineItems": [_line("Returned: damaged widgets", "-100.00")],
            "PaymentLines": [_credit(Decimal("-120.00"), today - timedelta(days=15), first)],
        },
    )
    settled, settled_credit = _next(data), _next(data) + 1
    _add(
        data,
        {
            "Number": settled,
            "CustomerCode": "CREDIT01",
            "IssuedDate": kf_date(today - timedelta(days=45)),
            "DueDate": kf_date(today - timedelta(days=15)),
            "LineItems": [_line("Annual support retainer", "250.00")],
            "PaymentLines": [
                _credit(Decimal("300.00"), today - timedelta(days=30), settled_credit)
            ],
        },
    )
    _add(
        data,
        {
            "Number": settled_credit,
            "Type": CREDIT_NOTE,
            "CustomerCode": "CREDIT01",
            "IssuedDate": kf_date(today - timedelta(days=30)),
            "DueDate": kf_date(today - timedelta(days=30)),
            "CustomerReference": f"Credit for invoice {settled}",
            "LineItems": [_line("Support retainer cancelled", "-250.00")],
            "PaymentLines": [_credit(Decimal("-300.00"), today - timedelta(days=30), settled)],
        },
    )
    _add(
        data,
        {
            "Type": CREDIT_NOTE,
            "CustomerCode": "CREDIT01",
            "IssuedDate": kf_date(today - timedelta(days=3)),
            "DueDate": kf_date(today - timedelta(days=3)),
            "CustomerReference": "Goodwill credit",
            "LineItems": [_line("Goodwill credit for late delivery", "-50.00")],
        },
    )


def _add_foreign_part_paid(data: SandboxData) -> None:
    """EUR 1,000.00 (zero-rated export), EUR 400.00 paid: GBP 858.37 and GBP 343.35."""
    today = data.today
    _add(
        data,
        {
            "CustomerCode": "DUBOIS01",
            "IssuedDate": kf_date(today - timedelta(days=10)),
            "CustomerReference": "BC-2291",
            "LineItems": [_line("On-site training day", "500.00", quantity=2, vat="0")],
            "PaymentLines": [{"Amount": "400.00", "Date": today - timedelta(days=4)}],
        },
    )


def _add(data: SandboxData, invoice: dict[str, t.Any]) -> None:
    invoice.setdefault("Number", _next(data))
    invoice.setdefault("EmailCount", 1)
    data.add_invoice(invoice)


def _next(data: SandboxData) -> int:
    return max([1000, *data.invoices]) + 1


def _line(description: str, rate: str, *, quantity: int = 1, vat: str = "20") -> dict[str, t.Any]:
    return {
        "Description": description,
        "Quantity": Decimal(quantity),
        "Rate": Decimal(rate),
        "VATLevel": Decimal(vat),
    }


def _credit(amount: Decimal, day: t.Any, other: int) -> dict[str, t.Any]:
    """A credit-note allocation between an invoice and credit note *other*."""
    return {
        "Amount": amount,
        "Date": day,
        "Note": f"Credit note allocation ({other})",
        "IsPaymentCreditNote": True,
    }


def _uk(line1: str, line2: str, line3: str | None, post_code: str) -> dict[str, t.Any]:
    return address(line1, line2, line3, post_code, "GB", "United Kingdom")


__all__ = ["add_case_customers"]
