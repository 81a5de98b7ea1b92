"""What a client waits for when KashFlow is slow: every KashFlow GET takes 1 s.

Run: ``.venv/bin/python bench/bench_latency.py`` (about 3 minutes before prefetch and
stale-while-revalidate, under 2 after; ``--runs N`` changes the repetitions). Prints a table
and writes ``bench/results/latency.json``. ``--save-as latency_before`` keeps a run's figures
under another name; the table prints the medians of ``bench/results/latency_before.json``
(when present) beside this run's, so a run on the code before a change and one after it can be
compared line by line.

The sandbox runs in this process with ``set_latency(1.0)`` on every data endpoint
(``invoices.get``, ``invoices.list``, ``customers.get``, ``documents.get``); logins are not
slowed. Each run builds a new app with the default stores (SimpleCache, SQLite in a temporary
folder), so every scenario starts cold, and pages are opened in-process with the Flask test
client (no HTTP server: the figures are the portal's own latency). Scenarios:

1. **Mint**: how long the staff call ``mint_invoice`` / ``mint_customer`` takes.
2. **First open after mint**: mint a link, let :data:`PAUSE` seconds pass (the email on its
   way to the client), then open it: an invoice link (1043) and the link of the customer
   with 260 invoices (BIGCO01).
3. **Open past the fresh window**: ``KASHFLOW_LINKS_CACHE_TIMEOUT`` = :data:`FRESH`; open the
   page (warming the cache), let the fresh window pass, open it again (timed).
4. **Cold 260-invoice list**: open BIGCO01's link with nothing cached and nothing prefetched
   (``KASHFLOW_LINKS_PREFETCH = False`` where the package has that setting).

Per scenario: the median over the runs, and the KashFlow data calls the scenario made in all
(after background work settled: prefetch and refreshes make the same calls, earlier).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
import typing as t
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask

from bench import apps
from bench._common import RESULTS
from bench._common import SECRET_KEY
from bench._common import Services
from bench._common import machine
from bench._common import median
from bench._common import new_fernet_key
from bench._common import write_results
from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links.config import DEFAULTS

LATENCY = 1.0
DATA_ENDPOINTS = ("invoices.get", "invoices.list", "customers.get", "documents.get")
#: Seconds between minting a link and its first open (the email on its way).
PAUSE = 5.0
#: The fresh window of the "past the fresh window" scenario, in seconds.
FRESH = 2
INVOICE = 1043
BIG = "BIGCO01"

SCENARIOS = {
    "mint_invoice": "mint an invoice link (the staff call)",
    "mint_customer": f"mint {BIG}'s link (the staff call)",
    "first_open_invoice": f"first open after mint: invoice {INVOICE}",
    "first_open_big": f"first open after mint: {BIG} (260 invoices)",
    "past_fresh_invoice": f"open past the fresh window: invoice {INVOICE}",
    "past_fresh_big": f"open past the fresh window: {BIG}",
    "cold_big": f"cold {BIG} list, nothing prefetched",
}


class Bench:
    """Builds cold apps against one slow sandbox and times what a client waits for."""

    def __init__(self, sandbox: t.Any, tmp: Path) -> None:
        self.sandbox = sandbox
        self.tmp = tmp
        self.fernet_key = new_fernet_key()
        self.count = 0
        self.links = KashFlowLinks()

    def app(self, **settings: t.Any) -> Flask:
        """A new portal app (its own SimpleCache and SQLite store: everything cold)."""
        self.count += 1
        config: dict[str, t.Any] = {
            "SECRET_KEY": SECRET_KEY,
            "SERVER_NAME": "portal.bench.test",
            "KASHFLOW_LINKS_FERNET_KEYS": [self.fernet_key],
            "KASHFLOW_LINKS_API_BASE_URL": self.sandbox.url,
            "KASHFLOW_LINKS_ACCOUNTS": {"acme": dict(apps.SANDBOX_ACCOUNT)},
            "KASHFLOW_LINKS_BRAND": dict(apps.BRAND),
            # Failures should not hide behind retries in a latency benchmark.
            "KASHFLOW_LINKS_API_TIMEOUT": (3.05, 10.0),
        }
        for key, value in settings.items():
            config[f"KASHFLOW_LINKS_{key.upper()}"] = value
        instance = tempfile.mkdtemp(prefix=f"app{self.count}-", dir=self.tmp)
        return apps.make_portal(config, instance)

    def calls(self) -> int:
        counted = self.sandbox.calls
        return sum(counted.get(name, 0) for name in DATA_ENDPOINTS)

    def mint(self, app: Flask, kind: str) -> tuple[str, float]:
        """Mint a link to invoice 1043 or to BIG's invoices; (its path, seconds the call took)."""
        with app.app_context():
            started = time.perf_counter()
            if kind == "invoice":
                link = self.links.mint_invoice(INVOICE, customer="ACME01")
            else:
                link = self.links.mint_customer(BIG)
            took = time.perf_counter() - started
        return f"/invoices/{link.token}", took

    @staticmethod
    def open(app: Flask, path: str) -> float:
        client = app.test_client()
        started = time.perf_counter()
        response = client.get(path)
        took = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"{path[:20]}... answered {response.status_code}")
        return took

    @staticmethod
    def settle(seconds: float = 3 * LATENCY + 1) -> None:
        """Let background work (prefetch, refreshes) finish before the next app."""
        time.sleep(seconds)

    # -- the scenarios ---------------------------------------------------------------------

    def first_open(self, kind: str) -> dict[str, float]:
        app = self.app()
        before = self.calls()
        path, mint_took = self.mint(app, kind)
        time.sleep(PAUSE)
        took = self.open(app, path)
        self.settle()
        return {"mint": mint_took, "open": took, "calls": self.calls() - before}

    def past_fresh(self, kind: str) -> dict[str, float]:
        app = self.app(cache_timeout=FRESH)
        path, _ = self.mint(app, kind)
        self.open(app, path)  # warm (or wait for the prefetch)
        self.settle(FRESH + 1)
        before = self.calls()
        took = self.open(app, path)
        self.settle()
        return {"open": took, "calls": self.calls() - before}

    def cold_list(self) -> dict[str, float]:
        settings = {"prefetch": False} if "PREFETCH" in DEFAULTS else {}
        app = self.app(**settings)
        path, _ = self.mint(app, "customer")
        before = self.calls()
        took = self.open(app, path)
        return {"open": took, "calls": self.calls() - before}


