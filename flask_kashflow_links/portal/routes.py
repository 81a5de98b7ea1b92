"""The portal blueprint: what a client sees when they open a link.

Routes (under the blueprint's ``url_prefix``):

* ``GET /invoices/<token>``: an invoice link shows the invoice; a customer link the list
* ``GET /invoices/<token>/<number>``: one invoice inside a customer link's scope
* ``GET /invoices/<token>/pdf`` and ``/invoices/<token>/<number>/pdf``: the PDF, streamed
* ``POST /invoices/<token>/renew``: email a fresh link for an expired one

Every request runs the same checks in the same order: throttle, token (signature, encryption,
expiry), revocation store (fail closed), KashFlow data through the cache, then the scope,
decided from the invoice's own data. The pages say what happened in plain words (invalid,
withdrawn, expired, unavailable) and never which check failed. GET and HEAD change nothing a
client can see; a GET records "last opened", a HEAD records nothing and sends no signals.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
import time
import typing as t
from datetime import date
from urllib.parse import quote
from urllib.parse import urlencode
from urllib.parse import urlsplit

from flask import Blueprint
from flask import Response
from flask import abort
from flask import current_app
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from .. import signals
from ..accounts import Account
from ..accounts import Brand
from ..config import DEFAULT_BASE_TEMPLATE
from ..config import MailSettings
from ..exceptions import KashFlowAccountLocked
from ..exceptions import KashFlowAuthError
from ..exceptions import KashFlowError
from ..exceptions import KashFlowNotFound
from ..exceptions import LinkError
from ..exceptions import LinkExpired
from ..exceptions import LinkInvalid
from ..exceptions import LinkRevoked
from ..exceptions import StoreUnavailable
from ..extension import State
from ..extension import get_state
from ..fetch import Fetched
from ..kashflow.models import Invoice
from ..links.claims import LinkClaims
from ..links.claims import Scope
from ..links.link import Link
from ..links.link import trusted_link_url
from ..mail import MailError
from ..mail import build_message
from ..mail import mask_address
from ..mail import send
from .guard import account_for
from .guard import check_claims
from .guard import check_customer
from .guard import check_link
from .guard import in_scope
from .guard import status_allows
from .presenters import Formatter
from .presenters import RowView

log = logging.getLogger(__name__)

blueprint = Blueprint(
    "kashflow_links",
    __name__,
    # Templates and static files stay at the package's top level (their documented paths).
    template_folder="../templates",
    static_folder="../static",
    static_url_path="/kashflow-links-static",
)

#: The status tabs a customer link may show, by the link's own status filter.
TABS: dict[str, tuple[tuple[str, str], ...]] = {
    "all": (("all", "All"), ("unpaid", "Unpaid"), ("overdue", "Overdue"), ("paid", "Paid")),
    "unpaid": (("unpaid", "Unpaid"), ("overdue", "Overdue")),
    "overdue": (("overdue", "Overdue"),),
    "paid": (("paid", "Paid"),),
}
_HEX = re.compile(r"[0-9a-f]{6}")
_MAX_PAGE = 10_000


class Refused(Exception):
    """Internal: stop handling a request and answer with :attr:`response`."""

    def __init__(self, response: Response) -> None:
        super().__init__()
        self.response = response


# -- rendering ---------------------------------------------------------------------------------


def brand_colours(brand: Brand) -> str:
    """The brand stylesheet's name: accent and text-on-accent colours, e.g. ``1f5fa8-ffffff``."""
    accent = brand.accent_colour.lstrip("#").lower()
    if len(accent) == 3:
        accent = "".join(c * 2 for c in accent)
    ink = brand.accent_text_colour.lstrip("#").lower()
    return f"{accent}-{ink}"


def _brand_css_url(brand: Brand) -> str:
    return url_for("kashflow_links.brand_css", colours=brand_colours(brand))


