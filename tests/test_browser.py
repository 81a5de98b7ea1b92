"""The portal pages in a real browser: Debian's headless Chromium driven by Playwright.

Every page a client can meet is loaded from a live server at phone and desktop widths (the
invoice and list pages in light and dark colour schemes) and must: answer with the right status,
show its heading, pass axe-core's WCAG 2.0/2.1/2.2 A and AA rules with zero violations, never
scroll sideways or split a word across lines, and never make a request that leaves the machine.
Full-page screenshots go to ``test-artifacts/screenshots/`` (git-ignored); the axe rules run on
each page and the invoice page's weight go to ``test-artifacts/``.

``pytest tests/test_browser.py -s`` also prints the page weight.
"""

from __future__ import annotations

import email.message
import re
import typing as t
import urllib.error
import urllib.request
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field

import pytest
from flask import Flask

from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links.testing import KashFlowSandbox

from .browser import WCAG_TAGS
from .browser import LiveServer
from .browser import RequestLog
from .browser import broken_words
from .browser import chromium
from .browser import describe_violations
from .browser import has_horizontal_scroll
from .browser import live_server
from .browser import require_chromium
from .browser import rules_run
from .browser import run_axe
from .browser import screenshot
from .browser import write_json
from .helpers import in_the_past
from .helpers import make_app
from .helpers import portal_config
from .services import free_port

if t.TYPE_CHECKING:  # pragma: no cover
    from playwright.sync_api import Browser
    from playwright.sync_api import BrowserContext
    from playwright.sync_api import Page
    from playwright.sync_api import Response

pytestmark = pytest.mark.browser

BRAND = {
    "name": "Northwind Bookkeeping",
    "email": "accounts@northwind.example.com",
    "phone": "0161 496 0000",
}
THROTTLE_LIMIT = 3
PAGE_WEIGHT_BUDGET = 40_000
HEIGHT = 800


