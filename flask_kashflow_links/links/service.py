"""Minting, verifying and revoking links: the one path staff minting and renewal share.

:class:`LinkService` joins the codec (the only holder of the link keys) and the store (revoked
ids, per-customer cut-offs and the register), and is the only user of both. Every link,
whether minted by staff through the Python API, the CLI or the staff pages, or minted as a
fresh link for an expired one, goes through :meth:`LinkService.mint`; every link a client opens
is decoded, then checked against the store, then for expiry, in that order. Once a link is
registered, the service calls its ``after_mint`` hook with the new link's claims (the
application uses it to prefetch the link's first page; the service knows nothing of fetching).
"""

from __future__ import annotations

import dataclasses
import logging
import typing as t
from datetime import datetime
from datetime import timedelta
from datetime import timezone

from ..config import AccountRegistry
from ..kashflow.backend import Credentials
from .claims import MAX_LIFETIME
from .claims import TOO_LONG
from .claims import AnyScope
from .claims import LinkClaims
from .claims import is_link_id
from .codec import TokenCodec
from .errors import LinkError
from .errors import LinkExpired
from .errors import LinkRevoked
from .link import Link
from .link import mailed_url
from .store import LinkRecord
from .store import RevocationStore

log = logging.getLogger(__name__)


def as_lifetime(expires_in: timedelta | int | None) -> timedelta | None:
    """A link lifetime from a timedelta or a number of seconds (whole seconds, at least 1, at
    most :data:`~.claims.MAX_LIFETIME`)."""
    if expires_in is None:
        return None
    if isinstance(expires_in, bool) or not isinstance(expires_in, timedelta | int):
        raise TypeError("expires_in must be a timedelta or a number of seconds")
    if isinstance(expires_in, int) and expires_in > MAX_LIFETIME.total_seconds():
        raise ValueError(f"expires_in: {TOO_LONG}")  # before timedelta() overflows
    lifetime = expires_in if isinstance(expires_in, timedelta) else timedelta(seconds=expires_in)
    if lifetime.total_seconds() < 1:
        raise ValueError("expires_in must be at least one second")
    if lifetime > MAX_LIFETIME:
        raise ValueError(f"expires_in: {TOO_LONG}")
    # Expiry is to the second.
    return timedelta(seconds=int(lifetime.total_seconds()))


