"""Revocation and the link register, on SQLite and on a real Redis, across processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import typing as t
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask

from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links import LinkRevoked
from flask_kashflow_links.links.claims import Scope
from flask_kashflow_links.links.codec import TokenCodec
from flask_kashflow_links.links.store import RedisStore
from flask_kashflow_links.links.store import RevocationStore
from flask_kashflow_links.links.store import SQLiteStore

from .helpers import ACCOUNT
from .helpers import FERNET_KEY
from .helpers import ROOT
from .helpers import SECRET_KEY
from .helpers import KashFlowVariant
from .helpers import internals
from .helpers import make_app
from .services import run_in_threads

# Every test runs against the REST and the SOAP API (tests/helpers.py: VARIANTS): the store
# tests do not meet KashFlow and run the same twice; the portal's do.
pytestmark = pytest.mark.usefixtures("variant")

CODEC = TokenCodec([FERNET_KEY], [SECRET_KEY])


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> t.Iterator[RevocationStore]:
    if request.param == "sqlite":
        s: RevocationStore = SQLiteStore(str(tmp_path / "sub" / "links.sqlite3"))
    else:
        s = RedisStore(request.getfixturevalue("redis_url"))
    s.ping()
    yield s
    s.close()


def mint(scope: Scope, store: RevocationStore, **kwargs: t.Any) -> t.Any:
    _, claims = CODEC.mint(scope, **kwargs)
    store.register(claims)
    return claims


def reason(store: RevocationStore, claims: t.Any, customer: str | None = None) -> str | None:
    return store.revoked_reason(
        claims.link_id,
        claims.scope.account,
        customer or claims.scope.customer,
        claims.minted_at.timestamp(),
    )


def test_revoke_by_id(store: RevocationStore) -> None:
    a = mint(Scope.for_invoice("acme", 1), store)
    b = mint(Scope.for_invoice("acme", 2), store)
    assert store.revoke(a.link_id) is True
    assert reason(store, a) == "link"
    assert reason(store, b) is None
    # Revoking an id the register never saw still withdraws it.
    assert store.revoke("aaaaaaaaaaaaa") is False
    assert store.revoked_reason("aaaaaaaaaaaaa", "acme", None, 0) == "link"


def test_revoke_customer_withdraws_links_minted_until_now(store: RevocationStore) -> None:
    before = mint(Scope.for_customer("acme", "TCUST01", "unpaid"), store)
    invoice_link = mint(Scope.for_invoice("acme", 1043), store)
    other = mint(Scope.for_customer("acme", "TCUST02"), store)
    other_account = mint(Scope.for_customer("beta", "TCUST01"), store)
    count = store.revoke_customer("acme", "tcust01 ")  # case and spaces do not matter
    assert count == 1
    assert reason(store, before) == "customer"
    # An invoice link is caught once its invoice's customer is known.
    assert reason(store, invoice_link) is None
    assert reason(store, invoice_link, customer="TCUST01") == "customer"
    assert reason(store, other) is None
    assert reason(store, other_account) is None
    after = mint(Scope.for_customer("acme", "TCUST01"), store)  # same second as the revocation
    assert reason(store, after) is None


def test_unregistered_link_minted_in_the_revocation_second_fails_closed(
    store: RevocationStore,
) -> None:
    _, claims = CODEC.mint(Scope.for_customer("acme", "C9"))  # never registered
    store.revoke_customer("acme", "C9", now=claims.minted_at.timestamp() + 0.5)
    assert reason(store, claims) == "customer"


def test_register_lists_live_links_never_tokens(store: RevocationStore) -> None:
    a = mint(Scope.for_customer("acme", "TCUST01", "unpaid"), store)
    b = mint(Scope.for_invoice("acme", 1043), store, lifetime=timedelta(days=1))
    c = mint(Scope.for_customer("acme", "TCUST02"), store)
    store.learn_customer(b.link_id, "TCUST01")
    store.touch(a.link_id, time.time())
    live = store.active_links(customer="TCUST01")
    assert {r.link_id for r in live} == {a.link_id, b.link_id}
    record = store.get(a.link_id)
    assert record is not None and record.last_opened_at is not None
    assert record.scope == a.scope
    store.revoke(a.link_id)
    assert {r.link_id for r in store.active_links(customer="TCUST01")} == {b.link_id}
    # Expired links drop out of the live list.
    later = time.time() + 2 * 86400
    assert {r.link_id for r in store.active_links(now=later)} == {c.link_id}
    assert {r.link_id for r in store.active_links(account="acme")} == {b.link_id, c.link_id}


def test_active_links_filters_cutoffs_and_limits(store: RevocationStore) -> None:
    old = [mint(Scope.for_customer("acme", f"C{i % 3}"), store) for i in range(9)]
    store.revoke_customer("acme", "C0")
    fresh = mint(Scope.for_customer("acme", "C0"), store)
    live = store.active_links()
    withdrawn = {c.link_id for c in old if c.scope.customer == "C0"}
    assert {r.link_id for r in live} == ({c.link_id for c in old} - withdrawn) | {fresh.link_id}
    assert live == sorted(live, key=lambda r: r.minted_at, reverse=True)
    assert [r.link_id for r in store.active_links(limit=2)] == [r.link_id for r in live[:2]]
    assert [r.link_id for r in store.active_links(customer="c0")] == [fresh.link_id]


def test_redis_active_links_is_one_round_trip_per_page(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import redis.client

    store = RedisStore(redis_url)
    for i in range(450):
        mint(Scope.for_customer("acme", f"C{i % 7}"), store)
    store.revoke_customer("acme", "C3")
    executed: list[int] = []
    real_execute = redis.client.Pipeline.execute
    test_thread = threading.get_ident()

    def execute(pipe: redis.client.Pipeline, *args: t.Any, **kwargs: t.Any) -> t.Any:
        if threading.get_ident() == test_thread:
            executed.append(len(pipe.command_stack))
        return real_execute(pipe, *args, **kwargs)

    # Every pipeline redis-py runs on this thread from here on: the store's listing's.
    monkeypatch.setattr(redis.client.Pipeline, "execute", execute)
    live = store.active_links()
    assert len(live) == 450 - len([i for i in range(450) if i % 7 == 3])
    # 450 entries in pages of 200: three pipelined round trips, whatever the cut-offs.
    assert len(executed) == 3
    store.close()


def test_touch_of_unknown_link_creates_nothing(store: RevocationStore) -> None:
    store.touch("bbbbbbbbbbbbb", time.time())
    assert store.get("bbbbbbbbbbbbb") is None


def test_sqlite_store_is_safe_with_many_threads(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "links.sqlite3"))

    def work(_: int) -> None:
        for _mint in range(25):
            claims = mint(Scope.for_customer("acme", "T1"), store)
            store.touch(claims.link_id, time.time())
            assert reason(store, claims) is None

    errors = run_in_threads(work, 8)
    assert not errors
    assert len(store.records(customer="T1")) == 200
    assert store.revoke_customer("acme", "T1") == 200


# -- a second process sees revocations at once --------------------------------------------------


class Peer:
    """Another application process sharing the store, driven line by line."""

    def __init__(self, config: dict[str, t.Any]) -> None:
        env = dict(os.environ, KFL_PEER_CONFIG=json.dumps(config), PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.peer"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        assert self.ask_raw() == "ready"

    def ask_raw(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def ask(self, line: str) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.ask_raw()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.ask("quit")
            self.proc.wait(timeout=10)


def peer_config(revocation_url: str) -> dict[str, t.Any]:
    return {
        "SECRET_KEY": SECRET_KEY,
        "KASHFLOW_LINKS_FERNET_KEYS": [FERNET_KEY],
        "KASHFLOW_LINKS_ACCOUNTS": {"acme": ACCOUNT},
        "KASHFLOW_LINKS_REVOCATION_URL": revocation_url,
    }


@pytest.mark.redis
@pytest.mark.multiprocess
def test_second_process_on_redis_sees_revocations_at_once(tmp_path: Path, redis_url: str) -> None:
    app = make_app(tmp_path, revocation_url=redis_url)
    links = KashFlowLinks()
    peer = Peer(peer_config(redis_url))
    try:
        with app.app_context():
            by_id = links.mint_invoice(1043)
            by_customer = links.mint_customer("TCUST01", status="unpaid")
            untouched = links.mint_customer("TCUST02")
            assert peer.ask(f"verify {by_id.token}") == "ok"
            assert peer.ask(f"verify {by_customer.token}") == "ok"
            links.revoke(by_id.link_id)
            assert peer.ask(f"verify {by_id.token}") == "revoked"
            links.revoke_customer("TCUST01")
            assert peer.ask(f"verify {by_customer.token}") == "revoked"
            assert peer.ask(f"verify {untouched.token}") == "ok"
            assert peer.ask(f"open {by_customer.token}").startswith("410")
            # A fresh link for the same customer works everywhere straight away.
            fresh = links.mint_customer("TCUST01", status="unpaid")
            assert peer.ask(f"verify {fresh.token}") == "ok"
    finally:
        peer.close()


@pytest.mark.multiprocess
def test_second_process_on_sqlite_sees_revocations_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    app = make_app(tmp_path, revocation_url=url)
    links = KashFlowLinks()
    peer = Peer(peer_config(url))
    try:
        with app.app_context():
            link = links.mint_customer("TCUST01")
            assert peer.ask(f"verify {link.token}") == "ok"
            links.revoke(link.token)
            assert peer.ask(f"verify {link.token}") == "revoked"
    finally:
        peer.close()


@pytest.mark.redis
def test_redis_down_fails_closed(
    tmp_path: Path, redis_session: t.Any, sandbox: t.Any, kashflow: KashFlowVariant
) -> None:
    app = make_app(tmp_path, **kashflow.config(sandbox, revocation_url=redis_session.url))
    with app.app_context():
        link = KashFlowLinks().mint_invoice(1043)
        client = app.test_client()
        assert client.get(f"/invoices/{link.token}").status_code == 200
        redis_session.stop()
        try:
            response = client.get(f"/invoices/{link.token}")
            assert response.status_code == 503
            with pytest.raises(Exception) as info:
                KashFlowLinks().verify(link.token)
            assert type(info.value).__name__ == "StoreUnavailable"
        finally:
            redis_session.start()
        assert client.get(f"/invoices/{link.token}").status_code == 200


def test_revoked_link_stays_revoked_when_the_cache_is_cleared(app: Flask) -> None:
    links = KashFlowLinks()
    link = links.mint_invoice(7)
    links.revoke(link.link_id)
    internals().cache.clear()
    with pytest.raises(LinkRevoked):
        links.verify(link.token)


@pytest.mark.redis
def test_a_redis_store_without_persistence_is_flagged_at_start(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    RedisStore(redis_url).ping()  # the session server runs without persistence
    assert "would forget revocations" in caplog.text


def test_revoke_customer_counts_only_the_live_links_it_withdrew(store: RevocationStore) -> None:
    now = time.time()
    live = mint(Scope.for_customer("acme", "C7"), store)
    revoked = mint(Scope.for_customer("acme", "C7", "paid"), store)
    store.revoke(revoked.link_id)
    mint(Scope.for_customer("acme", "C7", "unpaid"), store, lifetime=timedelta(seconds=1))
    assert store.revoke_customer("acme", "C7", now=now + 5) == 1  # the expired one is not live
    assert reason(store, live) == "customer"
    assert store.revoke_customer("acme", "C7", now=now + 6) == 0  # nothing new to withdraw
