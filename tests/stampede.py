"""A second process for stampede tests: many threads fetch one resource at one moment.

Run as ``python -m tests.stampede`` with ``KFL_PEER_CONFIG`` (JSON app config),
``KFL_START_AT`` (a POSIX time to start at), ``KFL_THREADS`` and ``KFL_INVOICE``. Prints one JSON
line: ``{"ok": n, "errors": [...], "upstream": n, "logins": n}``.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time

from flask import Flask

from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links.extension import get_state


def main() -> None:
    app = Flask("stampede", instance_path=tempfile.mkdtemp(prefix="kfl-stampede-"))
    app.config.update(json.loads(os.environ["KFL_PEER_CONFIG"]))
    KashFlowLinks(app)
    start_at = float(os.environ["KFL_START_AT"])
    threads = int(os.environ["KFL_THREADS"])
    number = int(os.environ["KFL_INVOICE"])
    results: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        with app.app_context():
            state = get_state()
            account = state.accounts.get(None)
            time.sleep(max(0.0, start_at - time.time()))
            try:
                state.fetcher.invoice(account, number)
                outcome = "ok"
            except Exception as e:  # reported to the parent, which asserts on it
                outcome = f"{type(e).__name__}: {e}"
            with lock:
                results.append(outcome)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    with app.app_context():
        state = get_state()
        print(
            json.dumps(
                {
                    "ok": results.count("ok"),
                    "errors": [r for r in results if r != "ok"],
                    "upstream": state.fetcher.stats.upstream,
                    "logins": state.client.stats.logins,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