@dataclass
class Site:
    """The live portal, its links and the fresh-link emails it sent."""

    main: LiveServer
    down: LiveServer
    urls: dict[str, str]
    #: Mints another expired link and gives its URL: an expired link gets only a few fresh
    #: links a day, and the tests press "Email me a fresh link" many times.
    expired: Callable[[], str]
    outbox: list[email.message.EmailMessage] = field(default_factory=list)


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_chromium()
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def contexts(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    """One browser context per (width, colour scheme, JavaScript), reused by the tests."""
    made: dict[tuple[int, str, bool], BrowserContext] = {}

    def get(width: int, scheme: str = "light", *, javascript: bool = True) -> BrowserContext:
        key = (width, scheme, javascript)
        if key not in made:
            made[key] = browser.new_context(
                viewport={"width": width, "height": HEIGHT},
                color_scheme=t.cast(t.Any, scheme),
                java_script_enabled=javascript,
            )
        return made[key]

    yield get
    for context in made.values():
        context.close()


@pytest.fixture(scope="module")
def site(
    sandbox_server: KashFlowSandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """One app on the sandbox for the pages, one whose KashFlow is down for 503 and 429."""
    require_chromium()  # skip before starting servers when there is no browser
    sandbox = sandbox_server
    sandbox.clear_faults()
    sandbox.reset_counters()
    tmp = tmp_path_factory.mktemp("browser")
    outbox: list[email.message.EmailMessage] = []
    links = KashFlowLinks()

    def main_app(url: str) -> Flask:
        # Emailed links come from configuration, never from a request: the server's own URL.
        return make_app(
            tmp,
            name="kfl_browser",
            SERVER_NAME=None,
            TRUSTED_HOSTS=["127.0.0.1"],
            **portal_config(sandbox, brand=BRAND, mail=outbox.append, public_url=url),
        )

    # KashFlow unreachable (nothing listens on the port: no data, nothing cached) and a low
    # bad-token limit. The 429 lives on this app so the main app's 404 pages are never throttled
    # (the throttle counts per client address, and every request here comes from 127.0.0.1).
    down_app = make_app(
        tmp,
        name="kfl_browser_down",
        SERVER_NAME=None,
        **portal_config(
            sandbox,
            api_base_url=f"http://127.0.0.1:{free_port()}/v2",
            brand=BRAND,
            throttle_limit=THROTTLE_LIMIT,
        ),
    )
    with live_server(main_app) as main, live_server(down_app) as down:
        app = main.app

        def expired() -> str:
            # Minted an hour ago with ten minutes to live: expired now, and the fresh link it
            # gets (the same lifetime, from now) has time to open on a busy machine.
            with app.test_request_context(base_url=main.url), in_the_past():
                return links.mint_invoice(1043, expires_in=600).url

        urls: dict[str, str] = {"expired": expired()}
        with app.test_request_context(base_url=main.url):
            urls["invoice"] = links.mint_invoice(1043).url
            acme = links.mint_customer("ACME01").url
            urls["customer"] = acme
            urls["customer-invoice"] = f"{acme}/1043"
            urls["customer-unpaid"] = links.mint_customer("ACME01", status="unpaid").url
            bigco = links.mint_customer("BIGCO01").url
            urls["bigco"] = bigco
            urls["bigco-page-2"] = f"{bigco}?page=2"
            withdrawn = links.mint_invoice(1043)
            links.revoke(withdrawn.link_id)
            urls["withdrawn"] = withdrawn.url
        urls["not-found"] = f"{main.url}/invoices/not-a-real-token"
        with down_app.test_request_context(base_url=down.url):
            urls["unavailable"] = links.mint_invoice(1043).url
        urls["throttled"] = f"{down.url}/invoices/not-a-real-token"
        assert all(url.startswith("http://127.0.0.1:") for url in urls.values())
        yield Site(main=main, down=down, urls=urls, expired=expired, outbox=outbox)
    sandbox.clear_faults()


@pytest.fixture(scope="module")
def axe_log() -> Iterator[dict[str, t.Any]]:
    """What axe checked on every page, written to ``test-artifacts/axe-results.json``."""
    log: dict[str, t.Any] = {"tags": WCAG_TAGS, "rules": set(), "pages": {}}
    yield log
    if log["pages"]:
        log["rules"] = sorted(log["rules"])
        write_json("axe-results.json", log)


# -- the pages ---------------------------------------------------------------------------------


def _goto(name: str) -> Callable[[Page, Site], Response]:
    def load(page: Page, site: Site) -> Response:
        response = page.goto(site.urls[name])
        assert response is not None
        return response

    return load


def _throttled(page: Page, site: Site) -> Response:
    # Bad tokens from this address until the portal answers 429: a fixed throttle window may
    # have just rolled over, so count until it says so rather than THROTTLE_LIMIT + 1 times.
    url = site.urls["throttled"]
    for _ in range(THROTTLE_LIMIT + 2):
        try:
            urllib.request.urlopen(url, timeout=5).close()
        except urllib.error.HTTPError as e:
            e.close()
            if e.code == 429:
                break
    response = page.goto(url)
    assert response is not None
    return response


def _renew_sent(page: Page, site: Site) -> Response:
    """Press "Email me a fresh link" on the expired page, as a client would."""
    sent = len(site.outbox)
    expired = page.goto(site.expired())
    assert expired is not None and expired.status == 410
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Email me a fresh link").click()
    assert len(site.outbox) == sent + 1
    return navigation.value


@dataclass(frozen=True)
class PageSpec:
    load: Callable[[Page, Site], Response]
    status: int
    heading: str


PAGES: dict[str, PageSpec] = {
    "invoice": PageSpec(_goto("invoice"), 200, "Invoice 1043"),
    "customer": PageSpec(_goto("customer"), 200, "Invoices for Acme Trading Ltd"),
    "customer-unpaid": PageSpec(_goto("customer-unpaid"), 200, "Invoices for Acme Trading Ltd"),
    "bigco": PageSpec(_goto("bigco"), 200, "Invoices for Bigco Holdings plc"),
    "bigco-page-2": PageSpec(_goto("bigco-page-2"), 200, "Invoices for Bigco Holdings plc"),
    "customer-invoice": PageSpec(_goto("customer-invoice"), 200, "Invoice 1043"),
    "expired": PageSpec(_goto("expired"), 410, "This link has expired"),
    "withdrawn": PageSpec(_goto("withdrawn"), 410, "This link is no longer active"),
    "not-found": PageSpec(_goto("not-found"), 404, "We can't open this link"),
    "unavailable": PageSpec(_goto("unavailable"), 503, "We can't show your invoices just now"),
    "throttled": PageSpec(_throttled, 429, "Too many attempts"),
    "renew-sent": PageSpec(_renew_sent, 200, "A fresh link is on its way"),
}

#: Pages also checked in the dark colour scheme: the invoice and the list. The other pages use
#: the same rules of portal.css, and the brand's accent colours are the same in both schemes;
#: light only keeps the file quick.
DARK_TOO = ("invoice", "customer")

PAGE_CASES = [
    pytest.param(name, width, scheme, id=f"{name}-{width}-{scheme}")
    for name in PAGES
    for width in (375, 1280)
    for scheme in (("light", "dark") if name in DARK_TOO else ("light",))
]


def _open(
    contexts: Callable[..., BrowserContext],
    site: Site,
    name: str,
    width: int,
    scheme: str = "light",
    *,
    javascript: bool = True,
) -> tuple[Page, RequestLog]:
    page = contexts(width, scheme, javascript=javascript).new_page()
    requests = RequestLog(page)
    spec = PAGES[name]
    response = spec.load(page, site)
    assert response.status == spec.status, f"{name}: HTTP {response.status}"
    return page, requests


def _assert_heading(page: Page, expected: str) -> None:
    heading = page.get_by_role("heading", level=1)
    assert heading.count() == 1
    assert heading.is_visible()
    assert " ".join(heading.inner_text().split()) == expected


# -- every page --------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "width", "scheme"), PAGE_CASES)
def test_page(
    contexts: Callable[..., BrowserContext],
    site: Site,
    axe_log: dict[str, t.Any],
    name: str,
    width: int,
    scheme: str,
) -> None:
    page, requests = _open(contexts, site, name, width, scheme)
    try:
        screenshot(page, f"{name}-{width}-{scheme}")
        _assert_heading(page, PAGES[name].heading)
        results = run_axe(page)
        axe_log["rules"].update(rules_run(results))
        axe_log["pages"][f"{name}-{width}-{scheme}"] = {
            "violations": [v["id"] for v in results["violations"]],
            "incomplete": [v["id"] for v in results["incomplete"]],
            "passes": sorted(v["id"] for v in results["passes"]),
        }
        assert not results["violations"], (
            f"axe: violations on {name} at {width}px ({scheme}):\n" + describe_violations(results)
        )
        assert not has_horizontal_scroll(page), f"{name} scrolls sideways at {width}px"
        assert not broken_words(page), f"{name} splits words at {width}px"
        assert requests.urls, "no requests recorded"
        assert not requests.off_site(), f"requests leaving localhost: {requests.off_site()}"
    finally:
        page.close()


@pytest.mark.parametrize("name", list(PAGES))
def test_no_sideways_scrolling_at_320px(
    contexts: Callable[..., BrowserContext], site: Site, name: str
) -> None:
    page, requests = _open(contexts, site, name, 320)
    try:
        _assert_heading(page, PAGES[name].heading)
        assert not has_horizontal_scroll(page), f"{name} scrolls sideways at 320px"
        assert not broken_words(page), f"{name} splits words at 320px"
        assert not requests.off_site()
    finally:
        page.close()


def test_axe_reports_a_known_violation(contexts: Callable[..., BrowserContext], site: Site) -> None:
    """The harness is live: axe does see an image without alt text put on a portal page."""
    page, _ = _open(contexts, site, "not-found", 375)
    try:
        page.evaluate(
            "document.querySelector('h1').after(Object.assign(document.createElement('img'),"
            " {src: 'data:image/gif;base64,R0lGODlhAQABAAAAACw=', width: 10, height: 10}))"
        )
        assert [v["id"] for v in run_axe(page)["violations"]] == ["image-alt"]
    finally:
        page.close()


# -- keyboard, print, weight, no JavaScript ----------------------------------------------------


@pytest.mark.parametrize("width", [375, 1280])
def test_tab_reaches_the_first_invoice_with_a_visible_outline(
    contexts: Callable[..., BrowserContext], site: Site, width: int
) -> None:
    page, _ = _open(contexts, site, "customer", width)
    try:
        first_href = page.locator("table.kfl-list tbody a").first.get_attribute("href")
        for _ in range(30):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.getAttribute('href')") == first_href:
                break
        else:
            pytest.fail("Tab never reached the first invoice link")
        style, outline_width = page.evaluate(
            "[getComputedStyle(document.activeElement).outlineStyle,"
            " getComputedStyle(document.activeElement).outlineWidth]"
        )
        assert style != "none" and outline_width != "0px", (style, outline_width)
        screenshot(page, f"customer-{width}-focus")
    finally:
        page.close()


def test_printing_an_invoice_hides_the_download_button(
    contexts: Callable[..., BrowserContext], site: Site
) -> None:
    page, _ = _open(contexts, site, "invoice", 1280)
    try:
        download = page.get_by_role("link", name=re.compile(r"^Download PDF"))
        assert download.is_visible()
        page.emulate_media(media="print")
        assert download.is_hidden()
        assert page.get_by_role("heading", level=1).is_visible()
        screenshot(page, "invoice-print")
    finally:
        page.close()


def test_page_weight_of_an_invoice(contexts: Callable[..., BrowserContext], site: Site) -> None:
    """The invoice page's HTML and CSS stay small: a phone on a poor connection."""
    page = contexts(375).new_page()
    try:
        responses: list[Response] = []
        page.on("response", lambda response: responses.append(response))
        response = page.goto(site.urls["invoice"])
        assert response is not None and response.status == 200
        files = [
            {
                "type": r.request.resource_type,
                # The token is a credential: keep it out of the artifact.
                "path": re.sub(
                    r"/invoices/[^/?]+", "/invoices/<token>", r.url[len(site.main.url) :]
                ),
                "bytes": len(r.body()),
            }
            for r in responses
            if r.request.resource_type in ("document", "stylesheet")
        ]
        html = sum(f["bytes"] for f in files if f["type"] == "document")
        css = sum(f["bytes"] for f in files if f["type"] == "stylesheet")
        assert [f["type"] for f in files].count("document") == 1
        assert [f["type"] for f in files].count("stylesheet") == 2  # portal.css and brand colours
        total = html + css
        write_json("page-weight.json", {"page": "invoice", "total_bytes": total, "files": files})
        print(f"\ninvoice page weight: {total} bytes (HTML {html} + CSS {css})")
        assert total < PAGE_WEIGHT_BUDGET, f"the invoice page weighs {total} bytes"
    finally:
        page.close()


def _arrived(page: Page, response: Response | None, status: int, heading: str) -> None:
    assert response is not None
    h1 = page.locator("h1")
    seen = " ".join(h1.inner_text().split()) if h1.count() else "(no h1)"
    assert (response.status, seen) == (status, heading)


def test_pages_work_without_javascript(contexts: Callable[..., BrowserContext], site: Site) -> None:
    page = contexts(375, javascript=False).new_page()
    try:
        page.set_content(
            "<p id=x>off</p><script>document.getElementById('x').textContent='on'</script>"
        )
        assert page.locator("#x").inner_text() == "off", "JavaScript is not disabled"
        requests = RequestLog(page)

        _arrived(page, page.goto(site.urls["invoice"]), 200, "Invoice 1043")
        _arrived(page, page.goto(site.urls["customer"]), 200, "Invoices for Acme Trading Ltd")
        first = page.locator("table.kfl-list tbody a").first
        number = first.inner_text().split()[-1]
        with page.expect_navigation() as navigation:
            first.click()
        _arrived(page, navigation.value, 200, f"Invoice {number}")

        sent = len(site.outbox)
        _arrived(page, page.goto(site.expired()), 410, "This link has expired")
        with page.expect_navigation() as navigation:
            page.get_by_role("button", name="Email me a fresh link").click()
        _arrived(page, navigation.value, 200, "A fresh link is on its way")
        assert len(site.outbox) == sent + 1

        # The fresh link in that email opens the invoice.
        body = site.outbox[-1].get_body(("plain",))
        assert body is not None
        fresh = re.search(r"http://127\.0\.0\.1:\d+/invoices/\S+", body.get_content())
        assert fresh is not None
        _arrived(page, page.goto(fresh.group(0)), 200, "Invoice 1043")
        assert not requests.off_site(), requests.off_site()
    finally:
        page.close()
