"""Prefetch on mint: minting returns at once, and the first open makes no KashFlow call.

KashFlow's answers are held in the sandbox (:class:`~tests.held.HeldCalls`) while the test
looks, so "the mint returned while its fetch was still under way" is observed, not timed.
"""

from __future__ import annotations

import logging
import re
import typing as t

import pytest
from flask import Flask

from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links import Link
from flask_kashflow_links.testing import KashFlowSandbox

from .held import HeldCalls
from .helpers import internals
from .helpers import path
from .helpers import stats_of
from .helpers import wait_for_background

ON = {"prefetch": True}


@pytest.fixture
def slow(slow: KashFlowSandbox) -> KashFlowSandbox:
    """conftest's held sandbox, holding every data answer."""
    for endpoint in ("invoices.get", "invoices.list", "customers.get"):
        slow.set_latency(1.0, endpoint)
    return slow


def mint(app: Flask, kind: str = "invoice", value: t.Any = 1043, **kwargs: t.Any) -> Link:
    links = KashFlowLinks()
    with app.test_request_context():
        if kind == "invoice":
            return links.mint_invoice(value, **kwargs)
        return links.mint_customer(value, **kwargs)


def test_minting_schedules_a_prefetch_and_returns_at_once(
    apps: t.Callable[..., Flask], slow: KashFlowSandbox, held: HeldCalls
) -> None:
    app = apps(slow, **ON)
    link = mint(app)
    # The mint has returned; its fetch reached KashFlow and is still held there.
    assert held.wait_for(1) and held.waiting == 1
    with app.app_context():
        state = internals()  # whether a job is queued: no public way
        assert state.background.pending(
            (state.fetcher.login_for(state.accounts.get(None)).namespace, "inv", "1043")
        )
    held.release()
    assert wait_for_background(app)
    assert stats_of(app)["fetch"]["prefetches"] == 1
    slow.reset_counters()
    page = app.test_client().get(path(link))
    assert page.status_code == 200 and "Invoice 1043" in page.get_data(as_text=True)
    assert sum(slow.calls.values()) == 0  # the first open asked KashFlow nothing


def test_a_customer_link_prefetches_its_list_and_customer_side_by_side(
    apps: t.Callable[..., Flask], slow: KashFlowSandbox, held: HeldCalls
) -> None:
    app = apps(slow, **ON)
    link = mint(app, "customer", "BIGCO01")
    assert held.wait_for(2)  # the list's first page and the customer, in flight together
    assert held.peak == 2
    held.release()
    assert wait_for_background(app)
    slow.reset_counters()
    client = app.test_client()
    assert client.get(path(link)).status_code == 200
    assert client.get(path(link) + "?status=paid&page=2").status_code == 200
    assert sum(slow.calls.values()) == 0


def test_a_burst_of_mints_makes_a_few_calls_at_a_time(
    apps: t.Callable[..., Flask], slow: KashFlowSandbox, held: HeldCalls
) -> None:
    app = apps(slow, **ON)
    numbers = sorted(slow.invoices)[:50]
    links = KashFlowLinks()
    with app.test_request_context():
        for i in range(500):
            links.mint_invoice(numbers[i % 50])
    # Every mint returned while KashFlow held the first calls: 4 workers, 4 calls in flight.
    assert held.wait_for(4)
    assert held.waiting == 4
    assert stats_of(app)["background"]["coalesced"] >= 450
    held.release()
    assert wait_for_background(app, 30)
    assert held.peak == 4
    assert slow.calls["invoices.get"] == 50  # one per invoice: duplicates were coalesced


