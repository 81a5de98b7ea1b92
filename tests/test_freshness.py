"""Stale-while-revalidate: past its fresh window, data is served at once and refreshed once.

KashFlow's answers are held in the sandbox (:class:`~tests.held.HeldCalls`) while the test
looks: a page that came back while the only KashFlow call was still held did not wait for
KashFlow. Time is moved with the ``clock`` fixture, never waited for.
"""

from __future__ import annotations

import threading
import time
import typing as t
from pathlib import Path

import pytest
from flask import Flask

from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links import Link
from flask_kashflow_links.testing import KashFlowSandbox

from .held import HeldCalls
from .helpers import Internals
from .helpers import ManualClock
from .helpers import app_config
from .helpers import counted_since
from .helpers import internals
from .helpers import make_app
from .helpers import path
from .helpers import portal_config
from .helpers import stats_of
from .helpers import wait_for_background
from .services import run_in_threads
from .stampede import Stampede
from .stampede import fetch_together

DAY = 24 * 3600
SWR = {"stale_while_revalidate": DAY}


def mint_invoice(app: Flask, number: int = 1043) -> Link:
    with app.test_request_context():
        return KashFlowLinks().mint_invoice(number)


def invoice_1043(state: Internals) -> t.Any:
    return state.fetcher.invoice(state.accounts.get(None), 1043)


def test_past_the_fresh_window_pages_are_served_at_once_and_refreshed_once(
    apps: t.Callable[..., Flask],
    slow: KashFlowSandbox,
    held: HeldCalls,
    age_cache: t.Callable[..., None],
) -> None:
    app = apps(slow, **SWR)
    held.release()
    with app.app_context():
        warm = invoice_1043(internals())
    before = stats_of(app)["fetch"]
    age_cache(app)  # past the fresh window; this process's parsed copy is gone too
    held.hold()
    slow.reset_counters()
    slow.set_latency(1.0, "invoices.get")
    results: list[t.Any] = []

    def open_page(_: int) -> None:
        with app.app_context():
            results.append(invoice_1043(internals()))

    # 32 concurrent opens, all answered while the one refresh is still held in KashFlow.
    assert not run_in_threads(open_page, 32)
    assert held.wait_for(1)
    assert held.waiting == 1 and slow.calls["invoices.get"] == 1
    assert all(r.stale and r.refreshing and r.fetched_at == warm.fetched_at for r in results)
    fetch = counted_since(before, stats_of(app)["fetch"])
    assert fetch["revalidating"] == 32 and fetch["misses"] == 0
    held.release()
    assert wait_for_background(app)
    fetch = counted_since(before, stats_of(app)["fetch"])
    assert slow.calls["invoices.get"] == 1 and fetch["refreshes"] == 1
    with app.app_context():
        fresh = invoice_1043(internals())
    assert not fresh.stale and fresh.fetched_at > warm.fetched_at
    assert slow.calls["invoices.get"] == 1


def test_a_refresh_another_process_already_made_is_not_made_again(
    apps: t.Callable[..., Flask], sandbox: KashFlowSandbox, clock: t.Any
) -> None:
    app = apps(sandbox, **SWR)
    with app.app_context():
        state = internals()
        warm = invoice_1043(state)
        clock.tick(state.fetcher.fresh + 10)  # this process keeps its (now aged) parsed copy
        # Keep the pool's workers busy, so the refresh waits in the queue.
        gate = threading.Event()
        for i in range(state.background.workers):
            state.background.submit(("busy", i), gate.wait, group="other", label="busy")
        sandbox.reset_counters()
        assert invoice_1043(state).refreshing  # a refresh is queued
        # Meanwhile another process refreshes it and stores it in the shared cache (fetched
        # "now", in the moved time).
        now = warm.fetched_at + state.fetcher.fresh + 10
        state.shared.set(warm.key, (now, warm.value), state.fetcher.keep)
        gate.set()
        assert wait_for_background()
        assert sandbox.calls["invoices.get"] == 0 and stats_of()["fetch"]["refreshes"] == 0
        assert not invoice_1043(state).stale


def test_the_page_says_as_of_while_refreshing_then_shows_the_new_data(
    apps: t.Callable[..., Flask], age_cache: t.Callable[..., None]
) -> None:
    with KashFlowSandbox() as sandbox:
        app = apps(sandbox, **SWR)
        link = mint_invoice(app)
        client = app.test_client()
        first = client.get(path(link)).get_data(as_text=True)
        assert "as of" not in first and "PO-CHANGED" not in first
        sandbox.update_invoice(1043, CustomerReference="PO-CHANGED")
        age_cache(app)
        sandbox.reset_counters()
        during = " ".join(client.get(path(link)).get_data(as_text=True).split())
        assert "as of" in during and "We are fetching the latest" in during
        assert "PO-CHANGED" not in during
        assert wait_for_background(app)
        after = client.get(path(link)).get_data(as_text=True)
        assert "as of" not in after and "PO-CHANGED" in after
        assert sandbox.calls["invoices.get"] == 1


def test_the_shared_cache_keeps_entries_for_the_longer_of_the_two_windows(
    apps: t.Callable[..., Flask], sandbox: KashFlowSandbox, clock: t.Any
) -> None:
    # Past the stale-if-error window but within stale-while-revalidate: still served at once,
    # so the shared cache (SimpleCache expires entries itself) must still hold it.
    app = apps(sandbox, stale_while_revalidate=7200, stale_timeout=60)
    with app.app_context():
        state = internals()
        assert state.fetcher.keep == state.fetcher.fresh + 7200
        first = invoice_1043(state)
        clock.tick(state.fetcher.fresh + 3600)
        state.fetcher.forget()
        sandbox.reset_counters()
        served = invoice_1043(state)
        # The first fetch's data, served at once; the refresh behind it may already be running
        # (so the sandbox's count is only read once it is done).
        assert served.refreshing and served.fetched_at == first.fetched_at
        assert wait_for_background()
        assert sandbox.calls["invoices.get"] == 1


