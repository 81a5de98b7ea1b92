"""Warm-page throughput under gunicorn, against a bare Flask baseline measured in the same run.

Run: ``.venv/bin/python bench/bench_throughput.py`` (about 5 minutes; ``--rounds`` and
``--duration`` shorten it; ``--results NAME`` writes ``bench/results/NAME.json``). Prints a
table and writes ``bench/results/throughput.json``.

What runs, all on this machine:

* the KashFlow sandbox, in this process (a thread server); the portal's workers reach it over
  HTTP, but on a warm page they do not call it at all (checked: upstream calls are counted);
* ``portal/default``: ``gunicorn -w 2 -k sync 'bench.apps:portal_app()'`` with the default
  stores (SQLite revocation store in a temporary folder, SimpleCache per worker);
* ``portal/redis``: the same with Redis as both the cache and the revocation store;
* ``baseline``: ``gunicorn -w 2 -k sync 'bench.apps:bytes_baseline_app()'``, a bare Flask
  route returning the very same bytes with the same headers: the pages are rendered once at
  start-up from the same data with the package's own Formatter and templates, and each
  request only sends them. The pages are checked byte-identical. (``--baseline strict`` sends
  them without the portal's headers, only Flask's own: the strictest reference, and the one
  the performance goal is measured against. ``--baseline render`` uses
  ``baseline_app()`` instead, which renders the template on every request, as earlier
  versions of this benchmark did.)

Each server and page is warmed (one request, then a 2 s wrk run, discarded); then every
(page, server) pair is driven by ``wrk -t2 -c16 -d10s --latency`` in rounds, the server order
rotating each round so that no server always runs first or last. Reported: medians over the
rounds of requests/s, p50 and p99, and the ratio of the portal's median requests/s to the
baseline's (target: at least 0.60), with the median of the per-round ratios beside it.

Also reported: the servers' CPU time per request (user + system time of the gunicorn master
and workers, read from /proc, divided by the requests wrk completed). On a shared, noisy
machine requests/s moves with whatever else runs; CPU per request moves much less, so the
CPU ratio (baseline / portal) is the steadier estimate of the same thing.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import typing as t
import urllib.request
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import apps
from bench._common import Services
from bench._common import bench_env
from bench._common import group_cpu_seconds
from bench._common import machine
from bench._common import median
from bench._common import new_fernet_key
from bench._common import write_results
from bench._common import wrk
from flask_kashflow_links import KashFlowLinks

TARGET = 0.65
INVOICE = 1043  # ACME01's overdue invoice with line items and a part payment
CUSTOMER = "BIGCO01"  # 260 invoices: the heaviest list (page 1 of 13, 20 rows, 4 tabs)
PAGES = ("invoice", "customer", "unpaid")


def mint(env: dict[str, str]) -> dict[str, str]:
    """Mint (and register in the variant's store) an invoice link and two customer links."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        app = apps.make_portal(apps.portal_config(), env["KFL_BENCH_INSTANCE"])
    finally:
        os.environ.clear()
        os.environ.update(saved)
    links = KashFlowLinks()
    with app.test_request_context():
        return {
            "invoice": links.mint_invoice(INVOICE, customer="ACME01").token,
            "customer": links.mint_customer(CUSTOMER).token,
            "unpaid": links.mint_customer(CUSTOMER, status="unpaid").token,
        }


def fetch(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.read()


def main() -> None:
    # The benchmark's Redis runs without persistence on purpose (--save ''); the revocation
    # store warns about that on every start. Errors still show.
    logging.getLogger("flask_kashflow_links.links.store").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of discarded wrk")
    parser.add_argument("--baseline", choices=("bytes", "strict", "render"), default="bytes")
    parser.add_argument("--results", default="throughput", help="name of the results file")
    args = parser.parse_args()
    factory = {
        "bytes": "bytes_baseline_app()",
        "strict": "strict_baseline_app()",
        "render": "baseline_app()",
    }[args.baseline]
    started = time.monotonic()

    with Services() as services:
        sandbox = services.sandbox()
        redis_url = services.redis()
        fernet_key = new_fernet_key()
        variants = {
            "default": bench_env(
                sandbox.url,
                fernet_key=fernet_key,
                revocation_url=f"sqlite:///{services.tmp}/default/links.sqlite3",
                instance=str(services.tmp / "default"),
            ),
            "redis": bench_env(
                sandbox.url,
                fernet_key=fernet_key,
                revocation_url=redis_url,
                instance=str(services.tmp / "redis"),
                cache={"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_url},
            ),
        }
        tokens = {name: mint(env) for name, env in variants.items()}
        baseline_links = [
            link
            for toks in tokens.values()
            for link in (
                {"token": toks["invoice"], "kind": "invoice", "invoice": INVOICE},
                {"token": toks["customer"], "kind": "customer", "customer": CUSTOMER},
                {
                    "token": toks["unpaid"],
                    "kind": "customer",
                    "customer": CUSTOMER,
                    "status": "unpaid",
                },
            )
        ]
        origins = {
            "baseline": services.gunicorn(
                "baseline",
                factory,
                bench_env(
                    sandbox.url,
                    fernet_key=fernet_key,
                    revocation_url="",
                    instance=str(services.tmp / "baseline"),
                    links=baseline_links,
                ),
            ),
            **{
                f"portal/{name}": services.gunicorn(f"portal-{name}", "portal_app()", env)
                for name, env in variants.items()
            },
        }
        servers = list(origins)

        def variant_of(server: str) -> str:
            return "default" if server == "baseline" else server.split("/")[1].split("+")[0]

        def url(server: str, page: str) -> str:
            return f"{origins[server]}/invoices/{tokens[variant_of(server)][page]}"

        # Same page? The baseline must serve exactly what the portal serves.
        sizes: dict[str, dict[str, int]] = {}
        identical: dict[str, bool] = {}
        for page in PAGES:
            sizes[page] = {}
            for server in servers:
                if server == "baseline":
                    continue
                variant = variant_of(server)
                status, portal_body = fetch(url(server, page))
                base_status, base_body = fetch(
                    f"{origins['baseline']}/invoices/{tokens[variant][page]}"
                )
                assert status == base_status == 200, (status, base_status)
                sizes[page][server] = len(portal_body)
                sizes[page].setdefault("baseline", len(base_body))
                identical[f"{page} {server}"] = portal_body == base_body

        print(f"warming up ({args.warmup:g} s of wrk per server and page, discarded)...")
        for page in PAGES:
            for server in servers:
                wrk(url(server, page), duration=args.warmup)

        calls_before = sandbox.stats()
        runs: list[dict[str, t.Any]] = []
        for round_no in range(args.rounds):
            order = servers[round_no % len(servers) :] + servers[: round_no % len(servers)]
            for page in PAGES:
                for server in order:
                    pgid = services.pids[origins[server]]
                    cpu_before = group_cpu_seconds(pgid)
                    result = wrk(url(server, page), duration=args.duration)
                    cpu = group_cpu_seconds(pgid) - cpu_before
                    result["cpu_ms_per_request"] = cpu / result["requests"] * 1e3
                    runs.append({"round": round_no + 1, "page": page, "server": server, **result})
                    print(
                        f"  round {round_no + 1} {page:<8} {server:<21} "
                        f"{result['rps']:>8.1f} req/s  p50 {result['p50_ms']:.2f} ms  "
                        f"p99 {result['p99_ms']:.2f} ms  "
                        f"server CPU {result['cpu_ms_per_request']:.2f} ms/req",
                        flush=True,
                    )
        calls_after = sandbox.stats()

    upstream_during = {
        k: calls_after["calls"].get(k, 0) - calls_before["calls"].get(k, 0)
        for k in set(calls_after["calls"]) | set(calls_before["calls"])
    }
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for page in PAGES:
        summary[page] = {}
        for server in servers:
            mine = [r for r in runs if r["page"] == page and r["server"] == server]
            summary[page][server] = {
                "rps": median(r["rps"] for r in mine),
                "p50_ms": median(r["p50_ms"] for r in mine),
                "p99_ms": median(r["p99_ms"] for r in mine),
                "cpu_ms_per_request": median(r["cpu_ms_per_request"] for r in mine),
            }
        base_rps = summary[page]["baseline"]["rps"]
        base_cpu = summary[page]["baseline"]["cpu_ms_per_request"]
        for server in servers:
            row = summary[page][server]
            row["ratio"] = row["rps"] / base_rps
            # Server CPU per request, baseline over portal: the same ratio, less sensitive to
            # what else the machine is doing (wrk and other tenants are not counted).
            row["cpu_ratio"] = base_cpu / row["cpu_ms_per_request"]
            # Paired per round as well (less sensitive to drift across the run).
            base_by_round = {
                r["round"]: r["rps"]
                for r in runs
                if r["page"] == page and r["server"] == "baseline"
            }
            paired = [
                r["rps"] / base_by_round[r["round"]]
                for r in runs
                if r["page"] == page and r["server"] == server
            ]
            row["ratio_paired_median"] = median(paired)

    page_names = {
        "invoice": f"invoice {INVOICE}",
        "customer": f"customer {CUSTOMER} (all)",
        "unpaid": f"customer {CUSTOMER} (unpaid)",
    }
    print()
    print(
        f"machine: {machine()['platform']}, {machine()['cpus']} CPUs, Python {machine()['python']}"
    )
    print(
        f"gunicorn -w 2 -k sync; wrk -t2 -c16 -d{args.duration:g}s; medians of {args.rounds} rounds"
        f"; baseline: {factory}"
    )
    print()
    header = (
        f"{'page':<26} {'server':<21} {'bytes':>6} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'ratio':>6} {'paired':>6} {'CPU ms/req':>10} {'CPU ratio':>9}  {'target':<7}"
    )
    print(header)
    print("-" * len(header))
    for page in PAGES:
        for server in servers:
            row = summary[page][server]
            verdict = ""
            if server != "baseline":
                verdict = "meets" if row["ratio"] >= TARGET else "MISSES"
            print(
                f"{page_names[page]:<26} {server:<21} {sizes[page][server]:>6} {row['rps']:>8.1f} "
                f"{row['p50_ms']:>7.2f} {row['p99_ms']:>7.2f} {row['ratio']:>6.2f} "
                f"{row['ratio_paired_median']:>6.2f} {row['cpu_ms_per_request']:>10.3f} "
                f"{row['cpu_ratio']:>9.2f}  {verdict:<7}"
            )
    print()
    print(
        f"ratio: portal median req/s / baseline median req/s (target >= {TARGET:.2f}); paired: "
        "median "
        "of the per-round ratios; CPU ratio: baseline / portal server CPU per request"
    )
    print(
        "pages byte-identical to the baseline's: "
        + ", ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in identical.items())
    )
    print(f"KashFlow calls during the measured runs (should be 0 when warm): {upstream_during}")
    elapsed = time.monotonic() - started
    print(f"ran in {elapsed:.0f} s")

    path = write_results(
        args.results,
        {
            "setup": {
                "gunicorn": "-w 2 -k sync",
                "baseline": factory,
                "wrk": f"-t2 -c16 -d{args.duration:g}s --latency",
                "rounds": args.rounds,
                "warmup_s": args.warmup,
                "invoice": INVOICE,
                "customer": CUSTOMER,
                "target_ratio": TARGET,
            },
            "page_bytes": sizes,
            "identical_to_baseline": identical,
            "summary": summary,
            "runs": runs,
            "upstream_calls_during_measurement": upstream_during,
            "elapsed_s": round(elapsed, 1),
        },
    )
    print(f"wrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")


if __name__ == "__main__":
    main()
