"""The errors of a link that must not open: invalid, expired or revoked.

The outside sees one generic answer per kind and never which check failed; the reason is logged
at debug level with the link id (never the token).
"""

from __future__ import annotations

from datetime import datetime

from ..exceptions import KashFlowLinksError
from .claims import LinkClaims


class LinkError(KashFlowLinksError):
    """A link that must not be opened.

    The blueprint shows clients one page per subclass and never says which check failed; the
    reason is logged at debug level with the link id (never the token).
    """

    def __init__(self, reason: str, *, link_id: str | None = None) -> None:
        #: Why the link was refused, for logs only.
        self.reason = reason
        #: The link id when the token could be decrypted, else ``None``.
        self.link_id = link_id
        super().__init__(reason)


class LinkInvalid(LinkError):
    """Malformed, tampered, forged, or minted by another application or for another purpose."""


class LinkExpired(LinkError):
    """A genuine link whose per-link expiry has passed.

    It still carries its :attr:`claims` so the client can be offered a fresh link with the same
    scope.
    """

    def __init__(self, reason: str, *, claims: LinkClaims, expired_at: datetime) -> None:
        super().__init__(reason, link_id=claims.link_id)
        #: The decrypted claims of the expired link.
        self.claims = claims
        #: When the link expired (timezone-aware UTC).
        self.expired_at = expired_at


class LinkRevoked(LinkError):
    """A genuine link that the business has revoked (by id, or every link of a customer)."""
