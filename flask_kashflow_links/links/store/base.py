"""What every link store does, the register record, and the rules shared by the backends."""

from __future__ import annotations

import abc
import logging
import time
import typing as t
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timezone

from ...cache import Reach
from ...exceptions import StoreUnavailable
from ...kashflow.models import customer_key
from ..claims import INVOICE
from ..claims import AnyScope
from ..claims import LinkClaims
from ..claims import Scope

log = logging.getLogger(__name__)

#: Seconds after a send during which a fetch of the link is taken for a mail system's link
#: checker (Microsoft Safe Links, Mimecast, Proofpoint... fetch every link of a message within
#: seconds of its delivery), not for the client opening it.
SCANNER_WINDOW = 60.0


class StoreUnsafe(StoreUnavailable):
    """The store answers, but is set up so that it could lose revocations (a Redis that may
    evict any key): refused, so that no link is checked against it."""


def dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=timezone.utc)


@dataclass(frozen=True)
class LinkRecord:
    """A register entry: what a minted link opens and its history. Never the token."""

    link_id: str
    account: str
    kind: str
    invoice: int | None
    customer: str | None
    status: str
    minted_at: datetime
    expires_at: datetime | None
    #: When the client last opened it: a ``GET`` that was not a check (see
    #: :attr:`opened_by_client`).
    last_opened_at: datetime | None
    revoked_at: datetime | None
    #: When it was last checked: fetched by a mail system's link checker, or within a minute
    #: of a send (see :attr:`opened_by_client`).
    last_checked_at: datetime | None = None
    #: When it was last emailed by the portal (``send``, ``remind``)...
    last_sent_at: datetime | None = None
    #: ... and to which addresses.
    last_sent_to: tuple[str, ...] = ()

    @property
    def opened_by_client(self) -> bool:
        """Whether the client has opened the link, rather than only a mail system's link
        checker: a fetch whose user agent is a link checker's, or any fetch within
        :data:`SCANNER_WINDOW` (a minute) of the link's last send, counts as a check; any
        other ``GET`` as the client's opening (:ref:`opened-or-checked`)."""
        return self.last_opened_at is not None

    @property
    def scope(self) -> AnyScope:
        """The link's scope."""
        if self.kind == INVOICE and self.invoice is not None:
            return Scope.for_invoice(self.account, self.invoice)
        return Scope.for_customer(self.account, self.customer or "", self.status)

    def is_active(self, now: datetime) -> bool:
        """Not revoked and not expired at *now*."""
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


@dataclass(frozen=True)
class StoredLink:
    """One register entry as a store keeps it, times in POSIX seconds (exactly, so that a copy
    orders the link against its customer's cut-off as the original did). Never the token."""

    link_id: str
    account: str
    kind: str
    invoice: int | None
    customer: str | None
    status: str
    minted_at: float
    expires_at: float | None = None
    last_opened_at: float | None = None
    last_checked_at: float | None = None
    last_sent_at: float | None = None
    last_sent_to: tuple[str, ...] = ()

    def fields(self) -> dict[str, t.Any]:
        """The entry as the stores write it, by column or hash field: with the customer's
        key, the addresses of the last send on one line each, ``None`` for what is not known."""
        return {
            "link_id": self.link_id,
            "account": self.account,
            "kind": self.kind,
            "invoice": self.invoice,
            "customer": self.customer,
            "customer_key": customer_key(self.customer) if self.customer else None,
            "status": self.status,
            "minted_at": self.minted_at,
            "expires_at": self.expires_at,
            "last_opened_at": self.last_opened_at,
            "last_checked_at": self.last_checked_at,
            "last_sent_at": self.last_sent_at,
            "last_sent_to": "\n".join(self.last_sent_to) or None,
        }

    def record(self, revoked_at: float | None) -> LinkRecord:
        """The entry as :class:`LinkRecord`, withdrawn at *revoked_at* (``None``: not)."""
        return LinkRecord(
            link_id=self.link_id,
            account=self.account,
            kind=self.kind,
            invoice=self.invoice,
            customer=self.customer,
            status=self.status,
            minted_at=t.cast(datetime, dt(self.minted_at)),
            expires_at=dt(self.expires_at),
            last_opened_at=dt(self.last_opened_at),
            revoked_at=dt(revoked_at),
            last_checked_at=dt(self.last_checked_at),
            last_sent_at=dt(self.last_sent_at),
            last_sent_to=self.last_sent_to,
        )


