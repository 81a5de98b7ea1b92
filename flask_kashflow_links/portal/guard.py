"""The one door of the portal: every request's checks, and every piece of data a page shows.

Every request runs the same checks in the same order: **throttle** (bad-token attempts per
client address), **link** (signature, encryption, expiry), **store** (revocation, fail closed),
**data** (KashFlow through the cache), then **scope**, decided from each invoice's own data (a
customer link first looks in its customer's cached list, so an out-of-scope number costs no
KashFlow call). The views and the renewal get their data only from the guard's methods, which
check scope before they return anything.

What fails becomes a page, raised with :func:`flask.abort`; the client is told what happened
(invalid, withdrawn, expired, unavailable) but never which check failed.
"""

from __future__ import annotations

import bisect
import dataclasses
import logging
import time
import typing as t
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from flask import Response
from flask import abort
from flask import request
from flask import url_for

from .. import signals
from ..config import Account
from ..config import AccountRegistry
from ..exceptions import KashFlowError
from ..exceptions import KashFlowNotFound
from ..exceptions import StoreUnavailable
from ..fetch import Fetched
from ..fetch import Fetcher
from ..fetch import refuses_credentials
from ..kashflow.models import Customer
from ..kashflow.models import Invoice
from ..kashflow.models import same_customer
from ..links.claims import MAX_INVOICE_NUMBER
from ..links.claims import CustomerScope
from ..links.claims import InvoiceScope
from ..links.claims import LinkClaims
from ..links.claims import in_scope
from ..links.errors import LinkExpired
from ..links.errors import LinkInvalid
from ..links.errors import LinkRevoked
from ..links.service import LinkService
from .activity import LinkActivity
from .activity import notify
from .pages import Pages
from .throttle import Throttle

log = logging.getLogger(__name__)

#: Bad-token attempts are counted per client address in windows of this many seconds.
THROTTLE_WINDOW = 300


class Visit(t.NamedTuple):
    """A link that may be opened: its claims, its account, and the customer whose revocation
    cut-off was already checked (``None`` if not yet)."""

    claims: LinkClaims
    account: Account
    checked_customer: str | None


