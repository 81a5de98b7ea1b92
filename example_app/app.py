"""The example site: Harbour Lane Joinery, a small business that mounts the portal at /billing.

* With no ``KASHFLOW_USERNAME`` in the environment it starts the KashFlow sandbox (a local,
  KashFlow-compatible API with demo data) and prints demo links; with
  ``KASHFLOW_USERNAME``, ``KASHFLOW_PASSWORD`` and ``KASHFLOW_MEMORABLE_WORD`` it talks to
  KashFlow itself.
* ``KASHFLOW_API=soap`` uses KashFlow's SOAP API instead of the REST API, on the sandbox
  (``KASHFLOW_API=soap make demo``) or on KashFlow (``KASHFLOW_USERNAME`` and
  ``KASHFLOW_PASSWORD``, the API password if the account has one; no memorable word).
* The portal wears the site's own layout (``KASHFLOW_LINKS_BASE_TEMPLATE``) and brand.
* ``/staff`` (demo login) is the staff pages the portal ships: who owes what, minting,
  sending and withdrawing links, reminders. Emails are printed to the terminal, not sent.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sys
import typing as t
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from flask import Flask
from flask import render_template

from flask_kashflow_links import KashFlowLinks

from .staff import sign_in
from .staff import staff_only

#: The portal extension, shared by the site's views (acts on the current app).
links = KashFlowLinks()

BRAND = {
    "name": "Harbour Lane Joinery",
    "email": "accounts@harbourlane.example",
    "phone": "01632 960 123",
    "website": "https://harbourlane.example",
    "address": "4 Harbour Lane\nFalmouth TR11 3XX",
    "accent_colour": "#0f5c55",
    "payment_instructions": "Bank transfer to Harbour Lane Joinery Ltd\n"
    "Sort code 00-00-00, account 12345678\nPlease quote the invoice number.",
}


def _instance_secrets(instance_path: str) -> dict[str, str]:
    """Keys kept in the instance folder so demo links survive restarts (never commit these)."""
    os.makedirs(instance_path, exist_ok=True)
    path = Path(instance_path) / "demo-keys.json"
    keys = t.cast(dict[str, str], json.loads(path.read_text())) if path.exists() else {}
    wanted = {
        "secret_key": lambda: secrets.token_urlsafe(48),
        "fernet_key": lambda: Fernet.generate_key().decode(),
        "staff_password": lambda: secrets.token_urlsafe(9),
    }
    missing = {name: make() for name, make in wanted.items() if name not in keys}
    if missing:
        keys.update(missing)
        path.write_text(json.dumps(keys))
        path.chmod(0o600)
    return keys


def create_app(config: dict[str, t.Any] | None = None) -> Flask:
    """Build the site. *config* overrides everything (tests pass their own)."""
    app = Flask(__name__)
    keys = _instance_secrets(app.instance_path)
    port = int(os.environ.get("FLASK_RUN_PORT", "5000"))
    app.config.update(
        SECRET_KEY=os.environ.get("SECRET_KEY", keys["secret_key"]),
        STAFF_PASSWORD=os.environ.get("EXAMPLE_STAFF_PASSWORD", keys["staff_password"]),
        KASHFLOW_LINKS_FERNET_KEYS=[
            os.environ.get("KASHFLOW_LINKS_FERNET_KEY", keys["fernet_key"])
        ],
        KASHFLOW_LINKS_URL_PREFIX="/billing",
        KASHFLOW_LINKS_PUBLIC_URL=os.environ.get("PUBLIC_URL", f"http://127.0.0.1:{port}/billing"),
        KASHFLOW_LINKS_BASE_TEMPLATE="layout.html",
        KASHFLOW_LINKS_BRAND=BRAND,
        KASHFLOW_LINKS_LOCALE="en_GB",
        # A demo sends no email: links and reminders are printed for the person running it.
        KASHFLOW_LINKS_MAIL=print_email,
    )
    sandbox = None
    api = os.environ.get("KASHFLOW_API", "rest").strip().lower()
    if api not in ("rest", "soap"):
        raise SystemExit(f"KASHFLOW_API must be 'rest' or 'soap', not {api!r}")
    if os.environ.get("KASHFLOW_USERNAME"):
        account = {
            "api": api,
            "username": os.environ["KASHFLOW_USERNAME"],
            "password": os.environ.get("KASHFLOW_PASSWORD", ""),
        }
        if api == "rest":
            account["memorable_word"] = os.environ.get("KASHFLOW_MEMORABLE_WORD", "")
        app.config["KASHFLOW_LINKS_ACCOUNTS"] = {"main": account}
    elif not (config or {}).get("KASHFLOW_LINKS_ACCOUNTS"):
        # On SOAP the sandbox serves permalinks without a session: SOAP has none.
        sandbox = _start_sandbox(public_documents=api == "soap")
        account = sandbox.account_config(api="soap") if api == "soap" else sandbox.account_config()
        app.config["KASHFLOW_LINKS_ACCOUNTS"] = {"main": account}
        app.config["KASHFLOW_LINKS_API_BASE_URL"] = sandbox.url
        app.config["KASHFLOW_LINKS_SOAP_URL"] = sandbox.soap_url
        app.extensions["example_sandbox"] = sandbox
    app.config.update(config or {})
    if app.config.get("TRUSTED_HOSTS") is None:
        # Answer only the site's own names: Flask refuses (400) a request for any other Host,
        # so nothing built from a request (a redirect, a URL) can point elsewhere.
        public_host = urlsplit(app.config["KASHFLOW_LINKS_PUBLIC_URL"]).hostname
        app.config["TRUSTED_HOSTS"] = [public_host, "127.0.0.1", "localhost"]
    links.init_app(app)
    app.register_blueprint(sign_in)
    app.register_blueprint(links.staff_blueprint(authorize=staff_only), url_prefix="/staff")

    @app.route("/")
    def home() -> str:
        return render_template("home.html")

    @app.route("/services")
    def services() -> str:
        return render_template("services.html")

    serving = "run" in sys.argv[1:]  # `flask run`, not `flask kashflow-links list` or --help
    if sandbox is not None and app.config.get("EXAMPLE_PRINT_DEMO_LINKS", serving):
        with app.app_context():
            print_demo_links(app)
    return app


def print_email(message: t.Any) -> None:
    """The demo's mailer: the email a client would get, on the terminal."""
    body = message.get_body(("plain",))
    print(
        f"\n--- email to {message['To']}: {message['Subject']}\n"
        f"{body.get_content() if body is not None else ''}---",
        file=sys.stderr,
    )