def test_past_both_windows_a_page_fetches_and_stale_if_error_still_covers_it(
    apps: t.Callable[..., Flask], sandbox: KashFlowSandbox, clock: t.Any
) -> None:
    app = apps(sandbox, stale_while_revalidate=60, stale_timeout=DAY)
    with app.app_context():
        state = internals()
        warm = invoice_1043(state)
        clock.tick(state.fetcher.fresh + 120)
        state.fetcher.forget()
        sandbox.fail_next(10, 503)
        served = invoice_1043(state)
        # Fetched on the request path (past stale-while-revalidate); KashFlow failed: stale.
        assert served.stale and not served.refreshing and served.fetched_at == warm.fetched_at
        fetch = stats_of()["fetch"]
        assert fetch["misses"] == 2 and fetch["stale"] == 1
        assert fetch["revalidating"] == 0


def test_embed_mode_links_never_get_stale_while_revalidate(
    apps: t.Callable[..., Flask], sandbox: KashFlowSandbox, age_cache: t.Callable[..., None]
) -> None:
    # Their credentials must meet KashFlow once data is not fresh: a refused login is how a
    # password change withdraws them (see test_portal's password-change test).
    app = apps(sandbox, embed_credentials=True, **SWR)
    link = mint_invoice(app)
    client = app.test_client()
    assert client.get(path(link)).status_code == 200
    age_cache(app)
    sandbox.reset_counters()
    page = client.get(path(link))
    assert page.status_code == 200 and "as of" not in page.get_data(as_text=True)
    assert sandbox.calls["invoices.get"] == 1  # on the request path
    with app.app_context():
        assert stats_of()["fetch"]["revalidating"] == 0


def test_a_failing_refresh_keeps_the_data_and_backs_off(
    apps: t.Callable[..., Flask],
    sandbox: KashFlowSandbox,
    age_cache: t.Callable[..., None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = apps(sandbox, **SWR)
    with app.app_context():
        state = internals()
        state.background.clock = ManualClock()
        warm = invoice_1043(state)
        age_cache(app)
        sandbox.fail_next(10, 503, endpoint="invoices.get")
        assert invoice_1043(state).refreshing
        assert wait_for_background()
        assert stats_of()["background"]["failed"] == 1
        assert "background refresh (inv) failed (KashFlowUnavailable" in caplog.text
        sandbox.reset_counters()
        # Still served at once from the kept data; no refresh is tried while backing off.
        for _ in range(20):
            again = invoice_1043(state)
            assert again.refreshing and again.fetched_at == warm.fetched_at
        assert wait_for_background()
        assert sandbox.calls["invoices.get"] == 0
        assert stats_of()["background"]["dropped"] == 20


def test_a_refresh_that_finds_the_invoice_gone_drops_it(
    apps: t.Callable[..., Flask], age_cache: t.Callable[..., None]
) -> None:
    with KashFlowSandbox() as sandbox:
        app = apps(sandbox, **SWR)
        link = mint_invoice(app, 1027)
        client = app.test_client()
        assert client.get(path(link)).status_code == 200
        sandbox.remove_invoice(1027)
        age_cache(app)
        assert client.get(path(link)).status_code == 200  # served at once, as of
        assert wait_for_background(app)
        assert client.get(path(link)).status_code == 404  # and no stale copy after that


@pytest.mark.redis
@pytest.mark.multiprocess
def test_past_the_fresh_window_two_processes_refresh_once(
    tmp_path: Path, redis_url: str, held: HeldCalls, slow: KashFlowSandbox
) -> None:
    cache = {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_url}
    settings = portal_config(slow, cache=cache, revocation_url=redis_url, **SWR)
    app = make_app(tmp_path, **settings)
    held.release()
    with app.app_context():
        state = internals()
        warm = invoice_1043(state)
        # Both processes share Redis: move the shared entry's fetch time past the fresh
        # window (instead of waiting), and drop this process's parsed copy.
        key = warm.key
        state.shared.set(key, (warm.fetched_at - state.fetcher.fresh - 10, warm.value), 600)
        state.fetcher.forget()
        before = stats_of()["fetch"]
    held.hold()
    slow.reset_counters()
    slow.set_latency(1.0, "invoices.get")
    start_at = time.time() + 3.0
    peer = Stampede(app_config(**settings), number=1043, threads=16, start_at=start_at)
    try:
        errors = fetch_together(app, 1043, 16, start_at)
        assert not errors
        # Every request of this process was answered while KashFlow held the one refresh.
        assert held.wait_for(1)
        assert slow.calls["invoices.get"] == 1
    finally:
        held.release()
    other = peer.report()
    with app.app_context():
        assert wait_for_background()
        mine = counted_since(before, stats_of()["fetch"])
    internals(app).background.shutdown(wait=10)  # no public way to stop the background work
    assert other["errors"] == [] and other["ok"] == 16
    # No request in either process fetched on its own path; one refresh served both.
    assert mine["misses"] == 0 and other["misses"] == 0
    assert mine["revalidating"] + other["revalidating"] >= 16
    assert mine["refreshes"] + other["refreshes"] == 1
    assert slow.calls["invoices.get"] == 1
