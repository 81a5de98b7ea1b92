"""The client and the fetch layer over real HTTP against the sandbox, with counted calls.

Counted upstream calls are the sandbox's own counters (what KashFlow would have seen).
"""

from __future__ import annotations

import threading
import time
import typing as t
from datetime import date
from pathlib import Path

import pytest
from flask import Flask
from flask import current_app

from flask_kashflow_links import KashFlowAccountLocked
from flask_kashflow_links import KashFlowAuthError
from flask_kashflow_links import KashFlowNotFound
from flask_kashflow_links import KashFlowUnavailable
from flask_kashflow_links import Scope
from flask_kashflow_links.links.claims import in_scope
from flask_kashflow_links.testing import KashFlowSandbox

from .held import TogetherOrFail
from .held import sandbox_with
from .helpers import Internals
from .helpers import KashFlowVariant
from .helpers import app_config
from .helpers import internals
from .helpers import make_app
from .helpers import portal_config
from .helpers import stats_of
from .services import run_in_threads
from .stampede import Stampede
from .stampede import fetch_together


@pytest.fixture
def state(portal: Flask) -> Internals:
    """The portal's private parts: these tests drive its fetch layer directly."""
    return internals()


def account(state: Internals) -> t.Any:
    return state.accounts.get(None)


# -- login -------------------------------------------------------------------------------------


def test_login_over_http_and_one_session_for_many_calls(
    state: Internals, sandbox: KashFlowSandbox
) -> None:
    for number in (1043, 1004, 1015):
        state.fetcher.invoice(account(state), number)
    state.fetcher.customer(account(state), "ACME01")
    assert sandbox.logins == 1
    assert sandbox.calls["sessiontoken.post"] == 1 and sandbox.calls["sessiontoken.put"] == 1


def test_relogin_after_the_session_expires(state: Internals, sandbox: KashFlowSandbox) -> None:
    state.fetcher.invoice(account(state), 1043)
    sandbox.expire_sessions()
    state.fetcher.invoice(account(state), 1004)
    assert sandbox.logins == 2 and stats_of()["rest"]["logins"] == 2


def test_relogin_after_idle_expiry(tmp_path: Path) -> None:
    now = [0.0]
    with KashFlowSandbox(session_idle_timeout=60, clock=lambda: now[0]) as idle:
        app = make_app(tmp_path, **portal_config(idle))
        with app.app_context():
            s = internals()
            s.fetcher.invoice(account(s), 1043)
            now[0] += 61  # KashFlow forgets the idle session
            s.fetcher.invoice(account(s), 1004)
            assert idle.logins == 2


def test_lockout_stops_logins_for_the_cooldown(state: Internals, sandbox: KashFlowSandbox) -> None:
    sandbox.lock_account()
    with pytest.raises(KashFlowAccountLocked):
        state.fetcher.invoice(account(state), 1043)
    for number in (1004, 1015, 1027):
        with pytest.raises(KashFlowAccountLocked):
            state.fetcher.invoice(account(state), number)
    assert sandbox.calls["sessiontoken.post"] == 1  # one attempt, then the cool-down holds


def test_wrong_memorable_word_is_refused_once_then_paused(
    tmp_path: Path, sandbox: KashFlowSandbox
) -> None:
    config = portal_config(
        sandbox, accounts={"acme": sandbox.account_config(memorable_word="wrongword")}
    )
    app = make_app(tmp_path, **config)
    with app.app_context():
        s = internals()
        with pytest.raises(KashFlowAuthError) as info:
            s.fetcher.invoice(account(s), 1043)
        assert info.value.step == "memorable_word"
        with pytest.raises(KashFlowAuthError):
            s.fetcher.invoice(account(s), 1043)
    assert sandbox.failed_logins == 1


# -- paging and scope --------------------------------------------------------------------------


