"""Who may see what: a token's claims checked against the revocation store.

The order matters for what the client is told: a withdrawn link says "withdrawn" even when it
has also expired, because a withdrawn link must never offer a fresh one.
"""

from __future__ import annotations

import logging
import typing as t
from datetime import date

from ..accounts import Account
from ..exceptions import LinkInvalid
from ..exceptions import LinkRevoked
from ..kashflow.models import Invoice
from ..links.claims import INVOICE
from ..links.claims import LinkClaims
from ..links.claims import Scope

if t.TYPE_CHECKING:  # pragma: no cover
    from ..extension import State

log = logging.getLogger(__name__)


def check_link(state: State, token: str, *, allow_expired: bool = False) -> LinkClaims:
    """Verify *token*, then check it against the store.

    For a customer link the customer's "revoked before" time is checked here too; for an
    invoice link the customer is only known once the invoice is fetched, so callers then use
    :func:`check_customer`.

    :raises LinkInvalid: not a genuine token.
    :raises LinkRevoked: withdrawn by id or with its customer.
    :raises LinkExpired: past its lifetime (unless *allow_expired*).
    :raises StoreUnavailable: the store could not be asked (fail closed).
    """
    claims = state.codec.verify(token, allow_expired=True)
    check_claims(state, claims, allow_expired=allow_expired)
    return claims


def check_claims(
    state: State, claims: LinkClaims, *, customer: str | None = None, allow_expired: bool = False
) -> None:
    """Check verified *claims* against the store, then their expiry.

    *customer* is an invoice link's customer when already known (from this process's cache),
    so the customer's cut-off is checked in the same round trip; otherwise
    :func:`check_customer` checks it once the invoice is fetched.
    """
    _check_revoked(state, claims, claims.scope.customer or customer)
    if not allow_expired:
        state.codec.check_expiry(claims)


def status_allows(status: str, invoice: Invoice, today: date) -> bool:
    """Whether a status filter (``all``, ``unpaid``, ``overdue``, ``paid``) admits *invoice*,
    judged from the invoice's own Status and due date."""
    if status == "all":
        return True
    if status == "unpaid":
        return invoice.is_unpaid
    if status == "overdue":
        return invoice.is_overdue(today)
    if status == "paid":
        return invoice.is_paid
    return False


def in_scope(scope: Scope, invoice: Invoice, today: date) -> bool:
    """Whether a link with *scope* may show *invoice*, decided from the invoice's own data.

    Never from what a list endpoint was asked for: a server may ignore ``customercode`` or
    ``filterby``. Customer codes match exactly here (deciding what is shown errs narrow;
    revocation, which decides what is withdrawn, errs broad).
    """
    if scope.kind == INVOICE:
        return invoice.number == scope.invoice
    return invoice.customer_code == scope.customer and status_allows(scope.status, invoice, today)


def account_for(state: State, claims: LinkClaims) -> Account:
    """The account a link reads from: the site's, or one carrying the link's credentials.

    :raises LinkInvalid: the link names an account this site does not know (and carries no
        credentials of its own).
    """
    account_id = claims.scope.account
    try:
        account = state.accounts.get(account_id)
    except (LookupError, ValueError):
        if claims.credentials is None:
            log.warning("link %s names unknown account %r", claims.link_id, account_id)
            raise LinkInvalid("unknown account", link_id=claims.link_id) from None
        account = Account(id=account_id, brand=state.settings.brand)
    if claims.credentials is not None:
        return account.with_credentials(claims.credentials)
    return account


def check_customer(state: State, claims: LinkClaims, customer: str) -> None:
    """Check an invoice link against its invoice's customer (``revoke_customer``).

    :raises LinkRevoked: the customer's links were withdrawn after this link was minted.
    """
    _check_revoked(state, claims, customer)


def _check_revoked(state: State, claims: LinkClaims, customer: str | None) -> None:
    reason = state.store.revoked_reason(
        claims.link_id, claims.scope.account, customer, claims.minted_at.timestamp()
    )
    if reason is not None:
        log.debug("link rejected: withdrawn (%s) (link id %s)", reason, claims.link_id)
        raise LinkRevoked(f"withdrawn ({reason})", link_id=claims.link_id)


__all__ = [
    "account_for",
    "check_claims",
    "check_customer",
    "check_link",
    "in_scope",
    "status_allows",
]
