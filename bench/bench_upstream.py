"""Upstream economy: what the portal asks of KashFlow, against a sandbox 50 ms away.

Run: ``.venv/bin/python bench/bench_upstream.py`` (about a minute). Prints tables and writes
``bench/results/upstream.json``.

The sandbox runs in this process with ``set_latency(0.05)`` on every endpoint; its counters
(``calls``, ``logins``) say what reached "KashFlow". Measured:

1. **Cold and warm page latency** (in-process, Flask test client; the portal with its default
   stores): the first page of a fresh app (a login included), then N invoice pages and every
   small customer's list page cold (data not cached, session token reused), then the same
   pages warm; median latency and upstream calls per page.
2. **The 260-invoice customer** (BIGCO01): list calls and latency cold (KashFlow serves at
   most 100 per page), then warm, then its other tabs and pages.
3. **Logins per 1,000 page loads**: 1,000 requests over a seeded random mix of invoice links,
   customer links (Unpaid and Paid tabs, BIGCO01's pages 2-5) and invoices opened from a
   list, from a fresh start:
   in-process, and over HTTP against ``gunicorn -w 2 -k sync`` with the default stores
   (SimpleCache is per worker) and with Redis (shared cache and revocation store).
4. **Stampede**: 64 concurrent requests for the same cold invoice, released together by a
   barrier, from a fresh start (nothing cached, no session token): in-process threads with
   the test client, and threads over HTTP against gunicorn (2 sync workers; 2 gthread workers
   with 32 threads, so all 64 are in flight at once), default stores and Redis. Counted:
   ``invoices.get`` calls and logins that reached the sandbox.
"""

from __future__ import annotations

import http.client
import logging
import os
import random
import sys
import threading
import time
import typing as t
from pathlib import Path
from urllib.parse import urlsplit

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import apps
from bench._common import Services
from bench._common import bench_env
from bench._common import machine
from bench._common import median
from bench._common import new_fernet_key
from bench._common import write_results
from flask_kashflow_links import KashFlowLinks

LATENCY = 0.05
N_INVOICES = 30
MIX_REQUESTS = 1000
STAMPEDE = 64
BIG = "BIGCO01"


class Counter:
    """Differences of the sandbox's counters."""

    def __init__(self, sandbox: t.Any) -> None:
        self.sandbox = sandbox
        self.calls = sandbox.calls
        self.logins = sandbox.logins

    def since(self) -> dict[str, int]:
        now = self.sandbox.calls
        out = {k: now.get(k, 0) - self.calls.get(k, 0) for k in now}
        out = {k: v for k, v in out.items() if v}
        out["logins"] = self.sandbox.logins - self.logins
        out["data_calls"] = sum(
            v for k, v in out.items() if k.startswith(("invoices.", "customers.", "documents."))
        )
        return out


def make_app(env: dict[str, str], tmp: Path, name: str) -> t.Any:
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        return apps.make_portal(apps.portal_config(), str(tmp / name))
    finally:
        os.environ.clear()
        os.environ.update(saved)


def mint_all(app: t.Any, invoices: list[int], customers: list[str]) -> dict[str, t.Any]:
    links = KashFlowLinks()
    with app.test_request_context():
        return {
            "invoice": {n: links.mint_invoice(n).token for n in invoices},
            "customer": {c: links.mint_customer(c).token for c in customers},
        }


def timed_get(client: t.Any, url: str) -> float:
    start = time.perf_counter()
    response = client.get(url)
    elapsed = time.perf_counter() - start
    if response.status_code != 200:
        raise RuntimeError(f"{url}: HTTP {response.status_code}")
    return elapsed * 1e3


def http_get(origin: str, path: str) -> tuple[int, float]:
    parts = urlsplit(origin)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    start = time.perf_counter()
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status, (time.perf_counter() - start) * 1e3
    finally:
        connection.close()