def test_a_customer_with_260_invoices_costs_three_list_calls(
    state: Internals, sandbox: KashFlowSandbox
) -> None:
    invoices = state.fetcher.customer_invoices(account(state), "BIGCO01").value
    assert len(invoices) == 260
    assert len({i.number for i in invoices}) == 260
    assert sandbox.calls["invoices.list"] <= 3


def test_cold_paging_asks_for_pages_2_to_n_together(tmp_path: Path) -> None:
    # Page 1 passes at once; pages 2 and 3 pass only if both are in flight at the same time.
    together = TogetherOrFail(2)
    with sandbox_with(together) as slow:
        slow.set_latency(1.0, "invoices.list")
        app = make_app(tmp_path, **portal_config(slow))
        with app.app_context():
            s = internals()
            invoices = s.fetcher.customer_invoices(account(s), "BIGCO01").value
    assert len(invoices) == 260
    assert not together.barrier.broken
    assert slow.calls["invoices.list"] == 3


def test_paging_copes_with_a_lower_page_cap(state: Internals, sandbox: KashFlowSandbox) -> None:
    sandbox.set_max_perpage(40)
    invoices = state.fetcher.customer_invoices(account(state), "BIGCO01").value
    assert len(invoices) == 260
    assert sandbox.calls["invoices.list"] == 7


def test_scope_is_decided_from_each_invoice_even_when_filters_are_ignored(
    state: Internals, sandbox: KashFlowSandbox
) -> None:
    sandbox.ignore_filters()
    listed = state.fetcher.customer_invoices(account(state), "ACME01").value
    assert {i.customer_code for i in listed} != {"ACME01"}  # the server sent everyone's
    today = date.today()
    for status in ("all", "unpaid", "overdue", "paid"):
        scope = Scope.for_customer("acme", "ACME01", status)
        shown = [i for i in listed if in_scope(scope, i, today)]
        expected = [
            n
            for n, inv in sandbox.invoices.items()
            if inv["CustomerCode"] == "ACME01"
            and (
                status == "all"
                or (status == "unpaid" and inv["Status"] in ("Unpaid", "Overdue"))
                or (status == "overdue" and inv["Status"] == "Overdue")
                or (status == "paid" and inv["Status"] in ("Paid", "Overpaid"))
            )
        ]
        assert sorted(i.number for i in shown) == sorted(expected), status
        assert shown, status


def test_not_found(state: Internals) -> None:
    with pytest.raises(KashFlowNotFound):
        state.fetcher.invoice(account(state), 999_999)


# -- caching and single flight -----------------------------------------------------------------


def test_warm_fetches_make_no_upstream_calls(state: Internals, sandbox: KashFlowSandbox) -> None:
    acct = account(state)
    state.fetcher.invoice(acct, 1043)
    state.fetcher.customer_invoices(acct, "ACME01")
    state.fetcher.customer(acct, "ACME01")
    sandbox.reset_counters()
    for _ in range(20):
        state.fetcher.invoice(acct, 1043)
        state.fetcher.customer_invoices(acct, "ACME01")
        state.fetcher.customer(acct, "ACME01")
    assert sum(sandbox.calls.values()) == 0
    assert stats_of()["fetch"]["hits"] >= 60


@pytest.mark.multiprocess
def test_warm_data_in_the_shared_cache_serves_a_new_process(
    state: Internals, sandbox: KashFlowSandbox
) -> None:
    state.fetcher.invoice(account(state), 1043)
    state.fetcher.forget()  # as if another worker, with the same shared cache
    sandbox.reset_counters()
    state.fetcher.invoice(account(state), 1043)
    assert sum(sandbox.calls.values()) == 0


