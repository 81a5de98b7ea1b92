"""The sandbox's two response shapes and the demo data of the awkward cases, over HTTP.

The expected field lists are copied from KashFlow's official REST pages (the invoice list
example, the invoice detail example and the customer detail example), not from the sandbox's
own code, so a drift in either shows here.
"""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

import pytest
import requests

from kashflow_sandbox import KashFlowSandbox
from sandbox_client import TIMEOUT
from sandbox_client import TODAY
from sandbox_client import Api
from sandbox_client import decimal_json
from sandbox_client import login_at
from sandbox_client import number_of
from sandbox_client import rows_of

#: The keys of a row of the documented GET /invoices example, in its order.
DOC_ROW = [
    "Address", "AutomaticCreditControlEnabled", "Currency", "CustomerCode", "CustomerDiscount",
    "CustomerId", "CustomerName", "CustomerReference", "DeliveryAddress", "DueDate",
    "EmailCount", "GrossAmount", "Id", "InvoiceInECMemberState", "InvoiceOutsideECMemberState",
    "IssuedDate", "LineItems", "LastPaymentDate", "NetAmount", "Number", "OverdueDays",
    "PaidDate", "PaymentLines", "Status", "SuppressNumber", "TotalPaidAmount",
    "UpdateCustomerAddress", "UpdateCustomerDeliveryAddress", "VATAmount", "VATNumber",
]  # fmt: skip
#: The keys of the documented GET /invoices/{number} example, in its order.
DOC_DETAIL = [
    "Address", "Currency", "AutomaticCreditControlEnabled", "CustomerDiscount", "CustomerId",
    "CustomerName", "CustomerReference", "DeliveryAddress", "DueDate", "EmailCount",
    "GrossAmount", "HomeCurrencyGrossAmount", "Id", "InvoiceInECMemberState",
    "InvoiceOutsideECMemberState", "IssuedDate", "LineItems", "LastPaymentDate", "NetAmount",
    "Number", "OverdueDays", "PaidDate", "PaymentLines", "Status", "SuppressNumber",
    "TotalPaidAmount", "UpdateCustomerAddress", "UpdateCustomerDeliveryAddress",
    "UseCustomDeliveryAddress", "VATAmount", "VATNumber", "PreviousNumber", "NextNumber",
    "Permalink", "PackingSlipPermalink", "ReminderLetters", "IsWhtDeductionToBeApplied",
    "PayOnlinePaymentProcessor",
]  # fmt: skip
DOC_LINE = {
    "ApplyTax1", "ApplyTax2", "ApplyTax3", "ApplyTax4", "ApplyTax5", "NominalCode",
    "Description", "Number", "ProductCode", "ProductName", "Quantity", "Rate", "Tax1Amount",
    "Tax2Amount", "Tax3Amount", "Tax4Amount", "Tax5Amount", "VATAmount", "VATExempt",
    "VATLevel", "ProjectNumber",
}  # fmt: skip
DOC_PAYMENT = ["AccountId", "Amount", "Id", "InvoiceNumber", "Date", "Method", "Note", "Permalink"]
DOC_CURRENCY = {"Code", "ExchangeRate", "Id", "Name", "Symbol", "DisplaySymbolOnRight"}
#: The keys of the documented GET /customers/{code} example.
DOC_CUSTOMER = {
    "ApplyWHT", "AutoIncludeVATNumber", "AverageDaysToPay", "Code", "Contacts", "CreatedDate",
    "Currency", "CustomCheckBoxes", "CustomTextBoxes", "Addresses", "DefaultNominalCode",
    "DefaultCustomerReference", "DeliveryAddresses", "DiscountRate", "DisplayName",
    "IsRegisteredInEC", "Email", "EmailTemplateNumber", "FaxNumber", "FirstInvoiceDate",
    "UseCustomDeliveryAddress", "Id", "InvoiceCount", "InvoiceFileFormat", "InvoicedNetAmount",
    "InvoicedVATAmount", "IsArchived", "IsGoCardlessMandateSet", "ReceivesWholesalePricing",
    "Key", "LastInvoiceDate", "LastUpdatedDate", "MobileNumber", "Name", "Note",
    "OutstandingBalance", "IsRegisteredOutsideEC", "OverrideInvoiceFileFormat", "PaymentTerms",
    "CreateCustomerCodeIfDuplicate", "CreateCustomerNameIfEmptyOrNull", "TotalPaidAmount",
    "ShowDiscount", "Source", "TelephoneNumber", "UniqueEntityNumber", "VATNumber", "Website",
    "WHTRate", "WHTReferences", "AutomaticCreditControlEnabled", "EnvelopeUrl", "PDFThemeId",
}  # fmt: skip
#: The documented contact keys plus the Swagger copy's two opt-in flags (both shapes).
CONTACT = {
    "Email", "Fax", "Firstname", "LastName", "Mobile", "Name", "Telephone", "Title", "Website",
    "IsPrimary", "ReceiveEmails",
}  # fmt: skip


