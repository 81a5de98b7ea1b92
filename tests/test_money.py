"""Money on the pages, against each shape of KashFlow's answers: what is owed, what was paid
and in which currency, balances, credit notes and rounding.

KashFlow's official examples have no ``DueAmount`` and give ``TotalPaidAmount`` in the home
currency; the Swagger copy has ``DueAmount`` and one currency throughout. The pages must show
the same amounts either way (``helpers.VARIANTS`` runs every test against both).
"""

from __future__ import annotations

import re
import typing as t
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from flask import Flask

from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links.formatting import Formatter
from flask_kashflow_links.kashflow.models import Currency
from flask_kashflow_links.kashflow.models import Invoice
from flask_kashflow_links.kashflow.models import LineItem
from flask_kashflow_links.portal.presenters import invoice_view
from flask_kashflow_links.testing import KashFlowSandbox

pytestmark = [
    pytest.mark.usefixtures("variant"),
    pytest.mark.settings(
        brand={"name": "Acme Accounts", "pay_url": "https://pay.example.test/{number}/{amount}"}
    ),
]

GBP = Currency(code="GBP", symbol="£", exchange_rate=Decimal(1))


def number_of(sandbox: KashFlowSandbox, code: str, **match: t.Any) -> int:
    """The first invoice of *code* whose stored fields equal *match*."""
    return next(
        n
        for n, inv in sorted(sandbox.invoices.items())
        if inv["CustomerCode"] == code and all(inv.get(k) == v for k, v in match.items())
    )


def page(app: Flask, *, invoice: int | None = None, customer: str = "", suffix: str = "") -> str:
    links = KashFlowLinks()
    with app.test_request_context():
        link = links.mint_invoice(invoice) if invoice else links.mint_customer(customer)
    response = app.test_client().get(link.url + suffix)
    assert response.status_code == 200, response.status_code
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def pounds(amount: Decimal) -> str:
    return f"£{amount:,.2f}"


def owed(sandbox: KashFlowSandbox, number: int) -> Decimal:
    """What is still owed on *number*: its gross less its payment lines (the stored truth)."""
    invoice = sandbox.invoices[number]
    return t.cast(Decimal, invoice["GrossAmount"]) - sum(
        (p["Amount"] for p in invoice["PaymentLines"]), Decimal(0)
    )


def test_amount_due_without_due_amount(portal: Flask, sandbox: KashFlowSandbox) -> None:
    due = owed(sandbox, 1043)
    assert due > 0 and sandbox.invoices[1043]["Status"] == "Overdue"
    html = page(portal, invoice=1043)
    assert f'kfl-due__amount">{pounds(due)}' in html  # the big "Amount due"
    assert "Pay online" in html and f"https://pay.example.test/1043/{due:.2f}" in html.replace(
        "%2E", "."
    )


def test_a_part_paid_invoice_in_euros(portal: Flask, sandbox: KashFlowSandbox) -> None:
    number = number_of(sandbox, "DUBOIS01")
    invoice = page(portal, customer="DUBOIS01", suffix=f"/{number}")
    listing = page(portal, customer="DUBOIS01")
    for html in (invoice, listing):
        assert "€400.00 paid so far" in html
        assert "343.35" not in html  # the home-currency TotalPaidAmount, never with a € sign
    assert 'kfl-due__amount">€600.00' in invoice
    assert "Outstanding balance" in listing and 'kfl-due__amount">€600.00' in listing


def test_balance_and_rows_follow_the_same_numbers(portal: Flask, sandbox: KashFlowSandbox) -> None:
    unpaid = [
        n
        for n, inv in sandbox.invoices.items()
        if inv["CustomerCode"] == "ACME01" and inv["Status"] in ("Unpaid", "Overdue")
    ]
    html = page(portal, customer="ACME01")
    total = sum((owed(sandbox, n) for n in unpaid), Decimal(0))
    assert f'kfl-due__amount">{pounds(total)}' in html
    for number in unpaid:
        assert pounds(owed(sandbox, number)) in html
    assert "—" not in html  # no amount left unknown


