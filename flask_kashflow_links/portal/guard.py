"""The one check pipeline every portal route goes through.

Every request runs the same checks in the same order: **throttle** (bad-token attempts per
client address), **link** (signature, encryption, expiry), **store** (revocation, fail closed),
**data** (KashFlow through the cache), then **scope**, decided from each invoice's own data
(a customer link first looks in its customer's cached list, so an out-of-scope number costs no
KashFlow call).
What fails becomes a page; the client is told what happened (invalid, withdrawn, expired,
unavailable) but never which check failed.
"""

from __future__ import annotations

import bisect
import dataclasses
import logging
import time
import typing as t
from datetime import date

from flask import Response
from flask import request
from flask import url_for

from .. import signals
from ..accounts import Account
from ..accounts import AccountRegistry
from ..exceptions import KashFlowError
from ..exceptions import KashFlowNotFound
from ..exceptions import LinkExpired
from ..exceptions import LinkInvalid
from ..exceptions import LinkRevoked
from ..exceptions import StoreUnavailable
from ..fetch import Fetched
from ..fetch import Fetcher
from ..freshness import refuses_credentials
from ..kashflow.models import Invoice
from ..kashflow.models import same_customer
from ..links.claims import MAX_INVOICE_NUMBER
from ..links.claims import LinkClaims
from ..links.claims import in_scope
from ..links.service import LinkService
from .activity import LinkActivity
from .activity import notify
from .pages import Pages
from .throttle import Throttle

log = logging.getLogger(__name__)


class Refused(Exception):
    """Stop handling a request and answer with :attr:`response`."""

    def __init__(self, response: Response) -> None:
        super().__init__()
        self.response = response


class Visit(t.NamedTuple):
    """A link that may be opened: its claims, its account, and the customer whose
    revocation cut-off was already checked (``None`` if not yet)."""

    claims: LinkClaims
    account: Account
    checked_customer: str | None