@dataclass(frozen=True)
class SentRecord:
    """One email of a link: when, and to whom."""

    link_id: str
    sent_at: float
    recipients: tuple[str, ...]


@dataclass(frozen=True)
class StoreContents:
    """Everything a link store holds, read by :meth:`RevocationStore.contents` for a copy to
    another store (``flask kashflow-links store copy``)."""

    #: The register of minted links.
    links: tuple[StoredLink, ...] = ()
    #: Withdrawn link ids (registered or not), with when each was withdrawn.
    revoked: t.Mapping[str, float] = field(default_factory=dict)
    #: Customer cut-offs, ``(account, customer key)`` to the time before which every link of
    #: that customer is withdrawn.
    cutoffs: t.Mapping[tuple[str, str], float] = field(default_factory=dict)
    #: Every email of a link.
    sends: tuple[SentRecord, ...] = ()
    #: When each customer was last reminded, ``(account, customer key)`` to the time.
    reminders: t.Mapping[tuple[str, str], float] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """How many of each kind it holds, by the names :class:`Merged` uses."""
        return {
            "links": len(self.links),
            "revoked": len(self.revoked),
            "cutoffs": len(self.cutoffs),
            "sends": len(self.sends),
            "reminders": len(self.reminders),
        }

    @property
    def empty(self) -> bool:
        """Whether it holds no link, revocation or cut-off."""
        return not (self.links or self.revoked or self.cutoffs)


@dataclass
class Merged:
    """What :meth:`RevocationStore.merge` changed in the store, by kind: entries added, or
    (for a link, a cut-off or a reminder time) moved by the copy. All zero for a store that
    already held everything."""

    links: int = 0
    revoked: int = 0
    cutoffs: int = 0
    sends: int = 0
    reminders: int = 0

    def counts(self) -> dict[str, int]:
        """The counts by kind, in the order of :meth:`StoreContents.counts`."""
        return {
            "links": self.links,
            "revoked": self.revoked,
            "cutoffs": self.cutoffs,
            "sends": self.sends,
            "reminders": self.reminders,
        }


def record_values(claims: LinkClaims, customer: str | None) -> dict[str, t.Any]:
    # The register keeps the precise time of registration (which follows minting at once):
    # the token's own mint time is whole seconds, too coarse to order a link against a
    # revoke_customer() in the same second.
    scope = claims.scope
    expires = claims.expires_at
    customer = scope.customer or customer
    return {
        "link_id": claims.link_id,
        "account": scope.account,
        "kind": scope.kind,
        "invoice": scope.invoice,
        "customer": customer,
        "customer_key": customer_key(customer) if customer else None,
        "status": scope.status,
        "minted_at": max(time.time(), claims.minted_at.timestamp()),
        "expires_at": expires.timestamp() if expires else None,
    }