def page_set(sandbox: t.Any, client: t.Any, urls: list[str], label: str) -> dict[str, t.Any]:
    """Open every URL once: median latency and upstream calls per page."""
    counter = Counter(sandbox)
    latencies = [timed_get(client, url) for url in urls]
    calls = counter.since()
    return {
        "pages": label,
        "n": len(urls),
        "median_ms": median(latencies),
        "max_ms": max(latencies),
        "data_calls_per_page": calls["data_calls"] / len(urls),
        "logins": calls["logins"],
        "calls": calls,
    }


def mix_paths(tokens: dict[str, t.Any], sandbox: t.Any, rng: random.Random) -> list[str]:
    """MIX_REQUESTS paths over invoice links, customer links (tabs, pages), listed invoices."""
    by_customer: dict[str, list[int]] = {}
    for number, invoice in sandbox.invoices.items():
        by_customer.setdefault(invoice["CustomerCode"], []).append(number)
    choices: list[str] = []
    for token in tokens["invoice"].values():
        choices.append(f"/invoices/{token}")
    for code, token in tokens["customer"].items():
        choices.append(f"/invoices/{token}")
        choices.append(f"/invoices/{token}?status=unpaid")
        choices.append(f"/invoices/{token}?status=paid")
        if code == BIG:
            choices += [f"/invoices/{token}?page={p}" for p in range(2, 6)]
        for number in rng.sample(by_customer[code], min(3, len(by_customer[code]))):
            choices.append(f"/invoices/{token}/{number}")
    return [rng.choice(choices) for _ in range(MIX_REQUESTS)]


