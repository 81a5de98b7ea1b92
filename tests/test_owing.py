"""Who owes what: ``customers()`` and ``invoices()`` against the sandbox's own data, on every
API (the REST Swagger shape, the REST documented shape, SOAP).

Expected amounts and membership are computed here from ``sandbox.invoices`` and
``sandbox.customers`` (the records KashFlow would hold), never from the code under test: what
is owed is an invoice's ``DueAmount`` when its status is Unpaid or Overdue and it is not a
credit note; it is overdue when its due date is before today, whatever its label says.
"""

from __future__ import annotations

import threading
import typing as t
from collections.abc import Iterator
from datetime import date
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import requests
from flask import Flask
from werkzeug.serving import make_server
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from flask_kashflow_links import CustomerSummary
from flask_kashflow_links import Invoice
from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links import KashFlowNotFound
from flask_kashflow_links.testing import KashFlowSandbox
from kashflow_sandbox.soap import api as sandbox_soap_api

from .helpers import REST_VARIANTS
from .helpers import KashFlowVariant
from .helpers import counted_since
from .helpers import restore_switches
from .helpers import stats_of

# Every test runs against the REST API in both shapes and the SOAP API (helpers.VARIANTS).
pytestmark = pytest.mark.usefixtures("variant")

Record = dict[str, t.Any]


def portal_today() -> date:
    """Today where the portal judges "overdue" (KASHFLOW_LINKS_TIMEZONE's default)."""
    return datetime.now(ZoneInfo("Europe/London")).date()


# -- the sandbox's data, read independently --------------------------------------------------------


def day(value: str | None) -> date | None:
    """A KashFlow date string (``2026-10-09 12:00:00``, with or without an offset)."""
    if not value or value.startswith("1900-01-01"):
        return None
    return date.fromisoformat(value[:10])


def is_credit_note(invoice: Record) -> bool:
    return invoice.get("Type") == "CreditNote" or Decimal(invoice["GrossAmount"]) < 0


def owed_now(invoice: Record) -> bool:
    """Still owed: Unpaid or Overdue (KashFlow's label), and not a credit note."""
    return invoice["Status"] in ("Unpaid", "Overdue") and not is_credit_note(invoice)


def late(invoice: Record, today: date) -> bool:
    """Owed and past its due date (the label does not matter)."""
    due = day(invoice.get("DueDate"))
    return owed_now(invoice) and due is not None and due < today


def code_of(invoice: Record) -> str:
    return str(invoice["CustomerCode"]).upper()


def currency_of(invoice: Record) -> str:
    return str((invoice.get("Currency") or {}).get("Code") or "")


def home(invoice: Record) -> Decimal:
    """What is owed on *invoice* in the home currency (its exchange rate), for the order."""
    rate = Decimal(str((invoice.get("Currency") or {}).get("ExchangeRate") or 1))
    return Decimal(invoice["DueAmount"]) / rate


class Expected(t.NamedTuple):
    owed: Decimal
    overdue: Decimal
    unpaid_count: int
    overdue_count: int
    oldest_due: date | None
    home_owed: Decimal
    home_overdue: Decimal


def expected(sandbox: KashFlowSandbox, today: date) -> dict[str, Expected]:
    """What each customer owes, from the sandbox's records: every customer, by code."""
    found: dict[str, Expected] = {}
    for code in sandbox.customers:
        mine = [i for i in sandbox.invoices.values() if code_of(i) == code.upper()]
        owed = [i for i in mine if owed_now(i)]
        overdue = [i for i in owed if late(i, today)]
        dues = [d for d in (day(i.get("DueDate")) for i in owed) if d is not None]
        found[code] = Expected(
            owed=sum((Decimal(i["DueAmount"]) for i in owed), Decimal(0)),
            overdue=sum((Decimal(i["DueAmount"]) for i in overdue), Decimal(0)),
            unpaid_count=len(owed),
            overdue_count=len(overdue),
            oldest_due=min(dues, default=None),
            home_owed=sum((home(i) for i in owed), Decimal(0)),
            home_overdue=sum((home(i) for i in overdue), Decimal(0)),
        )
    return found


def members(sandbox: KashFlowSandbox, owing: str | None, today: date) -> set[str]:
    """The customer codes ``customers(owing=...)`` must list."""
    everyone = expected(sandbox, today)
    if owing is None:
        return set(everyone)
    if owing == "unpaid":
        return {code for code, e in everyone.items() if e.unpaid_count}
    return {code for code, e in everyone.items() if e.overdue_count}


