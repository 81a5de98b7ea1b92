"""Minting, verifying and withdrawing links: the one path staff minting and renewal share.

:class:`LinkService` joins the codec (the only holder of the link keys) and the store (revoked
ids, per-customer cut-offs and the register). Every link, whether minted by staff through the
Python API, the CLI or the staff page, or minted as a fresh link for an expired one, goes
through :meth:`LinkService.mint`; every link a client opens is checked by :meth:`verify` and
:meth:`check` in the same order. Once a link is registered, the service calls its
``after_mint`` hook with the new link's claims (the application uses it to prefetch the link's
first page; the service itself knows nothing of fetching).
"""

from __future__ import annotations

import dataclasses
import logging
import typing as t
from datetime import datetime
from datetime import timedelta

from ..accounts import AccountRegistry
from ..exceptions import LinkError
from ..exceptions import LinkRevoked
from ..kashflow.backend import Credentials
from .claims import LinkClaims
from .claims import Scope
from .claims import is_link_id
from .codec import TokenCodec
from .link import Link
from .link import trusted_link_url
from .store import LinkRecord
from .store import RevocationStore

log = logging.getLogger(__name__)


def as_lifetime(expires_in: timedelta | int | None) -> timedelta | None:
    """A link lifetime from a timedelta or a number of seconds (whole seconds, at least 1)."""
    if expires_in is None:
        return None
    if isinstance(expires_in, bool) or not isinstance(expires_in, timedelta | int):
        raise TypeError("expires_in must be a timedelta or a number of seconds")
    lifetime = expires_in if isinstance(expires_in, timedelta) else timedelta(seconds=expires_in)
    if lifetime.total_seconds() < 1:
        raise ValueError("expires_in must be at least one second")
    # Expiry is to the second.
    return timedelta(seconds=int(lifetime.total_seconds()))