class Guard:
    """Runs the checks of every portal request and hands out the data pages may show.

    :param links: decodes links and checks them against the store.
    :param accounts: the account each link reads from.
    :param fetcher: KashFlow data through the cache.
    :param pages: the refusal pages.
    :param throttle: counts bad-token attempts per address.
    :param activity: "last opened" and learnt customers.
    :param throttle_limit: bad-token attempts per address and window before 429.
    :param can_renew: whether fresh links can be mailed (the expired page offers one).
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
        self.can_renew = can_renew
        self.today = today
        self._store_down_logged = 0.0

    # -- the pipeline --------------------------------------------------------------------------

    @contextmanager
    def visiting(self, token: str, *, allow_expired: bool = False) -> Iterator[Visit]:
        """Admit *token* for the block (:meth:`admit`); what the block raises of the link
        store or KashFlow becomes a page.

        With *allow_expired* an expired link is admitted too (for the renewal form).
        """
        visit: Visit | None = None
        try:
            visit = self.admit(token, allow_expired=allow_expired)
            yield visit
        except StoreUnavailable as e:
            # Any store check, including the customer check after an invoice is fetched:
            # a link that cannot be checked is refused, never admitted.
            abort(self.store_down(e))
        except KashFlowNotFound:
            abort(self.pages.not_found())
        except KashFlowError as e:
            if visit is not None and visit.account.embedded and refuses_credentials(e):
                # Changing the KashFlow password revokes embed-mode links: say so.
                abort(self.pages.revoked(None))
            log.warning("KashFlow unavailable and nothing cached to show: %s", e)
            abort(self.pages.unavailable())

    def admit(self, token: str, *, allow_expired: bool = False) -> Visit:
        """Throttle, link and store checks of *token*; a refusal is raised as its page.

        With *allow_expired* an expired link is admitted (the renewal form needs its claims).
        """
        try:
            claims = self.links.decode(token)
            account = self.account_for(claims)
            customer = claims.scope.customer
            if isinstance(claims.scope, InvoiceScope):
                # Known to this process already? Then the store checks the customer's cut-off
                # in the same round trip.
                customer = self.fetcher.known_customer(account, claims.scope.invoice)
            self.links.raise_if_revoked(claims, customer=customer)
            if not allow_expired:
                self.links.raise_if_expired(claims)
            return Visit(claims, account, customer)
        except LinkInvalid:
            abort(self.invalid_page())
        except LinkRevoked:
            abort(self.revoked_page(claims))
        except LinkExpired as e:
            notify(signals.link_rejected, e.claims, reason="expired")
            abort(self.expired_page(token, e))

    def account_for(self, claims: LinkClaims) -> Account:
        """The account a link reads from: the site's, or (embed mode) the site's account
        logging in with the link's credentials.

        :raises LinkInvalid: the link names an account this site does not have, or carries
            credentials where embed mode is off. Even with credentials inside it, a link for
            another account is not served: the site would sign in to KashFlow as anyone a
            holder of its keys chose.
        """
        account_id = claims.scope.account
        try:
            return self.accounts.for_link(account_id, claims.credentials)
        except (LookupError, ValueError) as e:
            log.warning("link %s not served here: %s", claims.link_id, e)
            raise LinkInvalid("account not served here", link_id=claims.link_id) from None

    # -- the data a page may show --------------------------------------------------------------

    def invoice(self, visit: Visit, number: int) -> Fetched[Invoice]:
        """The invoice *number* if the link may show it; else the "not found" page.

        A customer link first finds the number in its customer's list (cached, one list for
        any number of requests): a number the list does not give the link is refused without
        asking KashFlow for it, so no link can make the portal fetch other customers'
        invoices. Then the invoice's own detail decides. Its customer is the detail's
        ``CustomerCode`` or, when the detail names none (KashFlow's documented detail does
        not), its list row's; an invoice whose customer cannot be established is refused
        (503), never shown: an invoice link's ``revoke_customer`` check needs it.
        """
        claims, account = visit.claims, visit.account
        scope = claims.scope
        if number > MAX_INVOICE_NUMBER:
            abort(self.pages.not_found())
        row = None
        if isinstance(scope, InvoiceScope):
            if number != scope.invoice:
                abort(self.pages.not_found())
        else:
            row = self._listed(visit, scope, number)
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
            abort(self.pages.unavailable(account.brand))
        # The invoice's own data decides, not the URL or a list the server returned.
        if not in_scope(scope, invoice, self.today()):
            log.debug("link %s asked for invoice %s outside its scope", claims.link_id, number)
            abort(self.pages.not_found())
        if not same_customer(invoice.customer_code, visit.checked_customer or ""):
            try:
                self.links.raise_if_revoked(claims, customer=invoice.customer_code)
            except LinkRevoked:
                abort(self.revoked_page(claims))
        self.activity.learn_customer(claims, invoice.customer_code)
        return fetched

    def invoices(self, visit: Visit) -> Fetched[tuple[Invoice, ...]]:
        """Every invoice KashFlow lists for a customer link's customer; each one is shown only
        if :func:`~..links.claims.in_scope` admits it (the presenters filter the list)."""
        return self.fetcher.customer_invoices(visit.account, self._customer_scope(visit).customer)

    def customer(self, visit: Visit, code: str) -> Customer:
        """The customer *code*: a customer link's own, or the customer the guard found for an
        invoice link's invoice (:meth:`invoice`); else the "not found" page."""
        scope = visit.claims.scope
        if isinstance(scope, CustomerScope):
            allowed = scope.customer
        else:
            allowed = self.invoice(visit, scope.invoice).value.customer_code
        if not same_customer(code, allowed):
            abort(self.pages.not_found())
        customer = self.fetcher.customer(visit.account, code).value
        if not same_customer(customer.code, allowed):
            abort(self.pages.not_found())
        return customer

    def statement_link(self, visit: Visit) -> str | None:
        """The document link of an all-invoices link's customer statement, when the account's
        API has statements; ``None`` otherwise."""
        scope = self._customer_scope(visit)
        if not self.offers_statement(visit):
            return None
        return self.fetcher.statement_link(visit.account, self.customer(visit, scope.customer))

    def offers_statement(self, visit: Visit) -> bool:
        """Whether the link offers a statement PDF: only an all-invoices link (a KashFlow
        statement cannot be filtered to the link's status, so it would show more than the
        link may), and only from an API that has statements."""
        scope = visit.claims.scope
        return (
            isinstance(scope, CustomerScope)
            and scope.status == "all"
            and self.fetcher.has_statements(visit.account)
        )

    def document(self, visit: Visit, link: str) -> bytes:
        """The PDF behind a document link the guard gave (an invoice's permalink, or
        :meth:`statement_link`)."""
        return self.fetcher.document(visit.account, link).value

    def _listed(self, visit: Visit, scope: CustomerScope, number: int) -> Invoice:
        """The row of invoice *number* in a customer link's list, if the link may see it
        (decided from the row's own customer and status); else the "not found" page."""
        rows = self.fetcher.customer_invoices(visit.account, scope.customer).value
        # Lists are sorted by number.
        at = bisect.bisect_left(rows, number, key=lambda row: row.number)
        if at < len(rows) and rows[at].number == number and in_scope(scope, rows[at], self.today()):
            return rows[at]
        log.debug("link %s asked for invoice %s, not in its list", visit.claims.link_id, number)
        abort(self.pages.not_found())

    def _customer_scope(self, visit: Visit) -> CustomerScope:
        scope = visit.claims.scope
        if not isinstance(scope, CustomerScope):
            abort(self.pages.not_found())
        return scope

    # -- refusals ------------------------------------------------------------------------------

    def invalid_page(self) -> Response:
        """A token that is not genuine: 404, or 429 past the throttle."""
        address = request.remote_addr or "unknown"
        count = self.throttle.hit("bad-token", address, THROTTLE_WINDOW)
        if count > self.throttle_limit:
            notify(signals.link_rejected, None, reason="throttled")
            log.info("throttling bad-token attempts from one address (%d in window)", count)
            return self.pages.throttled(self.throttle.retry_after(THROTTLE_WINDOW))
        notify(signals.link_rejected, None, reason="invalid")
        return self.pages.not_found()

    def revoked_page(self, claims: LinkClaims) -> Response:
        """A revoked link (by id, or with its customer): 410."""
        notify(signals.link_rejected, claims, reason="withdrawn")
        return self.pages.revoked(claims)

    def expired_page(self, token: str, error: LinkExpired) -> Response:
        """410 for an expired link, with the fresh-link form when mail is configured."""
        renew_url = form_token = None
        if self.can_renew:
            renew_url = url_for("kashflow_links.renew", token=token)
            form_token = self.links.form_token(error.claims.link_id)
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
