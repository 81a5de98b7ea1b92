""" "Email me a fresh link": the only thing the portal does on a POST.

From an expired link's page, a client asks for a fresh link. It goes to the customer's contact
addresses on file in KashFlow (contacts who opted out of emails excepted: see
:attr:`~flask_kashflow_links.kashflow.models.Customer.email_addresses`), never to an address
typed by the visitor; it has the same scope
and the same lifetime as the expired link, counted from now. The form is protected against
cross-site requests without cookies: the browser's ``Sec-Fetch-Site`` or ``Origin`` must be
this site, and a short-lived form token bound to the link must come back.
"""

from __future__ import annotations

import logging
import time
import typing as t
from urllib.parse import urlsplit

from flask import Response
from flask import abort
from flask import redirect
from flask import request
from flask import url_for

from .. import signals
from ..config import Brand
from ..formatting import Formatter
from ..links.claims import InvoiceScope
from ..links.service import LinkService
from ..mail import MailError
from ..mail import build_message
from ..mail import mask_address
from ..sending import Sender
from .activity import notify
from .guard import Guard
from .guard import Visit
from .pages import Pages
from .throttle import Throttle

log = logging.getLogger(__name__)

#: Fresh-link emails sent per expired link per day, at most.
RENEW_LIMIT_PER_LINK = 3
#: Fresh-link requests accepted per client address per hour, whatever the link.
RENEW_LIMIT_PER_ADDRESS = 10


def same_site() -> bool:
    """Whether the POST came from this site (CSRF: the browser says so; no cookies needed)."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if not origin or origin == "null":
        # Old browsers send neither, and under Referrer-Policy: no-referrer some send
        # "Origin: null". The form token, bound to this link, still protects the request.
        return True
    try:
        netloc = urlsplit(origin).netloc
    except ValueError:  # e.g. "http://[": not a URL, so not this site
        return False
    return netloc == request.host


class Renewal:
    """Handles ``POST /invoices/<token>/renew``."""

    def __init__(
        self,
        guard: Guard,
        links: LinkService,
        pages: Pages,
        formatter: Formatter,
        throttle: Throttle,
        sender: Sender,
    ) -> None:
        self.guard = guard
        self.links = links
        self.pages = pages
        self.formatter = formatter
        self.throttle = throttle
        self.sender = sender

    def handle(self, visit: Visit, token: str) -> Response:
        """Email a fresh link with the same scope and lifetime to the customer's addresses on
        file. Only for an expired, not revoked link (*visit*, admitted with its expiry
        allowed)."""
        claims, account = visit.claims, visit.account
        expires_at = claims.expires_at
        if expires_at is None or time.time() < expires_at.timestamp():
            # Not expired: nothing to renew; go back to the link.
            return t.cast(Response, redirect(url_for("kashflow_links.open_link", token=token), 303))
        brand = account.brand
        form_token = request.form.get("form_token", "")
        if not same_site() or not self.links.form_token_is_valid(form_token, claims.link_id):
            return self.problem(brand, 400, "form")
        # Counted only now, for a genuine expired link's own form posted from this site: bogus
        # or cross-site POSTs from behind a shared address (an office, a carrier's NAT) must
        # not use up the real clients' budget there (the guard throttles bad tokens itself).
        address = request.remote_addr or "unknown"
        if self.throttle.hit("renew-address", address, 3600) > RENEW_LIMIT_PER_ADDRESS:
            abort(self.pages.throttled(self.throttle.retry_after(3600)))
        if self.sender.mail is None:
            return self.problem(brand, 503, "mail")
        if self.throttle.hit("renew-link", claims.link_id, 86400) > RENEW_LIMIT_PER_LINK:
            return self.problem(brand, 429, "limit")
        scope = claims.scope
        if isinstance(scope, InvoiceScope):
            # The guard's own path: the invoice's customer established (or refused) and
            # checked against revoke_customer.
            customer_code = self.guard.invoice(visit, scope.invoice).value.customer_code
        else:
            customer_code = scope.customer
        customer = self.guard.customer(visit, customer_code)
        recipients = account.recipients(customer)
        if not recipients:
            return self.problem(brand, 200, "no-address")
        fresh = self.links.renew(claims, customer_code)
        message = build_message(
            "fresh_link",
            subject=f"Your link to your invoices from {brand.name}",
            recipients=recipients,
            sender=self.sender.from_address(brand),
            brand=brand,
            link_url=fresh.url,
            scope=fresh.scope,
            customer_name=customer.display_name or customer.name,
            expires=self.formatter.until(fresh.expires_at) if fresh.expires_at else None,
        )
        try:
            # A send like any other, recorded for the addresses the mail server took.
            recipients = list(self.sender.deliver(message, recipients, fresh.link_id).to)
        except MailError as e:
            log.error("could not send a fresh link for link %s: %s", claims.link_id, e)
            self.links.revoke(fresh.link_id)  # never leave an undelivered link live
            return self.problem(brand, 503, "send")
        log.info("sent a fresh link %s replacing expired link %s", fresh.link_id, claims.link_id)
        notify(
            signals.fresh_link_sent,
            claims,
            customer=customer_code,
            new_link_id=fresh.link_id,
            recipients=len(recipients),
        )
        return self.pages.render(
            "kashflow_links/renew_sent.html",
            200,
            brand,
            "A fresh link is on its way",
            recipients=[mask_address(r) for r in recipients],
        )

    def problem(self, brand: Brand, status: int, problem: str) -> Response:
        """A page saying why no fresh link was sent."""
        return self.pages.render(
            "kashflow_links/renew_problem.html",
            status,
            brand,
            "We could not send a fresh link",
            problem=problem,
        )
