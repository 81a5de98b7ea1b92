"""The staff pages in a real browser: Debian's headless Chromium driven by Playwright.

A small host site mounts the staff blueprint at ``/staff`` behind its own sign-in (anonymous:
a redirect to it; signed in without the staff role: 403). Every staff page, at phone (320 px)
and desktop widths, answers with the right status and heading, passes axe-core's WCAG 2.x A
and AA rules with zero violations, never scrolls sideways nor splits a word in a table cell,
and asks nothing of another site. The whole workflow (sign in, mint, copy, send, revoke, revoke
all, reminders) is then done with JavaScript off, and no URL the staff pages load carries a
link token. Screenshots go to ``test-artifacts/screenshots/staff-*.png``.
"""

from __future__ import annotations

import email.message
import re
import typing as t
import unicodedata
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field

import pytest
from flask import Flask
from flask import redirect
from flask import render_template_string
from flask import request
from flask import session
from flask import url_for

from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links.testing import KashFlowSandbox

from .browser import LiveServer
from .browser import RequestLog
from .browser import broken_words
from .browser import chromium
from .browser import describe_violations
from .browser import has_horizontal_scroll
from .browser import live_server
from .browser import require_chromium
from .browser import run_axe
from .browser import screenshot
from .helpers import internals
from .helpers import make_app
from .helpers import portal_config

if t.TYPE_CHECKING:  # pragma: no cover
    from playwright.sync_api import Browser
    from playwright.sync_api import BrowserContext
    from playwright.sync_api import Page
    from playwright.sync_api import Response

pytestmark = pytest.mark.browser

HEIGHT = 800
LINK_IN_MAIL = re.compile(r"http://127\.0\.0\.1:\d+/invoices/(\S+)")

