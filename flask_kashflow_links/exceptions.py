"""The exception tree of flask-kashflow-links.

Every exception the extension raises on purpose derives from :class:`KashFlowLinksError`.
They carry data (the link id, the expiry, the HTTP request and response) so callers can act on
them, and they are free of HTTP semantics so they work outside a request; the blueprint turns
them into pages. The link errors carry a link's claims, so they are defined with them, in
:mod:`flask_kashflow_links.links.errors`; every one is importable from
:mod:`flask_kashflow_links`.

::

    KashFlowLinksError
    ├── ConfigurationError          init_app: a KASHFLOW_LINKS_* key is missing or wrong
    ├── LinkURLError                Link.url outside a request with no public URL configured
    ├── LinkError                   a link that must not open (the outside sees one generic answer)
    │   ├── LinkInvalid             malformed, forged, another app's or another purpose's token
    │   ├── LinkExpired             genuine but past its per-link expiry (.claims, .expired_at)
    │   └── LinkRevoked             genuine but revoked by the business (.link_id)
    ├── StoreUnavailable            the revocation store cannot be reached (fail closed)
    └── KashFlowError               talking to KashFlow failed (.request, .response)
        ├── KashFlowNotFound        no such invoice, customer or document
        ├── KashFlowAuthError       login refused: wrong username, password or memorable word
        │   ├── KashFlowAccountLocked   KashFlow locked the user, or logins are paused (.retry_at)
        │   │   └── KashFlowLoginsPaused    no login tried: paused after a refusal or a lock
        │   └── KashFlowPasswordExpired the user must choose a new password in KashFlow
        ├── KashFlowDenied          one request refused to a valid session (a role, a document)
        ├── KashFlowUnavailable     timeouts, connection errors, 5xx, 429 after retries
        └── KashFlowBadResponse     a body that is not what the documented API returns
"""

from __future__ import annotations

import typing as t
from datetime import datetime

if t.TYPE_CHECKING:  # pragma: no cover
    import requests


class KashFlowLinksError(Exception):
    """Base class of every error raised by flask-kashflow-links."""


class ConfigurationError(KashFlowLinksError, ValueError):
    """A ``KASHFLOW_LINKS_*`` setting is missing or invalid.

    Raised by :meth:`KashFlowLinks.init_app` so a misconfigured site fails at start-up, not on
    the first click. The message names the key and the fix.
    """

    def __init__(self, key: str, message: str) -> None:
        #: The configuration key at fault, e.g. ``"KASHFLOW_LINKS_FERNET_KEYS"``.
        self.key = key
        super().__init__(f"{key}: {message}")


class LinkURLError(KashFlowLinksError, RuntimeError):
    """An absolute link URL was asked for outside a request, with no base URL configured.

    Set ``KASHFLOW_LINKS_PUBLIC_URL`` (or Flask's ``SERVER_NAME``). The token itself can always
    be minted.
    """


class StoreUnavailable(KashFlowLinksError):
    """The revocation store could not be reached.

    Links are refused while this lasts: a link that cannot be checked is never admitted.
    """


class KashFlowError(KashFlowLinksError):
    """Something went wrong talking to KashFlow.

    Like :mod:`requests`' exceptions, it carries the :attr:`request` and :attr:`response` when
    there were any. Messages are written for an operator and never contain a password,
    memorable word or session token.
    """

    def __init__(
        self,
        message: str,
        *,
        request: requests.PreparedRequest | None = None,
        response: requests.Response | None = None,
        error_code: str | None = None,
    ) -> None:
        super().__init__(message)
        #: The request that failed, if one was sent (its Authorization header is redacted).
        self.request = request
        #: The response, if one was received.
        self.response = response
        #: KashFlow's ``Error`` field from the body, e.g. ``"InvalidSessionToken"``.
        self.error_code = error_code

    @property
    def status_code(self) -> int | None:
        """The HTTP status of the response, if there was one."""
        return self.response.status_code if self.response is not None else None


class KashFlowNotFound(KashFlowError):
    """KashFlow has no such invoice, customer or document."""


class KashFlowAuthError(KashFlowError):
    """KashFlow refused the login: wrong username, password or memorable word, or the API is off.

    :attr:`step` is ``"password"`` or ``"memorable_word"``: which of the two login steps failed.
    """

    def __init__(self, message: str, *, step: str | None = None, **kwargs: t.Any) -> None:
        super().__init__(message, **kwargs)
        #: ``"password"`` (``POST /sessiontoken``) or ``"memorable_word"`` (``PUT``).
        self.step = step
        #: True when the refused credentials came from an embed-mode link.
        self.embedded = False


class KashFlowAccountLocked(KashFlowAuthError):
    """The KashFlow user is locked, or logins are paused after failures.

    No login is attempted before :attr:`retry_at`; pages are served from the cache meanwhile.
    """

    def __init__(self, message: str, *, retry_at: datetime | None = None, **kwargs: t.Any) -> None:
        super().__init__(message, **kwargs)
        #: When logins may be tried again (timezone-aware UTC), if known.
        self.retry_at = retry_at


class KashFlowLoginsPaused(KashFlowAccountLocked):
    """No login was tried: logins are paused after KashFlow refused one or locked the user.

    Raised without asking KashFlow, until :attr:`retry_at`, so that retries (by several
    workers, or by ``flask kashflow-links check``) cannot lock the user out.
    """


class KashFlowPasswordExpired(KashFlowAuthError):
    """KashFlow refused the login because the user's password has expired (``PasswordExpired``).

    The credentials are right but unusable until someone signs in to KashFlow as that user
    and chooses a new password, which then belongs in the configuration.
    """


class KashFlowDenied(KashFlowError):
    """KashFlow refused one request although the session token is valid: an HTTP 401 whose
    ``Error`` is not ``InvalidSessionToken`` (a role that may not read something, a document's
    own permissions).

    Only that resource is refused: the shared session is kept, no login is attempted and no
    login pause starts, so other pages keep working.
    """


class KashFlowUnavailable(KashFlowError):
    """KashFlow did not answer usefully: timeout, connection error, 5xx, or 429 after retries."""


class KashFlowBadResponse(KashFlowError):
    """KashFlow answered with something that is not the documented shape (bad JSON, bad PDF)."""
