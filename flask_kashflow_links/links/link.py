"""The :class:`Link` returned by minting, and how its absolute URL is built."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from urllib.parse import urlsplit

from flask import current_app
from flask import has_request_context
from flask import url_for

from ..exceptions import LinkURLError
from .claims import AnyScope
from .claims import LinkClaims

ENDPOINT = "kashflow_links.open_link"


@dataclass(frozen=True)
class Link:
    """A minted link: hand :attr:`url` to the client, keep :attr:`link_id` to revoke it."""

    #: The link token (the secret part of the URL). Treat it like a password: never log it.
    token: str = field(repr=False)
    #: The link's id, for listing and revoking; safe to log and show to staff.
    link_id: str
    #: What the link opens.
    scope: AnyScope
    #: When the link was minted (UTC).
    minted_at: datetime
    #: When it expires (UTC), or ``None`` for a permanent link.
    expires_at: datetime | None
    _url: str | None = field(default=None, repr=False)
    #: The customer the link is listed under: a customer link's, or an invoice link's when it
    #: was known at minting (otherwise learnt when the link is first opened).
    customer: str | None = None

    @property
    def url(self) -> str:
        """The absolute URL of the link.

        :raises LinkURLError: if it was minted outside a request with neither
            ``KASHFLOW_LINKS_PUBLIC_URL`` nor ``SERVER_NAME`` configured.
        """
        if self._url is None:
            raise LinkURLError(
                "cannot build an absolute link URL outside a request: set "
                "KASHFLOW_LINKS_PUBLIC_URL (e.g. 'https://www.example.co.uk/billing') or Flask's "
                "SERVER_NAME. The link token itself is in Link.token."
            )
        return self._url

    @classmethod
    def from_claims(
        cls, token: str, claims: LinkClaims, public_url: str | None, customer: str | None = None
    ) -> Link:
        """Wrap freshly minted claims, building the URL if the context allows."""
        return cls(
            token=token,
            link_id=claims.link_id,
            scope=claims.scope,
            minted_at=claims.minted_at,
            expires_at=claims.expires_at,
            _url=link_url(token, public_url),
            customer=claims.scope.customer or customer,
        )


def has_url_base(public_url: str | None) -> bool:
    """Whether :func:`link_url` can build an absolute URL here: inside a request, or with
    ``KASHFLOW_LINKS_PUBLIC_URL`` (*public_url*) or Flask's ``SERVER_NAME``."""
    return has_request_context() or bool(public_url or current_app.config.get("SERVER_NAME"))


def link_url(token: str, public_url: str | None) -> str | None:
    """The absolute URL of *token*, or ``None`` when no base URL is known.

    ``KASHFLOW_LINKS_PUBLIC_URL``, when set, always wins, inside a request or outside one: a
    request's Host header is the client's to write. Without it, inside a request the URL
    follows the request (host, scheme, prefix); outside one (CLI, jobs) it comes from Flask's
    ``SERVER_NAME``/``APPLICATION_ROOT``/``PREFERRED_URL_SCHEME``.
    """
    if public_url:
        return f"{public_url}/invoices/{token}"
    if has_request_context() or current_app.config.get("SERVER_NAME"):
        return url_for(ENDPOINT, token=token, _external=True)
    return None


def mailed_url(token: str, public_url: str | None) -> str | None:
    """The absolute URL of *token* for an email, from configuration only, never from a
    request: ``KASHFLOW_LINKS_PUBLIC_URL``, else Flask's ``SERVER_NAME`` with
    ``APPLICATION_ROOT`` and ``PREFERRED_URL_SCHEME``; ``None`` when neither is set.

    A request's host, scheme and port are the client's to write (``TRUSTED_HOSTS`` admits
    several names, and says nothing of the scheme or port), and an emailed link must send the
    customer to this site whatever a request claimed.
    """
    if public_url:
        return f"{public_url}/invoices/{token}"
    # Bound to SERVER_NAME and the app's settings, not to the request being served.
    adapter = current_app.create_url_adapter(None)
    if adapter is None:
        return None
    return adapter.build(ENDPOINT, {"token": token}, force_external=True)


def configured_host(public_url: str | None) -> str | None:
    """This site's host name from configuration only, never from a request's Host header: the
    host of ``KASHFLOW_LINKS_PUBLIC_URL``, else of ``SERVER_NAME``; ``None`` if neither is
    set."""
    config = current_app.config
    for base in (public_url, config.get("SERVER_NAME")):
        if base:
            # A SERVER_NAME or a trusted host is "name[:port]": read it as a URL's netloc.
            host = urlsplit(str(base) if "://" in base else "//" + base).hostname
            if host:
                return host
    return None