def _start_sandbox(public_documents: bool = False) -> t.Any:
    from flask_kashflow_links.testing import KashFlowSandbox

    port = int(os.environ.get("SANDBOX_PORT", "0"))
    sandbox = KashFlowSandbox(port=port, public_documents=public_documents).start()
    logging.getLogger(__name__).info("KashFlow sandbox at %s", sandbox.url)
    return sandbox


def demo_links() -> dict[str, t.Any]:
    """One link of each kind, for trying the portal (also used by the screenshot script)."""
    withdrawn = links.mint_customer("BIGCO01")
    links.revoke(withdrawn.link_id)
    return {
        "one invoice": links.mint_invoice(1043, customer="ACME01"),
        "all invoices": links.mint_customer("ACME01"),
        "unpaid only": links.mint_customer("ACME01", status="unpaid"),
        "260 invoices": links.mint_customer("BIGCO01"),
        "expired": _expired_link(),
        "withdrawn": withdrawn,
    }


def _expired_link() -> t.Any:
    """A link that stops working a second after the demo starts, to show the expired page
    through the staff API alone (it has no way to back-date a link)."""
    return links.mint_invoice(1043, expires_in=1, customer="ACME01")


def print_demo_links(app: Flask) -> None:
    """Print the demo links and the staff login (to stderr, for the person running the demo)."""
    out = sys.stderr
    api = "SOAP" if app.config["KASHFLOW_LINKS_ACCOUNTS"]["main"].get("api") == "soap" else "REST"
    print(
        f"\nHarbour Lane Joinery demo, on the KashFlow sandbox's {api} API. Try these links:",
        file=out,
    )
    for label, link in demo_links().items():
        print(f"  {label:<13} {link.url}", file=out)
    home = app.config["KASHFLOW_LINKS_PUBLIC_URL"].rsplit("/billing", 1)[0]
    print(f"\nStaff page: {home}/staff  (password: {app.config['STAFF_PASSWORD']})\n", file=out)
