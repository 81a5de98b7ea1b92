"""Who may see what: a token's claims checked against the revocation store.

The order matters for what the client is told: a withdrawn link says "withdrawn" even when it
has also expired, because a withdrawn link must never offer a fresh one.
"""

from __future__ import annotations

import logging
import typing as t

from .exceptions import LinkRevoked
from .tokens import LinkClaims

if t.TYPE_CHECKING:  # pragma: no cover
    from .extension import State

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
    _check_revoked(state, claims, claims.scope.customer)
    if not allow_expired:
        state.codec.check_expiry(claims)
    return claims


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


__all__ = ["check_customer", "check_link"]
