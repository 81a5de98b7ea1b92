"""The example site's application factory."""

from __future__ import annotations

import json
import os
import secrets
import sys
import typing as t

from cryptography.fernet import Fernet
from flask import Flask

from flask_kashflow_links import KashFlowLinks

links = KashFlowLinks()


def _demo_keys(instance_path: str) -> dict[str, t.Any]:
    """Keys kept in the instance folder so demo links survive restarts (never commit these)."""
    os.makedirs(instance_path, exist_ok=True)
    path = os.path.join(instance_path, "demo-keys.json")
    if not os.path.exists(path):
        keys = {
            "secret_key": secrets.token_urlsafe(48),
            "fernet_key": Fernet.generate_key().decode(),
        }
        with open(path, "w") as handle:
            json.dump(keys, handle)
        os.chmod(path, 0o600)
    with open(path) as handle:
        return t.cast(dict[str, t.Any], json.load(handle))


def create_app(config: dict[str, t.Any] | None = None) -> Flask:
    """Build the example site. *config* overrides everything (tests use it)."""
    app = Flask(__name__)
    keys = _demo_keys(app.instance_path)
    port = os.environ.get("FLASK_RUN_PORT", "5000")
    app.config.update(
        SECRET_KEY=os.environ.get("SECRET_KEY", keys["secret_key"]),
        KASHFLOW_LINKS_FERNET_KEYS=[
            os.environ.get("KASHFLOW_LINKS_FERNET_KEY", keys["fernet_key"])
        ],
        KASHFLOW_LINKS_PUBLIC_URL=os.environ.get("PUBLIC_URL", f"http://127.0.0.1:{port}"),
        KASHFLOW_LINKS_ACCOUNTS={
            "demo": {
                "username": os.environ.get("KASHFLOW_USERNAME", "sandbox@example.test"),
                "password": os.environ.get("KASHFLOW_PASSWORD", "correct horse battery"),
                "memorable_word": os.environ.get("KASHFLOW_MEMORABLE_WORD", "pineapple"),
            }
        },
        KASHFLOW_LINKS_BRAND={
            "name": "Harbour Lane Joinery",
            "email": "accounts@harbourlane.example",
        },
    )
    app.config.update(config or {})
    links.init_app(app)
    if app.config.get("EXAMPLE_PRINT_DEMO_LINKS", True) and not app.testing:
        with app.app_context():
            print_demo_links()
    return app


def print_demo_links() -> None:
    """Mint and print one link of each kind, for trying the portal."""
    invoice = links.mint_invoice(1043)
    everything = links.mint_customer("ACME01")
    unpaid = links.mint_customer("ACME01", status="unpaid")
    expired = links.mint_invoice(1043, expires_in=1)
    withdrawn = links.mint_customer("BIGCO01")
    links.revoke(withdrawn.link_id)
    print("\nDemo links:", file=sys.stderr)
    for label, link in [
        ("one invoice", invoice),
        ("all invoices", everything),
        ("unpaid only", unpaid),
        ("expired", expired),
        ("withdrawn", withdrawn),
    ]:
        print(f"  {label:<13} {link.url}", file=sys.stderr)
    print(file=sys.stderr)