def main() -> None:
    logging.getLogger("flask_kashflow_links").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--save-as", default="latency", help="name of the results file")
    args = parser.parse_args()
    started = time.monotonic()
    samples: dict[str, list[float]] = {name: [] for name in SCENARIOS}
    calls: dict[str, list[float]] = {name: [] for name in SCENARIOS}

    with Services() as services:
        sandbox = services.sandbox()
        for endpoint in DATA_ENDPOINTS:
            sandbox.set_latency(LATENCY, endpoint)
        bench = Bench(sandbox, services.tmp)
        for run in range(1, args.runs + 1):
            for kind, name in (("invoice", "invoice"), ("customer", "big")):
                first = bench.first_open(kind)
                samples[f"mint_{kind}"].append(first["mint"])
                samples[f"first_open_{name}"].append(first["open"])
                calls[f"first_open_{name}"].append(first["calls"])
                past = bench.past_fresh(kind)
                samples[f"past_fresh_{name}"].append(past["open"])
                calls[f"past_fresh_{name}"].append(past["calls"])
            cold = bench.cold_list()
            samples["cold_big"].append(cold["open"])
            calls["cold_big"].append(cold["calls"])
            print(
                f"  run {run}: "
                + ", ".join(f"{k} {v[-1] * 1e3:.0f} ms" for k, v in samples.items() if v),
                flush=True,
            )

    summary = {
        name: {
            "median_ms": median(samples[name]) * 1e3,
            "max_ms": max(samples[name]) * 1e3,
            "kashflow_calls": median(calls[name]) if calls[name] else None,
        }
        for name in SCENARIOS
    }
    before_path = RESULTS / "latency_before.json"
    before = (
        json.loads(before_path.read_text())["summary"]
        if before_path.exists() and args.save_as != "latency_before"
        else {}
    )
    print()
    print(f"machine: {machine()['platform']}, {machine()['cpus']} CPUs")
    print(
        f"KashFlow sandbox: {LATENCY:g} s on every data GET; {args.runs} runs, medians; "
        f"first open {PAUSE:g} s after mint; fresh window {FRESH} s"
    )
    print()
    header = f"{'scenario':<46} {'before ms':>10} {'now ms':>9} {'max ms':>9} {'calls':>6}"
    print(header)
    print("-" * len(header))
    for name, label in SCENARIOS.items():
        row = summary[name]
        was = before.get(name, {}).get("median_ms")
        was_text = f"{was:>10.0f}" if was is not None else f"{'-':>10}"
        calls_text = f"{row['kashflow_calls']:g}" if row["kashflow_calls"] is not None else "-"
        print(
            f"{label:<46} {was_text} {row['median_ms']:>9.0f} {row['max_ms']:>9.0f} {calls_text:>6}"
        )
    print()
    print(
        "calls: KashFlow data calls the scenario made in all, background work included "
        "(median over runs)"
    )
    elapsed = time.monotonic() - started
    print(f"ran in {elapsed:.0f} s")
    path = write_results(
        args.save_as,
        {
            "setup": {
                "latency_s": LATENCY,
                "endpoints": DATA_ENDPOINTS,
                "runs": args.runs,
                "pause_s": PAUSE,
                "fresh_s": FRESH,
            },
            "summary": summary,
            "samples_ms": {k: [round(v * 1e3, 1) for v in vs] for k, vs in samples.items()},
            "elapsed_s": round(elapsed, 1),
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
