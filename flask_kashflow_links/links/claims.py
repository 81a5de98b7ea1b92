"""What a link opens (its scope), its verified claims, and link ids."""

from __future__ import annotations

import base64
import re
import secrets
import typing as t
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import datetime
from datetime import timedelta

from ..kashflow.backend import Credentials
from ..kashflow.models import Invoice
from ..kashflow.models import same_customer

#: Link kinds.
INVOICE = "invoice"
CUSTOMER = "customer"

#: Status filters of a customer link, in their packed order. ``unpaid`` means KashFlow's
#: Unpaid and Overdue; ``paid`` means Paid and Overpaid.
STATUSES: tuple[str, ...] = ("all", "unpaid", "overdue", "paid")

#: The payload format written by this version. Readers accept every version they know.
TOKEN_VERSION = 1

LINK_ID_BYTES = 8
MAX_INVOICE_NUMBER = 2**63 - 1
#: The longest lifetime a link is minted with: a hundred years. A longer one is permanent in
#: all but name (leave the expiry out), and one far longer has no date to end on (Python's
#: dates stop at the year 9999).
MAX_LIFETIME = timedelta(days=36_500)
#: What a lifetime past :data:`MAX_LIFETIME` is told.
TOO_LONG = (
    "a link lifetime is at most a hundred years (36500 days); for a permanent link leave the "
    "expiry out"
)
_LINK_ID_SHAPE = re.compile(r"[a-z2-7]{13}")

# A link token is three base64url segments: payload, timestamp, signature.
_PAYLOAD_AND_TIME = r"[A-Za-z0-9_-]{40,}\.[A-Za-z0-9_-]{1,12}\."
#: The shape of a link token (match it whole with ``fullmatch``).
TOKEN_SHAPE = re.compile(_PAYLOAD_AND_TIME + r"[A-Za-z0-9_-]{20,64}")
# In a request line a token's characters may be percent-encoded (Flask decodes the path, so
# /invoices/%67AAAA... opens the link): each is a base64url character or its %XX (either case),
# and each dot a dot or %2E. Only the encodings of base64url characters count as token
# characters, so that %2F (a slash) still ends a run, as "/" does.
_HEX_OF_B64 = r"(?:3[0-9]|4[1-9A-Fa-f]|5[0-9Aa]|5[Ff]|6[1-9A-Fa-f]|7[0-9Aa]|2[Dd])"
_B64 = r"(?:[A-Za-z0-9_-]|%" + _HEX_OF_B64 + r")"
_DOT = r"(?:\.|%2[Ee])"
#: A link token inside free text, such as a log line, written plainly or percent-encoded.
#: Scanning must stay linear in the text's length however long an attacker's User-Agent or
#: Referer is, so a match may start only where a run of token characters starts: not after a
#: base64url character (unless it ends a %2E, a dot), nor inside the %XX of a token character
#: or of a dot (the lookarounds). An unanchored pattern retries every
#: position of a long run, each scan running to the run's end. Each character is read one way
#: only, so a failed match backtracks once over its run. The signature takes the rest of its
#: run, so whatever a token is glued to goes with it. Whatever the unanchored pattern would
#: find in the text with its token characters decoded, this finds too, from the start of the
#: same run.
TOKEN_IN_TEXT = re.compile(
    r"(?:(?<![A-Za-z0-9_-])|(?<=%2[Ee]))(?!(?<=%)(?:"
    + _HEX_OF_B64
    + r"|2[Ee]))"
    + _B64
    + r"{40,}"
    + _DOT
    + _B64
    + r"{1,12}"
    + _DOT
    + _B64
    + r"{20,}"
)


def new_link_id() -> str:
    """Return a new random link id: 64 bits, 13 lower-case base32 characters."""
    return link_id_text(secrets.token_bytes(LINK_ID_BYTES))


def link_id_text(raw: bytes) -> str:
    """The text form of a link id's *raw* bytes: lower-case base32 without padding."""
    return base64.b32encode(raw).decode("ascii").rstrip("=").lower()


def is_link_id(value: str) -> bool:
    """Whether *value* has the shape of a link id (as opposed to a token)."""
    return bool(_LINK_ID_SHAPE.fullmatch(value))


def _require_account_id(account: str) -> None:
    if not isinstance(account, str) or not account:
        raise ValueError("a link needs an account id")
    if len(account.encode()) > 255:
        raise ValueError("account id too long (more than 255 bytes)")


