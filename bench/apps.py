"""Application factories for the benchmarks, configured through environment variables.

Served by gunicorn from the repository root::

    gunicorn -w 2 -k sync --bind 127.0.0.1:PORT 'bench.apps:portal_app()'
    gunicorn -w 2 -k sync --bind 127.0.0.1:PORT 'bench.apps:baseline_app()'
    gunicorn -w 2 -k sync --bind 127.0.0.1:PORT 'bench.apps:bytes_baseline_app()'

Environment (the benchmark scripts set all of it):

``KFL_BENCH_API_URL``
    The KashFlow API base URL (the sandbox's ``url``). Required.
``KFL_BENCH_ACCOUNT``
    JSON ``{"username", "password", "memorable_word"}``; default: the sandbox's defaults.
``KFL_BENCH_FERNET_KEY``, ``KFL_BENCH_SECRET_KEY``
    The keys links are minted with (the minting process and the servers must agree).
``KFL_BENCH_REVOCATION_URL``
    ``sqlite:////abs/path`` or ``redis://...``; default: SQLite in the instance folder.
``KFL_BENCH_CACHE``
    JSON flask-caching config, e.g. ``{"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": ...}``;
    default: the portal's default (SimpleCache).
``KFL_BENCH_INSTANCE``
    The instance folder; default: a new temporary folder.
``KFL_BENCH_SETTINGS``
    JSON dict of more portal settings without the prefix, e.g. ``{"prefetch": false}``.
``KFL_BENCH_LINKS``
    Baseline only: JSON list of ``{"token", "kind": "invoice"|"customer", "invoice",
    "customer", "status"}``, the links whose pages the baseline serves from memory.

The baseline is a bare Flask app that renders the portal's own templates with the same
context the portal's views pass (see ``portal.views.Views`` and ``presenters.customer_context``),
built once at start-up from the same KashFlow data with the package's own :class:`Formatter`,
and sends the same headers. It does no token check, no revocation check, no cache lookup and
no formatting per request: what is left is Flask, Jinja and the page itself. The benchmark
checks that both serve byte-identical pages.

:func:`bytes_baseline_app` goes one step further: the same pages, rendered once at start-up,
so each request only sends bytes (Flask routing, the response object, the same headers). It
is the reference of ``bench_throughput.py``: a page that costs nothing but being sent.
"""

from __future__ import annotations

import json
import os
import tempfile
import typing as t
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Flask
from flask import Response
from flask import abort
from flask import render_template

from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links.config import Brand
from flask_kashflow_links.formatting import Formatter
from flask_kashflow_links.kashflow.backend import Credentials
from flask_kashflow_links.kashflow.backend import Login
from flask_kashflow_links.kashflow.models import Invoice
from flask_kashflow_links.kashflow.rest import RestBackend
from flask_kashflow_links.kashflow.session import SessionTokens
from flask_kashflow_links.links.claims import Scope
from flask_kashflow_links.portal.pages import brand_colours
from flask_kashflow_links.portal.pages import content_security_policy
from flask_kashflow_links.portal.presenters import customer_context
from flask_kashflow_links.portal.presenters import invoice_view
from flask_kashflow_links.portal.presenters import listing
from flask_kashflow_links.portal.presenters import pay_url

PACKAGE_TEMPLATES = Path(__file__).resolve().parent.parent / "flask_kashflow_links" / "templates"

#: The sandbox's default login (``KashFlowSandbox()``'s defaults).
SANDBOX_ACCOUNT = {
    "username": "sandbox@example.test",
    "password": "correct horse battery",
    "memorable_word": "pineapple",
}

#: A realistic brand: every contact field set, so the contact block renders in full.
BRAND = {
    "name": "Harbour Lane Joinery",
    "accent_colour": "#1f5fa8",
    "email": "accounts@harbourlane.example",
    "phone": "+44 20 7946 0321",
    "website": "https://harbourlane.example",
    "address": "Unit 4, Harbour Lane\nBristol\nBS1 4QA",
    "payment_instructions": "Bank transfer to Harbour Lane Joinery Ltd\n"
    "Sort code 12-34-56, account 12345678\nPlease quote the invoice number.",
    "pay_url": "https://pay.harbourlane.example/invoice/{number}?amount={amount}",
}
LOCALE = "en_GB"
TIMEZONE = "Europe/London"


def _env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise RuntimeError(f"{name} is not set (the benchmark scripts set it)")
    return value


def portal_config() -> dict[str, t.Any]:
    """The portal's Flask config from the ``KFL_BENCH_*`` environment variables."""
    config: dict[str, t.Any] = {
        "SECRET_KEY": _env("KFL_BENCH_SECRET_KEY"),
        "KASHFLOW_LINKS_FERNET_KEYS": [_env("KFL_BENCH_FERNET_KEY")],
        "KASHFLOW_LINKS_API_BASE_URL": _env("KFL_BENCH_API_URL"),
        "KASHFLOW_LINKS_ACCOUNTS": {
            "acme": json.loads(_env("KFL_BENCH_ACCOUNT", json.dumps(SANDBOX_ACCOUNT)))
        },
        "KASHFLOW_LINKS_BRAND": dict(BRAND),
        "KASHFLOW_LINKS_LOCALE": LOCALE,
        "KASHFLOW_LINKS_TIMEZONE": TIMEZONE,
    }
    revocation = os.environ.get("KFL_BENCH_REVOCATION_URL")
    if revocation:
        config["KASHFLOW_LINKS_REVOCATION_URL"] = revocation
    cache = os.environ.get("KFL_BENCH_CACHE")
    if cache:
        config["KASHFLOW_LINKS_CACHE"] = json.loads(cache)
    for name, value in json.loads(os.environ.get("KFL_BENCH_SETTINGS", "{}")).items():
        config[f"KASHFLOW_LINKS_{name.upper()}"] = value
    return config