def test_credit_notes_are_not_invoices_owed(
    portal: Flask, sandbox: KashFlowSandbox, variant: str
) -> None:
    goodwill = number_of(sandbox, "CREDIT01", Type="CreditNote", Status="Unpaid")
    part = number_of(sandbox, "CREDIT01", Type="Invoice", Status="Unpaid")
    html = page(portal, customer="CREDIT01")
    # One invoice is owed (600 less a 120 credit and a 200 payment); credit notes owe nothing.
    assert 'kfl-due__amount">£280.00' in html
    assert 'Unpaid <span class="kfl-count">(1)' in html
    assert 'Overdue <span class="kfl-count">(0)' in html and "kfl-badge--overdue" not in html
    assert f"Credit note {goodwill}" in html and "£60.00 in your favour" in html
    detail = page(portal, customer="CREDIT01", suffix=f"/{part}")
    assert 'kfl-due__amount">£280.00' in detail
    if variant == "rest":
        # KashFlow marks the allocation (IsPaymentCreditNote): a credit, not money received.
        assert "£200.00 paid so far" in detail and "Credited</dt><dd>£120.00" in detail
        assert "Payments and credits" in detail
    else:
        # The documented payment lines carry no such flag: both count as paid, same total due.
        assert "£320.00 paid so far" in detail and "Credited" not in detail
    credit = page(portal, customer="CREDIT01", suffix=f"/{goodwill}")
    assert f"Credit note {goodwill}" in credit and "Pay online" not in credit


def test_an_unpaid_link_lists_no_credit_note(portal: Flask, sandbox: KashFlowSandbox) -> None:
    links = KashFlowLinks()
    with portal.test_request_context():
        link = links.mint_customer("CREDIT01", status="unpaid")
    html = portal.test_client().get(link.url).get_data(as_text=True)
    shown = {int(n) for n in re.findall(r"/invoices/[^/\"]+/(\d+)\"", html)}
    assert shown == {number_of(sandbox, "CREDIT01", Type="Invoice", Status="Unpaid")}


# -- the model and the formatter, without HTTP ------------------------------------------------


def test_the_documented_example_shows_no_home_currency_total_as_paid() -> None:
    # KashFlow's own detail example: a £1,100 invoice whose TotalPaidAmount (home currency,
    # and from another example) is 5,090, with no payment lines.
    invoice = Invoice.from_api(
        {
            "Number": 1,
            "Status": "Unpaid",
            "GrossAmount": Decimal("1100.0000"),
            "TotalPaidAmount": Decimal("5090.0000"),
            "Currency": {"Code": "GBP", "Symbol": "£", "ExchangeRate": Decimal("1.0000")},
            "PaymentLines": [],
        },
        detailed=True,
    )
    assert invoice is not None
    assert invoice.due_amount == Decimal(1100) and invoice.amount_paid == 0
    view = invoice_view(Formatter("en_GB", ZoneInfo("Europe/London")), invoice, date(2026, 1, 1))
    assert view.due_amount == "£1,100.00" and "5,090" not in repr(view)


@pytest.mark.parametrize(
    ("row", "due", "paid"),
    [
        # A list row in the home currency: gross less TotalPaidAmount.
        ({"TotalPaidAmount": "40", "Currency": {"ExchangeRate": 1}}, Decimal(60), Decimal(40)),
        # In another currency nothing paid: all of it is owed, whatever the rate.
        ({"TotalPaidAmount": "0", "Currency": {"ExchangeRate": "1.165"}}, Decimal(100), 0),
        # In another currency, part-paid: unknown from the row (the detail will tell).
        ({"TotalPaidAmount": "34.33", "Currency": {"ExchangeRate": "1.165"}}, None, None),
        # DueAmount, when KashFlow sends it, decides.
        ({"DueAmount": "12.50", "TotalPaidAmount": "3"}, Decimal("12.50"), Decimal("87.50")),
    ],
)
def test_what_a_list_row_says_is_owed(
    row: dict[str, t.Any], due: Decimal | None, paid: Decimal | None
) -> None:
    invoice = Invoice.from_api({"Number": 7, "Status": "Unpaid", "GrossAmount": "100", **row})
    assert invoice is not None
    assert invoice.due_amount == due and invoice.amount_paid == paid


def test_money_rounds_half_up_to_the_penny() -> None:
    money = Formatter("en_GB", ZoneInfo("Europe/London")).money
    # Babel alone rounds half to even: £0.12 and £1.02 here.
    assert money(Decimal("0.125"), GBP) == "£0.13"
    assert money(Decimal("1.025"), GBP) == "£1.03"
    assert money(Decimal("-0.125"), GBP) == "\u2212£0.13"
    line = LineItem(quantity=Decimal(3), rate=Decimal("0.675"))  # 2.025
    assert money(line.net, GBP) == "£2.03"
    assert money(Decimal("1234.5"), Currency(code="JPY", symbol="¥")) == "¥1,235"