class RevocationStore(abc.ABC):
    """What every store does. All methods raise :class:`~.StoreUnavailable` on failure."""

    #: A redacted description of where the store lives, for messages.
    location: str

    @property
    @abc.abstractmethod
    def reach(self) -> Reach:
        """Which processes see a revocation at once."""

    def ephemeral_reason(self) -> str | None:
        """Why the store looks likely to vanish on a restart or redeploy, or ``None``."""
        return None

    @abc.abstractmethod
    def ping(self) -> None:
        """Check the store is reachable and usable."""

    @abc.abstractmethod
    def register(self, claims: LinkClaims, *, customer: str | None = None) -> None:
        """Record a newly minted link."""

    @abc.abstractmethod
    def revoke(self, link_id: str, *, now: float | None = None) -> bool:
        """Withdraw one link. Returns whether the link was in the register."""

    @abc.abstractmethod
    def revoke_customer(self, account: str, customer: str, *, now: float | None = None) -> int:
        """Withdraw every link for *customer* minted until *now*.

        Returns how many registered links were live and are now revoked (not counting links
        already revoked, expired, or revoked by an earlier cut-off). Invoice links whose
        customer is not yet known are revoked too, when first opened, but not counted.
        """

    @abc.abstractmethod
    def revoked_reason(
        self, link_id: str, account: str, customer: str | None, minted_at: float
    ) -> str | None:
        """Why the link is revoked (``"link"`` or ``"customer"``), or ``None`` if it is not.

        *customer* is the customer the link reaches (for invoice links: once the invoice has been
        fetched; ``None`` before). *minted_at* is the token's signed mint time (whole seconds);
        the register's precise mint time is preferred when the link is registered.
        """

    @abc.abstractmethod
    def learn_customer(self, link_id: str, customer: str) -> None:
        """Remember the customer of an invoice link once its invoice has been fetched."""

    @abc.abstractmethod
    def touch(self, link_id: str, when: float, *, scanner: bool = False) -> bool | None:
        """Record that the link was fetched at *when*: as a check when *scanner* (a known link
        checker) or within :data:`SCANNER_WINDOW` seconds of its last send, else as the
        client's opening. Returns whether it was the client's opening (``None``: the link is
        not in the register, and nothing was recorded)."""

    @abc.abstractmethod
    def record_sent(self, link_id: str, when: float, recipients: t.Sequence[str]) -> None:
        """Record that the link was emailed at *when* to *recipients*."""

    @abc.abstractmethod
    def claim_reminder(
        self, account: str, customer: str, *, now: float, every: float
    ) -> float | None:
        """Claim the right to remind *customer* now, once across every process sharing the
        store: ``None`` when claimed (the reminder time is now *now*), else the time of the
        reminder within the last *every* seconds that stands in the way."""

    @abc.abstractmethod
    def release_reminder(self, account: str, customer: str, *, previous: float | None) -> None:
        """Give back a claim whose reminder was not sent: the reminder time goes back to
        *previous* (``None``: never reminded)."""

    @abc.abstractmethod
    def last_reminded(self, account: str, customer: str) -> float | None:
        """When *customer* was last reminded, if ever."""

    @abc.abstractmethod
    def get(self, link_id: str) -> LinkRecord | None:
        """The register entry of *link_id*, if any."""

    @abc.abstractmethod
    def records(
        self, *, customer: str | None = None, account: str | None = None, limit: int | None = None
    ) -> list[LinkRecord]:
        """Register entries, newest first, filtered by customer and account (at most *limit*)."""

    @abc.abstractmethod
    def active_links(
        self,
        *,
        customer: str | None = None,
        account: str | None = None,
        now: float | None = None,
        limit: int | None = None,
    ) -> list[LinkRecord]:
        """Live links, newest first (at most *limit*): not revoked (by id, or
        with their customer), not expired."""

    @abc.abstractmethod
    def is_empty(self) -> bool:
        """Whether the store holds no link, revocation or customer cut-off."""

    @abc.abstractmethod
    def contents(self) -> StoreContents:
        """Everything the store holds, for a copy to another store."""

    @abc.abstractmethod
    def merge(self, contents: StoreContents) -> Merged:
        """Add *contents* (another store's), so that every link withdrawn there is withdrawn
        here too; idempotent, and nothing already here is removed or weakened:

        * a link already registered is never registered twice: it keeps the earlier mint time
          (so a cut-off withdraws it if it withdrew either), the later "opened", "checked" and
          "sent" times, and its customer if it had one;
        * a revocation already here stands (with its own time);
        * a customer cut-off or a reminder time only ever moves later;
        * a send already recorded is not recorded again.
        """

    def close(self) -> None:  # noqa: B027 - optional hook, most stores need nothing
        """Release connections (optional)."""


def is_live(record: LinkRecord, cutoff: float | None, now: float) -> bool:
    """Whether a register *record* is live at *now*, given its customer's cut-off (if any)."""
    if not record.is_active(datetime.fromtimestamp(now, tz=timezone.utc)):
        return False
    minted = record.minted_at.timestamp()
    return not is_revoked_by_cutoff(cutoff, minted, minted)


def is_revoked_by_cutoff(cutoff: float | None, minted_at: float, registered: float | None) -> bool:
    if cutoff is None:
        return False
    if registered is not None:
        return registered <= cutoff
    # Unregistered: the token's mint time is whole seconds, so a link minted in the same second
    # as the revocation may have come before it. Refuse it (fail closed).
    return minted_at <= cutoff