class Guard:
    """Runs the checks of every portal request.

    :param links: verifies links against the codec and the store.
    :param accounts: the account each link reads from.
    :param fetcher: KashFlow data through the cache.
    :param pages: the refusal pages.
    :param throttle: counts bad-token attempts per address.
    :param activity: "last opened" and learnt customers.
    :param today: today's date in the portal's time zone (overdue is judged against it).
    """

    def __init__(
        self,
        links: LinkService,
        accounts: AccountRegistry,
        fetcher: Fetcher,
        pages: Pages,
        throttle: Throttle,
        activity: LinkActivity,
        *,
        throttle_limit: int,
        throttle_window: int,
        can_renew: bool,
        today: t.Callable[[], date],
    ) -> None:
        self.links = links
        self.accounts = accounts
        self.fetcher = fetcher
        self.pages = pages
        self.throttle = throttle
        self.activity = activity
        self.throttle_limit = throttle_limit
        self.throttle_window = throttle_window
        self.can_renew = can_renew
        self.today = today
        self._store_down_logged = 0.0

    # -- the pipeline --------------------------------------------------------------------------

    def serve(
        self,
        token: str,
        handler: t.Callable[[Visit], Response],
        *,
        allow_expired: bool = False,
    ) -> Response:
        """Admit *token*, then answer with *handler*; every refusal and failure is a page.

        With *allow_expired* an expired link is admitted too (for the renewal form).
        """
        visit: Visit | None = None
        try:
            visit = self.admit(token, allow_expired=allow_expired)
            return handler(visit)
        except Refused as refused:
            return refused.response
        except StoreUnavailable as e:
            # Any store check, including the customer check after an invoice is fetched:
            # a link that cannot be checked is refused, never admitted.
            return self.store_down(e)
        except KashFlowNotFound:
            return self.pages.not_found()
        except KashFlowError as e:
            if visit is not None and visit.account.embedded and refuses_credentials(e):
                # Changing the KashFlow password withdraws embed-mode links: say so.
                return self.pages.withdrawn(None)
            log.warning("KashFlow unavailable and nothing cached to show: %s", e)
            return self.pages.unavailable()

    def admit(self, token: str, *, allow_expired: bool = False) -> Visit:
        """Throttle, link and store checks of *token*, or :class:`Refused` with the page.

        With *allow_expired* an expired link is admitted (the renewal form needs its claims).
        """
        try:
            claims = self.links.codec.verify(token, allow_expired=True)
            account = self.account_for(claims)
            scope = claims.scope
            customer = scope.customer
            if customer is None and scope.invoice is not None:
                customer = self.fetcher.known_customer(account, scope.invoice)
            self.links.check(claims, customer=customer, allow_expired=allow_expired)
            return Visit(claims, account, customer)
        except LinkInvalid:
            raise self.refuse_invalid() from None
        except LinkRevoked:
            # Only the store check raises it: the claims are the link's own.
            raise self.withdrawn(claims) from None
        except LinkExpired as e:
            notify(signals.link_rejected, e.claims, reason="expired")
            raise Refused(self.expired_page(token, e)) from None

    def invoice(self, visit: Visit, number: int) -> Fetched[Invoice]:
        """The invoice *number* if the link may show it; :class:`Refused` with the page
        otherwise.

        A customer link first finds the number in its customer's list (cached, one list for
        any number of requests): a number the list does not give the link is refused without
        asking KashFlow for it, so no link can make the portal fetch other customers'
        invoices. Then the invoice's own detail decides. Its customer is the detail's
        ``CustomerCode`` or, when the detail names none (KashFlow's documented detail does
        not), its list row's; an invoice whose customer cannot be established is refused
        (503), never shown: an invoice link's ``revoke_customer`` check needs it.
        """
        claims, account = visit.claims, visit.account
        if number > MAX_INVOICE_NUMBER:
            raise Refused(self.pages.not_found())
        scope = claims.scope
        if scope.is_invoice and number != scope.invoice:
            raise Refused(self.pages.not_found())
        row = None if scope.is_invoice else self.listed(visit, number)
        fetched = self.fetcher.invoice(account, number)
        invoice = fetched.value
        if not invoice.customer_code and row is not None:
            invoice = dataclasses.replace(invoice, customer_code=row.customer_code)
            fetched = dataclasses.replace(fetched, value=invoice)
        if not invoice.customer_code:
            log.error(
                "invoice %s: KashFlow names no customer for it, so link %s cannot be checked "
                "against revoke_customer; refused",
                number,
                claims.link_id,
            )
            raise Refused(self.pages.unavailable(account.brand))
        # The invoice's own data decides, not the URL or a list the server returned.
        if not in_scope(scope, invoice, self.today()):
            log.debug("link %s asked for invoice %s outside its scope", claims.link_id, number)
            raise Refused(self.pages.not_found())
        if not same_customer(invoice.customer_code, visit.checked_customer or ""):
            self.check_customer(claims, invoice.customer_code)
        self.activity.learn_customer(claims, invoice.customer_code)
        return fetched

    def listed(self, visit: Visit, number: int) -> Invoice:
        """The row of invoice *number* in a customer link's list, if the link may see it
        (decided from the row's own customer and status); :class:`Refused` (404) otherwise."""
        scope = visit.claims.scope
        rows = self.fetcher.customer_invoices(visit.account, t.cast(str, scope.customer)).value
        # Lists are sorted by number.
        at = bisect.bisect_left(rows, number, key=lambda row: row.number)
        if at < len(rows) and rows[at].number == number and in_scope(scope, rows[at], self.today()):
            return rows[at]
        log.debug("link %s asked for invoice %s, not in its list", visit.claims.link_id, number)
        raise Refused(self.pages.not_found())

    def check_customer(self, claims: LinkClaims, customer: str) -> None:
        """Check an invoice link against its invoice's customer (``revoke_customer``)."""
        try:
            self.links.check(claims, customer=customer, allow_expired=True)
        except LinkRevoked:
            raise self.withdrawn(claims) from None

    def withdrawn(self, claims: LinkClaims) -> Refused:
        """The refusal of a withdrawn link (revoked, or with its customer)."""
        notify(signals.link_rejected, claims, reason="withdrawn")
        return Refused(self.pages.withdrawn(claims))

    def account_for(self, claims: LinkClaims) -> Account:
        """The account a link reads from: the site's, or one carrying the link's credentials.

        :raises LinkInvalid: the link names an account this site does not know (and carries
            no credentials of its own).
        """
        account_id = claims.scope.account
        try:
            return self.accounts.for_link(account_id, claims.credentials)
        except (LookupError, ValueError):
            if claims.credentials is None:
                log.warning("link %s names unknown account %r", claims.link_id, account_id)
                raise LinkInvalid("unknown account", link_id=claims.link_id) from None
            unknown = Account(id=account_id, brand=self.pages.site_brand)
            return unknown.with_credentials(claims.credentials)

    # -- refusals ------------------------------------------------------------------------------

    def refuse_invalid(self) -> Refused:
        """The refusal of a token that is not genuine: 404, or 429 past the throttle."""
        address = request.remote_addr or "unknown"
        count = self.throttle.hit("bad-token", address, self.throttle_window)
        if count > self.throttle_limit:
            notify(signals.link_rejected, None, reason="throttled")
            log.info("throttling bad-token attempts from one address (%d in window)", count)
            return Refused(self.pages.throttled(self.throttle.retry_after(self.throttle_window)))
        notify(signals.link_rejected, None, reason="invalid")
        return Refused(self.pages.not_found())

    def expired_page(self, token: str, error: LinkExpired) -> Response:
        """410 for an expired link, with the fresh-link form when mail is configured."""
        renew_url = form_token = None
        if self.can_renew:
            renew_url = url_for("kashflow_links.renew", token=token)
            form_token = self.links.codec.sign_form(error.claims.link_id)
        return self.pages.expired(error, renew_url=renew_url, form_token=form_token)

    def store_down(self, error: StoreUnavailable) -> Response:
        """503 while the link store is unreachable, logged once per few seconds (an outage
        under load must not flood the log)."""
        now = time.monotonic()
        if now - self._store_down_logged >= 5.0:
            self._store_down_logged = now
            log.error("link store unavailable, refusing links until it is back: %s", error)
        else:
            log.debug("link store still unavailable: %s", error)
        return self.pages.unavailable(retry_after=30)


__all__ = ["Guard", "Refused", "Visit"]