def _instance_path() -> str:
    return os.environ.get("KFL_BENCH_INSTANCE") or tempfile.mkdtemp(prefix="kfl-bench-")


def make_portal(config: t.Mapping[str, t.Any], instance_path: str | None = None) -> Flask:
    """A host app with the portal mounted at the root, as the package documents."""
    app = Flask("kfl_bench_portal", instance_path=instance_path or _instance_path())
    app.config.update(config)
    KashFlowLinks(app)
    return app


def portal_app() -> Flask:
    """gunicorn factory: the real portal, reading from the sandbox."""
    return make_portal(portal_config())


# -- the baseline ------------------------------------------------------------------------------


class _Page(t.NamedTuple):
    template: str
    title: str
    context: dict[str, t.Any]


def _brand_css_url(brand: Brand) -> str:
    # As Pages.render builds it, computed once (no request needed for the path).
    return f"/kashflow-links/brand/{brand_colours(brand)}.css"


def _invoice_page(
    formatter: Formatter, brand: Brand, token: str, invoice: Invoice, today: t.Any
) -> _Page:
    """What Views.invoice passes for an invoice link (no back link, fresh data)."""
    view = invoice_view(formatter, invoice, today)
    return _Page(
        "kashflow_links/invoice.html",
        f"Invoice {invoice.number}",
        {
            "invoice": view,
            "pdf_url": f"/invoices/{token}/pdf" if view.has_pdf else None,
            "pay_url": pay_url(brand, invoice) if view.owes else None,
            "back_url": None,
            "as_of": None,
        },
    )


def _customer_page(
    formatter: Formatter,
    token: str,
    scope: Scope,
    invoices: tuple[Invoice, ...],
    today: t.Any,
    page_size: int,
) -> _Page:
    """What Views.customer passes for the link's own tab, page 1 (fresh data)."""
    rows = listing(formatter, invoices, scope, today)
    context = customer_context(
        rows,
        scope,
        f"/invoices/{token}",
        tab=scope.status,
        page=1,
        page_size=page_size,
        statement=scope.status == "all",  # the bench is on REST, which has statements
    )
    assert context is not None
    return _Page("kashflow_links/customer.html", "Your invoices", {**context, "as_of": None})


def baseline_app() -> Flask:
    """gunicorn factory: a bare Flask route rendering the same pages from memory."""
    return _baseline(prerender=False)


def bytes_baseline_app() -> Flask:
    """gunicorn factory: a bare Flask route returning the same pages' bytes, rendered once."""
    return _baseline(prerender=True)


def strict_baseline_app() -> Flask:
    """gunicorn factory: the same pages' bytes, rendered once, with none of the portal's
    headers (only Flask's own): the strictest reference, a page that costs nothing but being
    sent."""
    return _baseline(prerender=True, headers=False)


def _baseline(*, prerender: bool, headers: bool = True) -> Flask:
    app = Flask("kfl_bench_baseline", template_folder=str(PACKAGE_TEMPLATES))
    # The same host-app setting as the portal's: with a SECRET_KEY, Flask opens its cookie
    # session on every request, in both apps.
    app.config["SECRET_KEY"] = _env("KFL_BENCH_SECRET_KEY")
    brand = Brand().merged(BRAND)
    formatter = Formatter(LOCALE, ZoneInfo(TIMEZONE))
    today = formatter.today()
    client = RestBackend(
        _env("KFL_BENCH_API_URL"), tokens=SessionTokens(None, bytes, bytes), retries=0
    )
    account = json.loads(_env("KFL_BENCH_ACCOUNT", json.dumps(SANDBOX_ACCOUNT)))
    login = Login(namespace="baseline", credentials=Credentials(**account))
    page_size = 20  # the portal's default KASHFLOW_LINKS_PAGE_SIZE
    pages: dict[str, _Page] = {}
    for link in json.loads(_env("KFL_BENCH_LINKS")):
        token = link["token"]
        if link["kind"] == "invoice":
            invoice = client.get_invoice(login, int(link["invoice"]))
            pages[token] = _invoice_page(formatter, brand, token, invoice, today)
        else:
            scope = Scope.for_customer("acme", link["customer"], link.get("status", "all"))
            invoices = tuple(client.list_invoices(login, customer=scope.customer))
            pages[token] = _customer_page(formatter, token, scope, invoices, today, page_size)

    kfl_static = {
        "brand": brand,
        "base_template": "kashflow_links/base.html",
        "stylesheet_url": "/kashflow-links-static/kashflow_links/portal.css",
        "brand_css_url": _brand_css_url(brand),
        "lang": LOCALE.split("_")[0],
    }
    csp = content_security_policy(brand)
    app.extensions["kfl_bench_pages"] = pages  # for profile_warm's render-only timing

    def render(found: _Page) -> str:
        kfl = {**kfl_static, "title": found.title}
        return render_template(found.template, kfl=kfl, brand=brand, **found.context)

    rendered: dict[str, bytes] = {}
    if prerender:
        with app.test_request_context():
            rendered = {token: render(found).encode() for token, found in pages.items()}

    @app.get("/invoices/<token>")
    def page(token: str) -> Response:
        found = pages.get(token)
        if found is None:
            abort(404)
        html = rendered[token] if prerender else render(found)
        response = Response(html, status=200, mimetype="text/html")
        if not headers:
            return response
        response.headers["Content-Security-Policy"] = csp
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "private, no-store"
        response.headers["X-Robots-Tag"] = "noindex, nofollow"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    return app


__all__ = [
    "BRAND",
    "baseline_app",
    "bytes_baseline_app",
    "make_portal",
    "portal_app",
    "portal_config",
    "strict_baseline_app",
]
