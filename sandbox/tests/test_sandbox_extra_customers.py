"""Many customers who owe money, for benchmarks of "who owes what": ``extra_customers=`` and
``SandboxData.add_extra_customers``, deterministic for a seed, the demo business untouched."""

from __future__ import annotations

import subprocess
import sys
import threading
from decimal import Decimal

import pytest
import requests

from kashflow_sandbox import KashFlowSandbox
from kashflow_sandbox import SandboxData
from kashflow_sandbox.jsonfmt import encode_json
from sandbox_client import TIMEOUT
from sandbox_client import TODAY
from sandbox_client import Api
from sandbox_client import decimal_json
from sandbox_client import login_at
from sandbox_soap_client import call
from sandbox_soap_client import field


def extra(count: int, seed: int = 7, **kwargs: int) -> SandboxData:
    data = SandboxData(today=TODAY, seed=seed)
    data.add_extra_customers(count, **kwargs)
    return data


def test_the_same_seed_gives_the_same_customers() -> None:
    first, again = extra(30), extra(30)
    assert encode_json(first.customers) == encode_json(again.customers)
    assert encode_json(first.invoices) == encode_json(again.invoices)
    other = extra(30, seed=8)
    assert list(other.customers) == list(first.customers)  # the same codes...
    assert encode_json(other.invoices) != encode_json(first.invoices)  # ...other amounts


def test_every_extra_customer_owes_with_overdue_and_unpaid_invoices() -> None:
    data = extra(40, invoices_each=5)
    assert list(data.customers) == [f"EXTRA{n:04d}" for n in range(1, 41)]
    for code, customer in data.customers.items():
        invoices = data.invoices_of(code)
        statuses = {i["Status"] for i in invoices}
        assert len(invoices) == customer["InvoiceCount"] == 5
        assert {"Overdue", "Unpaid"} <= statuses <= {"Overdue", "Unpaid", "Paid"}
        owed = sum((i["DueAmount"] for i in invoices if i["Status"] != "Paid"), Decimal(0))
        assert customer["OutstandingBalance"] == owed > 0
    part_paid = [i for i in data.invoices.values() if i["Status"] != "Paid" and i["PaymentLines"]]
    assert part_paid  # some owe only part of an invoice


def test_more_are_added_after_those_there_and_bad_counts_are_refused() -> None:
    data = extra(3)
    assert data.add_extra_customers(2) == ["EXTRA0004", "EXTRA0005"]
    assert data.add_extra_customers(0) == []
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="count"):
            data.add_extra_customers(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="invoices_each"):
        data.add_extra_customers(1, invoices_each=1)
    with pytest.raises(ValueError, match="count"):
        KashFlowSandbox(extra_customers=-5)
    sb = KashFlowSandbox(today=TODAY, demo_data=False, extra_customers=1)
    assert sb.add_extra_customers(2, invoices_each=3) == ["EXTRA0002", "EXTRA0003"]
    assert sb.customers["EXTRA0003"]["InvoiceCount"] == 3


def test_the_demo_business_is_untouched() -> None:
    demo = KashFlowSandbox(today=TODAY)
    bigger = KashFlowSandbox(today=TODAY, extra_customers=25)
    assert encode_json(KashFlowSandbox(today=TODAY, extra_customers=0).invoices) == encode_json(
        demo.invoices
    )
    assert len(bigger.customers) == len(demo.customers) + 25
    for code, customer in demo.customers.items():
        assert encode_json(bigger.customers[code]) == encode_json(customer), code
    last = max(demo.invoices)
    for number, invoice in demo.invoices.items():
        served = dict(bigger.invoices[number])
        if number == last:  # its neighbour is now the first extra invoice
            assert served.pop("NextNumber") == last + 1
            invoice = {k: v for k, v in invoice.items() if k != "NextNumber"}
        assert encode_json(served) == encode_json(invoice), number


def test_they_are_served_over_rest_and_soap() -> None:
    with KashFlowSandbox(today=TODAY, extra_customers=120) as sb:
        api = Api(sb)
        try:
            first = decimal_json(
                api.get(
                    "/customers",
                    params={"sortby": "OutstandingBalance", "order": "Desc", "perpage": 100},
                )
            )
            assert first["MetaData"]["TotalRecords"] == 135
            balances = [c["OutstandingBalance"] for c in first["Data"]]
            assert balances == sorted(balances, reverse=True)
        finally:
            api.close()
        overdue = call(sb, "GetInvoices_Overdue").result("GetInvoices_Overdue")
        owing = {field(invoice, "Customer") for invoice in overdue}
        assert {f"EXTRA{n:04d}" for n in range(1, 121)} <= owing


def test_the_command_line_option() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "kashflow_sandbox", "--port", "0", "--extra-customers", "40"],
        stdout=subprocess.PIPE,
        text=True,
    )
    guard = threading.Timer(30, process.terminate)  # a failure to start ends the reading
    guard.start()
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[3]
        token = login_at(url)
        listed = requests.get(
            f"{url}/customers",
            params={"perpage": 1},
            headers={"Authorization": f"KfToken {token}"},
            timeout=TIMEOUT,
        )
        assert listed.json()["MetaData"]["TotalRecords"] == 15 + 40
    finally:
        guard.cancel()
        process.terminate()
        process.wait(10)