@dataclass(frozen=True)
class Scope:
    """What a link opens: an :class:`InvoiceScope` (one invoice) or a :class:`CustomerScope` (a
    customer's invoices, filtered by status). Make one with :meth:`for_invoice` or
    :meth:`for_customer`.
    """

    #: The KashFlow account id (a key of ``KASHFLOW_LINKS_ACCOUNTS``).
    account: str

    #: ``"invoice"`` or ``"customer"``.
    kind: t.ClassVar[str]

    @staticmethod
    def for_invoice(account: str, number: int) -> InvoiceScope:
        """The scope of a link to one invoice."""
        return InvoiceScope(account, number)

    @staticmethod
    def for_customer(account: str, code: str, status: str = "all") -> CustomerScope:
        """The scope of a link to a customer's invoices with a status filter."""
        return CustomerScope(account, code, status)

    @property
    def is_invoice(self) -> bool:
        """True for a link to one invoice."""
        return isinstance(self, InvoiceScope)

    def describe(self) -> str:
        """A short human description, e.g. ``"unpaid invoices of TCUST01"``."""
        raise NotImplementedError


@dataclass(frozen=True)
class InvoiceScope(Scope):
    """The scope of a link to one invoice."""

    #: The invoice number.
    invoice: int

    kind: t.ClassVar[str] = INVOICE

    def __post_init__(self) -> None:
        _require_account_id(self.account)
        if not isinstance(self.invoice, int) or isinstance(self.invoice, bool):
            raise ValueError("an invoice link needs an integer invoice number")
        if not 0 < self.invoice <= MAX_INVOICE_NUMBER:
            raise ValueError(f"invoice number out of range: {self.invoice}")

    @property
    def customer(self) -> None:
        """An invoice link names no customer (its invoice does)."""
        return None

    @property
    def status(self) -> str:
        """An invoice link has no status filter: ``"all"``."""
        return "all"

    def describe(self) -> str:
        return f"invoice {self.invoice}"


@dataclass(frozen=True)
class CustomerScope(Scope):
    """The scope of a link to a customer's invoices, filtered by status."""

    #: The customer code.
    customer: str
    #: The status filter: one of :data:`STATUSES`.
    status: str = "all"

    kind: t.ClassVar[str] = CUSTOMER

    def __post_init__(self) -> None:
        _require_account_id(self.account)
        if not isinstance(self.customer, str) or not self.customer.strip():
            raise ValueError("a customer link needs a customer code")
        if len(self.customer.encode()) > 255:
            raise ValueError("customer code too long (more than 255 bytes)")
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}; use one of {', '.join(STATUSES)}")

    @property
    def invoice(self) -> None:
        """A customer link names no single invoice."""
        return None

    def describe(self) -> str:
        return f"{self.status} invoices of {self.customer}"


#: Either kind of scope (what a link's ``scope`` is).
AnyScope = InvoiceScope | CustomerScope


@dataclass(frozen=True)
class LinkClaims:
    """The verified contents of a link token."""

    scope: AnyScope
    link_id: str
    #: When the link was minted (timezone-aware UTC, to the second).
    minted_at: datetime
    #: The link's lifetime, or ``None`` for a permanent link.
    lifetime: timedelta | None = None
    #: The KashFlow credentials carried by an embed-mode link.
    credentials: Credentials | None = field(default=None, repr=False)
    version: int = TOKEN_VERSION

    @property
    def expires_at(self) -> datetime | None:
        """When the link expires, or ``None`` for a permanent link."""
        return None if self.lifetime is None else self.minted_at + self.lifetime


def in_scope(scope: AnyScope, invoice: Invoice, today: date) -> bool:
    """Whether a link with *scope* may show *invoice*, decided from the invoice's own data.

    Never from what a list endpoint was asked for: a server may ignore ``customercode`` or
    ``filterby``. Customer codes compare as KashFlow compares them, case-insensitively, with the
    same function revocation uses (:func:`~flask_kashflow_links.kashflow.models.customer_key`):
    a link for ``tcust01`` shows customer ``TCUST01``, and ``revoke_customer`` reaches every
    link that can see a customer. An invoice without a customer code is in no customer's scope.
    """
    if isinstance(scope, InvoiceScope):
        return invoice.number == scope.invoice
    return same_customer(invoice.customer_code, scope.customer) and invoice.has_status(
        scope.status, today
    )