# --- choosing the shape ----------------------------------------------------------------------


def test_shape_is_validated_everywhere(sb: KashFlowSandbox, api: Api) -> None:
    with pytest.raises(ValueError, match="shape must be one of"):
        KashFlowSandbox(shape="openapi")
    with pytest.raises(ValueError):
        sb.set_shape("Documented")
    assert sb.shape == "swagger"
    faults = f"{sb.origin}/_sandbox/faults"
    bad = requests.post(faults, json={"action": "set_shape", "shape": "xml"}, timeout=TIMEOUT)
    assert bad.status_code == 400 and "shape must be one of" in bad.json()["error"]
    ok = requests.post(faults, json={"action": "set_shape", "shape": "documented"}, timeout=5)
    assert ok.json() == {"ok": True} and sb.shape == "documented"
    assert "DueAmount" not in api.get("/invoices/1043").json()
    # clear_faults leaves the shape alone: it is a reading of KashFlow, not a fault.
    sb.clear_faults()
    assert sb.shape == "documented"


def test_constructor_shape() -> None:
    with KashFlowSandbox(today=TODAY, shape="documented", demo_data=False) as sb:
        assert sb.shape == "documented"
        sb.add_customer({"Code": "ONE01"})
        sb.add_invoice({"CustomerCode": "ONE01", "GrossAmount": "12.00"})
        other = Api(sb)
        detail = other.get("/invoices/1001").json()
        other.close()
        assert list(detail) == DOC_DETAIL