def main() -> None:
    # The benchmark's Redis runs without persistence on purpose (--save ''); the revocation
    # store warns about that on every start. Errors still show.
    logging.getLogger("flask_kashflow_links.links.store").setLevel(logging.ERROR)
    started = time.monotonic()
    results: dict[str, t.Any] = {"latency_s": LATENCY}
    with Services() as services:
        sandbox = services.sandbox()
        sandbox.set_latency(LATENCY)
        redis_url = services.redis()
        fernet_key = new_fernet_key()

        # Cold means cold here: nothing prefetched on mint, nothing refreshed in the
        # background (bench_latency.py measures those).
        quiet = {"prefetch": False, "stale_while_revalidate": 0}

        def env_for(name: str, redis: bool) -> dict[str, str]:
            if redis:
                # A fresh Redis database per scenario, so nothing is shared between them.
                db = {"mix": 1, "stampede-sync": 2, "stampede-gthread": 3}.get(name, 4)
                url = redis_url.rsplit("/", 1)[0] + f"/{db}"
                return bench_env(
                    sandbox.url,
                    fernet_key=fernet_key,
                    revocation_url=url,
                    instance=str(services.tmp / f"{name}-redis"),
                    cache={"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": url},
                    settings=quiet,
                )
            return bench_env(
                sandbox.url,
                fernet_key=fernet_key,
                revocation_url=f"sqlite:///{services.tmp}/{name}/links.sqlite3",
                instance=str(services.tmp / name),
                settings=quiet,
            )

        codes = sorted(
            {i["CustomerCode"] for i in sandbox.invoices.values()} - {BIG},
        )
        numbers = sorted(sandbox.invoices)
        rng = random.Random(20260)
        sample = sorted(rng.sample(numbers, N_INVOICES + 1))

        # -- 1 and 2: cold and warm pages, in-process --------------------------------------
        print("cold and warm pages (in-process)...", flush=True)
        app = make_app(env_for("pages", False), services.tmp, "pages")
        tokens = mint_all(app, sample, [*codes, BIG])
        client = app.test_client()
        sandbox.reset_counters()
        rows = []
        rows.append(
            page_set(
                sandbox,
                client,
                [f"/invoices/{tokens['invoice'][sample[0]]}"],
                "first page of a fresh app (login + invoice)",
            )
        )
        invoice_urls = [f"/invoices/{tokens['invoice'][n]}" for n in sample[1:]]
        customer_urls = [f"/invoices/{tokens['customer'][c]}" for c in codes]
        rows.append(page_set(sandbox, client, invoice_urls, "invoice link, cold"))
        rows.append(page_set(sandbox, client, invoice_urls, "invoice link, warm"))
        rows.append(page_set(sandbox, client, customer_urls, "customer list (2-12 invoices), cold"))
        rows.append(page_set(sandbox, client, customer_urls, "customer list (2-12 invoices), warm"))
        big = f"/invoices/{tokens['customer'][BIG]}"
        rows.append(page_set(sandbox, client, [big], "customer BIGCO01 (260 invoices), cold"))
        rows.append(page_set(sandbox, client, [big] * 20, "customer BIGCO01 (260 invoices), warm"))
        other_tabs = [f"{big}?status={s}" for s in ("unpaid", "overdue", "paid")] + [
            f"{big}?page={p}" for p in range(2, 14)
        ]
        rows.append(
            page_set(sandbox, client, other_tabs, "BIGCO01 other tabs and pages (list cached)")
        )
        listed = [n for n, i in sandbox.invoices.items() if i["CustomerCode"] == BIG][:10]
        rows.append(
            page_set(
                sandbox,
                client,
                [f"{big}/{n}" for n in listed],
                "invoice opened from the BIGCO01 list, cold",
            )
        )
        results["pages"] = rows

        # -- 3: logins per 1,000 page loads ------------------------------------------------
        mix: list[dict[str, t.Any]] = []
        print("1,000-request mix (in-process)...", flush=True)
        app = make_app(env_for("mix-inproc", False), services.tmp, "mix-inproc")
        mix_tokens = mint_all(app, sample, [*codes, BIG])
        paths = mix_paths(mix_tokens, sandbox, random.Random(7))
        client = app.test_client()
        sandbox.expire_sessions()
        counter = Counter(sandbox)
        start = time.perf_counter()
        latencies = [timed_get(client, p) for p in paths]
        mix.append(
            {
                "where": "in-process (1 process)",
                "requests": len(paths),
                "distinct_pages": len(set(paths)),
                "seconds": time.perf_counter() - start,
                "median_ms": median(latencies),
                **counter.since(),
            }
        )
        for label, redis in (("default stores", False), ("Redis", True)):
            print(f"1,000-request mix (gunicorn -w 2 -k sync, {label})...", flush=True)
            env = env_for("mix", redis)
            mix_tokens = mint_all(
                make_app(env, services.tmp, f"mix-{redis}"), sample, [*codes, BIG]
            )
            paths = mix_paths(mix_tokens, sandbox, random.Random(7))
            with services.scope() as scope:
                origin = scope.gunicorn(f"mix-{label}", "portal_app()", env)
                sandbox.expire_sessions()
                counter = Counter(sandbox)
                start = time.perf_counter()
                latencies = []
                for path in paths:
                    status, ms = http_get(origin, path)
                    if status != 200:
                        raise RuntimeError(f"{path}: HTTP {status}")
                    latencies.append(ms)
                mix.append(
                    {
                        "where": f"gunicorn -w 2 -k sync, {label}",
                        "requests": len(paths),
                        "distinct_pages": len(set(paths)),
                        "seconds": time.perf_counter() - start,
                        "median_ms": median(latencies),
                        **counter.since(),
                    }
                )
        results["mix"] = mix

        # -- 4: stampede ---------------------------------------------------------------------
        stampede: list[dict[str, t.Any]] = []
        target = next(n for n in numbers if n not in sample)
        print("stampede (in-process threads)...", flush=True)
        app = make_app(env_for("stampede-inproc", False), services.tmp, "stampede-inproc")
        token = mint_all(app, [target], [])["invoice"][target]
        sandbox.expire_sessions()
        stampede.append(
            _stampede(sandbox, "in-process, 64 threads", lambda: _inproc_get(app, token))
        )
        for kind, extra in (("sync", {}), ("gthread", {"threads": 32, "worker_class": "gthread"})):
            for label, redis in (("default stores", False), ("Redis", True)):
                print(f"stampede (gunicorn -w 2 {kind}, {label})...", flush=True)
                env = env_for(f"stampede-{kind}", redis)
                app = make_app(env, services.tmp, f"stampede-{kind}-{redis}")
                token = mint_all(app, [target], [])["invoice"][target]
                with services.scope() as scope:
                    origin = scope.gunicorn(
                        f"stampede-{kind}-{label}", "portal_app()", env, **extra
                    )
                    sandbox.expire_sessions()
                    where = f"gunicorn -w 2 -k {kind}" + (" --threads 32" if extra else "")
                    stampede.append(
                        _stampede(
                            sandbox,
                            f"{where}, {label}",
                            lambda o=origin, tok=token: http_get(o, f"/invoices/{tok}"),
                        )
                    )
        results["stampede"] = stampede

    results["elapsed_s"] = round(time.monotonic() - started, 1)
    _print(results)
    path = write_results("upstream", results)
    print(f"\nwrote {path}")


