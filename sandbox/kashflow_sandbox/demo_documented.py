"""KashFlow's own documented examples as sandbox fixtures.

The customers ``TCUST01``, ``TCUST02``, ``BALA01``, ``BALA02`` and ``PDRI91`` and invoices 1-4
come from KashFlow's REST API pages (the invoice list example, the invoice detail example and
the customer examples), with their invalid JSON fixed up and their contradictions resolved.
"""

from __future__ import annotations

import typing as t
from decimal import Decimal

from .records import address
from .records import contact
from .values import currency

if t.TYPE_CHECKING:  # pragma: no cover
    from .data import SandboxData


def add_documented_customers(data: SandboxData) -> None:
    """The customers of KashFlow's documentation, with the invalid JSON fixed up."""
    data.add_customer(
        {
            "Code": "TCUST01",
            "Id": 136514,
            "Name": "John Smith",
            "DisplayName": "John Smith, CR21 4RT",
            "Contacts": [
                contact("john.smith@example.com", "John Smith", "John", "Smith", "020 7946 0001")
            ],
            "Addresses": [address("12 High Street", "Croydon", "Surrey", "CR21 4RT", "GB", "UK")],
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
            "Contacts": [contact("accounts@example.org", "Accounts Department")],
            "Addresses": [
                address("1 Example Road", "Harlow", "Essex", "CM19 4PT", "GB", "United Kingdom")
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
                "Contacts": [contact(email)],
                "Currency": currency("EUR", ExchangeRate=Decimal("1.0000")),
                "DefaultNominalCode": 4905,
                "PaymentTerms": {"Days": terms, "Type": "AfterIssuedDate"},
                "AverageDaysToPay": avg,
                "CreatedDate": None,
                "LastUpdatedDate": None,
            }
        )
    doncaster = address(
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
            "Contacts": [contact("pdri91@example.test")],
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


def add_documented_invoices(data: SandboxData) -> None:
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
            "Address": address("123 Tooley Street", None, None, None, "BR", "Brazil"),
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


__all__ = ["add_documented_customers", "add_documented_invoices"]