#: The host site's own sign-in page (no CSRF protection: a test stand-in for the host's).
SIGN_IN = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in</title></head>
<body><main><h1>Sign in</h1>
<form method="post"><button name="role" value="staff">Sign in as staff</button>
<button name="role" value="client">Sign in as a client</button></form></main></body></html>"""


@dataclass
class Site:
    server: LiveServer
    app: Flask
    outbox: list[email.message.EmailMessage] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.server.url + path

    def forget_reminders(self) -> None:
        """Every customer never reminded, so a reminder run has someone to remind (the
        store's own way to give a reminder back)."""
        with self.app.app_context():
            store = internals().links.store
            for summary in KashFlowLinks().customers():
                store.release_reminder("acme", summary.code, previous=None)


def _host_site(app: Flask) -> None:
    """The host's sign-in, and ``authorize``: anonymous visitors go to it, staff pass, other
    signed-in users are refused."""

    @app.route("/login", methods=["GET", "POST"])
    def login() -> t.Any:
        if request.method == "POST":
            session["role"] = request.form["role"]
            wanted = request.args.get("next", "")
            return redirect(wanted if wanted.startswith("/staff/") else "/staff/")
        return render_template_string(SIGN_IN)

    def staff_only() -> t.Any:
        if "role" not in session:
            return redirect(url_for("login", next=request.path))
        return session["role"] == "staff"

    app.register_blueprint(
        KashFlowLinks().staff_blueprint(authorize=staff_only), url_prefix="/staff"
    )


@pytest.fixture(scope="module")
def site(
    sandbox_server: KashFlowSandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    require_chromium()  # skip before starting servers when there is no browser
    sandbox_server.clear_faults()
    server = LiveServer()  # bound first: emailed links carry its address
    outbox: list[email.message.EmailMessage] = []
    app = make_app(
        tmp_path_factory.mktemp("staff-browser"),
        name="kfl_staff_browser",
        SERVER_NAME=None,
        **portal_config(
            sandbox_server,
            mail=outbox.append,
            # Emailed links take their address from configuration: this server's.
            public_url=server.url,
            brand={"name": "Northwind Bookkeeping", "accent_colour": "#0f5c55"},
        ),
    )
    _host_site(app)
    server.app = app
    with live_server(server):
        yield Site(server, app, outbox)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_chromium()
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def contexts(browser: Browser, site: Site) -> Iterator[Callable[..., BrowserContext]]:
    """One signed-in browser context per (width, colour scheme, JavaScript, role)."""
    made: dict[tuple[int, str, bool, str], BrowserContext] = {}

    def get(
        width: int, scheme: str = "light", *, javascript: bool = True, role: str = "staff"
    ) -> BrowserContext:
        key = (width, scheme, javascript, role)
        if key not in made:
            context = browser.new_context(
                viewport={"width": width, "height": HEIGHT},
                color_scheme=t.cast(t.Any, scheme),
                java_script_enabled=javascript,
            )
            page = context.new_page()
            page.goto(site.url("/login"))
            with page.expect_navigation():
                page.get_by_role(
                    "button", name=f"Sign in as {'staff' if role == 'staff' else 'a client'}"
                ).click()
            page.close()
            made[key] = context
        return made[key]

    yield get
    for context in made.values():
        context.close()


# -- the pages ---------------------------------------------------------------------------------


def _goto(path: str) -> Callable[[Page, Site], Response]:
    def load(page: Page, site: Site) -> Response:
        response = page.goto(site.url(path))
        assert response is not None
        return response

    return load


def _click(page: Page, role: str, name: str | re.Pattern[str]) -> Response:
    with page.expect_navigation() as navigation:
        page.get_by_role(t.cast(t.Any, role), name=name).first.click()
    return navigation.value


def _minted(page: Page, site: Site) -> Response:
    _goto("/staff/customers/ACME01")(page, site)
    page.get_by_label("Which invoices").select_option("unpaid")
    page.get_by_label("Expires").first.select_option("90")
    return _click(page, "button", "Make the link")


def _sent(page: Page, site: Site) -> Response:
    _minted(page, site)
    return _click(page, "button", re.compile(r"^Send it to "))


def _dry_run(page: Page, site: Site) -> Response:
    site.forget_reminders()
    _goto("/staff/reminders")(page, site)
    page.get_by_label("anything unpaid").check()
    return _click(page, "button", "Show who would be reminded")


def _reminded(page: Page, site: Site) -> Response:
    _dry_run(page, site)
    return _click(page, "button", re.compile(r"^Send these \d+ reminders$"))


@dataclass(frozen=True)
class PageSpec:
    load: Callable[[Page, Site], Response]
    status: int
    heading: str
    role: str = "staff"


PAGES: dict[str, PageSpec] = {
    "customers": PageSpec(_goto("/staff/"), 200, "Customers"),
    "customers-overdue": PageSpec(_goto("/staff/?owing=overdue&q=a"), 200, "Customers"),
    "customer": PageSpec(_goto("/staff/customers/ACME01"), 200, "Acme Trading Ltd"),
    "customer-bigco": PageSpec(_goto("/staff/customers/BIGCO01?page=2"), 200, "Bigco Holdings plc"),
    "minted": PageSpec(_minted, 200, "Acme Trading Ltd"),
    "sent": PageSpec(_sent, 200, "Acme Trading Ltd"),
    "revoke-all": PageSpec(
        _goto("/staff/customers/ACME01/revoke-all"), 200, "Revoke every link of Acme Trading Ltd?"
    ),
    "reminders": PageSpec(_goto("/staff/reminders"), 200, "Reminders"),
    "dry-run": PageSpec(_dry_run, 200, "Reminders"),
    "reminded": PageSpec(_reminded, 200, "Reminders"),
    "not-found": PageSpec(_goto("/staff/customers/NOSUCH"), 404, "No such customer"),
    "forbidden": PageSpec(_goto("/staff/"), 403, "You can't open this page", role="client"),
}
DARK_TOO = ("customers", "minted")

PAGE_CASES = [
    pytest.param(name, width, scheme, id=f"{name}-{width}-{scheme}")
    for name in PAGES
    for width in (320, 1280)
    for scheme in (("light", "dark") if name in DARK_TOO and width == 1280 else ("light",))
]


def _latin(word: str) -> bool:
    """Whether *word* is written in a script that breaks only between words (CJK text
    legitimately breaks between any two characters)."""
    return not any(unicodedata.east_asian_width(c) in ("W", "F") for c in word)


@pytest.mark.parametrize(("name", "width", "scheme"), PAGE_CASES)
def test_page(
    contexts: Callable[..., BrowserContext], site: Site, name: str, width: int, scheme: str
) -> None:
    spec = PAGES[name]
    page = contexts(width, scheme, role=spec.role).new_page()
    requests = RequestLog(page)
    try:
        response = spec.load(page, site)
        assert response.status == spec.status, f"{name}: HTTP {response.status}"
        assert response.headers["cache-control"] == "no-store"
        screenshot(page, f"staff-{name}-{width}-{scheme}")
        heading = page.get_by_role("heading", level=1)
        assert heading.count() == 1 and heading.is_visible()
        assert " ".join(heading.inner_text().split()) == spec.heading
        results = run_axe(page)
        assert not results["violations"], (
            f"axe: violations on {name} at {width}px ({scheme}):\n" + describe_violations(results)
        )
        assert not has_horizontal_scroll(page), f"{name} scrolls sideways at {width}px"
        assert [w for w in broken_words(page) if _latin(w)] == [], f"{name} splits words"
        assert not requests.off_site(), requests.off_site()
    finally:
        page.close()


def test_anonymous_visitors_are_sent_to_the_hosts_sign_in(browser: Browser, site: Site) -> None:
    page = browser.new_page()
    try:
        response = page.goto(site.url("/staff/customers/ACME01"))
        assert response is not None and response.status == 200
        assert page.url == site.url("/login?next=/staff/customers/ACME01")
        _click(page, "button", "Sign in as staff")
        assert page.url == site.url("/staff/customers/ACME01")
        assert page.get_by_role("heading", level=1).inner_text() == "Acme Trading Ltd"
    finally:
        page.close()


def test_tab_reaches_the_buttons_with_a_visible_outline(
    contexts: Callable[..., BrowserContext], site: Site
) -> None:
    page = contexts(1280).new_page()
    try:
        _goto("/staff/customers/ACME01")(page, site)
        for _ in range(60):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.textContent.trim()") == "Make the link":
                break
        else:
            pytest.fail("Tab never reached the Make the link button")
        style, width = page.evaluate(
            "[getComputedStyle(document.activeElement).outlineStyle,"
            " getComputedStyle(document.activeElement).outlineWidth]"
        )
        assert style != "none" and width != "0px", (style, width)
    finally:
        page.close()


def test_the_whole_workflow_without_javascript(
    contexts: Callable[..., BrowserContext], site: Site
) -> None:
    context = contexts(375, javascript=False)
    page = context.new_page()
    portal = context.new_page()
    requests = RequestLog(page)
    try:
        page.set_content(
            "<p id=x>off</p><script>document.getElementById('x').textContent='on'</script>"
        )
        assert page.locator("#x").inner_text() == "off", "JavaScript is not disabled"

        _goto("/staff/?q=acme")(page, site)
        _click(page, "link", "Acme Trading Ltd")
        assert page.get_by_role("heading", level=1).inner_text() == "Acme Trading Ltd"

        # Mint: the link is shown once, in a read-only field to copy from.
        page.get_by_label("Which invoices").select_option("overdue")
        page.get_by_label("Expires").first.select_option("30")
        _click(page, "button", "Make the link")
        assert page.get_by_role("heading", name="New link: Overdue invoices").is_visible()
        field_ = page.get_by_label("The link")
        assert field_.get_attribute("readonly") is not None
        url = field_.input_value()
        assert url.startswith(site.url("/invoices/"))
        token = url.rsplit("/", 1)[1]

        # Send it, to the address on file.
        sent = len(site.outbox)
        _click(page, "button", re.compile(r"^Send it to "))
        assert re.match(
            r"Sent link \w+ to accounts@acme-trading\.test\.",
            page.get_by_role("status").first.inner_text(),
        )
        assert len(site.outbox) == sent + 1
        body = site.outbox[-1].get_body(("plain",))
        assert body is not None
        mailed = LINK_IN_MAIL.search(body.get_content())
        assert mailed is not None
        assert portal.goto(mailed.group(0)).status == 200  # type: ignore[union-attr]
        assert not page.get_by_label("The link").count()  # shown once only

        # The portal page was fetched within a minute of the email: a mail scanner, for all
        # the staff page knows.
        _goto("/staff/customers/ACME01")(page, site)
        assert page.get_by_text(re.compile(r"^Only checked by a mail scanner")).count() == 1

        # Revoke it, then every link after the confirmation.
        _click(page, "button", re.compile(r"^Revoke"))
        assert "stopped working at once" in page.get_by_role("status").first.inner_text()
        assert portal.goto(url).status == 410  # type: ignore[union-attr]
        _goto("/staff/customers/ACME01")(page, site)
        page.get_by_label("Which invoices").select_option("all")
        _click(page, "button", "Make the link")
        second = page.get_by_label("The link").input_value()
        _click(page, "link", "Revoke every link of this customer…")
        assert page.get_by_role("heading", level=1).inner_text().startswith("Revoke every link")
        _click(page, "button", "Revoke every link")
        assert "Revoked every link of ACME01" in page.get_by_role("status").first.inner_text()
        assert portal.goto(second).status == 410  # type: ignore[union-attr]

        # Reminders: the dry run, then exactly those.
        site.forget_reminders()
        _click(page, "link", "Reminders")
        page.get_by_label("an overdue invoice").check()
        _click(page, "button", "Show who would be reminded")
        shown = page.locator("input[name=customer]").evaluate_all("(els) => els.map(e => e.value)")
        assert len(shown) >= 3
        sent = len(site.outbox)
        _click(page, "button", f"Send these {len(shown)} reminders")
        assert page.get_by_role("status").first.inner_text() == f"{len(shown)} reminders sent."
        assert len(site.outbox) == sent + len(shown)

        tokens = {token, *(m for msg in site.outbox for m in _tokens(msg))}
        assert not [u for u in requests.urls if any(s in u for s in tokens)]
        assert not requests.off_site()
    finally:
        page.close()
        portal.close()


def _tokens(message: email.message.EmailMessage) -> list[str]:
    body = message.get_body(("plain",))
    return LINK_IN_MAIL.findall(body.get_content()) if body is not None else []