def summaries(owing: str | None = None) -> dict[str, CustomerSummary]:
    return {s.code.upper(): s for s in KashFlowLinks().customers(owing=owing)}


def calls_of(sandbox: KashFlowSandbox) -> dict[str, int]:
    return {name: count for name, count in sandbox.calls.items() if count}


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kashflow_server() -> Iterator[KashFlowSandbox]:
    """This module's sandbox, dated on the portal's today (so KashFlow's labels agree with the
    portal's judgement unless a test makes one lag)."""
    with KashFlowSandbox(today=portal_today()) as server:
        yield server


@pytest.fixture
def kf(kashflow_server: KashFlowSandbox) -> Iterator[KashFlowSandbox]:
    """The module's sandbox with its switches restored and counters zeroed (its data is never
    changed: tests that change data use :func:`own`)."""
    restore_switches(kashflow_server)
    kashflow_server.reset_counters()
    kashflow_server.expire_sessions()
    yield kashflow_server
    restore_switches(kashflow_server)


@pytest.fixture
def own() -> Iterator[KashFlowSandbox]:
    """A sandbox of this test's own, whose data the test may change."""
    with KashFlowSandbox(today=portal_today()) as server:
        yield server


# -- customers(): membership and amounts -----------------------------------------------------------


@pytest.mark.parametrize("owing", [None, "unpaid", "overdue"])
def test_customers_owe_what_the_sandbox_says(
    kf: KashFlowSandbox, portal_on: t.Callable[..., Flask], kashflow: KashFlowVariant, owing: str
) -> None:
    portal_on(kf)
    today = portal_today()
    want = expected(kf, today)
    found = summaries(owing)
    assert set(found) == members(kf, owing, today)
    assert {"BIGCO01", "ACME01", "MULLER01"} <= set(found)  # the data is what it was
    for code, summary in found.items():
        record, e = kf.customers[code], want[code]
        assert (summary.owed, summary.overdue) == (e.owed, e.overdue), code
        assert (summary.unpaid_count, summary.overdue_count) == (e.unpaid_count, e.overdue_count)
        assert summary.oldest_due == e.oldest_due, code
        assert isinstance(summary.owed, Decimal) and isinstance(summary.overdue, Decimal)
        assert summary.name in (record.get("DisplayName"), record.get("Name"))
        currencies = {currency_of(i) for i in kf.invoices.values() if code_of(i) == code}
        if e.unpaid_count or not kashflow.soap:
            # SOAP's customers name no currency: that of their invoices owed.
            assert summary.currency in {record["Currency"]["Code"], *currencies}, code
        assert not summary.estimated
        if e.overdue_count:
            assert summary.days_overdue(today) == (today - t.cast(date, e.oldest_due)).days
    # The most overdue first, then the most owed (in the home currency: a yen is not a pound).
    order = [(want[code].home_overdue, want[code].home_owed) for code in found]
    assert order == sorted(order, reverse=True)
    assert next(iter(found)) == "BIGCO01"


def test_currencies_are_the_customers_own(
    kf: KashFlowSandbox, portal_on: t.Callable[..., Flask]
) -> None:
    portal_on(kf)
    found = summaries("unpaid")
    assert found["MULLER01"].currency == "EUR"
    assert found["SAKURA01"].currency == "JPY"
    assert found["DUBOIS01"].currency == "EUR"
    assert found["ACME01"].currency == "GBP"
    # DUBOIS01's invoice is part-paid in euros: what is owed is euros, never pounds.
    (invoice,) = [i for i in kf.invoices.values() if code_of(i) == "DUBOIS01"]
    assert found["DUBOIS01"].owed == Decimal(invoice["DueAmount"]) == Decimal("600")


def test_a_customer_invoiced_in_two_currencies(
    own: KashFlowSandbox, portal_on: t.Callable[..., Flask]
) -> None:
    today = portal_today()
    before = expected(own, today)["ACME01"]
    own.add_invoice(
        {
            "CustomerCode": "ACME01",
            "Currency": "USD",
            "IssuedDate": (today - timedelta(days=40)).isoformat() + " 12:00:00",
            "DueDate": (today - timedelta(days=10)).isoformat() + " 12:00:00",
            "LineItems": [{"Description": "Consulting", "Rate": Decimal("250"), "VATLevel": 0}],
        }
    )
    portal_on(own)
    summary = summaries("overdue")["ACME01"]
    assert summary.currency == "GBP"
    assert (summary.owed, summary.overdue) == (before.owed, before.overdue)  # pounds only
    assert summary.owed_elsewhere == {"USD": Decimal("250")}
    assert summary.unpaid_count == before.unpaid_count + 1
    assert summary.overdue_count == before.overdue_count + 1


