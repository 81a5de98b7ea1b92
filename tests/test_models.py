"""Parsing KashFlow's values and building models: tolerant, typed, never crashing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from flask_kashflow_links.kashflow.models import Customer
from flask_kashflow_links.kashflow.models import Invoice
from flask_kashflow_links.kashflow.parsing import loads
from flask_kashflow_links.kashflow.parsing import parse_amount
from flask_kashflow_links.kashflow.parsing import parse_date
from flask_kashflow_links.kashflow.parsing import parse_text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2012-10-09 12:00:00 +05:30", date(2012, 10, 9)),
        ("2012-10-09 12:00:00", date(2012, 10, 9)),
        ("2012-10-09T12:00:00Z", date(2012, 10, 9)),
        ("2012-10-09T23:30:00.1234567-08:00", date(2012, 10, 9)),
        ("2012-10-09", date(2012, 10, 9)),
        ("2012-10-09 12:00:00+0100", date(2012, 10, 9)),
        ("/Date(1349784000000+0530)/", date(2012, 10, 9)),
        ("/Date(1349784000000)/", date(2012, 10, 9)),
        ("1900-01-01 12:00:00 +05:30", None),
        ("0001-01-01T00:00:00", None),
        ("2012-02-30 12:00:00", None),
        ("yesterday", None),
        ("", None),
        (None, None),
        (20121009, None),
        ("/Date(99999999999999999)/", None),
    ],
)
def test_dates(value: object, expected: date | None) -> None:
    assert parse_date(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("117.5000"), Decimal("117.5000")),
        (117, Decimal(117)),
        ("0.10", Decimal("0.10")),
        (0.1, Decimal("0.1")),
        ("-5", Decimal(-5)),
        ("£5", None),
        ("1,000.00", None),
        ("NaN", None),
        (Decimal("Infinity"), None),
        (Decimal("1e400"), None),
        (10**15, None),
        (True, None),
        (None, None),
        ([], None),
    ],
)
def test_amounts(value: object, expected: Decimal | None) -> None:
    assert parse_amount(value) == expected


def test_json_numbers_are_read_as_decimals() -> None:
    data = loads(b'{"GrossAmount": 117.5000, "Number": 3}')
    assert data["GrossAmount"] == Decimal("117.5000") and isinstance(data["Number"], int)


def test_text_drops_control_characters_keeps_markup_and_rtl() -> None:
    assert parse_text("a\x00b\x1bc") == "abc"
    assert parse_text("<script>alert(1)</script>") == "<script>alert(1)</script>"
    assert parse_text("\u202eشركة") == "\u202eشركة"
    assert parse_text("x" * 5000, limit=10) == "x" * 10
    assert parse_text({"a": 1}) == ""


def test_invoice_from_the_documented_example() -> None:
    invoice = Invoice.from_api(
        {
            "Number": 2,
            "Status": "Paid",
            "CustomerCode": "TCUST01",
            "GrossAmount": Decimal("117.5000"),
            "NetAmount": Decimal("100.0000"),
            "VATAmount": Decimal("17.5000"),
            "TotalPaidAmount": Decimal("117.5000"),
            "IssuedDate": "2012-10-09 12:00:00 +05:30",
            "LastPaymentDate": "2012-10-09 12:00:00 +05:30",
            "PaidDate": None,
            "Currency": {"Code": "GBP", "Symbol": "£", "DisplaySymbolOnRight": False},
            "Address": {"Line1": "123 Tooley Street", "Line2": None, "CountryName": "Brazil"},
            "LineItems": [
                {"Quantity": Decimal(10), "Rate": Decimal(10), "VATAmount": Decimal("17.5")}
            ],
            "PaymentLines": [
                {
                    "Amount": Decimal("110.5"),
                    "Date": "2012-10-09 12:00:00 +05:30",
                    "Note": "Test Payment",
                },
                {"Amount": Decimal(7), "Date": "2012-10-09 12:00:00 +05:30", "Note": ""},
            ],
            "Permalink": "/v2/documents/invoice/3a22b041",
            "SomethingNew": {"ignored": True},
        },
        detailed=True,
    )
    assert invoice is not None
    assert invoice.is_paid and not invoice.is_unpaid
    assert invoice.paid_on == date(2012, 10, 9)  # from LastPaymentDate when PaidDate is null
    assert invoice.due_amount == 0
    assert invoice.currency.symbol == "£" and not invoice.currency.symbol_on_right
    assert invoice.address is not None and invoice.address.lines == ("123 Tooley Street",)
    assert invoice.line_items[0].net == Decimal(100)
    assert [p.amount for p in invoice.payments] == [Decimal("110.5"), Decimal(7)]


@pytest.mark.parametrize(
    "data", [{}, {"Number": None}, {"Number": "abc"}, {"Number": -1}, [], None, "x"]
)
def test_invoice_without_a_number_is_none(data: object) -> None:
    assert Invoice.from_api(data) is None


def test_invoice_with_every_field_missing_or_wrong_still_builds() -> None:
    invoice = Invoice.from_api(
        {
            "Number": 5,
            "GrossAmount": "lots",
            "Currency": "GBP",
            "LineItems": "x",
            "PaymentLines": [None, 3],
        }
    )
    assert invoice is not None
    assert invoice.gross is None and invoice.currency.code == "" and invoice.line_items == ()
    assert invoice.status == "Unknown"


def test_overdue_is_decided_from_the_invoice_itself() -> None:
    today = date(2026, 11, 22)
    unpaid_late = Invoice(number=1, status="Unpaid", due=date(2026, 11, 10))
    unpaid_on_time = Invoice(number=2, status="Unpaid", due=date(2026, 12, 1))
    overdue = Invoice(number=3, status="Overdue", due=date(2026, 11, 1))
    paid = Invoice(number=4, status="Paid", due=date(2026, 1, 1))
    assert unpaid_late.is_overdue(today) and unpaid_late.days_overdue(today) == 12
    assert not unpaid_on_time.is_overdue(today)
    assert overdue.days_overdue(today) == 21
    assert not paid.is_overdue(today) and paid.days_overdue(today) is None


def test_customer_contacts_and_emails() -> None:
    customer = Customer.from_api(
        {
            "Code": "PDRI91",
            "Name": "дравс дравс др",
            "Key": "a397a2e9-87f3-48ca-9bd0-1ad64585c0eb",
            "Contacts": [
                {"Email": "first@example.com", "Firstname": "Ann", "LastName": "Lee"},
                {"Email": "FIRST@example.com"},
                {"Email": "not an email"},
                {"Email": "x@y.z\n<script>"},
            ],
            "Email": "accounts@example.org",
            "Currency": {"Code": "GBP", "DisplayOnRight": True},
        }
    )
    assert customer is not None
    assert customer.email_addresses == ["first@example.com", "accounts@example.org"]
    assert customer.contacts[0].name == "Ann Lee"
    assert customer.currency.symbol_on_right  # the customers page spells it DisplayOnRight
    assert Customer.from_api({"Name": "no code"}) is None


def test_contacts_who_opted_out_are_not_written_to() -> None:
    customer = Customer.from_api(
        {
            "Code": "MIXED01",
            "Email": "office@mixed.test; finance@mixed.test, new@mixed.test",
            "Contacts": [
                {"Email": "office@mixed.test", "IsPrimary": False, "ReceiveEmails": False},
                {"Email": "finance@mixed.test", "ReceiveEmails": True},
                {"Email": "boss@mixed.test", "IsPrimary": True, "ReceiveEmails": "true"},
                {"Email": "old@mixed.test", "ReceiveEmails": "false"},
                {"Email": "quiet@mixed.test", "ReceiveEmails": 0},
                {"Email": "unflagged@mixed.test", "ReceiveEmails": None},
            ],
        }
    )
    assert customer is not None
    # The primary contact first; the customer's Email field (split) after the contacts, without
    # the opted-out office@ it repeats.
    assert customer.email_addresses == [
        "boss@mixed.test",
        "finance@mixed.test",
        "unflagged@mixed.test",
        "new@mixed.test",
    ]


@pytest.mark.parametrize(
    ("data", "credit"),
    [
        ({"Type": "CreditNote", "GrossAmount": "-120"}, True),
        ({"Type": "Credit Note", "GrossAmount": "-120"}, True),
        ({"Type": "Invoice", "GrossAmount": "-5"}, False),  # Type, when sent, decides
        ({"GrossAmount": "-120"}, True),  # the documented shape: no Type, a negative total
        ({"GrossAmount": "120"}, False),
    ],
)
def test_credit_notes_are_recognised(data: dict[str, str], credit: bool) -> None:
    invoice = Invoice.from_api({"Number": 9, "Status": "Unpaid", **data})
    assert invoice is not None and invoice.is_credit_note is credit
    if credit:
        assert invoice.due_amount == 0 and not invoice.is_unpaid
        assert not invoice.is_overdue(date(2030, 1, 1))


def test_credit_allocations_are_credits_not_payments() -> None:
    invoice = Invoice.from_api(
        {
            "Number": 10,
            "Status": "Unpaid",
            "GrossAmount": "600",
            "PaymentLines": [
                {"Amount": "120", "IsPaymentCreditNote": True},
                {"Amount": "200", "IsPaymentCreditNote": False},
            ],
        },
        detailed=True,
    )
    assert invoice is not None
    assert (invoice.amount_paid, invoice.amount_credited, invoice.due_amount) == (200, 120, 280)