class LinkService:
    """Mints, verifies and withdraws the links of one application.

    :param codec: the token codec.
    :param store: the revocation store and link register.
    :param accounts: the configured accounts (defaults, and embed-mode credentials).
    :param embed_credentials: whether links carry the account's credentials.
    :param public_url: ``KASHFLOW_LINKS_PUBLIC_URL``, for URLs minted outside a request.
    :param after_mint: called with each new link's claims once it is registered; it must
        return at once and never raise (minting does not wait for it).
    """

    def __init__(
        self,
        codec: TokenCodec,
        store: RevocationStore,
        accounts: AccountRegistry,
        *,
        embed_credentials: bool,
        public_url: str | None,
        after_mint: t.Callable[[LinkClaims], None] | None = None,
    ) -> None:
        self.codec = codec
        self.store = store
        self.accounts = accounts
        self.embed_credentials = embed_credentials
        self.public_url = public_url
        self.after_mint = after_mint

    # -- minting -------------------------------------------------------------------------------

    def account_id(self, account: str | None) -> str:
        """The id of *account* (or of the default account); :class:`ValueError` if unknown."""
        try:
            return self.accounts.get(account).id
        except LookupError as e:
            raise ValueError(str(e.args[0] if e.args else e)) from None

    def mint(
        self,
        scope: Scope,
        *,
        expires_in: timedelta | int | None = None,
        credentials: Credentials | None = None,
        customer: str | None = None,
        minted_at: datetime | None = None,
    ) -> Link:
        """Mint and register a link to *scope*.

        :param credentials: embed mode only: credentials to carry instead of the account's.
        :param customer: an invoice link's customer code, if known, so the link is listed under
            the customer at once (otherwise it is learnt when the link is first opened).
        :param minted_at: back-date the link (demos and tests: a link that has expired).
        """
        creds = None
        if self.embed_credentials:
            creds = credentials or self.accounts.get(scope.account).credentials
            if creds is None:
                raise ValueError(
                    f"embed mode needs credentials for account {scope.account!r}: configure them "
                    "in KASHFLOW_LINKS_ACCOUNTS where links are minted, or pass credentials="
                )
        elif credentials is not None:
            raise ValueError("credentials= is only for KASHFLOW_LINKS_EMBED_CREDENTIALS mode")
        at = minted_at.timestamp() if minted_at is not None else None
        return self._mint(scope, as_lifetime(expires_in), creds, customer, at=at)

    def _mint(
        self,
        scope: Scope,
        lifetime: timedelta | None,
        credentials: Credentials | None,
        customer: str | None,
        *,
        at: float | None = None,
    ) -> Link:
        token, claims = self.codec.mint(scope, lifetime=lifetime, credentials=credentials, at=at)
        self.store.register(claims, customer=customer)
        log.info("minted link %s for %s", claims.link_id, scope.describe())
        if self.after_mint is not None:
            self.after_mint(claims)
        return Link.from_claims(token, claims, self.public_url)

    def renew(self, claims: LinkClaims, customer: str) -> Link:
        """A fresh link for an expired one: same scope, same lifetime counted from now, same
        credentials, registered under *customer*.

        Its URL never comes from the request's Host header (which the visitor controls): the
        email must send the customer to this site, not to wherever a forged request pointed.
        """
        fresh = self._mint(claims.scope, claims.lifetime, claims.credentials, customer)
        return dataclasses.replace(fresh, _url=trusted_link_url(fresh.token, self.public_url))

    # -- checking ------------------------------------------------------------------------------

    def verify(self, token: str, *, allow_expired: bool = False) -> LinkClaims:
        """Verify *token* (signature, encryption), then check the store, then its expiry.

        For a customer link the customer's "revoked before" time is checked here too; for an
        invoice link the customer is only known once the invoice is fetched, so callers then
        use :meth:`check` with the customer.

        :raises LinkInvalid: not a genuine token.
        :raises LinkRevoked: withdrawn by id or with its customer.
        :raises LinkExpired: past its lifetime (unless *allow_expired*).
        :raises StoreUnavailable: the store could not be asked (fail closed).
        """
        claims = self.codec.verify(token, allow_expired=True)
        self.check(claims, allow_expired=allow_expired)
        return claims

    def check(
        self, claims: LinkClaims, *, customer: str | None = None, allow_expired: bool = False
    ) -> None:
        """Check verified *claims* against the store, then their expiry.

        The order matters for what the client is told: a withdrawn link says "withdrawn" even
        when it has also expired, because a withdrawn link must never offer a fresh one.
        *customer* is an invoice link's customer when known, so the customer's cut-off is
        checked in the same round trip.
        """
        customer = claims.scope.customer or customer
        reason = self.store.revoked_reason(
            claims.link_id, claims.scope.account, customer, claims.minted_at.timestamp()
        )
        if reason is not None:
            log.debug("link rejected: withdrawn (%s) (link id %s)", reason, claims.link_id)
            raise LinkRevoked(f"withdrawn ({reason})", link_id=claims.link_id)
        if not allow_expired:
            self.codec.check_expiry(claims)

    def claims_quietly(self, token: str) -> LinkClaims | None:
        """The claims of a genuine token, expired or not; ``None`` for anything else."""
        try:
            return self.codec.verify(token, allow_expired=True)
        except LinkError:
            return None

    # -- withdrawing ---------------------------------------------------------------------------

    def link_id_of(self, token_or_link_id: str) -> str:
        """The link id of a token (even an expired one) or of a link id; :class:`ValueError`."""
        value = token_or_link_id.strip()
        if is_link_id(value):
            return value
        claims = self.claims_quietly(value)
        if claims is None:
            raise ValueError("not a link id or a valid link token of this site")
        return claims.link_id

    def revoke(self, token_or_link_id: str) -> bool:
        """Withdraw one link at once; returns whether the link was in the register."""
        link_id = self.link_id_of(token_or_link_id)
        known = self.store.revoke(link_id)
        log.info("revoked link %s", link_id)
        return known

    def revoke_customer(self, code: str, *, account: str | None = None) -> int:
        """Withdraw every link for customer *code* minted until now, invoice links included;
        returns how many registered live links this withdrew."""
        account_id = self.account_id(account)
        count = self.store.revoke_customer(account_id, code)
        log.info(
            "revoked every link of customer %s on account %s (%d registered)",
            code,
            account_id,
            count,
        )
        return count

    def active_links(
        self, *, customer: str | None = None, account: str | None = None, limit: int | None = None
    ) -> list[LinkRecord]:
        """Live links, newest first (at most *limit*): not revoked, not expired. Never
        includes link tokens."""
        return self.store.active_links(customer=customer, account=account, limit=limit)


__all__ = ["LinkService", "as_lifetime"]
