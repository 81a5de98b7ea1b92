"""A second process for stampede tests: many threads fetch one resource at one moment.

Run as ``python -m tests.stampede`` with ``KFL_PEER_CONFIG`` (JSON app config),
``KFL_START_AT`` (a POSIX time to start at), ``KFL_THREADS`` and ``KFL_INVOICE``. Prints one JSON
line: ``{"ok": n, "errors": [...], "upstream": n, "misses": n, "revalidating": n,
"refreshes": n, "logins": n}`` (once the process's background work has finished).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import typing as t

from flask import Flask

from flask_kashflow_links import KashFlowLinks

from .helpers import ROOT
from .helpers import internals
from .services import run_in_threads


class Stampede:
    """This module in another process: *threads* threads fetch invoice *number* at *start_at*
    with the app *config* (``KASHFLOW_LINKS_*`` keys and all)."""

    def __init__(self, config: dict[str, t.Any], *, number: int, threads: int, start_at: float):
        env = dict(
            os.environ,
            PYTHONPATH=str(ROOT),
            KFL_PEER_CONFIG=json.dumps(config),
            KFL_START_AT=str(start_at),
            KFL_THREADS=str(threads),
            KFL_INVOICE=str(number),
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.stampede"],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )

    def report(self, timeout: float = 60) -> dict[str, t.Any]:
        """What the process printed once done (see the module's docstring)."""
        out, _ = self.proc.communicate(timeout=timeout)
        return t.cast(dict[str, t.Any], json.loads(out.strip().splitlines()[-1]))


def fetch_together(app: Flask, number: int, threads: int, start_at: float) -> list[BaseException]:
    """*threads* threads of *app* fetch invoice *number* at the POSIX time *start_at*."""

    def work(_: int) -> None:
        with app.app_context():
            state = internals()  # the fetch layer itself: no request, page or link around it
            account = state.accounts.get(None)
            time.sleep(max(0.0, start_at - time.time()))
            state.fetcher.invoice(account, number)

    return run_in_threads(work, threads)


def main() -> None:
    app = Flask("stampede", instance_path=tempfile.mkdtemp(prefix="kfl-stampede-"))
    app.config.update(json.loads(os.environ["KFL_PEER_CONFIG"]))
    links = KashFlowLinks(app)
    threads = int(os.environ["KFL_THREADS"])
    errors = fetch_together(
        app, int(os.environ["KFL_INVOICE"]), threads, float(os.environ["KFL_START_AT"])
    )
    with app.app_context():
        # Background refreshes the fetches started count too: let them finish first.
        links.wait_for_background(30)
        counters = links.stats()
        fetch = counters["fetch"]
        print(
            json.dumps(
                {
                    "ok": threads - len(errors),
                    "errors": [f"{type(e).__name__}: {e}" for e in errors],
                    "upstream": fetch["upstream"],
                    "misses": fetch["misses"],
                    "revalidating": fetch["revalidating"],
                    "refreshes": fetch["refreshes"],
                    "logins": counters["rest"]["logins"],
                }
            ),
            flush=True,
        )
    internals(app).background.shutdown()  # no public way to stop the background work


if __name__ == "__main__":
    main()
