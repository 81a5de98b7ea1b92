"""SOAP's whole-account lists for "who owes what": ``GetInvoices_Unpaid``,
``GetInvoices_Overdue`` (no parameters but the credentials; every matching invoice at once)
and ``GetCustomers``, with the conventions, counters and faults of the other operations."""

from __future__ import annotations

import typing as t
from datetime import date
from decimal import Decimal

import pytest

from kashflow_sandbox import KashFlowSandbox
from sandbox_client import TODAY
from sandbox_soap_client import KF
from sandbox_soap_client import SOAP11
from sandbox_soap_client import SOAP12
from sandbox_soap_client import XSI_NIL
from sandbox_soap_client import call
from sandbox_soap_client import envelope
from sandbox_soap_client import fault_text
from sandbox_soap_client import field
from sandbox_soap_client import post
from sandbox_soap_client import tags


def numbers(result: t.Any) -> list[int]:
    assert all(item.tag == f"{KF}Invoice" for item in result)
    return [int(field(item, "InvoiceNumber")) for item in result]


def with_status(sb: KashFlowSandbox, *statuses: str) -> list[int]:
    return sorted(n for n, i in sb.invoices.items() if i["Status"] in statuses)


@pytest.mark.parametrize("version", [SOAP11, SOAP12])
def test_unpaid_is_everything_still_owed_overdue_included(
    sb: KashFlowSandbox, version: str
) -> None:
    answer = call(sb, "GetInvoices_Unpaid", version=version)
    assert (answer.status, answer.detail) == ("OK", "")
    listed = answer.result("GetInvoices_Unpaid")
    assert numbers(listed) == with_status(sb, "Unpaid", "Overdue")
    assert 1043 in numbers(listed)  # ACME01's overdue invoice
    assert {field(item, "Paid") for item in listed} == {"0"}
    for item in listed:
        gross = Decimal(field(item, "NetAmount")) + Decimal(field(item, "VATAmount"))
        assert gross != Decimal(field(item, "AmountPaid"))
    assert sb.calls["soap.GetInvoices_Unpaid"] == 1


@pytest.mark.parametrize("version", [SOAP11, SOAP12])
def test_overdue_is_unpaid_and_past_its_due_date(sb: KashFlowSandbox, version: str) -> None:
    listed = call(sb, "GetInvoices_Overdue", version=version).result("GetInvoices_Overdue")
    overdue = numbers(listed)
    assert overdue == with_status(sb, "Overdue") and 1043 in overdue
    assert set(overdue) < set(with_status(sb, "Unpaid", "Overdue"))
    for item in listed:
        assert date.fromisoformat(field(item, "DueDate")[:10]) < TODAY
        assert field(item, "Paid") == "0"
    assert sb.calls["soap.GetInvoices_Overdue"] == 1


def test_the_lists_hold_the_same_invoices_as_get_invoice(sb: KashFlowSandbox) -> None:
    [first, *_] = call(sb, "GetInvoices_Overdue").result("GetInvoices_Overdue")
    number = field(first, "InvoiceNumber")
    single = call(sb, "GetInvoice", f"<InvoiceNumber>{number}</InvoiceNumber>")
    alone = single.result("GetInvoice")
    assert tags(first) == tags(alone)
    assert [e.text for e in first.iter()] == [e.text for e in alone.iter()]


def test_get_customers_is_every_customer(sb: KashFlowSandbox) -> None:
    answer = call(sb, "GetCustomers")
    assert answer.status == "OK"
    listed = answer.result("GetCustomers")
    assert all(item.tag == f"{KF}Customer" for item in listed)
    assert [field(item, "Code") for item in listed] == sorted(sb.customers)
    acme = next(item for item in listed if field(item, "Code") == "ACME01")
    alone = call(sb, "GetCustomer", "<CustomerCode>ACME01</CustomerCode>").result("GetCustomer")
    assert tags(acme) == tags(alone)
    assert [e.text for e in acme.iter()] == [e.text for e in alone.iter()]
    assert sb.calls["soap.GetCustomers"] == 1


@pytest.mark.parametrize("operation", ["GetInvoices_Unpaid", "GetInvoices_Overdue", "GetCustomers"])
def test_account_checks_and_faults(sb: KashFlowSandbox, operation: str) -> None:
    assert call(sb, operation, password="wrong").detail == "Incorrect username or password"
    sb.soap_status_no_next(1, "Busy, try later", operation=operation)
    assert (call(sb, operation).status, call(sb, operation).status) == ("NO", "OK")
    sb.fail_next(1, 503, endpoint=f"soap.{operation}")
    failed = post(sb, envelope(operation, "", sb=sb), action=f"KashFlow/{operation}")
    assert failed.status_code == 503 and "unavailable" in fault_text(failed)
    sb.malformed_next(1, endpoint=f"soap.{operation}")
    cut = post(sb, envelope(operation, "", sb=sb), action=f"KashFlow/{operation}")
    assert cut.status_code == 200 and not cut.text.rstrip().endswith("</soap:Envelope>")
    sb.set_soap_ip_blocked()
    assert call(sb, operation).detail == "The IP address of 127.0.0.1 is not in the access list"
    assert sb.calls[f"soap.{operation}"] == 6


def test_latency_reaches_them() -> None:
    waited: list[float] = []
    with KashFlowSandbox(today=TODAY, sleep=waited.append) as sb:
        sb.set_latency(1.5, "soap.GetInvoices_Unpaid")
        assert call(sb, "GetInvoices_Overdue").status == "OK" and waited == []
        assert call(sb, "GetInvoices_Unpaid").status == "OK" and waited == [1.5]


def test_empty_lists_and_their_answers() -> None:
    with KashFlowSandbox(today=TODAY, demo_data=False) as sb:
        sb.add_customer({"Code": "PAID01", "Name": "Always Pays Ltd"})
        sb.add_invoice({"CustomerCode": "PAID01", "GrossAmount": "60.00", "TotalPaidAmount": "60"})
        for operation in ("GetInvoices_Unpaid", "GetInvoices_Overdue"):
            answer = call(sb, operation)
            assert answer.status == "OK" and len(answer.result(operation)) == 0
            sb.set_soap_empty_list_answer("nil")
            assert call(sb, operation).result(operation).get(XSI_NIL) == "true"
            sb.set_soap_empty_list_answer("missing")
            assert call(sb, operation).result(operation) is None
            sb.clear_faults()
        # A part-paid invoice not yet due is unpaid, not overdue.
        number = sb.add_invoice(
            {"CustomerCode": "PAID01", "GrossAmount": "90.00", "TotalPaidAmount": "30"}
        )["Number"]
        assert numbers(call(sb, "GetInvoices_Unpaid").result("GetInvoices_Unpaid")) == [number]
        assert len(call(sb, "GetInvoices_Overdue").result("GetInvoices_Overdue")) == 0


def test_ignore_filters_lists_every_invoice(sb: KashFlowSandbox) -> None:
    sb.ignore_filters()
    for operation in ("GetInvoices_Unpaid", "GetInvoices_Overdue"):
        assert numbers(call(sb, operation).result(operation)) == sorted(sb.invoices)
