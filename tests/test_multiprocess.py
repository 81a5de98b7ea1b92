"""Several workers and hosts: two gunicorn servers (2 workers each) sharing one real Redis.

Redis holds the cache, the single-flight locks, the sealed KashFlow session token, the
throttle counters and the revocation store.
"""

from __future__ import annotations

import threading
import time
import typing as t
from pathlib import Path

import pytest
import requests

from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links.testing import KashFlowSandbox

from .helpers import gunicorn_config
from .helpers import make_app
from .helpers import portal_config
from .services import Gunicorn
from .services import redis_server
from .services import run_in_threads

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.multiprocess]


def minted(
    tmp_path: Path, sandbox: KashFlowSandbox, base_url: str, **settings: t.Any
) -> dict[str, t.Any]:
    """Links minted by a third process-like app sharing the same stores."""
    app = make_app(tmp_path, "minter", **portal_config(sandbox, **settings))
    links = KashFlowLinks()
    with app.test_request_context(base_url=base_url):
        return {
            "invoice": links.mint_invoice(1043),
            "customer": links.mint_customer("ACME01", status="unpaid"),
        }


def path_of(link: t.Any) -> str:
    return "/invoices/" + link.token


def test_two_hosts_share_revocations_cache_and_one_login(
    tmp_path: Path, sandbox: KashFlowSandbox, redis_url: str
) -> None:
    settings = {
        "cache": {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_url},
        "revocation_url": redis_url,
        "throttle_limit": 4,
    }
    config = gunicorn_config(sandbox, **settings)
    with Gunicorn(config) as a, Gunicorn(config) as b:
        links = minted(tmp_path, sandbox, a.url, **settings)
        invoice, customer = path_of(links["invoice"]), path_of(links["customer"])
        # Host A warms both pages.
        for page in (invoice, customer):
            assert requests.get(a.url + page, timeout=10).status_code == 200
        assert sandbox.logins == 1
        before = sandbox.calls
        # Host B (both its workers) serves them warm: not one call to KashFlow, no login.
        for _ in range(8):
            for page in (invoice, customer):
                assert requests.get(b.url + page, timeout=10).status_code == 200
        assert sandbox.calls == before
        assert sandbox.logins == 1
        # Revoked through host A: refused by every worker of host B at once.
        assert requests.post(f"{a.url}/_test/revoke/{links['invoice'].link_id}", timeout=10).ok
        for _ in range(8):
            assert requests.get(b.url + invoice, timeout=10).status_code == 410
        assert requests.get(b.url + customer, timeout=10).status_code == 200
        # The bad-token throttle is shared too: 4 bad tries spread over A and B, then 429.
        statuses = [
            requests.get(f"{host.url}/invoices/bad-token-{i}", timeout=10).status_code
            for i, host in enumerate([a, b, a, b, a, b])
        ]
        assert statuses == [404, 404, 404, 404, 429, 429]
        assert "Traceback" not in a.logs() + b.logs()


def load(
    url_paths: list[str], base: str, seconds: float, threads: int = 6
) -> list[tuple[float, int]]:
    """Hammer *url_paths* for *seconds*; returns (elapsed, status) per request."""
    start = time.monotonic()
    results: list[tuple[float, int]] = []
    lock = threading.Lock()

    def worker(offset: int) -> None:
        session = requests.Session()
        i = offset
        while (elapsed := time.monotonic() - start) < seconds:
            try:
                status = session.get(base + url_paths[i % len(url_paths)], timeout=10).status_code
            except requests.RequestException:
                status = -1
            with lock:
                results.append((elapsed, status))
            i += 1

    assert not run_in_threads(worker, threads)
    return results


@pytest.mark.parametrize("store", ["redis", "sqlite"])
def test_redis_killed_mid_load(tmp_path: Path, sandbox: KashFlowSandbox, store: str) -> None:
    with redis_server(persistent=True) as redis:
        revocation_url = (
            redis.url if store == "redis" else f"sqlite:///{tmp_path / 'links.sqlite3'}"
        )
        settings = {
            "cache": {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis.url},
            "revocation_url": revocation_url,
        }
        with Gunicorn(gunicorn_config(sandbox, **settings)) as server:
            links = minted(tmp_path, sandbox, server.url, **settings)
            withdrawn = minted(tmp_path, sandbox, server.url, **settings)["invoice"]
            app = make_app(tmp_path, "revoker", **portal_config(sandbox, **settings))
            with app.app_context():
                KashFlowLinks().revoke(withdrawn.link_id)
            pages = [path_of(links["invoice"]), path_of(links["customer"])]
            for page in pages:
                assert requests.get(server.url + page, timeout=10).status_code == 200

            def outage() -> None:
                time.sleep(2.0)
                redis.stop()
                time.sleep(3.0)
                redis.start()

            killer = threading.Thread(target=outage)
            killer.start()
            results = load(pages, server.url, seconds=10.0)
            killer.join()
            statuses = {status for _, status in results}
            assert 500 not in statuses and -1 not in statuses, (statuses, server.logs()[-6000:])
            assert statuses <= {200, 503}, statuses
            before = [s for t_, s in results if t_ < 1.8]
            after = [s for t_, s in results if t_ > 8.5]
            assert before and set(before) == {200}
            assert after and set(after) == {200}, "recovers without a restart"
            during = [s for t_, s in results if 2.5 < t_ < 4.5]
            if store == "redis":
                # The revocation store is unreachable: links are refused, never admitted.
                assert set(during) == {503}
                assert "link store unavailable" in server.logs()
            else:
                # Only the cache is gone: pages come from KashFlow directly.
                assert set(during) == {200}
            # The withdrawn link stayed withdrawn through the restart.
            assert requests.get(server.url + path_of(withdrawn), timeout=10).status_code == 410
            assert "Traceback" not in server.logs()