class LinkService:
    """Mints, verifies and revokes the links of one application.

    :param codec: the token codec.
    :param store: the revocation store and link register.
    :param accounts: the configured accounts (defaults, and embed-mode credentials).
    :param embed_credentials: whether links carry the account's credentials.
    :param public_url: ``KASHFLOW_LINKS_PUBLIC_URL``, for URLs minted outside a request.
    :param after_mint: called with each new link's claims once it is registered, and what the
        minting call asked of prefetching (``None``: nothing); it must return at once and
        never raise (minting does not wait for it).
    """

    def __init__(
        self,
        codec: TokenCodec,
        store: RevocationStore,
        accounts: AccountRegistry,
        *,
        embed_credentials: bool,
        public_url: str | None,
        after_mint: t.Callable[[LinkClaims, bool | None], None] | None = None,
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
        scope: AnyScope,
        *,
        expires_in: timedelta | int | None = None,
        credentials: Credentials | None = None,
        customer: str | None = None,
        minted_at: datetime | None = None,
        prefetch: bool | None = None,
    ) -> Link:
        """Mint and register a link to *scope*.

        :param credentials: embed mode only: credentials to carry instead of the account's.
        :param customer: an invoice link's customer code, if known, so the link is listed under
            the customer at once (otherwise it is learnt when the link is first opened).
        :param minted_at: back-date the link (demos and tests: a link that has expired).
        :param prefetch: passed to the ``after_mint`` hook (``None``: as configured).
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
        return self._mint(scope, as_lifetime(expires_in), creds, customer, at=at, prefetch=prefetch)

    def _mint(
        self,
        scope: AnyScope,
        lifetime: timedelta | None,
        credentials: Credentials | None,
        customer: str | None,
        *,
        at: float | None = None,
        prefetch: bool | None = None,
    ) -> Link:
        token, claims = self.codec.mint(scope, lifetime=lifetime, credentials=credentials, at=at)
        self.store.register(claims, customer=customer)
        log.info("minted link %s for %s", claims.link_id, scope.describe())
        if self.after_mint is not None:
            self.after_mint(claims, prefetch)
        return Link.from_claims(token, claims, self.public_url, customer)

    def renew(self, claims: LinkClaims, customer: str) -> Link:
        """A fresh link for an expired one: same scope, same lifetime counted from now, same
        credentials, registered under *customer*.

        Its URL never comes from the request's Host header (which the visitor controls): the
        email must send the customer to this site, not to wherever a forged request pointed.
        """
        fresh = self._mint(claims.scope, claims.lifetime, claims.credentials, customer)
        return dataclasses.replace(fresh, _url=mailed_url(fresh.token, self.public_url))

    # -- checking ------------------------------------------------------------------------------

    def decode(self, token: str) -> LinkClaims:
        """The claims of a genuine link token, expired or not (signature and encryption
        checked; not the store, not the expiry).

        :raises LinkInvalid: not a genuine token of this site.
        """
        return self.codec.verify(token, allow_expired=True)

    def verify(self, token: str, *, allow_expired: bool = False) -> LinkClaims:
        """Decode *token*, then check the store, then its expiry.

        For a customer link the customer's "revoked before" time is checked here too; for an
        invoice link the customer is only known once the invoice is fetched, so callers then
        use :meth:`raise_if_revoked` with the customer.

        :raises LinkInvalid: not a genuine token.
        :raises LinkRevoked: revoked by id or with its customer.
        :raises LinkExpired: past its lifetime (unless *allow_expired*).
        :raises StoreUnavailable: the store could not be asked (fail closed).
        """
        claims = self.decode(token)
        self.raise_if_revoked(claims)
        if not allow_expired:
            self.raise_if_expired(claims)
        return claims

    def raise_if_revoked(self, claims: LinkClaims, *, customer: str | None = None) -> None:
        """Raise :class:`LinkRevoked` if the store says the link of *claims* is revoked, by its
        id or with its customer (*customer*: an invoice link's, when known, so the cut-off
        is checked in the same round trip).

        Checked before the expiry, for what the client is told: a revoked link says
        "withdrawn" even when it has also expired, because it must never offer a fresh one.
        """
        customer = claims.scope.customer or customer
        reason = self.store.revoked_reason(
            claims.link_id, claims.scope.account, customer, claims.minted_at.timestamp()
        )
        if reason is not None:
            log.debug("link rejected: revoked (%s) (link id %s)", reason, claims.link_id)
            raise LinkRevoked(f"revoked ({reason})", link_id=claims.link_id)

    def raise_if_expired(self, claims: LinkClaims) -> None:
        """Raise :class:`LinkExpired` if *claims* are past their lifetime (to the second)."""
        self.codec.raise_if_expired(claims)

    def form_token(self, link_id: str) -> str:
        """A short-lived token for the "email me a fresh link" form, bound to *link_id*."""
        return self.codec.sign_form(link_id)

    def form_token_is_valid(self, value: str, link_id: str) -> bool:
        """Whether *value* is a form token for *link_id*, issued within the last hour."""
        return self.codec.form_token_is_valid(value, link_id)

    # -- revoking -----------------------------------------------------------------------------

    def link_id_of(self, token_or_link_id: str) -> str:
        """The link id of a link token (even an expired one), of a link's URL, or of a link id;
        :class:`ValueError` for anything else."""
        # A whole URL works too: the token is its last path segment.
        value = token_or_link_id.strip().rstrip("/").rsplit("/", 1)[-1]
        if is_link_id(value):
            return value
        try:
            return self.decode(value).link_id
        except LinkError:
            raise ValueError("not a link id or a valid link token of this site") from None

    def revoke(self, token_or_link_id: str) -> bool:
        """Revoke one link at once; returns whether the link was in the register."""
        link_id = self.link_id_of(token_or_link_id)
        known = self.store.revoke(link_id)
        log.info("revoked link %s", link_id)
        return known

    def revoke_customer(self, code: str, *, account: str | None = None) -> int:
        """Revoke every link for customer *code* minted until now, invoice links included;
        returns how many registered live links this revoked."""
        account_id = self.account_id(account)
        count = self.store.revoke_customer(account_id, code)
        log.info(
            "revoked every link of customer %s on account %s (%d registered)",
            code,
            account_id,
            count,
        )
        return count

    def record_opened(self, link_id: str, when: float, *, scanner: bool = False) -> bool | None:
        """Record in the register that the link was fetched at *when* (POSIX time): by a
        known link checker (*scanner*), or a fetch the store judges against the link's last
        send (see :attr:`~.store.base.LinkRecord.opened_by_client`). Whether it was recorded
        as the client's opening (``None``: the link is not in the register)."""
        return self.store.touch(link_id, when, scanner=scanner)

    def record_sent(self, link_id: str, when: float, recipients: t.Sequence[str]) -> None:
        """Record in the register that the link was emailed to *recipients* at *when*."""
        self.store.record_sent(link_id, when, recipients)

    def reissue(self, record: LinkRecord, credentials: Credentials | None = None) -> Link:
        """A token for a link already in the register: the same link id, scope, lifetime and
        mint time, so it opens, lists and is revoked as that link (the store never keeps a
        token, so a link sent again is written out again). Nothing is registered.

        :param credentials: embed mode: the credentials to carry (default: the account's).
        """
        creds = None
        if self.embed_credentials:
            creds = credentials or self.accounts.get(record.account).credentials
            if creds is None:
                # The register keeps no credentials: only the site's own can go in the copy.
                raise ValueError(
                    f"link {record.link_id} cannot be written out again: in embed mode it needs "
                    f"account {record.account!r}'s credentials, which this site does not hold. "
                    "Send the Link object the mint returned, or mint a new link."
                )
        # A token's mint time is whole seconds, the register's a precise (and, with Redis, the
        # server's) time: the copy's lifetime is counted from its own mint time, so that it
        # expires exactly when the link does.
        at = int(record.minted_at.timestamp())
        lifetime = None
        if record.expires_at is not None:
            seconds = int(record.expires_at.timestamp()) - at
            if seconds < 1:
                raise ValueError(f"link {record.link_id} has expired: mint a new one")
            lifetime = timedelta(seconds=seconds)
        token, claims = self.codec.mint(
            record.scope,
            lifetime=lifetime,
            credentials=creds,
            link_id=record.link_id,
            at=at,
        )
        return Link.from_claims(token, claims, self.public_url, record.customer)

    def existing(self, token_or_link_id: str) -> Link:
        """A live link of the register, by its link id, link token or URL, written out again
        (:meth:`reissue`) so it can be sent.

        :raises ValueError: not a link id or token of this site, not in the register, revoked
            or expired.
        """
        link_id = self.link_id_of(token_or_link_id)
        record = self.store.get(link_id)
        if record is None:
            raise ValueError(f"link {link_id} is not in the register of minted links")
        revoked = self.store.revoked_reason(
            link_id, record.account, record.customer, record.minted_at.timestamp()
        )
        if revoked is not None:
            raise ValueError(f"link {link_id} is revoked: mint a new one")
        if not record.is_active(datetime.now(timezone.utc)):
            raise ValueError(f"link {link_id} has expired: mint a new one")
        return self.reissue(record)

    def require_live(self, claims: LinkClaims, *, customer: str | None = None) -> None:
        """Refuse to send a link that no longer opens: revoked (by id, or with its customer:
        *customer*, an invoice link's once known) or expired.

        :raises ValueError: saying which, with the fix.
        :raises StoreUnavailable: the store could not be asked.
        """
        try:
            self.raise_if_revoked(claims, customer=customer)
            self.raise_if_expired(claims)
        except LinkRevoked:
            raise ValueError(f"link {claims.link_id} is revoked: mint a new one") from None
        except LinkExpired:
            raise ValueError(f"link {claims.link_id} has expired: mint a new one") from None

    def claim_reminder(
        self, account: str, customer: str, *, now: float, every: float
    ) -> float | None:
        """Claim *customer*'s reminder in the store (once across every process): ``None``
        when claimed, else when they were last reminded, within *every* seconds."""
        return self.store.claim_reminder(account, customer, now=now, every=every)

    def release_reminder(self, account: str, customer: str, *, previous: float | None) -> None:
        """Give back a claimed reminder that was not sent."""
        self.store.release_reminder(account, customer, previous=previous)

    def last_reminded(self, account: str, customer: str) -> float | None:
        """When *customer* was last reminded (POSIX time), if ever."""
        return self.store.last_reminded(account, customer)

    def learn_customer(self, link_id: str, customer: str) -> None:
        """Register an invoice link under its invoice's customer, once that is known."""
        self.store.learn_customer(link_id, customer)

    def active_links(
        self, *, customer: str | None = None, account: str | None = None, limit: int | None = None
    ) -> list[LinkRecord]:
        """Live links, newest first (at most *limit*): not revoked, not expired. Never
        includes link tokens."""
        return self.store.active_links(customer=customer, account=account, limit=limit)