def test_32_concurrent_cold_requests_make_one_upstream_call(
    state: Internals, sandbox: KashFlowSandbox
) -> None:
    sandbox.set_latency(0.3, "invoices.get")
    acct = account(state)
    barrier = threading.Barrier(32)
    flask_app = current_app._get_current_object()  # type: ignore[attr-defined]

    def work(_: int) -> None:
        with flask_app.app_context():
            barrier.wait()
            internals().fetcher.invoice(acct, 1043)

    errors = run_in_threads(work, 32)
    assert not errors
    assert sandbox.calls["invoices.get"] == 1
    assert sandbox.logins == 1
    assert stats_of()["fetch"]["upstream"] == 1


@pytest.mark.redis
@pytest.mark.multiprocess
def test_32_concurrent_cold_requests_in_two_processes_make_one_upstream_call(
    tmp_path: Path, sandbox: KashFlowSandbox, redis_url: str
) -> None:
    sandbox.set_latency(0.5, "invoices.get")
    cache = {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_url}
    settings = portal_config(sandbox, cache=cache, revocation_url=redis_url)
    start_at = time.time() + 3.0
    peer = Stampede(app_config(**settings), number=1066, threads=16, start_at=start_at)
    app = make_app(tmp_path, **settings)
    errors = fetch_together(app, 1066, 16, start_at)
    other = peer.report()
    assert not errors and other["errors"] == [] and other["ok"] == 16
    assert sandbox.calls["invoices.get"] == 1
    assert sandbox.logins == 1  # one KashFlow login served both processes
    with app.app_context():
        assert stats_of()["fetch"]["upstream"] + other["upstream"] == 1


# -- stale-if-error (against the REST and the SOAP API: tests/helpers.py VARIANTS) ----------


def inject(fault: str, sandbox: KashFlowSandbox, kashflow: KashFlowVariant) -> None:
    """*fault* on the variant's API; the SOAP equivalent of a REST-only fault."""
    soap = kashflow.soap
    get_invoice = "soap.GetInvoice" if soap else "invoices.get"
    if fault in ("500", "503"):
        sandbox.fail_next(10, int(fault))
    elif fault == "timeout":
        sandbox.hang_next(1, 5.0, get_invoice)
    elif fault == "refused":
        sandbox.drop_next(10)
    elif fault == "malformed":
        sandbox.malformed_next(1, get_invoice)
    elif soap and fault == "locked":
        # SOAP has no lock: the password KashFlow now refuses (a changed password mode).
        sandbox.set_soap_password_mode("separate")
    elif soap and fault == "sql-timeout":
        sandbox.soap_status_no_next(10, "An error has occurred", operation="GetInvoice")
    elif soap:  # expired-and-locked: this server's address refused
        sandbox.set_soap_ip_blocked()
    elif fault == "locked":
        sandbox.lock_account()
        sandbox.expire_sessions()
    elif fault == "sql-timeout":
        sandbox.sql_timeout_next(10, "invoices.get")
    else:
        sandbox.expire_sessions()
        sandbox.lock_account()


@pytest.mark.usefixtures("variant")
# A short read timeout: the "timeout" fault is cut off by it, and waiting longer proves nothing.
@pytest.mark.settings(api_timeout=(2.0, 0.5))
@pytest.mark.parametrize(
    "fault",
    [
        "500",
        "503",
        "timeout",
        "refused",
        "locked",
        "malformed",
        "sql-timeout",
        "expired-and-locked",
    ],
)
def test_stale_data_is_served_while_kashflow_fails(
    state: Internals,
    sandbox: KashFlowSandbox,
    fault: str,
    age_cache: t.Callable[..., None],
    kashflow: KashFlowVariant,
) -> None:
    acct = account(state)
    warm = state.fetcher.invoice(acct, 1043)
    assert not warm.stale
    age_cache(seconds=state.fetcher.fresh + 10)
    state.fetcher.forget()
    inject(fault, sandbox, kashflow)
    stale = state.fetcher.invoice(acct, 1043)
    assert stale.stale
    assert stale.value.number == 1043 and stale.fetched_at == warm.fetched_at
    assert stats_of()["fetch"]["stale"] == 1