def test_a_failing_prefetch_is_logged_never_raised(
    apps: t.Callable[..., Flask], sandbox: KashFlowSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    app = apps(sandbox, **ON)
    sandbox.fail_next(10, 503, endpoint="invoices.get")
    with caplog.at_level(logging.WARNING):
        link = mint(app)  # no exception
        assert wait_for_background(app)
    assert "background prefetch of invoice 1043 failed (KashFlowUnavailable" in caplog.text
    assert link.token not in caplog.text
    # The account backs off: the next mint does not call KashFlow again meanwhile.
    sandbox.reset_counters()
    mint(app, value=1004)
    assert wait_for_background(app)
    assert sandbox.calls["invoices.get"] == 0


def test_a_link_to_a_missing_invoice_is_not_a_failure(
    apps: t.Callable[..., Flask], sandbox: KashFlowSandbox
) -> None:
    app = apps(sandbox, **ON)
    mint(app, value=999_999)
    assert wait_for_background(app)
    assert stats_of(app)["background"]["failed"] == 0  # nothing backs off for it
    mint(app, value=1004)
    assert wait_for_background(app)
    assert sandbox.calls["invoices.get"] == 2


def test_renewal_and_embed_mode_prefetch_too(
    apps: t.Callable[..., Flask], sandbox: KashFlowSandbox
) -> None:
    app = apps(sandbox, embed_credentials=True, **ON)
    link = mint(app, "customer", "ACME01")
    assert wait_for_background(app)
    with app.app_context():
        state = internals()  # a renewal without its expired page and email
        fresh = state.links.renew(state.links.decode(link.token), "ACME01")
    assert wait_for_background(app)
    assert stats_of(app)["fetch"]["prefetches"] == 4  # list and customer, twice (once from cache)
    sandbox.reset_counters()
    assert app.test_client().get(path(fresh)).status_code == 200
    assert sum(sandbox.calls.values()) == 0


def test_prefetch_off_fetches_nothing(
    apps: t.Callable[..., Flask], sandbox: KashFlowSandbox
) -> None:
    app = apps(sandbox, prefetch=False)
    mint(app)
    assert wait_for_background(app)
    assert stats_of(app)["background"]["queued"] == 0 and sum(sandbox.calls.values()) == 0


# -- the command line ---------------------------------------------------------------------------

URL = re.compile(r"^http://portal\.example\.test(/invoices/\S+)$", re.MULTILINE)


def cli_mint(app: Flask, *args: str) -> tuple[int, str, str]:
    result = app.test_cli_runner().invoke(args=["kashflow-links", "mint", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.redis
def test_the_cli_prefetches_in_the_foreground_with_a_progress_line(
    apps: t.Callable[..., Flask], sandbox: KashFlowSandbox, redis_url: str
) -> None:
    cache = {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_url}
    cli = apps(sandbox, "cli", cache=cache, **ON)
    code, out, err = cli_mint(cli, "customer", "ACME01", "--status", "unpaid")
    assert code == 0, err
    assert "prefetch: fetching the link's first page from KashFlow ... done in" in err
    assert stats_of(cli)["background"]["queued"] == 0  # nothing left for a dying process
    match = URL.search(out)
    assert match
    # Another process sharing the cache opens it without asking KashFlow.
    site = apps(sandbox, "site", cache=cache)
    sandbox.reset_counters()
    assert site.test_client().get(match.group(1)).status_code == 200
    assert sum(sandbox.calls.values()) == 0


def test_the_cli_says_when_it_did_not_prefetch(
    apps: t.Callable[..., Flask], sandbox: KashFlowSandbox
) -> None:
    code, out, err = cli_mint(apps(sandbox, "local", **ON), "invoice", "1043")
    assert code == 0 and URL.search(out)
    assert "prefetch: skipped: this command's cache (SimpleCache) ends with it" in err
    code, out, err = cli_mint(apps(sandbox, "off", prefetch=False), "invoice", "1043")
    assert code == 0 and URL.search(out)
    assert "prefetch: off (KASHFLOW_LINKS_PREFETCH)" in err
    assert sum(sandbox.calls.values()) == 0


@pytest.mark.redis
def test_the_cli_prints_the_link_even_when_kashflow_fails(
    apps: t.Callable[..., Flask], sandbox: KashFlowSandbox, redis_url: str
) -> None:
    cache = {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_url}
    cli = apps(sandbox, "cli", cache=cache, **ON)
    sandbox.fail_next(10, 503, endpoint="invoices.get")
    code, out, err = cli_mint(cli, "invoice", "1043")
    assert code == 0 and URL.search(out)
    assert "not fetched (" in err and "the first open fetches it" in err
    sandbox.clear_faults()
    code, out, err = cli_mint(cli, "invoice", "999999")
    assert code == 0 and URL.search(out)
    assert "KashFlow has no such invoice or customer" in err


def test_a_prefetch_that_cannot_even_start_never_fails_the_mint(
    apps: t.Callable[..., Flask], sandbox: KashFlowSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    def failing(account_id: str | None, credentials: t.Any) -> t.Any:
        raise RuntimeError("the account loader is down")

    app = apps(sandbox, **ON)
    internals(app).accounts.for_link = failing  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR):
        link = mint(app)
    assert link.token and f"no prefetch for link {link.link_id}" in caplog.text
    assert stats_of(app)["background"]["queued"] == 0