def test_command_line_shape_option() -> None:
    command = [sys.executable, "-m", "kashflow_sandbox", "--port", "0"]
    bad = subprocess.run([*command, "--shape", "wsdl"], capture_output=True, timeout=30)
    assert bad.returncode == 2 and b"wsdl" in bad.stderr
    process = subprocess.Popen(
        [*command, "--shape", "documented", "--today", TODAY.isoformat()],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[3]
        assert "documented" in process.stdout.readline()
        token = login_at(url)
        row = requests.get(
            f"{url}/invoices", headers={"Authorization": f"KfToken {token}"}, timeout=TIMEOUT
        ).json()["Data"][0]
        assert list(row) == DOC_ROW
    finally:
        process.terminate()
        process.wait(10)


# --- the swagger shape (the default) -----------------------------------------------------------


def test_swagger_shape_has_the_swagger_fields(api: Api, sb: KashFlowSandbox) -> None:
    row = rows_of(api, "ACME01")[0]
    assert {"DueAmount", "Type", "CustomerCode"} <= set(row)
    assert row["Type"] == "Invoice"
    detail = decimal_json(api.get("/invoices/4"))
    assert detail["CustomerCode"] == "TCUST02" and detail["DueAmount"] == 0
    assert all(p["IsPaymentCreditNote"] is False for p in detail["PaymentLines"])
    assert detail == decimal_json(api.get("/invoices/4"))  # stable
    # The stored record is what the swagger shape serves.
    assert set(detail) == set(sb.invoices[4])


# --- the documented shape --------------------------------------------------------------------


def test_documented_list_rows_have_exactly_the_documented_fields(
    api: Api, sb: KashFlowSandbox
) -> None:
    sb.set_shape("documented")
    rows = rows_of(api, "ACME01")
    assert len(rows) == 12
    for row in rows:
        assert list(row) == DOC_ROW
        assert row["CustomerCode"] == "ACME01"  # the documented list example has it
        assert set(row["Currency"]) == DOC_CURRENCY
        assert row["LineItems"] is row["PaymentLines"] is row["Address"] is None
    assert not any("DueAmount" in r or "Type" in r for r in rows_of(api, "CREDIT01"))


def test_documented_detail_has_exactly_the_documented_fields(api: Api, sb: KashFlowSandbox) -> None:
    sb.set_shape("documented")
    for number in (4, 1043, number_of(sb, "CREDIT01", Type="Invoice")):
        detail = decimal_json(api.get(f"/invoices/{number}"))
        assert list(detail) == DOC_DETAIL
        assert "CustomerCode" not in detail and "DueAmount" not in detail
        assert all(set(line) == DOC_LINE for line in detail["LineItems"])
        assert all(list(p) == DOC_PAYMENT for p in detail["PaymentLines"])
        assert all(set(r) == {"IsSent", "Number", "SentDate"} for r in detail["ReminderLetters"])
        assert detail["Permalink"] == sb.invoices[number]["Permalink"]
    documented = api.get("/invoices/4").text
    assert '"GrossAmount":117.5000' in documented and '"TotalPaidAmount":117.5000' in documented


def test_documented_total_paid_is_in_home_currency(api: Api, sb: KashFlowSandbox) -> None:
    sb.set_shape("documented")
    number = number_of(sb, "DUBOIS01")
    invoice = decimal_json(api.get(f"/invoices/{number}"))
    paid_in_euros = sum(p["Amount"] for p in invoice["PaymentLines"])
    assert invoice["Status"] == "Unpaid" and invoice["Currency"]["Code"] == "EUR"
    assert (invoice["GrossAmount"], paid_in_euros) == (Decimal("1000"), Decimal("400"))
    # Pounds: the euro amounts divided by the exchange rate (1.1650 euros per pound).
    assert invoice["Currency"]["ExchangeRate"] == Decimal("1.165")
    assert invoice["HomeCurrencyGrossAmount"] == Decimal("858.37")
    assert invoice["TotalPaidAmount"] == Decimal("343.35") != paid_in_euros
    row = next(r for r in rows_of(api, "DUBOIS01") if r["Number"] == number)
    assert row["TotalPaidAmount"] == Decimal("343.35")
    # In pounds already: the same number either way.
    gbp = decimal_json(api.get("/invoices/4"))
    assert gbp["TotalPaidAmount"] == sum(p["Amount"] for p in gbp["PaymentLines"])


def test_documented_customer_has_exactly_the_documented_fields(
    api: Api, sb: KashFlowSandbox
) -> None:
    sb.set_shape("documented")
    for code in ("PDRI91", "ACME01", "MULLER01", "QUIET01"):
        customer = decimal_json(api.get(f"/customers/{code}"))
        assert set(customer) == DOC_CUSTOMER
        # The customers page spells the currency differently from the invoices page.
        assert set(customer["Currency"]) == {
            "Code",
            "ExchangeRate",
            "DisplayOnRight",
            "Name",
            "Symbol",
        }
        assert all(set(c) == CONTACT for c in customer["Contacts"])
    muller = api.get("/customers/MULLER01").json()
    assert muller["Currency"]["DisplayOnRight"] is True
    sb.set_shape("swagger")
    assert api.get("/customers/MULLER01").json()["Currency"]["DisplaySymbolOnRight"] is True


# --- contacts --------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["swagger", "documented"])
def test_contacts_opt_in_flags(api: Api, sb: KashFlowSandbox, shape: str) -> None:
    sb.set_shape(shape)
    quiet = api.get("/customers/QUIET01").json()["Contacts"]
    assert len(quiet) == 2 and all(c["ReceiveEmails"] is False for c in quiet)
    mixed = api.get("/customers/MIXED01").json()["Contacts"]
    assert [c["ReceiveEmails"] for c in mixed] == [False, True, True, False]
    assert [c["IsPrimary"] for c in mixed] == [True, False, False, False]
    acme = api.get("/customers/ACME01").json()["Contacts"]
    assert [(c["IsPrimary"], c["ReceiveEmails"]) for c in acme] == [(True, True)]


# --- credit notes ----------------------------------------------------------------------------


def test_documented_credit_notes_lose_their_discriminators(api: Api, sb: KashFlowSandbox) -> None:
    sb.set_shape("documented")
    invoice = number_of(sb, "CREDIT01", Status="Unpaid", Type="Invoice")
    credit = number_of(sb, "CREDIT01", Type="CreditNote")
    # The amounts are kept (a credit note is negative), but nothing says "credit note".
    documented = decimal_json(api.get(f"/invoices/{credit}"))
    assert "Type" not in documented and documented["GrossAmount"] == Decimal("-120")
    allocated = decimal_json(api.get(f"/invoices/{invoice}"))
    assert [list(p) for p in allocated["PaymentLines"]] == [DOC_PAYMENT, DOC_PAYMENT]
    assert [p["Amount"] for p in allocated["PaymentLines"]] == [Decimal("120"), Decimal("200")]
    assert {r["Status"] for r in rows_of(api, "CREDIT01") if r["GrossAmount"] < 0} == {
        "Paid",
        "Unpaid",
    }