@pytest.mark.usefixtures("variant")
def test_no_stale_data_when_the_invoice_is_gone(
    state: Internals, sandbox: KashFlowSandbox, age_cache: t.Callable[..., None]
) -> None:
    acct = account(state)
    number = 1027
    saved = dict(sandbox.invoices[number])
    state.fetcher.invoice(acct, number)
    age_cache(seconds=state.fetcher.fresh + 10)
    state.fetcher.forget()
    sandbox.remove_invoice(number)
    try:
        with pytest.raises(KashFlowNotFound):
            state.fetcher.invoice(acct, number)
    finally:
        sandbox.add_invoice(saved)


@pytest.mark.usefixtures("variant")
def test_nothing_cached_and_kashflow_down_raises_unavailable(
    state: Internals, sandbox: KashFlowSandbox
) -> None:
    sandbox.fail_next(10, 503)
    with pytest.raises(KashFlowUnavailable):
        state.fetcher.invoice(account(state), 1043)


@pytest.mark.usefixtures("variant")
def test_stale_data_expires_after_the_stale_window(
    state: Internals, sandbox: KashFlowSandbox, age_cache: t.Callable[..., None]
) -> None:
    acct = account(state)
    state.fetcher.invoice(acct, 1043)
    age_cache(seconds=state.fetcher.fresh + state.fetcher.stale + 10)
    state.fetcher.forget()
    sandbox.fail_next(10, 503)
    with pytest.raises(KashFlowUnavailable):
        state.fetcher.invoice(acct, 1043)


# -- documents ---------------------------------------------------------------------------------


def test_pdfs_are_cached_up_to_a_size_bound(state: Internals, sandbox: KashFlowSandbox) -> None:
    acct = account(state)
    permalink = state.fetcher.invoice(acct, 1043).value.permalink
    first = state.fetcher.document(acct, permalink).value
    second = state.fetcher.document(acct, permalink).value
    assert first == second and first.startswith(b"%PDF-")
    assert sandbox.calls["documents.get"] == 1
    state.fetcher.pdf_cache_max_bytes = 10
    other = state.fetcher.invoice(acct, 1004).value.permalink
    state.fetcher.document(acct, other)
    state.fetcher.document(acct, other)
    assert sandbox.calls["documents.get"] == 3


def test_a_truncated_pdf_is_refused(state: Internals, sandbox: KashFlowSandbox) -> None:
    acct = account(state)
    permalink = state.fetcher.invoice(acct, 1043).value.permalink
    sandbox.truncate_pdf_next(1)
    with pytest.raises(Exception, match="incomplete") as info:
        state.fetcher.document(acct, permalink)
    assert type(info.value).__name__ == "KashFlowBadResponse"


# -- a failing cache backend -------------------------------------------------------------------


@pytest.mark.redis
def test_a_dead_cache_backend_degrades_to_direct_fetches(
    tmp_path: Path, sandbox: KashFlowSandbox, redis_session: t.Any, clock: t.Any
) -> None:
    cache = {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_session.url}
    app = make_app(tmp_path, **portal_config(sandbox, cache=cache))
    with app.app_context():
        s = internals()
        acct = account(s)
        s.fetcher.invoice(acct, 1043)
        redis_session.stop()
        try:
            s.fetcher.forget()
            started = time.monotonic()
            for number in (1043, 1004, 1015):
                assert s.fetcher.invoice(acct, number).value.number == number
            assert time.monotonic() - started < 5
            assert stats_of()["cache"]["errors"] >= 1
        finally:
            redis_session.start()
        # Back without a restart: the cache is used again once its back-off passes.
        clock.tick(2.1)
        s.fetcher.invoice(acct, 1027)
        s.fetcher.forget()
        sandbox.reset_counters()
        s.fetcher.invoice(acct, 1027)
        assert sandbox.calls["invoices.get"] == 0