def _inproc_get(app: t.Any, token: str) -> tuple[int, float]:
    client = app.test_client()
    start = time.perf_counter()
    response = client.get(f"/invoices/{token}")
    return response.status_code, (time.perf_counter() - start) * 1e3


def _stampede(
    sandbox: t.Any, label: str, request: t.Callable[[], tuple[int, float]]
) -> dict[str, t.Any]:
    """STAMPEDE threads released together, each making one request."""
    barrier = threading.Barrier(STAMPEDE)
    outcomes: list[tuple[int, float]] = []
    lock = threading.Lock()

    def work() -> None:
        barrier.wait()
        try:
            outcome = request()
        except Exception:  # counted as a failure below
            outcome = (0, 0.0)
        with lock:
            outcomes.append(outcome)

    counter = Counter(sandbox)
    threads = [threading.Thread(target=work) for _ in range(STAMPEDE)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    calls = counter.since()
    return {
        "where": label,
        "requests": STAMPEDE,
        "ok": sum(1 for status, _ in outcomes if status == 200),
        "invoice_gets": calls.get("invoices.get", 0),
        "logins": calls["logins"],
        "median_ms": median(ms for _, ms in outcomes),
        "max_ms": max(ms for _, ms in outcomes),
        "calls": calls,
    }


def _print(results: dict[str, t.Any]) -> None:
    m = machine()
    print(f"\nmachine: {m['platform']}, {m['cpus']} CPUs, Python {m['python']}")
    print(f"sandbox latency {results['latency_s'] * 1e3:.0f} ms per call\n")
    print("pages (in-process, Flask test client, default stores):")
    print(
        f"  {'pages':<46} {'n':>3} {'median ms':>10} {'max ms':>8} {'calls/page':>11} {'logins':>6}"
    )
    for row in results["pages"]:
        print(
            f"  {row['pages']:<46} {row['n']:>3} {row['median_ms']:>10.1f} {row['max_ms']:>8.1f} "
            f"{row['data_calls_per_page']:>11.2f} {row['logins']:>6}"
        )
    big = next(
        r
        for r in results["pages"]
        if r["pages"].startswith("customer BIGCO01") and "cold" in r["pages"]
    )
    print(f"  BIGCO01 cold: {big['calls'].get('invoices.list', 0)} list calls")
    print("\nlogins per 1,000 page loads (seeded mix, fresh start):")
    print(
        f"  {'where':<36} {'requests':>8} {'distinct':>8} {'logins':>6} {'data calls':>10} "
        f"{'median ms':>9} {'seconds':>7}"
    )
    for row in results["mix"]:
        print(
            f"  {row['where']:<36} {row['requests']:>8} {row['distinct_pages']:>8} "
            f"{row['logins']:>6} {row['data_calls']:>10} {row['median_ms']:>9.1f} "
            f"{row['seconds']:>7.1f}"
        )
    print(f"\nstampede: {STAMPEDE} concurrent requests for one cold invoice, fresh start:")
    print(
        f"  {'where':<46} {'ok':>3} {'invoice GETs':>12} {'logins':>6} {'median ms':>9} "
        f"{'max ms':>7}"
    )
    for row in results["stampede"]:
        print(
            f"  {row['where']:<46} {row['ok']:>3} {row['invoice_gets']:>12} {row['logins']:>6} "
            f"{row['median_ms']:>9.1f} {row['max_ms']:>7.1f}"
        )
    print(f"\nran in {results['elapsed_s']:.0f} s")


if __name__ == "__main__":
    main()
