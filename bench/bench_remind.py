"""The weekly reminder over 500 customers who owe money, with KashFlow answering in 100 ms.

Run: ``.venv/bin/python bench/bench_remind.py`` (about a minute; ``--customers`` and
``--latency`` change the load). Prints a table and writes ``bench/results/remind.json``.

The KashFlow sandbox runs in this process with ``extra_customers`` generated customers (four
invoices each, some overdue, some part-paid) beside its demo data, and ``set_latency`` on every
call (logins included). For each API (REST, SOAP), a fresh app (SimpleCache, SQLite store,
prefetch off: what ``flask kashflow-links remind`` run from cron does) runs:

1. ``remind()`` cold, as the weekly cron job meets it: who owes what from KashFlow, then a
   link minted and an email handed to the mailer (a callable that keeps the messages) for
   every customer;
2. ``remind()`` again at once: everyone skipped ("reminded just now");
3. ``remind(dry_run=True)``, warm: what a person checking the run first waits for.

Per step: the wall time, and the KashFlow calls by endpoint.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import typing as t
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import apps
from bench._common import SECRET_KEY
from bench._common import machine
from bench._common import new_fernet_key
from bench._common import write_results
from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links.testing import KashFlowSandbox


def run(api: str, sandbox: t.Any, tmp: Path) -> dict[str, t.Any]:
    sent: list[t.Any] = []
    account = sandbox.account_config(api="soap") if api == "soap" else sandbox.account_config()
    config = {
        "SECRET_KEY": SECRET_KEY,
        "SERVER_NAME": "portal.bench.test",
        "KASHFLOW_LINKS_FERNET_KEYS": [new_fernet_key()],
        "KASHFLOW_LINKS_API_BASE_URL": sandbox.url,
        "KASHFLOW_LINKS_SOAP_URL": sandbox.soap_url,
        "KASHFLOW_LINKS_ACCOUNTS": {"acme": account},
        "KASHFLOW_LINKS_BRAND": dict(apps.BRAND),
        "KASHFLOW_LINKS_MAIL": sent.append,
        "KASHFLOW_LINKS_PREFETCH": False,
    }
    app = apps.make_portal(config, tempfile.mkdtemp(prefix=f"{api}-", dir=tmp))
    links = KashFlowLinks()
    steps: dict[str, t.Any] = {}
    with app.app_context():
        for name, call in (
            ("remind, cold", lambda: links.remind()),
            ("remind again", lambda: links.remind()),
            ("dry run, warm", lambda: links.remind(dry_run=True)),
        ):
            sandbox.reset_counters()
            started = time.perf_counter()
            result = call()
            took = time.perf_counter() - started
            calls = {k: v for k, v in sandbox.calls.items() if v}
            steps[name] = {
                "seconds": round(took, 2),
                "kashflow_calls": sum(calls.values()),
                "by_endpoint": calls,
                "sent": len(result.sent),
                "skipped": len(result.skipped),
                "failed": len(result.failed),
            }
    steps["emails handed to the mailer"] = len(sent)
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per KashFlow call")
    parser.add_argument("--results", default="remind")
    args = parser.parse_args()
    results: dict[str, t.Any] = {
        "machine": machine(),
        "customers": args.customers,
        "latency_s": args.latency,
    }
    with tempfile.TemporaryDirectory(prefix="kfl-remind-") as folder:
        for api in ("rest", "soap"):
            with KashFlowSandbox(
                extra_customers=args.customers, public_documents=api == "soap"
            ) as sandbox:
                sandbox.set_latency(args.latency)
                results[api] = run(api, sandbox, Path(folder))
    print(
        f"remind over {args.customers} extra customers (plus the demo's), "
        f"KashFlow answering in {args.latency * 1000:.0f} ms per call"
    )
    print(f"{'api':<5} {'step':<16} {'seconds':>8} {'calls':>6} {'sent':>5} {'skipped':>8}  calls")
    for api in ("rest", "soap"):
        for step in ("remind, cold", "remind again", "dry run, warm"):
            row = results[api][step]
            print(
                f"{api:<5} {step:<16} {row['seconds']:>8.2f} {row['kashflow_calls']:>6} "
                f"{row['sent']:>5} {row['skipped']:>8}  {row['by_endpoint']}"
            )
    path = write_results(args.results, results)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
