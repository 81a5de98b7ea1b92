"""The Redis store's revocation check on each thread's own connection.

Every page checks revocation, so the check keeps a connection per thread instead of going
through the pool each time. What must still hold: revocations made elsewhere are seen at once,
threads that come and go (a development server starts one per request) never exhaust
anything, a dead connection fails closed once and is replaced, and a forked child never
shares its parent's socket.
"""

from __future__ import annotations

import threading
import typing as t
from datetime import datetime
from datetime import timezone

import pytest

from flask_kashflow_links import StoreUnavailable
from flask_kashflow_links.links.store.redis import RedisStore

from .services import in_a_fork
from .services import run_in_threads

pytestmark = pytest.mark.redis

NOW = datetime.now(timezone.utc).timestamp()


def check(store: RedisStore, link_id: str = "abcdefghjkmnp") -> str | None:
    return store.revoked_reason(link_id, "acme", "ACME01", NOW)


def test_revocations_by_another_client_are_seen_at_once(redis_url: str) -> None:
    reader, writer = RedisStore(redis_url), RedisStore(redis_url)
    assert check(reader) is None
    writer.revoke("abcdefghjkmnp")
    assert check(reader) == "link"
    writer.revoke_customer("acme", "ACME01")
    assert check(reader, "qrstvwxyz2345") == "customer"


def test_threads_that_come_and_go_never_exhaust_connections(redis_url: str) -> None:
    store = RedisStore(redis_url)
    pool = store._client.connection_pool
    # More threads than the pool's 100 connections, one after another, as a development
    # server starts a thread per request.
    for _ in range(3):
        errors = run_in_threads(lambda _: check(store), 60)
        assert not errors
    assert not run_in_threads(lambda _: check(store), 150)
    assert pool._created_connections <= 1  # the pool was not used for them


def test_a_dead_connection_fails_closed_once_then_is_replaced(redis_session: t.Any) -> None:
    store = RedisStore(redis_session.url)
    assert check(store) is None
    redis_session.restart()  # every open connection is now dead
    outcomes = []
    for _ in range(2):
        try:
            outcomes.append(check(store))
        except StoreUnavailable:
            outcomes.append("unavailable")
    # The old socket may fail (refused, never admitted); the next check has a new one.
    assert outcomes[-1] is None and outcomes[0] in (None, "unavailable")


@pytest.mark.multiprocess
def test_a_forked_child_uses_a_connection_of_its_own(redis_url: str) -> None:
    store = RedisStore(redis_url)
    assert check(store) is None
    parent = store._local.client

    def child() -> bool:
        return check(store) is None and store._local.client is not parent

    assert in_a_fork(child)
    # The parent's connection still works (the child never touched or closed it).
    assert check(store) is None and store._local.client is parent


def test_checks_from_many_threads_at_once_are_all_answered(redis_url: str) -> None:
    store = RedisStore(redis_url)
    store.revoke("abcdefghjkmnp")
    barrier = threading.Barrier(16)
    answers: list[str | None] = []

    def work(_: int) -> None:
        barrier.wait()
        for _ in range(50):
            answers.append(check(store))

    assert not run_in_threads(work, 16)
    assert answers == ["link"] * 800


def test_a_customer_with_a_cut_off_still_costs_one_round_trip(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RedisStore(redis_url)
    store.revoke_customer("acme", "ACME01", now=NOW - 60)
    # Everything but the one pipelined read goes through _call: a page must never need it.
    calls: list[object] = []
    monkeypatch.setattr(store, "_call", lambda action: calls.append(action))
    assert check(store, "later00000001") is None  # minted after the cut-off
    assert store.revoked_reason("earlier000001", "acme", "ACME01", NOW - 120) == "customer"
    assert calls == []
