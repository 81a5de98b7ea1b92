"""Rendering portal pages: the layout, the error pages, the Content-Security-Policy, headers.

Every page is rendered in the configured layout (the portal's own, or the host site's through
``KASHFLOW_LINKS_BASE_TEMPLATE``) with one context variable, ``kfl``. The error pages say what
happened in plain words (invalid, withdrawn, expired, unavailable) and never which check failed.

**Rendered pages are kept.** Rendering is most of what a warm page costs (the Jinja template of
a 20-row list, on every request). The same data, scope and page always render to the same
bytes, so the bytes are kept and a warm request does only: throttle, link check (cached),
revocation check (every request), the data's version from the fetch layer (the process's LRU),
the scope check, a look-up here, and sending. Signals and "last opened" still happen on every
request.

**Per process.** One LRU of bytes in each process, bounded by total size
(:data:`PAGE_CACHE_BYTES`). A shared cache (Redis) was measured and rejected: reading a 15 KB
page from Redis costs a network round trip and a copy on every request, about as much as the
rest of a warm request, while rendering it once per process and data version costs about a
millisecond (``bench/profile_warm.py`` prints both).

**The key** is everything that shapes the bytes: the page (template, title), the link's own
path (every URL on the page extends it, so two links never share a page, even for one scope),
its scope, the tab and page number, the brand, the mount point, and the version of every piece
of data on the page (its cache key and fetch time, whether it is stale or being refreshed, so
the "as of" note is right), and today's date (overdue days count from it). Locale, time zone
and the layout are the application's own, as is this cache. New data has a new fetch time, so
data changes are picked up by the key, never by invalidation.

**Templates.** When Jinja reloads changed templates (Flask's debug mode, or
``TEMPLATES_AUTO_RELOAD``), nothing is kept: every page is rendered, as without this cache.

**A host layout** (``KASHFLOW_LINKS_BASE_TEMPLATE``) may show per-visitor content: a signed-in
user's name, flashed messages, a CSRF token. Whole pages are then never kept: only the portal's
own part (the layout's ``content`` block) is, and the host's layout is rendered around it on
every request. Portal templates themselves (``kashflow_links/...``, overridden or not) must not
show per-visitor content (see the templates documentation).
"""

from __future__ import annotations

import logging
import re
import typing as t

from flask import Response
from flask import current_app
from flask import render_template
from flask import request
from flask import url_for
from markupsafe import Markup

from ..cache import Memo
from ..config import DEFAULT_BASE_TEMPLATE
from ..config import AccountRegistry
from ..config import Brand
from ..config.accounts import plain_origin
from ..formatting import Formatter
from ..formatting import brand_colours
from ..formatting import readable_on
from ..links.claims import LinkClaims
from ..links.errors import LinkExpired

log = logging.getLogger(__name__)

_HEX = re.compile(r"[0-9a-f]{6}")
_SLASHES = re.compile(r"/{2,}")

#: The headers of every portal response: the URL is the credential, so keep it out of
#: referrers, shared caches and search engines.
PROTECTIVE_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "private, no-store",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
}
#: The policy of HTML that is not a portal page (a redirect's body): the strictest.
STRICTEST_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
#: A layout that is only the ``content`` block: renders the portal's own part of a page.
FRAGMENT_TEMPLATE = "kashflow_links/_fragment.html"


#: The default bound of one process's rendered pages, in bytes (characters for fragments).
PAGE_CACHE_BYTES = 16 * 1024 * 1024


#: The cards links sit on, in portal.css's light and dark schemes (--kfl-card).
LIGHT_CARD, DARK_CARD = "#ffffff", "#1e2228"


def brand_stylesheet(colours: str) -> str | None:
    """The tiny stylesheet for :func:`brand_colours` (no inline styles, so the CSP stays
    strict), or ``None`` for a name that is not two hex colours.

    The accent colours the buttons and bars; links, outline buttons and focus rings take the
    accent too, or its nearest shade that reads on the card in each colour scheme.
    """
    accent, _, ink = colours.partition("-")
    if not (_HEX.fullmatch(accent) and _HEX.fullmatch(ink)):
        return None
    light = readable_on(f"#{accent}", LIGHT_CARD)
    dark = readable_on(f"#{accent}", DARK_CARD)
    return (
        f".kfl{{--kfl-accent:#{accent};--kfl-on-accent:#{ink};"
        f"--kfl-link:{light};--kfl-focus:{light}}}\n"
        f"@media (prefers-color-scheme: dark){{.kfl{{--kfl-link:{dark};--kfl-focus:{dark}}}}}\n"
    )


