"""What each reading of KashFlow's REST API costs upstream: the Swagger copy's shape against
KashFlow's documented one.

Run: ``.venv/bin/python bench/bench_shapes.py`` (a few seconds). Prints a table and writes
``bench/results/shapes.json``.

The documented shape has no ``DueAmount`` and no ``CustomerCode`` on the invoice detail, so
the portal places each detail from its own list row and, for a part-paid invoice in another
currency, reads the detail to learn what is owed. Counted with the sandbox's own counters
(``calls``: what reached "KashFlow"), per page, from a fresh app (login calls excluded, one
login per app): an invoice link opened cold, a customer list, an invoice opened from that
list, the euro customer's list, and 100 out-of-scope numbers through one customer link.
"""

from __future__ import annotations

import sys
import tempfile
import typing as t
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask

from bench._common import SECRET_KEY
from bench._common import new_fernet_key
from bench._common import write_results
from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links.testing import KashFlowSandbox

SHAPES = ("swagger", "documented")


def portal(sandbox: KashFlowSandbox, folder: str) -> Flask:
    app = Flask("bench_shapes", instance_path=folder)
    app.config.update(
        SECRET_KEY=SECRET_KEY,
        SERVER_NAME="portal.example.test",
        KASHFLOW_LINKS_FERNET_KEYS=[new_fernet_key()],
        KASHFLOW_LINKS_API_BASE_URL=sandbox.url,
        KASHFLOW_LINKS_ACCOUNTS={"acme": sandbox.account_config()},
        KASHFLOW_LINKS_PREFETCH=False,
    )
    KashFlowLinks(app)
    return app


def calls(sandbox: KashFlowSandbox, fetch: t.Callable[[], None]) -> dict[str, int]:
    """The non-login calls *fetch* caused."""
    before = sandbox.calls.copy()
    fetch()
    spent = sandbox.calls - before
    return {k: v for k, v in sorted(spent.items()) if not k.startswith("sessiontoken")}


def measure(shape: str) -> dict[str, dict[str, int]]:
    with KashFlowSandbox(shape=shape) as sandbox, tempfile.TemporaryDirectory() as folder:
        app = portal(sandbox, folder)
        client, links = app.test_client(), KashFlowLinks()
        euros = next(n for n, i in sandbox.invoices.items() if i["CustomerCode"] == "DUBOIS01")
        others = [n for n, i in sandbox.invoices.items() if i["CustomerCode"] != "ACME01"][:100]
        with app.test_request_context():
            invoice, acme = links.mint_invoice(1043), links.mint_customer("ACME01")
            dubois = links.mint_customer("DUBOIS01")

        def get(url: str, status: int = 200) -> t.Callable[[], None]:
            def fetch() -> None:
                assert client.get(url).status_code == status, url

            return fetch

        def out_of_scope() -> None:
            for number in others:
                get(f"{acme.url}/{number}", 404)()

        with app.test_request_context():
            warm_up = links.mint_customer("QUIET01")
        get(warm_up.url)()  # the login, out of the figures
        return {
            "invoice link, cold": calls(sandbox, get(invoice.url)),
            "customer list, cold": calls(sandbox, get(acme.url)),
            "invoice from the list, cold": calls(sandbox, get(f"{acme.url}/1004")),
            "euro customer's list (part-paid)": calls(sandbox, get(dubois.url)),
            "euro invoice from its list": calls(sandbox, get(f"{dubois.url}/{euros}")),
            "100 out-of-scope numbers": calls(sandbox, out_of_scope),
        }


def main() -> None:
    results = {shape: measure(shape) for shape in SHAPES}
    pages = list(results[SHAPES[0]])
    print(f"{'KashFlow calls per page (logins aside)':44} " + " ".join(f"{s:>24}" for s in SHAPES))
    for page in pages:
        cells = [
            ", ".join(f"{k} {v}" for k, v in results[s][page].items()) or "none" for s in SHAPES
        ]
        print(f"{page:44} " + " ".join(f"{c:>24}" for c in cells))
    print(f"written: {write_results('shapes', {'calls_per_page': results})}")


if __name__ == "__main__":
    main()