def test_credit_notes_are_never_owed(
    kf: KashFlowSandbox, portal_on: t.Callable[..., Flask]
) -> None:
    portal_on(kf)
    mine = [i for i in kf.invoices.values() if code_of(i) == "CREDIT01"]
    credits = [i for i in mine if is_credit_note(i)]
    open_credit = [i for i in credits if not i.get("PaymentLines")]
    assert len(credits) == 3 and open_credit  # one not yet allocated
    (owed,) = [i for i in mine if owed_now(i)]
    summary = summaries("unpaid")["CREDIT01"]
    assert summary.owed == Decimal(owed["DueAmount"]) == Decimal("280")
    assert summary.unpaid_count == 1
    links = KashFlowLinks()
    assert [i.number for i in links.invoices("CREDIT01", status="unpaid")] == [owed["Number"]]
    every = {i.number: i for i in links.invoices("CREDIT01")}
    assert set(every) == {i["Number"] for i in mine}
    for credit in credits:
        assert every[credit["Number"]].owed == 0  # nothing is owed on a credit note
    assert {i.number for i in links.invoices("CREDIT01", status="paid")}.isdisjoint(
        c["Number"] for c in credits
    )


def test_overdue_by_its_due_date_though_labelled_unpaid(
    own: KashFlowSandbox, portal_on: t.Callable[..., Flask]
) -> None:
    """KashFlow's labels can lag a day or more: an Unpaid invoice past its due date is
    overdue to the portal, in the list of who owes what and in the customer's invoices."""
    today = portal_today()
    assert not expected(own, today)["LONG01"].unpaid_count
    lagging = own.add_invoice(
        {
            "CustomerCode": "LONG01",
            "Status": "Unpaid",  # as KashFlow labelled it before the due date passed
            "IssuedDate": (today - timedelta(days=35)).isoformat() + " 12:00:00",
            "DueDate": (today - timedelta(days=5)).isoformat() + " 12:00:00",
            "LineItems": [{"Description": "Fitting", "Rate": Decimal("100")}],
        }
    )
    assert lagging["Status"] == "Unpaid"
    portal_on(own)
    summary = summaries("overdue")["LONG01"]
    assert summary.overdue == summary.owed == Decimal(lagging["DueAmount"]) == Decimal("120")
    assert summary.overdue_count == 1 and summary.days_overdue(today) == 5
    (invoice,) = KashFlowLinks().invoices("LONG01", status="overdue")
    assert invoice.number == lagging["Number"] and invoice.status == "Overdue"
    assert invoice.owed == Decimal("120")
    paid = KashFlowLinks().invoices("LONG01", status="paid")
    assert lagging["Number"] not in {i.number for i in paid}


