"""HTTP plumbing shared by the backends: bounded retries, one session, safe exceptions.

Every call has a timeout; connection errors, 429, 502, 503 and 504 are retried with urllib3's
``Retry`` (exponential backoff, ``Retry-After`` honoured up to a cap); read timeouts are not
retried, so a page load stays bounded; redirects are never followed automatically (a redirect
could carry the credentials elsewhere). Nothing kept on an exception holds a password, a
memorable word or a session token.
"""

from __future__ import annotations

import copy
import typing as t
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from types import TracebackType
from urllib.parse import urljoin
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

from ..exceptions import KashFlowBadResponse
from ..exceptions import KashFlowUnavailable
from ..stats import Counters

#: Statuses worth asking again (urllib3 retries them with backoff).
TRANSIENT_STATUSES = (429, 502, 503, 504)
#: Redirects followed for one document, at most.
MAX_REDIRECTS = 3


class BoundedRetry(Retry):
    """urllib3 ``Retry`` that caps ``Retry-After`` and never retries a read timeout.

    A page load must stay bounded: a server asking for a 10-minute pause is retried after at
    most ``max_retry_after`` seconds (then its last answer stands), and a server that is too slow
    to answer is not asked again within the same page load.
    """

    max_retry_after: float = 3.0

    def get_retry_after(self, response: t.Any) -> float | None:
        retry_after = super().get_retry_after(response)
        if retry_after is None:
            return None
        return min(retry_after, self.max_retry_after)

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: t.Any = None,
        error: Exception | None = None,
        _pool: t.Any = None,
        _stacktrace: TracebackType | None = None,
    ) -> BoundedRetry:
        if isinstance(error, ReadTimeoutError):
            # What urllib3 itself does when reads may not be retried: re-raise, so requests
            # reports a ReadTimeout rather than a connection error.
            raise error
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def new(self, **kwargs: t.Any) -> BoundedRetry:
        retry = super().new(**kwargs)
        retry.max_retry_after = self.max_retry_after
        return retry


@dataclass
class ClientStats(Counters):
    """Counters of one backend, for tests, benchmarks and the ``check`` command."""

    requests: int = 0
    logins: int = 0
    failed_logins: int = 0
    sql_timeout_retries: int = 0


def new_session(
    *, retries: int, backoff: float, max_retry_after: float, accept: str
) -> requests.Session:
    """A :class:`requests.Session` with bounded retries, no cookies and no redirects."""
    retry = BoundedRetry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        redirect=0,
        status_forcelist=TRANSIENT_STATUSES,
        allowed_methods=None,  # our POST/PUT are logins and reads; retrying them is safe
        backoff_factor=backoff,
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
    )
    retry.max_retry_after = max_retry_after
    session = requests.Session()
    # Never keep cookies: one session serves every account, and KashFlow authenticates each
    # call on its own (a header, or the credentials in the body).
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    adapter = HTTPAdapter(max_retries=retry, pool_maxsize=32)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers.update({"Accept": accept, "User-Agent": "flask-kashflow-links"})
    return session


def redacted(request: requests.PreparedRequest | None) -> requests.PreparedRequest | None:
    """A copy of *request* safe to keep on an exception: no session token, no body (a login or
    SOAP body carries the password), no hooks (the authentication hook holds the session token
    and, through the login it serves, the credentials)."""
    if request is None:
        return None
    safe = copy.copy(request)
    safe.headers = copy.copy(request.headers)
    if "Authorization" in safe.headers:
        safe.headers["Authorization"] = "KfToken ***"
    safe.body = None
    safe.hooks = {"response": []}
    return safe


def kept(response: requests.Response) -> requests.Response:
    """*response*, made safe to keep on an exception: its request, and those of the responses
    in its history (a 401 answered before logging in again), lose token, body and hooks."""
    for earlier in (*response.history, response):
        earlier.request = redacted(earlier.request)  # type: ignore[assignment]
    return response


def about(response: requests.Response) -> dict[str, t.Any]:
    """``request=`` and ``response=`` for an exception about *response*, both safe to keep
    (see :func:`kept`)."""
    kept(response)
    return {"request": response.request, "response": response}


@contextmanager
def transport_errors(what: str, host: str) -> Iterator[None]:
    """Turn a timeout or a connection that failed (after urllib3's retries) while sending
    *what* to *host* into :class:`~flask_kashflow_links.KashFlowUnavailable`, keeping only the
    redacted request."""
    try:
        yield
    except requests.Timeout as e:
        raise KashFlowUnavailable(
            f"KashFlow did not answer {what} in time", request=_disarmed(e)
        ) from None
    except (requests.ConnectionError, requests.exceptions.RetryError) as e:
        raise KashFlowUnavailable(
            f"cannot reach KashFlow at {host} ({type(e).__name__}: check the URL, DNS and "
            "firewall)",
            request=_disarmed(e),
        ) from None


def _disarmed(error: requests.RequestException) -> requests.PreparedRequest | None:
    """*error*'s request, redacted, after making *error* itself safe to keep: raised from a
    context manager, our exception keeps *error* as its ``__context__`` whatever we do
    (``from None`` only hides it), and *error* holds the request as sent (a login's body)."""
    request = redacted(error.request)  # type: ignore[arg-type]
    error.request = request
    if error.response is not None:
        kept(error.response)
    return request


def origin(url: str) -> tuple[str, str]:
    """``(scheme, host[:port])`` of *url*, lower-cased."""
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def follow_redirects(
    get: t.Callable[[str], requests.Response], url: str, *, checked: t.Callable[[str], str]
) -> requests.Response:
    """The answer ``get`` gives for *url*, after at most :data:`MAX_REDIRECTS` redirects
    followed by hand: each target goes through *checked* first, which returns the URL to ask
    or raises (a redirect must never take a request, or what it carries, elsewhere).

    :raises KashFlowBadResponse: more redirects than that.
    """
    for _ in range(MAX_REDIRECTS + 1):
        response = get(url)
        if not response.is_redirect:
            return response
        target = urljoin(url, response.headers.get("Location", ""))
        response.close()
        url = checked(target)
    raise KashFlowBadResponse(f"KashFlow redirected a document more than {MAX_REDIRECTS} times")


__all__ = [
    "TRANSIENT_STATUSES",
    "BoundedRetry",
    "ClientStats",
    "about",
    "kept",
    "new_session",
    "redacted",
    "transport_errors",
]