def _page(
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
    Only in the portal's own layout, though: a host site's layout may show per-visitor content
    (a signed-in user's name, flashed messages, a CSRF token) that must never be reused.
    """
    state = get_state()

    def render() -> str:
        stylesheet_url, brand_css_url = state.views.get_or_make(
            ("assets", brand, request.script_root),
            lambda: (
                url_for("kashflow_links.static", filename="kashflow_links/portal.css"),
                _brand_css_url(brand),
            ),
        )
        kfl = {
            "brand": brand,
            "title": title,
            "base_template": state.settings.base_template,
            "stylesheet_url": stylesheet_url,
            "brand_css_url": brand_css_url,
            "lang": state.settings.locale.split("_")[0],
        }
        return render_template(template, kfl=kfl, brand=brand, **context)

    if static and state.settings.base_template == DEFAULT_BASE_TEMPLATE:
        key = ("page", template, brand, title, request.script_root)
        html = t.cast(str, state.views.get_or_make(key, render))
    else:
        html = render()
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Content-Security-Policy"] = _csp(brand)
    return response


def _csp(brand: Brand) -> str:
    return content_security_policy(brand, get_state().settings.content_security_policy)


def content_security_policy(brand: Brand, custom: str | None = None) -> str:
    """The Content-Security-Policy of portal pages: *custom* if set, else the strict one."""
    if custom is not None:
        return custom
    images = "'self' data:"
    if brand.logo_url and "://" in brand.logo_url:
        parts = urlsplit(brand.logo_url)
        images += f" {parts.scheme}://{parts.netloc}"
    # No scripts at all; styles and fonts only from this site; forms only to this site.
    return (
        "default-src 'none'; "
        f"img-src {images}; "
        "style-src 'self'; font-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )


def _site_brand() -> Brand:
    return get_state().settings.brand


def _brand_of(claims: LinkClaims | None) -> Brand:
    if claims is None:
        return _site_brand()
    return get_state().accounts.brand_for(claims.scope.account)


def not_found_page() -> Response:
    """404: the link opens nothing (malformed, forged, unknown, or outside its scope)."""
    return _page("kashflow_links/not_found.html", 404, _site_brand(), "Link not found", static=True)


def withdrawn_page(claims: LinkClaims | None) -> Response:
    """410: the business withdrew this link."""
    return _page(
        "kashflow_links/withdrawn.html",
        410,
        _brand_of(claims),
        "This link is no longer active",
        static=True,
    )


def expired_page(token: str, error: LinkExpired) -> Response:
    """410 with the "Email me a fresh link" button."""
    state = get_state()
    claims = error.claims
    can_renew = state.settings.mail is not None
    return _page(
        "kashflow_links/expired.html",
        410,
        _brand_of(claims),
        "This link has expired",
        expired_on=state.formatter.long_date(
            error.expired_at.astimezone(state.settings.timezone).date()
        ),
        can_renew=can_renew,
        renew_url=url_for("kashflow_links.renew", token=token) if can_renew else None,
        form_token=state.codec.sign_form(claims.link_id) if can_renew else None,
    )


def unavailable_page(brand: Brand, retry_after: int = 60) -> Response:
    """503: nothing cached can be shown and KashFlow (or the link store) is not answering."""
    response = _page(
        "kashflow_links/unavailable.html", 503, brand, "Temporarily unavailable", static=True
    )
    response.headers["Retry-After"] = str(retry_after)
    return response


def throttled_page(retry_after: int) -> Response:
    """429: too many attempts from this address."""
    response = _page(
        "kashflow_links/throttled.html", 429, _site_brand(), "Too many attempts", static=True
    )
    response.headers["Retry-After"] = str(retry_after)
    return response


# -- the checks --------------------------------------------------------------------------------


def _client_address() -> str:
    return request.remote_addr or "unknown"


def _is_get() -> bool:
    return request.method == "GET"


def _send(signal: t.Any, claims: LinkClaims | None, **extra: t.Any) -> None:
    """Send a signal with the standard payload (never the token; never on HEAD)."""
    if request.method == "HEAD" or not signal.receivers:
        return  # nobody listening: don't even build the payload
    scope = claims.scope if claims else None
    signal.send(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        link_id=claims.link_id if claims else None,
        account=scope.account if scope else None,
        customer=extra.pop("customer", scope.customer if scope else None),
        invoice=extra.pop("invoice", scope.invoice if scope else None),
        scope=scope,
        user_agent=request.user_agent.string,
        **extra,
    )


def _refuse_invalid() -> Refused:
    state = get_state()
    settings = state.settings
    count = state.throttle.hit("bad-token", _client_address(), settings.throttle_window)
    if count > settings.throttle_limit:
        _send(signals.link_rejected, None, reason="throttled")
        log.info("throttling bad-token attempts from one address (%d in window)", count)
        return Refused(throttled_page(state.throttle.retry_after(settings.throttle_window)))
    _send(signals.link_rejected, None, reason="invalid")
    return Refused(not_found_page())


class Visit(t.NamedTuple):
    """A link that may be opened: its claims, its account, and the customer whose
    revocation cut-off was already checked (``None`` if not yet)."""

    claims: LinkClaims
    account: Account
    checked_customer: str | None


def _open(token: str) -> Visit:
    """Verify *token* for a page, or raise :class:`Refused` with the page to show."""
    state = get_state()
    try:
        claims = state.codec.verify(token, allow_expired=True)
        account = account_for(state, claims)
        scope = claims.scope
        customer = scope.customer
        if customer is None and scope.invoice is not None:
            customer = state.fetcher.known_customer(account, scope.invoice)
        check_claims(state, claims, customer=customer)
        return Visit(claims, account, customer)
    except LinkInvalid:
        raise _refuse_invalid() from None
    except LinkRevoked:
        claims_or_none = _claims_quietly(state, token)
        _send(signals.link_rejected, claims_or_none, reason="withdrawn")
        raise Refused(withdrawn_page(claims_or_none)) from None
    except LinkExpired as e:
        _send(signals.link_rejected, e.claims, reason="expired")
        raise Refused(expired_page(token, e)) from None
    except StoreUnavailable as e:
        _store_down(e)
        raise Refused(unavailable_page(_site_brand(), retry_after=30)) from None


_store_down_logged = 0.0


def _store_down(error: StoreUnavailable) -> None:
    """Log that links are being refused because the store is down (once per few seconds:
    an outage under load must not flood the log)."""
    global _store_down_logged
    now = time.monotonic()
    if now - _store_down_logged >= 5.0:
        _store_down_logged = now
        log.error("link store unavailable, refusing links until it is back: %s", error)
    else:
        log.debug("link store still unavailable: %s", error)


def _claims_quietly(state: State, token: str) -> LinkClaims | None:
    try:
        return state.codec.verify(token, allow_expired=True)
    except LinkError:
        return None


def portal_route(view: t.Callable[..., Response]) -> t.Callable[..., Response]:
    """Turn refusals and KashFlow failures into pages."""

    @functools.wraps(view)
    def wrapper(*args: t.Any, **kwargs: t.Any) -> Response:
        try:
            return view(*args, **kwargs)
        except Refused as refused:
            return refused.response
        except StoreUnavailable as e:
            # Any store check, including the customer check after an invoice is fetched:
            # a link that cannot be checked is refused, never admitted.
            _store_down(e)
            return unavailable_page(_site_brand(), retry_after=30)
        except KashFlowNotFound:
            return not_found_page()
        except KashFlowAuthError as e:
            if _embedded_link_refused(e):
                # Changing the KashFlow password withdraws embed-mode links: say so.
                return withdrawn_page(None)
            log.warning("KashFlow unavailable and nothing cached to show: %s", e)
            return unavailable_page(_site_brand())
        except KashFlowError as e:
            log.warning("KashFlow unavailable and nothing cached to show: %s", e)
            return unavailable_page(_site_brand())

    return wrapper


def _embedded_link_refused(error: KashFlowAuthError) -> bool:
    """Whether KashFlow refused the credentials an embed-mode link carries (not a lock)."""
    return bool(getattr(error, "embedded", False)) and not isinstance(error, KashFlowAccountLocked)


def _today(state: State) -> date:
    return state.formatter.today()


def _record_open(state: State, claims: LinkClaims) -> None:
    """Record "last opened" in the register, at most once per interval per link (GET only)."""
    interval = state.settings.last_opened_interval
    if not _is_get() or interval <= 0:
        return
    activity = state.activity
    now = time.time()
    with activity.lock:
        last = activity.opened.get(claims.link_id)
        if last is not None and now - last < interval:
            return
        activity.opened[claims.link_id] = now
    try:
        state.store.touch(claims.link_id, now)
    except StoreUnavailable:
        log.warning("could not record that link %s was opened", claims.link_id)


def _learn_customer(state: State, claims: LinkClaims, customer: str) -> None:
    """Register an invoice link under its customer the first time it is opened."""
    if not claims.scope.is_invoice or not customer or not _is_get():
        return
    activity = state.activity
    with activity.lock:
        if claims.link_id in activity.learnt:
            return
        activity.learnt.add(claims.link_id)
    try:
        state.store.learn_customer(claims.link_id, customer)
    except StoreUnavailable:
        log.warning("could not register the customer of link %s", claims.link_id)


def _scoped_invoice(state: State, visit: Visit, number: int) -> Fetched[Invoice]:
    """The invoice *number* if the link may show it; the refusal page otherwise."""
    claims, account = visit.claims, visit.account
    if number > 2**63 - 1:
        raise Refused(not_found_page())
    scope = claims.scope
    if scope.is_invoice and number != scope.invoice:
        raise Refused(not_found_page())
    fetched = state.fetcher.invoice(account, number)
    invoice = fetched.value
    # The invoice's own data decides, not the URL or a list the server returned.
    if not in_scope(scope, invoice, _today(state)):
        log.debug("link %s asked for invoice %s outside its scope", claims.link_id, number)
        raise Refused(not_found_page())
    if invoice.customer_code != visit.checked_customer:
        try:
            check_customer(state, claims, invoice.customer_code)
        except LinkRevoked:
            _send(signals.link_rejected, claims, reason="withdrawn")
            raise Refused(withdrawn_page(claims)) from None
    _learn_customer(state, claims, invoice.customer_code)
    return fetched


# -- routes ------------------------------------------------------------------------------------


@blueprint.route("/invoices/<token>")
@portal_route
def open_link(token: str) -> Response:
    """An invoice link shows the invoice; a customer link shows the list."""
    state = get_state()
    visit = _open(token)
    claims = visit.claims
    # Every URL on the page shares this one: built once, then extended by concatenation.
    base = url_for("kashflow_links.open_link", token=token)
    if claims.scope.is_invoice:
        response = _invoice_page(state, visit, base, t.cast(int, claims.scope.invoice))
    else:
        response = _customer_page(state, visit, base)
    _send(signals.link_opened, claims)
    _record_open(state, claims)
    return response


@blueprint.route("/invoices/<token>/<int:number>")
@portal_route
def open_invoice(token: str, number: int) -> Response:
    """One invoice inside a customer link's scope (404 outside it)."""
    state = get_state()
    visit = _open(token)
    base = url_for("kashflow_links.open_link", token=token)
    response = _invoice_page(state, visit, base, number)
    _record_open(state, visit.claims)
    return response


def _invoice_page(state: State, visit: Visit, base: str, number: int) -> Response:
    """The invoice page; *base* is the link's own URL path."""
    fetched = _scoped_invoice(state, visit, number)
    invoice = fetched.value
    today = _today(state)
    view = state.views.get_or_make(
        ("invoice", fetched.key, fetched.fetched_at, today),
        lambda: state.formatter.invoice_view(invoice, today),
    )
    brand = visit.account.brand
    from_list = not visit.claims.scope.is_invoice
    # The route shapes are fixed: /invoices/<token>[/<number>]/pdf.
    pdf_url = f"{base}/{number}/pdf" if from_list else f"{base}/pdf"
    _send(signals.invoice_viewed, visit.claims, customer=invoice.customer_code, invoice=number)
    return _page(
        "kashflow_links/invoice.html",
        200,
        brand,
        f"Invoice {number}",
        invoice=view,
        pdf_url=pdf_url if view.has_pdf else None,
        pay_url=pay_url(brand, invoice) if view.owes else None,
        back_url=base if from_list else None,
        as_of=state.formatter.moment(fetched.as_of) if fetched.stale else None,
    )


def pay_url(brand: Brand, invoice: Invoice) -> str | None:
    """The brand's online-payment URL for *invoice*, or ``None`` if it has none."""
    if not brand.pay_url:
        return None
    amount = str(invoice.due_amount) if invoice.due_amount is not None else ""
    return brand.pay_url.replace("{number}", str(invoice.number)).replace("{amount}", quote(amount))


def _customer_page(state: State, visit: Visit, base: str) -> Response:
    """A customer's invoices within the link's scope; *base* is the link's own URL path."""
    scope = visit.claims.scope
    tab = request.args.get("status", scope.status)
    if tab not in dict(TABS[scope.status]):
        raise Refused(not_found_page())
    page_arg = request.args.get("page", "1")
    if not page_arg.isdigit() or not 1 <= int(page_arg) <= _MAX_PAGE:
        raise Refused(not_found_page())
    fetched = state.fetcher.customer_invoices(visit.account, t.cast(str, scope.customer))
    today = _today(state)
    listing = state.views.get_or_make(
        ("list", fetched.key, fetched.fetched_at, today, scope.customer, scope.status),
        lambda: _listing(state.formatter, fetched.value, scope, today),
    )
    context = customer_context(
        listing, scope, base, tab=tab, page=int(page_arg), page_size=state.settings.page_size
    )
    if context is None:
        raise Refused(not_found_page())
    return _page(
        "kashflow_links/customer.html",
        200,
        visit.account.brand,
        "Your invoices",
        as_of=state.formatter.moment(fetched.as_of) if fetched.stale else None,
        **context,
    )


def customer_context(
    listing: dict[str, t.Any], scope: Scope, base: str, *, tab: str, page: int, page_size: int
) -> dict[str, t.Any] | None:
    """What ``customer.html`` is given for one tab and page of a cached listing (``as_of``
    aside), or ``None`` for a page past the end. *base* is the link's own URL path."""
    tabs = TABS[scope.status]
    rows = listing["rows"][tab]
    pages = max(1, -(-len(rows) // page_size))
    if page > pages:
        return None

    def tab_url(status: str, page_number: int = 1) -> str:
        args = {}
        if status != scope.status:
            args["status"] = status
        if page_number > 1:
            args["page"] = str(page_number)
        return f"{base}?{urlencode(args)}" if args else base

    return {
        "customer_name": listing["customer_name"] or scope.customer,
        "balances": listing["balances"],
        "tabs": [
            {
                "label": label,
                "url": tab_url(key),
                "current": key == tab,
                "count": len(listing["rows"][key]),
            }
            for key, label in tabs
        ]
        if len(tabs) > 1
        else [],
        "tab": tab,
        "rows": rows[(page - 1) * page_size : page * page_size],
        "total": len(rows),
        "page": page,
        "pages": pages,
        "prev_url": tab_url(tab, page - 1) if page > 1 else None,
        "next_url": tab_url(tab, page + 1) if page < pages else None,
        "invoice_url": lambda number: f"{base}/{number}",
        "statement_url": f"{base}/pdf" if scope.status == "all" else None,
    }


def _listing(
    formatter: Formatter, invoices: t.Sequence[Invoice], scope: t.Any, today: date
) -> dict[str, t.Any]:
    """The formatted, scope-checked list of a customer link, newest first, per status tab
    (cached with the data it was made from)."""
    visible = [i for i in invoices if in_scope(scope, i, today)]
    ordered: list[tuple[RowView, Invoice]] = sorted(
        ((formatter.row_view(i, today), i) for i in visible),
        key=lambda pair: pair[0].sort_key,
        reverse=True,
    )
    return {
        "rows": {
            key: [row for row, invoice in ordered if status_allows(key, invoice, today)]
            for key, _ in TABS["all"]
        },
        "balances": formatter.balances(visible),
        "customer_name": next((i.customer_name for i in visible if i.customer_name), ""),
    }


# -- PDFs --------------------------------------------------------------------------------------


def _pdf_response(data: bytes, filename: str) -> Response:
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Content-Length"] = str(len(data))
    return response


@blueprint.route("/invoices/<token>/pdf")
@portal_route
def link_pdf(token: str) -> Response:
    """The invoice PDF of an invoice link; a statement PDF for an all-invoices link."""
    state = get_state()
    visit = _open(token)
    claims, account = visit.claims, visit.account
    scope = claims.scope
    if scope.is_invoice:
        return _invoice_pdf(state, visit, t.cast(int, scope.invoice))
    if scope.status != "all":
        # A KashFlow statement cannot be filtered to the link's status: it would show more
        # than the link may. Only an all-invoices link gets one.
        raise Refused(not_found_page())
    customer = state.fetcher.customer(account, t.cast(str, scope.customer)).value
    if customer.code != scope.customer or not customer.key:
        raise Refused(not_found_page())
    permalink = f"/v2/documents/customerstatement/{quote(customer.key, safe='')}?filterby=All"
    data = state.fetcher.document(account, permalink).value
    _send(signals.pdf_downloaded, claims, document="statement")
    _record_open(state, claims)
    return _pdf_response(data, f"statement-{_safe_name(customer.code)}.pdf")


@blueprint.route("/invoices/<token>/<int:number>/pdf")
@portal_route
def invoice_pdf(token: str, number: int) -> Response:
    """The PDF of one invoice inside a customer link's scope."""
    return _invoice_pdf(get_state(), _open(token), number)


def _invoice_pdf(state: State, visit: Visit, number: int) -> Response:
    invoice = _scoped_invoice(state, visit, number).value
    if not invoice.permalink:
        raise Refused(not_found_page())
    data = state.fetcher.document(visit.account, invoice.permalink).value
    _send(
        signals.pdf_downloaded,
        visit.claims,
        customer=invoice.customer_code,
        invoice=number,
        document="invoice",
    )
    _record_open(state, visit.claims)
    return _pdf_response(data, f"invoice-{number}.pdf")


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text)[:60] or "customer"


# -- fresh links -------------------------------------------------------------------------------


def _same_site() -> bool:
    """Whether the POST came from this site (CSRF: the browser says so; no cookies needed)."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if not origin or origin == "null":
        # Old browsers send neither, and under Referrer-Policy: no-referrer some send
        # "Origin: null". The form token, bound to this link, still protects the request.
        return True
    return urlsplit(origin).netloc == request.host


@blueprint.route("/invoices/<token>/renew", methods=["POST"])
@portal_route
def renew(token: str) -> Response:
    """Email a fresh link with the same scope and lifetime to the customer's addresses on file.

    Only for an expired, not withdrawn link; never to an address the visitor typed.
    """
    state = get_state()
    settings = state.settings
    address = _client_address()
    if state.throttle.hit("renew-address", address, 3600) > settings.renew_limit_per_address:
        raise Refused(throttled_page(state.throttle.retry_after(3600)))
    try:
        claims = check_link(state, token, allow_expired=True)
    except LinkInvalid:
        raise _refuse_invalid() from None
    except LinkRevoked:
        raise Refused(withdrawn_page(_claims_quietly(state, token))) from None
    except StoreUnavailable as e:
        _store_down(e)
        raise Refused(unavailable_page(_site_brand(), retry_after=30)) from None
    expires_at = claims.expires_at
    if expires_at is None or time.time() < expires_at.timestamp():
        # Not expired: nothing to renew; go back to the link.
        return t.cast(Response, redirect(url_for("kashflow_links.open_link", token=token), 303))
    account = account_for(state, claims)
    brand = account.brand
    form_token = request.form.get("form_token", "")
    if not _same_site() or not state.codec.check_form(form_token, claims.link_id):
        return _renew_problem(brand, 400, "form")
    if settings.mail is None:
        return _renew_problem(brand, 503, "mail")
    if state.throttle.hit("renew-link", claims.link_id, 86400) > settings.renew_limit_per_link:
        return _renew_problem(brand, 429, "limit")
    scope = claims.scope
    if scope.is_invoice:
        invoice = state.fetcher.invoice(account, t.cast(int, scope.invoice)).value
        customer_code = invoice.customer_code
        try:
            check_customer(state, claims, customer_code)
        except LinkRevoked:
            raise Refused(withdrawn_page(claims)) from None
    else:
        customer_code = t.cast(str, scope.customer)
    customer = state.fetcher.customer(account, customer_code).value
    recipients = customer.email_addresses
    if not recipients:
        return _renew_problem(brand, 200, "no-address")
    fresh = _mint_renewal(state, claims, customer_code)
    message = build_message(
        recipients=recipients,
        sender=_sender(settings.mail, brand),
        brand=brand,
        link=fresh,
        customer_name=customer.display_name or customer.name,
        expires=state.formatter.long_date(fresh.expires_at.astimezone(settings.timezone).date())
        if fresh.expires_at
        else None,
    )
    try:
        send(settings.mail, message)
    except MailError as e:
        log.error("could not send a fresh link for link %s: %s", claims.link_id, e)
        state.store.revoke(fresh.link_id)  # never leave an undelivered link live
        return _renew_problem(brand, 503, "send")
    log.info("sent a fresh link %s replacing expired link %s", fresh.link_id, claims.link_id)
    _send(
        signals.fresh_link_sent,
        claims,
        customer=customer_code,
        new_link_id=fresh.link_id,
        recipients=len(recipients),
    )
    return _page(
        "kashflow_links/renew_sent.html",
        200,
        brand,
        "A fresh link is on its way",
        recipients=[mask_address(r) for r in recipients],
    )


def _mint_renewal(state: State, claims: LinkClaims, customer_code: str) -> Link:
    """A new link: same scope, same lifetime counted from now, same credentials.

    Its URL never comes from the request's Host header (which the visitor controls): the
    email must send the customer to this site, not to wherever a forged request pointed.
    """
    token, fresh = state.codec.mint(
        claims.scope, lifetime=claims.lifetime, credentials=claims.credentials
    )
    state.store.register(fresh, customer=customer_code)
    url = trusted_link_url(token, state.settings.public_url)
    return dataclasses.replace(Link.from_claims(token, fresh, None), _url=url)


def _sender(mail: t.Any, brand: Brand) -> str:
    if isinstance(mail, MailSettings):
        return mail.sender
    if brand.email:
        return f"{brand.name} <{brand.email}>"
    return f"{brand.name} <no-reply@{request.host.split(':')[0]}>"


def _renew_problem(brand: Brand, status: int, problem: str) -> Response:
    return _page(
        "kashflow_links/renew_problem.html",
        status,
        brand,
        "We could not send a fresh link",
        problem=problem,
    )


# -- brand colours and headers -----------------------------------------------------------------


@blueprint.route("/kashflow-links/brand/<colours>.css")
def brand_css(colours: str) -> Response:
    """The accent colours as a tiny stylesheet (no inline styles, so the CSP stays strict)."""
    accent, _, ink = colours.partition("-")
    if not (_HEX.fullmatch(accent) and _HEX.fullmatch(ink)):
        abort(404)
    css = f".kfl{{--kfl-accent:#{accent};--kfl-on-accent:#{ink}}}\n"
    return Response(css, mimetype="text/css")


@blueprint.after_request
def _security_headers(response: Response) -> Response:
    # The URL is the credential: keep it out of referrers, shared caches and search engines.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if response.mimetype == "text/html" and "Content-Security-Policy" not in response.headers:
        # Pages set their own policy; anything else HTML (a redirect body) gets the strictest.
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
        )
    return response


@blueprint.errorhandler(500)
def _server_error(error: Exception) -> Response:
    # A bug must still give the client a page with the business's contacts, not a traceback.
    original = getattr(error, "original_exception", None) or error
    log.error("portal error", exc_info=original)
    return _page("kashflow_links/unavailable.html", 500, _site_brand(), "Something went wrong")


__all__ = ["TABS", "blueprint"]
