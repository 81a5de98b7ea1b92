"""The demo data of the awkward cases, over HTTP: credit notes, a part-paid invoice in euros,
contacts opted out of emails."""

from __future__ import annotations

from decimal import Decimal

from kashflow_sandbox import KashFlowSandbox
from sandbox_client import Api
from sandbox_client import decimal_json
from sandbox_client import number_of
from sandbox_client import pdf_text
from sandbox_client import rows_of


def test_cases_come_after_the_rest_of_the_demo(sb: KashFlowSandbox) -> None:
    cases = ("CREDIT01", "DUBOIS01", "QUIET01", "MIXED01")
    assert list(sb.customers)[-4:] == list(cases)
    numbers = [n for n, inv in sb.invoices.items() if inv["CustomerCode"] in cases]
    generated = [n for n, inv in sb.invoices.items() if inv["CustomerCode"] == "ACME01"]
    assert min(numbers) > max(generated) and len(numbers) == 8
    assert sb.invoices[min(numbers) - 1]["NextNumber"] == min(numbers)


def test_every_invoice_says_what_it_is(api: Api, sb: KashFlowSandbox) -> None:
    assert {inv["Type"] for inv in sb.invoices.values()} == {"Invoice", "CreditNote"}
    row = rows_of(api, "ACME01")[0]
    assert row["Type"] == "Invoice"
    detail = decimal_json(api.get("/invoices/4"))
    assert detail["Type"] == "Invoice"
    assert [p["IsPaymentCreditNote"] for p in detail["PaymentLines"]] == [False, False]


def test_credit_notes_in_the_list(api: Api) -> None:
    rows = rows_of(api, "CREDIT01")
    credits = [r for r in rows if r["Type"] == "CreditNote"]
    invoices = [r for r in rows if r["Type"] == "Invoice"]
    assert len(credits) == 3 and len(invoices) == 2
    assert all(r["GrossAmount"] < 0 and r["DueAmount"] == 0 for r in credits)
    assert sorted(r["Status"] for r in credits) == ["Paid", "Paid", "Unpaid"]
    assert all(r["GrossAmount"] == r["NetAmount"] + r["VATAmount"] for r in credits)
    assert all(r["OverdueDays"] == 0 for r in credits)
    # The Swagger's sortby code 10 sorts by Type.
    by_type = api.get("/invoices", params={"customercode": "CREDIT01", "sortby": "10"}).json()
    assert [r["Type"] for r in by_type["Data"]] == ["CreditNote"] * 3 + ["Invoice"] * 2


def test_credit_allocations_on_invoices(api: Api, sb: KashFlowSandbox) -> None:
    number = number_of(sb, "CREDIT01", Status="Unpaid", Type="Invoice")
    part = decimal_json(api.get(f"/invoices/{number}"))
    flags = [(p["Amount"], p["IsPaymentCreditNote"]) for p in part["PaymentLines"]]
    assert flags == [(Decimal("120"), True), (Decimal("200"), False)]
    assert part["DueAmount"] == part["GrossAmount"] - 320 > 0
    number = number_of(sb, "CREDIT01", Status="Paid", Type="Invoice")
    settled = decimal_json(api.get(f"/invoices/{number}"))
    assert settled["PaidDate"] and settled["DueAmount"] == 0
    assert [p["IsPaymentCreditNote"] for p in settled["PaymentLines"]] == [True]


def test_credit_notes_themselves(api: Api, sb: KashFlowSandbox) -> None:
    credit = decimal_json(api.get(f"/invoices/{number_of(sb, 'CREDIT01', Type='CreditNote')}"))
    assert credit["GrossAmount"] == Decimal("-120") and credit["Status"] == "Paid"
    assert credit["PaymentLines"][0]["Amount"] == Decimal("-120") and credit["PaidDate"]
    open_credit = number_of(sb, "CREDIT01", Type="CreditNote", Status="Unpaid")
    unallocated = decimal_json(api.get(f"/invoices/{open_credit}"))
    assert unallocated["PaymentLines"] == [] and unallocated["PaidDate"] is None
    assert "CREDIT NOTE" in pdf_text(api.get(sb.origin + credit["Permalink"]).content)
    # A customer's balance is net of its credit notes; nothing is owed on a credit note.
    customer = decimal_json(api.get("/customers/CREDIT01"))
    assert customer["InvoicedNetAmount"] == Decimal("350")
    assert customer["OutstandingBalance"] == Decimal("280")


def test_part_paid_in_euros(api: Api, sb: KashFlowSandbox) -> None:
    invoice = decimal_json(api.get(f"/invoices/{number_of(sb, 'DUBOIS01')}"))
    assert invoice["Status"] == "Unpaid" and invoice["Currency"]["Code"] == "EUR"
    assert invoice["GrossAmount"] == Decimal("1000") and invoice["DueAmount"] == Decimal("600")
    # This shape's TotalPaidAmount is in the invoice's currency, like the payment lines.
    assert invoice["TotalPaidAmount"] == sum(p["Amount"] for p in invoice["PaymentLines"])
    assert invoice["HomeCurrencyGrossAmount"] == Decimal("858.37")


def test_contacts_opted_out(api: Api) -> None:
    quiet = api.get("/customers/QUIET01").json()["Contacts"]
    assert len(quiet) == 2 and all(c["ReceiveEmails"] is False for c in quiet)
    mixed = api.get("/customers/MIXED01").json()["Contacts"]
    assert [c["ReceiveEmails"] for c in mixed] == [False, True, True, False]
    assert [c["IsPrimary"] for c in mixed] == [True, False, False, False]
    acme = api.get("/customers/ACME01").json()["Contacts"]
    assert [(c["IsPrimary"], c["ReceiveEmails"]) for c in acme] == [(True, True)]


def test_added_contacts_get_the_flags() -> None:
    with KashFlowSandbox(demo_data=False) as sb:
        given = {"Email": "a@b.test", "ReceiveEmails": False}
        customer = sb.add_customer({"Code": "X1", "Contacts": [{"Email": "x@y.test"}, given]})
        assert [(c["IsPrimary"], c["ReceiveEmails"]) for c in customer["Contacts"]] == [
            (True, True),
            (False, False),
        ]
        assert "IsPrimary" not in given  # the caller's dicts are not changed
        named = sb.add_customer(
            {
                "Code": "X2",
                "Contacts": [{"Email": "p@y.test"}, {"Email": "q@y.test", "IsPrimary": True}],
            }
        )
        assert [c["IsPrimary"] for c in named["Contacts"]] == [False, True]
