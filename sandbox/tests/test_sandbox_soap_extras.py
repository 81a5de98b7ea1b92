"""What the SOAP backend needs of the sandbox beyond its first five operations: the newest
invoices (``GetInvoices_Recent``, the connection check's call), permalinks a client without a
session can download, and ``ignore_filters`` reaching ``GetInvoicesForCustomer``."""

from __future__ import annotations

import requests

from kashflow_sandbox import KashFlowSandbox
from sandbox_client import TIMEOUT
from sandbox_soap_client import KF
from sandbox_soap_client import call
from sandbox_soap_client import field


def test_recent_invoices_newest_first(sb: KashFlowSandbox) -> None:
    newest = sorted(
        sb.invoices.values(), key=lambda i: (i["IssuedDate"][:10], i["Number"]), reverse=True
    )
    answer = call(sb, "GetInvoices_Recent", "<NumberOfInvoices>3</NumberOfInvoices>")
    listed = answer.result("GetInvoices_Recent")
    assert [field(i, "InvoiceNumber") for i in listed] == [str(i["Number"]) for i in newest[:3]]
    assert all(i.tag == f"{KF}Invoice" for i in listed)
    none = call(sb, "GetInvoices_Recent", "<NumberOfInvoices>0</NumberOfInvoices>")
    assert none.status == "OK" and len(none.result("GetInvoices_Recent")) == 0
    assert call(sb, "GetInvoices_Recent", password="wrong").status == "NO"
    assert sb.calls["soap.GetInvoices_Recent"] == 3


def test_public_documents(sb: KashFlowSandbox) -> None:
    answer = call(sb, "GetInvoice", "<InvoiceNumber>1043</InvoiceNumber>")
    permalink = field(answer.result("GetInvoice"), "PermaLink")
    assert requests.get(permalink, timeout=TIMEOUT).status_code == 401  # the default
    sb.set_public_documents()
    pdf = requests.get(permalink, timeout=TIMEOUT)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    # A request that does carry a session token still has it checked.
    refused = requests.get(
        permalink, headers={"Authorization": "KfToken nonsense"}, timeout=TIMEOUT
    )
    assert refused.status_code == 401
    sb.clear_faults()  # account set-up, not a fault: it stays
    assert requests.get(permalink, timeout=TIMEOUT).status_code == 200
    control = requests.post(
        f"{sb.origin}/_sandbox/faults",
        json={"action": "set_public_documents", "flag": False},
        timeout=TIMEOUT,
    )
    assert control.json() == {"ok": True}
    assert requests.get(permalink, timeout=TIMEOUT).status_code == 401
    assert KashFlowSandbox(public_documents=True).public_documents


def test_ignore_filters_reaches_invoices_for_customer(sb: KashFlowSandbox) -> None:
    customer_id = sb.customers["ACME01"]["Id"]
    params = f"<CustID>{customer_id}</CustID>"
    honest = call(sb, "GetInvoicesForCustomer", params).result("GetInvoicesForCustomer")
    assert {field(i, "Customer") for i in honest} == {"ACME01"}
    sb.ignore_filters()
    sloppy = call(sb, "GetInvoicesForCustomer", params).result("GetInvoicesForCustomer")
    assert len(sloppy) == len(sb.invoices)