def content_security_policy(brand: Brand, custom: str | None = None) -> str:
    """The Content-Security-Policy of portal pages: *custom* if set, else the strict one."""
    if custom is not None:
        return custom
    images = "'self' data:"
    # Only a plain host: a Brand made in code skips validate_brand, and a ";" or a space in
    # the host would add directives to the policy.
    logo = plain_origin(brand.logo_url) if "://" in brand.logo_url else None
    if logo is not None:
        images += f" {logo}"
    # No scripts at all; styles and fonts only from this site; forms only to this site.
    return (
        "default-src 'none'; "
        f"img-src {images}; "
        "style-src 'self'; font-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )


def protect(response: Response) -> Response:
    """Add :data:`PROTECTIVE_HEADERS` (and a CSP to HTML that has none) to *response*."""
    response.headers.update(PROTECTIVE_HEADERS)
    if response.mimetype == "text/html" and "Content-Security-Policy" not in response.headers:
        response.headers["Content-Security-Policy"] = STRICTEST_CSP
    return response


def protect_portal_paths(url_prefix: str | None) -> t.Callable[[Response], Response]:
    """An ``after_request`` function for the application: :func:`protect` every response whose
    path is under the portal's, whoever answered it.

    A URL under ``/invoices/`` carries a link token even when no portal route matches it
    (``/invoices/<token>/``, a POST to a page): the host site's 404 or 405 page answers then,
    and without these headers its scripts or links could carry the URL away. Paths are compared
    with repeated slashes squashed and ignoring case, as a client may write them.
    """
    prefix = (url_prefix or "").rstrip("/").lower()
    # The blueprint's routes, its static files (/kashflow-links-static) and stylesheets.
    portal_paths = (prefix + "/invoices/", prefix + "/kashflow-links")

    def protect_if_under_portal(response: Response) -> Response:
        if _SLASHES.sub("/", request.path).lower().startswith(portal_paths):
            protect(response)
        return response

    return protect_if_under_portal


class Pages:
    """Renders portal pages for one application.

    :param accounts: for each link's brand.
    :param formatter: dates on the expired page.
    :param base_template: the layout portal pages extend.
    :param csp: a custom Content-Security-Policy, or ``None`` for the strict one.
    :param locale: the page language comes from it.
    """

    def __init__(
        self,
        accounts: AccountRegistry,
        formatter: Formatter,
        *,
        base_template: str,
        csp: str | None,
        locale: str,
        site_brand: Brand,
        page_cache_bytes: int = PAGE_CACHE_BYTES,
    ) -> None:
        self.accounts = accounts
        self.formatter = formatter
        self.base_template = base_template
        self.csp = csp
        self.lang = locale.split("_")[0]
        self.site_brand = site_brand
        #: Rendered pages (or, in a host layout, the portal's part of them), per process: a
        #: warm page is sent, not rendered again (see the module's notes on what keys it).
        self.cache = Memo(page_cache_bytes, getsizeof=len)
        # Rendered error pages and asset URLs, per brand and mount point (see render()).
        self._memo = Memo(256)

    def brand_of(self, claims: LinkClaims | None) -> Brand:
        """The brand a page about *claims* wears (the site's when the link is unknown)."""
        if claims is None:
            return self.site_brand
        return self.accounts.brand_for(claims.scope.account)

    def render(
        self,
        template: str,
        status: int,
        brand: Brand,
        title: str,
        *,
        static: bool = False,
        **context: t.Any,
    ) -> Response:
        """Render a portal page in the configured layout, with the page context ``kfl``.

        *static* pages (the error pages) have no per-request content and are rendered once per
        brand and mount point: they are what a flood of bad tokens gets, so they must be cheap.
        Only in the portal's own layout, though: a host site's layout may show per-visitor
        content (a signed-in user's name, flashed messages, a CSRF token) that must never be
        reused.
        """
        if static and self.base_template == DEFAULT_BASE_TEMPLATE:
            html = self._memo.get_or_make(
                ("page", template, brand, title, request.script_root),
                lambda: self._html(template, brand, title, context),
            )
        else:
            html = self._html(template, brand, title, context)
        return self._response(html, status, brand)

    def page(
        self,
        key: t.Hashable,
        template: str,
        brand: Brand,
        title: str,
        context: t.Callable[[], dict[str, t.Any]],
    ) -> Response:
        """A 200 page through the rendered-page cache (:mod:`.page_cache`).

        *key* must identify everything of the page's content besides *template*, *brand*,
        *title* and the mount point (the link's path, scope, tab and page, each piece of
        data's version, today's date). *context* makes the template's context; it is called
        only for pages not yet rendered (every time in a host layout, whose other blocks need
        it) and may abort with a refusal page.
        """
        if current_app.jinja_env.auto_reload:
            # Templates may change under a running process: render every time.
            return self._response(self._html(template, brand, title, context()), 200, brand)
        full_key = (key, template, brand, title, request.script_root)
        if self.base_template == DEFAULT_BASE_TEMPLATE:
            body = self.cache.get_or_make(
                full_key, lambda: self._html(template, brand, title, context()).encode()
            )
            return self._response(body, 200, brand)
        # A host layout may show per-visitor content: keep only the portal's part, and render
        # the host's layout around it on every request.
        values = context()
        fragment = self.cache.get_or_make(
            full_key, lambda: self._html(template, brand, title, values, base=FRAGMENT_TEMPLATE)
        )
        # The fragment is this portal's own template output, escaped by Jinja when rendered.
        safe = Markup(fragment)  # noqa: S704  # nosec B704
        html = self._html(template, brand, title, values, fragment=safe)
        return self._response(html, 200, brand)

    def _html(
        self,
        template: str,
        brand: Brand,
        title: str,
        context: dict[str, t.Any],
        *,
        base: str | None = None,
        fragment: Markup | None = None,
    ) -> str:
        """Render *template* in the layout *base* (default: the configured one); with a
        *fragment*, the layout's ``content`` block is that markup instead."""
        stylesheet_url, brand_css_url = self._memo.get_or_make(
            ("assets", brand, request.script_root),
            lambda: (
                url_for("kashflow_links.static", filename="kashflow_links/portal.css"),
                url_for("kashflow_links.brand_css", colours=brand_colours(brand)),
            ),
        )
        kfl = {
            "brand": brand,
            "title": title,
            "base_template": base or self.base_template,
            "stylesheet_url": stylesheet_url,
            "brand_css_url": brand_css_url,
            "lang": self.lang,
            "fragment": fragment,
        }
        return render_template(template, kfl=kfl, brand=brand, **context)

    def _response(self, body: str | bytes, status: int, brand: Brand) -> Response:
        response = Response(body, status=status, mimetype="text/html")
        response.headers["Content-Security-Policy"] = content_security_policy(brand, self.csp)
        return response

    # -- the error pages -----------------------------------------------------------------------

    def not_found(self) -> Response:
        """404: the link opens nothing (malformed, forged, unknown, or outside its scope)."""
        return self.render(
            "kashflow_links/not_found.html", 404, self.site_brand, "Link not found", static=True
        )

    def revoked(self, claims: LinkClaims | None) -> Response:
        """410: the business revoked this link (the page says "no longer active")."""
        return self.render(
            "kashflow_links/withdrawn.html",
            410,
            self.brand_of(claims),
            "This link is no longer active",
            static=True,
        )

    def expired(
        self, error: LinkExpired, *, renew_url: str | None, form_token: str | None
    ) -> Response:
        """410 with the "Email me a fresh link" button (when fresh links can be mailed)."""
        zone = self.formatter.timezone
        return self.render(
            "kashflow_links/expired.html",
            410,
            self.brand_of(error.claims),
            "This link has expired",
            expired_on=self.formatter.long_date(error.expired_at.astimezone(zone).date()),
            can_renew=renew_url is not None,
            renew_url=renew_url,
            form_token=form_token,
        )

    def unavailable(self, brand: Brand | None = None, *, retry_after: int = 60) -> Response:
        """503: nothing cached can be shown and KashFlow (or the link store) is not answering."""
        response = self.render(
            "kashflow_links/unavailable.html",
            503,
            brand or self.site_brand,
            "Temporarily unavailable",
            static=True,
        )
        response.headers["Retry-After"] = str(retry_after)
        return response

    def document_unavailable(self, brand: Brand, back_url: str, status: int = 503) -> Response:
        """404 or 503: the invoice opens, but KashFlow gave no PDF for it (an HTML page, a
        refusal, a redirect elsewhere, an outage). *back_url* is the invoice's page."""
        response = self.render(
            "kashflow_links/document_unavailable.html",
            status,
            brand,
            "Document unavailable",
            back_url=back_url,
        )
        if status == 503:
            response.headers["Retry-After"] = "300"
        return response

    def throttled(self, retry_after: int) -> Response:
        """429: too many attempts from this address."""
        response = self.render(
            "kashflow_links/throttled.html", 429, self.site_brand, "Too many attempts", static=True
        )
        response.headers["Retry-After"] = str(retry_after)
        return response

    def server_error(self) -> Response:
        """500: a bug; the client still gets the business's contacts, not a traceback."""
        return self.render(
            "kashflow_links/unavailable.html", 500, self.site_brand, "Something went wrong"
        )
