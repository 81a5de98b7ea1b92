"""Independent KashFlow calls side by side: the helper, and the list's follow-up details.

Concurrency is observed, not timed: calls that must be in flight together wait for each
other at a barrier, which breaks (and fails the test) when they come one after another.
"""

from __future__ import annotations

import json
import re
import threading
import typing as t

import pytest
import responses
from flask import Flask
from flask import current_app

from flask_kashflow_links.kashflow.http import run_together
from flask_kashflow_links.kashflow.rest import PAGE_CONCURRENCY
from flask_kashflow_links.kashflow.rest import RestBackend

from .helpers import BASE
from .helpers import LOGIN
from .helpers import add_login
from .helpers import invoice_json


def test_results_come_in_order_at_most_limit_at_once() -> None:
    lock, running, peak = threading.Lock(), [0], [0]
    barrier = threading.Barrier(3, timeout=10)

    def call(n: int) -> int:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        if n < 3:
            barrier.wait()  # the first three run together
        with lock:
            running[0] -= 1
        return n * 10

    calls = [lambda n=n: call(n) for n in range(9)]
    assert run_together(calls, limit=3) == [n * 10 for n in range(9)]
    assert peak[0] == 3 and not barrier.broken


def test_the_first_failure_is_raised_and_later_calls_are_not_started() -> None:
    started: list[int] = []

    def call(n: int) -> int:
        started.append(n)
        if n == 0:
            raise LookupError("no such invoice")
        return n

    with pytest.raises(LookupError, match="no such invoice"):
        run_together([lambda n=n: call(n) for n in range(50)], limit=1)
    assert started == [0]


def test_calls_see_the_callers_context(tmp_path: t.Any) -> None:
    app = Flask("ctx", instance_path=str(tmp_path))
    with app.app_context():
        seen = run_together([lambda: current_app.name for _ in range(4)], limit=2)
    assert seen == ["ctx"] * 4


@responses.activate
def test_the_details_a_list_needs_are_asked_for_together(
    rest_client: RestBackend,
) -> None:
    add_login(responses.mock)
    euros = {"Code": "EUR", "ExchangeRate": 1.165}
    rows = [
        {
            "Number": n,
            "CustomerCode": "ACME01",
            "Status": "Unpaid",
            "GrossAmount": 100,
            "TotalPaidAmount": 10,
            "Currency": euros,
        }
        for n in range(1, PAGE_CONCURRENCY + 1)
    ]
    responses.get(f"{BASE}/invoices", json={"Data": rows, "MetaData": {"TotalRecords": len(rows)}})
    # Each detail answers only once all of them are in flight.
    together = threading.Barrier(PAGE_CONCURRENCY, timeout=5)

    def detail(request: t.Any) -> tuple[int, dict[str, str], str]:
        together.wait()
        number = int(request.url.rsplit("/", 1)[1])
        body = invoice_json(number, GrossAmount=100, Currency=euros)
        del body["DueAmount"]
        body["PaymentLines"] = [{"Amount": 30, "Date": "2026-11-20 12:00:00"}]
        return 200, {}, json.dumps(body)

    responses.add_callback(
        responses.GET, re.compile(rf"{re.escape(BASE)}/invoices/\d+$"), callback=detail
    )
    listed = rest_client.list_invoices(LOGIN, customer="ACME01")
    assert [i.due_amount for i in listed] == [70] * PAGE_CONCURRENCY
    assert not together.broken