@pytest.mark.parametrize("variant", ["soap"], indirect=True, scope="module")
def test_soap_finds_the_overdue_though_the_unpaid_list_leaves_them_out(
    own: KashFlowSandbox, portal_on: t.Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether ``GetInvoices_Unpaid`` holds the overdue invoices is not documented. Where it
    does not, and it holds an invoice past its due date that KashFlow has not moved yet, the
    overdue invoices must still be found: both lists are always read."""
    # This sandbox's unpaid list: only invoices labelled Unpaid (the other reading of the docs).
    monkeypatch.setattr(sandbox_soap_api, "UNPAID_STATUSES", ("Unpaid",))
    today = portal_today()
    own.add_invoice(
        {
            "CustomerCode": "LONG01",
            "Status": "Unpaid",  # past its due date, not yet labelled Overdue
            "IssuedDate": (today - timedelta(days=35)).isoformat() + " 12:00:00",
            "DueDate": (today - timedelta(days=5)).isoformat() + " 12:00:00",
            "LineItems": [{"Description": "Fitting", "Rate": Decimal("100")}],
        }
    )
    portal_on(own)
    assert set(summaries("overdue")) == members(own, "overdue", today)
    assert "BIGCO01" in members(own, "overdue", today)  # labelled Overdue: only in that list


# -- what it costs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["soap"], indirect=True, scope="module")
def test_soap_asks_for_each_customer_owing_and_no_other(
    own: KashFlowSandbox, portal_on: t.Callable[..., Flask]
) -> None:
    # SOAP's customer list carries no balance, so who owes comes from the invoice lists, and
    # only the customers they name are asked for (GetCustomer), a few side by side.
    keep = {"ACME01", "BIGCO01"}
    for invoice in list(own.invoices.values()):
        if owed_now(invoice) and invoice["CustomerCode"] not in keep:
            own.remove_invoice(invoice["Number"])
    portal_on(own)
    own.reset_counters()
    assert set(summaries("unpaid")) == keep
    lists = {"soap.GetInvoices_Unpaid": 1, "soap.GetInvoices_Overdue": 1}
    assert calls_of(own) == {**lists, "soap.GetCustomer": len(keep)}

    extra = own.add_extra_customers(10)
    portal_on(own)  # a new site: nothing cached
    own.reset_counters()
    assert set(summaries("unpaid")) == keep | {code.upper() for code in extra}
    assert calls_of(own) == {**lists, "soap.GetCustomer": len(keep) + len(extra)}


@pytest.mark.parametrize("owing", [None, "unpaid", "overdue"])
def test_customers_cold_and_warm(
    kf: KashFlowSandbox,
    portal_on: t.Callable[..., Flask],
    kashflow: KashFlowVariant,
    owing: str | None,
) -> None:
    app = portal_on(kf)
    today = portal_today()
    listed = members(kf, owing, today)
    owed = [i for i in kf.invoices.values() if owed_now(i)]
    summaries(owing)
    cold = calls_of(kf)
    if kashflow.soap:
        # The unpaid and the overdue lists, then the customers: all of them in one call, or
        # one call for each customer owing.
        assert cold.pop("soap.GetInvoices_Unpaid") == cold.pop("soap.GetInvoices_Overdue") == 1
        if owing is None:
            assert cold == {"soap.GetCustomers": 1}
        else:
            assert cold == {"soap.GetCustomer": len(listed)}
    else:
        assert cold.pop("sessiontoken.post") == cold.pop("sessiontoken.put") == 1
        # The unpaid and the overdue lists (a page each), and the customer list sorted by
        # balance (one page here): no customer and no invoice asked for one by one, except,
        # in the documented shape, what is owed on invoices part-paid in another currency.
        assert cold.pop("invoices.list") == 2
        assert cold.pop("customers.list") == 1
        foreign_part_paid = [
            i
            for i in owed
            if currency_of(i) != "GBP" and Decimal(i["DueAmount"]) != Decimal(i["GrossAmount"])
        ]
        assert cold == (
            {"invoices.get": len(foreign_part_paid)}
            if foreign_part_paid and kashflow.name == "rest-documented"
            else {}
        )
    kf.reset_counters()
    before = stats_of(app)["fetch"]
    assert summaries(owing) == summaries(owing)
    assert calls_of(kf) == {}  # a warm repeat asks KashFlow nothing
    assert counted_since(before, stats_of(app)["fetch"])["upstream"] == 0


def test_invoices_cold_and_warm(
    kf: KashFlowSandbox, portal_on: t.Callable[..., Flask], kashflow: KashFlowVariant
) -> None:
    app = portal_on(kf)
    links = KashFlowLinks()
    links.invoices("BIGCO01", status="unpaid")
    cold = calls_of(kf)
    if kashflow.soap:
        assert cold == {"soap.GetCustomer": 1, "soap.GetInvoicesForCustomer": 1}
    else:
        mine = len([i for i in kf.invoices.values() if code_of(i) == "BIGCO01"])
        assert cold["invoices.list"] == -(-mine // 100)  # 260 invoices: 3 pages of 100
    kf.reset_counters()
    before = stats_of(app)["fetch"]
    for status in ("all", "unpaid", "overdue", "paid"):  # one cached list serves every status
        links.invoices("BIGCO01", status=status)
    assert calls_of(kf) == {}
    assert counted_since(before, stats_of(app)["fetch"])["upstream"] == 0


def test_unknown_choices_are_refused_naming_them(
    kf: KashFlowSandbox, portal_on: t.Callable[..., Flask]
) -> None:
    portal_on(kf)
    links = KashFlowLinks()
    with pytest.raises(ValueError, match="unpaid, overdue"):
        links.customers(owing="late")
    with pytest.raises(ValueError, match="all, unpaid, overdue, paid"):
        links.invoices("ACME01", status="owing")
    with pytest.raises(ValueError, match="nowhere"):
        links.customers(account="nowhere")
    assert calls_of(kf) == {}  # refused before asking KashFlow


# -- invoices(): the portal's statuses and amounts -------------------------------------------------


def expected_invoices(sandbox: KashFlowSandbox, code: str, status: str, today: date) -> list[int]:
    """The numbers ``invoices(code, status=...)`` must give, newest first."""
    mine = [i for i in sandbox.invoices.values() if code_of(i) == code]
    if status == "unpaid":
        mine = [i for i in mine if owed_now(i)]
    elif status == "overdue":
        mine = [i for i in mine if late(i, today)]
    elif status == "paid":
        mine = [i for i in mine if i["Status"] in ("Paid", "Overpaid") and not is_credit_note(i)]
    mine.sort(key=lambda i: (day(i["IssuedDate"]) or date.min, i["Number"]), reverse=True)
    return [i["Number"] for i in mine]


@pytest.mark.parametrize("status", ["all", "unpaid", "overdue", "paid"])
@pytest.mark.parametrize("code", ["ACME01", "BIGCO01", "MULLER01", "DUBOIS01", "SAKURA01"])
def test_invoices_by_status(
    kf: KashFlowSandbox, portal_on: t.Callable[..., Flask], code: str, status: str
) -> None:
    portal_on(kf)
    today = portal_today()
    found = KashFlowLinks().invoices(code, status=status)
    assert all(isinstance(i, Invoice) for i in found)
    assert [i.number for i in found] == expected_invoices(kf, code, status, today)
    for invoice in found:
        record = kf.invoices[invoice.number]
        assert invoice.customer_code.upper() == code
        assert invoice.gross == Decimal(record["GrossAmount"])
        assert invoice.due == day(record["DueDate"])
        if owed_now(record):
            assert invoice.owed == Decimal(record["DueAmount"])
            assert invoice.status == ("Overdue" if late(record, today) else "Unpaid")
        else:
            assert invoice.owed == 0
            assert invoice.status == record["Status"]


def test_invoices_of_an_unknown_customer_say_so(
    kf: KashFlowSandbox, portal_on: t.Callable[..., Flask]
) -> None:
    portal_on(kf)
    with pytest.raises(KashFlowNotFound):
        KashFlowLinks().invoices("NOSUCH99")


def test_a_customer_without_invoices_has_none(
    own: KashFlowSandbox, portal_on: t.Callable[..., Flask]
) -> None:
    own.add_customer({"Code": "NEW01", "Name": "Brand New Ltd"})
    portal_on(own)
    assert KashFlowLinks().invoices("NEW01") == []
    assert summaries()["NEW01"].owed == 0


# -- servers that misbehave ------------------------------------------------------------------------


def test_filters_ignored_by_the_server(
    kf: KashFlowSandbox, portal_on: t.Callable[..., Flask], kashflow: KashFlowVariant
) -> None:
    """A server that ignores the status and customer filters sends every invoice: each is
    judged on its own data, so nothing changes but the cost."""
    kf.ignore_filters()
    portal_on(kf)
    today = portal_today()
    for owing in (None, "unpaid", "overdue"):
        found = summaries(owing)
        assert set(found) == members(kf, owing, today)
        want = expected(kf, today)
        assert {c: (s.owed, s.overdue) for c, s in found.items()} == {
            c: (want[c].owed, want[c].overdue) for c in found
        }
    for status in ("unpaid", "overdue", "paid"):
        numbers = [i.number for i in KashFlowLinks().invoices("ACME01", status=status)]
        assert numbers == expected_invoices(kf, "ACME01", status, today)
    if kashflow.soap:
        # Both lists, once each, whatever they hold (nothing in an answer says whether the
        # unpaid list holds the overdue invoices).
        assert kf.calls["soap.GetInvoices_Unpaid"] == 1
        assert kf.calls["soap.GetInvoices_Overdue"] == 1
    else:
        # The "unpaid" list held other statuses: the overdue list is not asked for.
        pages = -(-len(kf.invoices) // 100)
        assert kf.calls["invoices.list"] == pages + pages  # the owing list, ACME01's list


def test_pages_capped_by_the_server(
    kf: KashFlowSandbox, portal_on: t.Callable[..., Flask], kashflow: KashFlowVariant
) -> None:
    """A server serving fewer rows a page than asked: every page is read all the same."""
    kf.set_max_perpage(7)
    portal_on(kf)
    today = portal_today()
    want = expected(kf, today)
    found = summaries()
    assert set(found) == set(kf.customers)
    assert {c: (s.owed, s.overdue) for c, s in found.items()} == {
        c: (want[c].owed, want[c].overdue) for c in found
    }
    numbers = [i.number for i in KashFlowLinks().invoices("BIGCO01", status="all")]
    assert numbers == expected_invoices(kf, "BIGCO01", "all", today)
    if not kashflow.soap:
        assert kf.calls["customers.list"] == -(-len(kf.customers) // 7)
        assert kf.calls["invoices.list"] >= 260 // 7


@pytest.mark.parametrize("variant", REST_VARIANTS, indirect=True)
def test_a_customer_list_without_balances_is_read_to_the_end(
    own: KashFlowSandbox, portal_on: t.Callable[..., Flask]
) -> None:
    for record in own.customers.values():
        record["OutstandingBalance"] = None  # an account (or API) that sends no balances
    own.set_max_perpage(4)
    portal_on(own)
    today = portal_today()
    found = summaries("unpaid")
    assert set(found) == members(own, "unpaid", today)
    assert own.calls["customers.list"] == -(-len(own.customers) // 4)
    assert own.calls["customers.get"] == 0


@pytest.mark.parametrize("variant", REST_VARIANTS, indirect=True)
def test_a_balance_that_lags_is_made_up_for(
    own: KashFlowSandbox, portal_on: t.Callable[..., Flask]
) -> None:
    """The customer list is read, largest balance first, only down to the first customer who
    owes nothing; a customer whose balance KashFlow has not updated yet is still listed,
    read on its own."""
    # Among the customers owing nothing, the list puts it last (by code, descending).
    own.customers["ACME01"]["OutstandingBalance"] = Decimal(0)
    own.set_max_perpage(1)  # pages are read a few at a time: small ones show where it stops
    portal_on(own)
    today = portal_today()
    found = summaries("overdue")
    assert set(found) == members(own, "overdue", today)
    assert found["ACME01"].overdue == expected(own, today)["ACME01"].overdue > 0
    assert found["ACME01"].emails == ("accounts@acme-trading.test",)
    assert own.calls["customers.get"] >= 1
    assert own.calls["customers.list"] < len(own.customers)  # it stopped early


class UnsortedRelay:
    """A real HTTP server in front of a sandbox that passes every request on, except that the
    customer list loses its ``sortby`` and ``order``: a KashFlow that ignores the order asked
    for (the list comes back by code)."""

    def __init__(self, sandbox: KashFlowSandbox) -> None:
        origin = sandbox.url.rsplit("/v2", 1)[0]
        session = requests.Session()

        def relay(environ: t.Any, start_response: t.Any) -> t.Any:
            request = Request(environ)
            args = [
                (k, v)
                for k, v in request.args.items(multi=True)
                if not (
                    request.path.lower().rstrip("/").endswith("/customers")
                    and k.lower() in ("sortby", "order")
                )
            ]
            answer = session.request(
                request.method,
                origin + request.path,
                params=args,
                data=request.get_data(),
                headers={
                    k: v
                    for k, v in request.headers.items()
                    if k.lower() in ("authorization", "content-type", "accept")
                },
                timeout=10,
            )
            response = Response(answer.content, answer.status_code)
            response.headers["Content-Type"] = answer.headers.get("Content-Type", "")
            return response(environ, start_response)

        self.server = make_server("127.0.0.1", 0, relay, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v2"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join()


@pytest.mark.parametrize("variant", REST_VARIANTS, indirect=True)
def test_a_customer_list_the_server_does_not_sort(
    own: KashFlowSandbox, portal_on: t.Callable[..., Flask]
) -> None:
    own.set_max_perpage(3)
    relay = UnsortedRelay(own)
    try:
        portal_on(own, api_base_url=relay.url)
        today = portal_today()
        want = expected(own, today)
        found = summaries("unpaid")
        assert set(found) == members(own, "unpaid", today)
        assert {c: s.owed for c, s in found.items()} == {c: want[c].owed for c in found}
        assert all(s.name for s in found.values())
    finally:
        relay.stop()
