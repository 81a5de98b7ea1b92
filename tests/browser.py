"""Support for the real-browser tests: a live server, Debian's Chromium, axe-core, screenshots.

Playwright's own browser download is not used: the tests drive Debian's ``/usr/bin/chromium``
(``make test`` installs it with apt; :func:`require_chromium` fails loudly in CI without it).
axe-core comes inside the ``axe-playwright-python`` wheel (``axe.min.js``), read from disk:
nothing is downloaded at run time.
"""

from __future__ import annotations

import json
import os
import threading
import typing as t
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from werkzeug.serving import WSGIRequestHandler
from werkzeug.serving import make_server

from .helpers import ROOT
from .services import require

if t.TYPE_CHECKING:  # pragma: no cover
    from flask import Flask
    from playwright.sync_api import Browser
    from playwright.sync_api import Page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
]

ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"

#: The axe-core rule tags the pages must pass: WCAG 2.0, 2.1 and 2.2, levels A and AA.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def require_chromium() -> None:
    """Skip on a developer's machine, fail in CI, when Debian's Chromium is missing."""
    require("chromium", os.path.exists(CHROMIUM), "sudo apt-get install chromium")


# -- live server -------------------------------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    """No access log lines: they would carry link tokens into the test output."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class LiveServer:
    """A Flask app served by werkzeug's threaded server on a free port of 127.0.0.1 (or on
    *port*, for an app whose configuration names its own address)."""

    def __init__(self, app: Flask, port: int = 0) -> None:
        self.app = app
        # Port 0: the kernel picks a free port, with no window for another process to take it.
        self._server = make_server(
            "127.0.0.1", port, app, threaded=True, request_handler=_QuietHandler
        )
        self.port: int = self._server.port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"live-server-{self.port}", daemon=True
        )

    def start(self) -> LiveServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextmanager
def live_server(app: Flask, port: int = 0) -> Iterator[LiveServer]:
    server = LiveServer(app, port).start()
    try:
        yield server
    finally:
        server.stop()


# -- browser -----------------------------------------------------------------------------------


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's headless Chromium through Playwright (never Playwright's own download)."""
    from playwright.sync_api import sync_playwright

    require_chromium()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class RequestLog:
    """Every request a page makes, to prove that nothing leaves the machine."""

    def __init__(self, page: Page) -> None:
        self.urls: list[str] = []
        page.on("request", lambda request: self.urls.append(request.url))

    def off_site(self) -> list[str]:
        """URLs that would leave localhost (``data:`` URLs never do)."""
        return [url for url in self.urls if not _is_local(url)]


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme == "data":
        return True
    return parts.scheme in ("http", "https") and parts.hostname in LOCAL_HOSTS


def has_horizontal_scroll(page: Page) -> bool:
    return bool(
        page.evaluate("document.documentElement.scrollWidth > window.innerWidth"),
    )


_BROKEN_WORDS = """(selector) => {
  const broken = [];
  for (const element of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.parentElement.getClientRects().length) continue;  // not displayed
      for (const match of node.data.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.bottom)));
        if (lines.size > 1) broken.push(match[0]);
      }
    }
  }
  return broken;
}"""


def broken_words(page: Page, selector: str = "td, th") -> list[str]:
    """Words inside *selector* that the layout split across lines ("Invoi|ce 12|83")."""
    return t.cast(list[str], page.evaluate(_BROKEN_WORDS, selector))


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as ``test-artifacts/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# -- axe-core ----------------------------------------------------------------------------------


def run_axe(page: Page) -> dict[str, t.Any]:
    """axe-core's results for *page*, limited to the WCAG 2.x A and AA rules."""
    from axe_playwright_python.sync_playwright import Axe

    options = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}
    return t.cast(dict[str, t.Any], Axe().run(page, options=options).response)


def describe_violations(results: dict[str, t.Any]) -> str:
    """Violation ids, impacts and target nodes, one block per rule."""
    lines = []
    for violation in results["violations"]:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"]:
            target = ", ".join(str(selector) for selector in node["target"])
            summary = " ".join(node.get("failureSummary", "").split())
            lines.append(f"    {target}: {summary}")
    return "\n".join(lines)


def rules_run(results: dict[str, t.Any]) -> set[str]:
    """The ids of the rules axe checked (whatever their outcome)."""
    return {
        rule["id"]
        for kind in ("violations", "passes", "incomplete", "inapplicable")
        for rule in results.get(kind, [])
    }


def write_json(name: str, data: t.Any) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path
