"""A second application process for multi-process tests.

Run as ``python -m tests.peer`` with ``KFL_PEER_CONFIG`` holding a JSON dict of app config. It
reads commands from stdin, one per line, and answers one line each on stdout:

* ``open <token>`` -> the HTTP status and first line of ``GET /invoices/<token>`` on this app
* ``verify <token>`` -> ``ok``, ``invalid``, ``expired``, ``revoked`` or ``unavailable``
* ``quit``
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

from flask import Flask

from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links import LinkExpired
from flask_kashflow_links import LinkInvalid
from flask_kashflow_links import LinkRevoked
from flask_kashflow_links import StoreUnavailable


def main() -> None:
    config = json.loads(os.environ["KFL_PEER_CONFIG"])
    app = Flask("peer", instance_path=tempfile.mkdtemp(prefix="kfl-peer-"))
    app.config.update(config)
    links = KashFlowLinks(app)
    client = app.test_client()
    print("ready", flush=True)
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command == "quit":
            break
        with app.app_context():
            if command == "verify":
                try:
                    links.verify(arg)
                    answer = "ok"
                except LinkRevoked:
                    answer = "revoked"
                except LinkExpired:
                    answer = "expired"
                except LinkInvalid:
                    answer = "invalid"
                except StoreUnavailable:
                    answer = "unavailable"
            elif command == "open":
                response = client.get(f"/invoices/{arg}")
                answer = f"{response.status_code} {response.get_data(as_text=True).splitlines()[0]}"
            else:
                answer = f"unknown command {command}"
        print(answer, flush=True)


if __name__ == "__main__":
    main()
