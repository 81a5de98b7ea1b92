"""Take the documentation's screenshots of the example site.

Run from the repository root::

    .venv/bin/python scripts/screenshots.py

It starts the example site (``example_app.create_app``) on a free local port with werkzeug's
``make_server`` in a thread; with no KashFlow credentials in the environment the site starts its
own KashFlow sandbox, so every page shows demo data and nothing leaves the machine. Links are
minted through ``example_app.app.links`` inside ``app.test_request_context(base_url=...)``, and
Playwright drives Debian's Chromium (``/usr/bin/chromium``; Playwright's own browser download is
not used) to photograph:

* the invoice page and a customer's list, at phone (390x844) and desktop (1280x900) sizes, in
  light and dark colour schemes;
* the expired-link page and the staff pages (the customers, and a customer with a link just
  minted), at desktop size, light.

Each PNG is one viewport high (not the full page), at a device scale factor of 1, which keeps
it well under ``MAX_BYTES``, and lands in ``docs/_static/screenshots/``; the script says so if
one grows past that.

The links live in a throw-away register (a temporary SQLite file), so the example site's own
register in ``instance/`` is left alone.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import typing as t
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "_static" / "screenshots"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
#: Screenshots should stay small enough to sit in the repository and the README.
MAX_BYTES = 150 * 1024

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _quiet_handler() -> t.Any:
    from werkzeug.serving import WSGIRequestHandler

    class QuietHandler(WSGIRequestHandler):
        """No access log: request lines would carry link tokens into the terminal."""

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            pass

    return QuietHandler


def main() -> int:
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from example_app import create_app
    from example_app.app import links

    if not os.path.exists(CHROMIUM):
        print(f"{CHROMIUM} is missing: sudo apt-get install chromium", file=sys.stderr)
        return 1
    if os.environ.get("KASHFLOW_USERNAME"):
        print("unset KASHFLOW_USERNAME: screenshots use the sandbox's demo data", file=sys.stderr)
        return 1

    workdir = tempfile.mkdtemp(prefix="kfl-screenshots-")
    with socket.socket() as probe:  # a free port, for the links' configured address
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    try:
        app = create_app(
            {
                "EXAMPLE_PRINT_DEMO_LINKS": False,
                "KASHFLOW_LINKS_PUBLIC_URL": f"http://127.0.0.1:{port}/billing",
                # A throw-away link register, so instance/ is untouched.
                "KASHFLOW_LINKS_REVOCATION_URL": f"sqlite:///{workdir}/links.sqlite3",
                # A mailer that drops messages: enough for the expired page to offer
                # "Email me a fresh link", as it does on a site with mail configured.
                "KASHFLOW_LINKS_MAIL": lambda message: None,
            }
        )
        server = make_server(
            "127.0.0.1", port, app, threaded=True, request_handler=_quiet_handler()
        )
        base = f"http://127.0.0.1:{server.port}"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            with app.test_request_context(base_url=base):
                invoice = links.mint_invoice(1043, customer="ACME01").url
                customer = links.mint_customer("ACME01").url
                expired = links.mint_invoice(1043, expires_in=1, customer="ACME01").url
            time.sleep(1.5)  # let the one-second link expire
            OUT.mkdir(parents=True, exist_ok=True)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
                )
                try:
                    shots = _take(browser, app, base, invoice, customer, expired)
                finally:
                    browser.close()
        finally:
            server.shutdown()
            thread.join(5)
            sandbox = app.extensions.get("example_sandbox")
            if sandbox is not None:
                sandbox.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    too_big = 0
    for name, size in shots:
        note = "" if size <= MAX_BYTES else f"  (over {MAX_BYTES // 1024} kB)"
        too_big += bool(note)
        print(f"{OUT.relative_to(ROOT) / name}  {size / 1024:.0f} kB{note}")
    return 1 if too_big else 0


def _take(
    browser: t.Any, app: t.Any, base: str, invoice: str, customer: str, expired: str
) -> list[tuple[str, int]]:
    shots: list[tuple[str, int]] = []

    def save(page: t.Any, name: str) -> None:
        png = page.screenshot(full_page=False, animations="disabled")
        (OUT / name).write_bytes(png)
        shots.append((name, len(png)))

    for size_name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        for scheme in ("light", "dark"):
            context = browser.new_context(viewport=viewport, color_scheme=scheme)
            page = context.new_page()
            for label, url in (("invoice", invoice), ("customer", customer)):
                response = page.goto(url)
                if response is None or response.status != 200:
                    raise RuntimeError(f"{label} page answered {response and response.status}")
                save(page, f"{label}-{size_name}-{scheme}.png")
            context.close()

    context = browser.new_context(viewport=DESKTOP, color_scheme="light")
    page = context.new_page()
    response = page.goto(expired)
    if response is None or response.status != 410:
        raise RuntimeError(f"expired page answered {response and response.status}")
    save(page, "expired-desktop-light.png")

    # The staff pages: sign in with the demo password, see who owes what, make a link.
    page.goto(f"{base}/staff/login")
    page.fill("#password", app.config["STAFF_PASSWORD"])
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/staff/")
    save(page, "staff-customers-desktop-light.png")
    page.goto(f"{base}/staff/customers/ACME01")
    page.select_option("#kfl-status", "unpaid")
    page.click("form[action$='/mint'] button[type=submit] >> nth=0")
    page.wait_for_selector("#kfl-minted-url")
    save(page, "staff-desktop-light.png")
    context.close()
    return shots


if __name__ == "__main__":
    raise SystemExit(main())
