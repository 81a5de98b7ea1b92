"""HTTP with KashFlow as both backends speak it: one session, bounded reads, safe exceptions.

* Each API has one :class:`Transport`, built the same way for both: one requests session (no
  cookies), the timeouts, and the backend's counters.
* Every call has a timeout; connection errors, 429, 502, 503 and 504 are retried with urllib3's
  ``Retry`` (exponential backoff, ``Retry-After`` honoured up to a cap); read timeouts are not
  retried, so a page load stays bounded.
* Redirects are never followed automatically (a redirect could carry the credentials
  elsewhere); a document's are followed by hand, each target checked first.
* A streamed answer (a SOAP answer, a document) is read up to a size and before a deadline, so
  a server dripping bytes cannot hold a page for long; a broken transfer is an outage, not a bad
  answer; a document is accepted only as a whole PDF.
* Nothing kept on an exception holds a password, a memorable word or a session token.
* Calls that do not depend on each other (the pages 2..n of a list once page 1 has said how
  many there are, or a customer and their invoice list) are made side by side, a few at a time:
  KashFlow answers slowly (hundreds of milliseconds to seconds a call), so a 260-invoice
  customer costs about two round trips instead of one per page. Each runs in a copy of the
  caller's :mod:`contextvars` context, so whatever the caller's framework keeps there (the
  application context the shared cache needs, for one) is there in the worker threads too,
  without this layer knowing about it; the caller waits for every call, so nothing outlives it.
"""

from __future__ import annotations

import contextvars
import copy
import time
import typing as t
from collections.abc import Iterator
from concurrent.futures import Future
from concurrent.futures import ThreadPoolExecutor
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

T = t.TypeVar("T")

#: How many times a call that failed in a way that passes is retried.
RETRIES = 2
#: The base of the exponential backoff between retries, in seconds (urllib3's
#: ``backoff_factor``; the SQL-timeout retries wait ``BACKOFF * 4 ** n``: 1 s, then 4 s).
BACKOFF = 0.25
#: The longest ``Retry-After`` honoured within one page load, in seconds: a server asking for
#: a longer pause is asked again after this long, and then its answer stands.
MAX_RETRY_AFTER = 3.0
#: Statuses worth asking again (urllib3 retries them with backoff).
TRANSIENT_STATUSES = (429, 502, 503, 504)
#: Redirects followed for one document, at most.
MAX_REDIRECTS = 3
#: The largest PDF ``check`` downloads from a real account.
PROBE_MAX_BYTES = 20 * 1024 * 1024
_CHUNK = 64 * 1024
#: How many independent calls run at once, at most (see :func:`run_together`).
CALLS_AT_ONCE = 4


class BoundedRetry(Retry):
    """urllib3 ``Retry`` that caps ``Retry-After`` and never retries a read timeout.

    A page load must stay bounded: a server asking for a 10-minute pause is retried after at
    most ``max_retry_after`` seconds (then its last answer stands), and a server that is too slow
    to answer is not asked again within the same page load.
    """

    max_retry_after: float = 3.0

    def get_retry_after(self, response: t.Any) -> float | None:
        """The server's ``Retry-After``, at most :attr:`max_retry_after` seconds."""
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
        """The retry state after a failure, as urllib3 counts it; a read timeout is raised
        again instead (it is never retried)."""
        if isinstance(error, ReadTimeoutError):
            # What urllib3 itself does when reads may not be retried: re-raise, so requests
            # reports a ReadTimeout rather than a connection error.
            raise error
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def new(self, **kwargs: t.Any) -> BoundedRetry:
        """A copy with *kwargs* changed, keeping :attr:`max_retry_after`."""
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


@dataclass(frozen=True)
class HttpOptions:
    """How every request to one API is made: a backend's timeout, retries and backoff.

    Without a value, each of the last three takes its module constant (:data:`RETRIES`,
    :data:`BACKOFF`, :data:`MAX_RETRY_AFTER`) when the backend is made.
    """

    #: ``(connect, read)`` seconds for every request.
    timeout: tuple[float, float]
    #: Retries for connection errors, 429, 502, 503 and 504.
    retries: int
    #: The base of the exponential backoff between retries, in seconds.
    backoff: float
    #: The longest ``Retry-After`` honoured, in seconds.
    max_retry_after: float

    @classmethod
    def of(
        cls,
        timeout: tuple[float, float],
        retries: int | None = None,
        backoff: float | None = None,
        max_retry_after: float | None = None,
    ) -> HttpOptions:
        """These options, the module constants filling in what is not given."""
        return cls(
            timeout,
            RETRIES if retries is None else retries,
            BACKOFF if backoff is None else backoff,
            MAX_RETRY_AFTER if max_retry_after is None else max_retry_after,
        )


class Transport:
    """One KashFlow API's address and requests session, and its backend's counters: what both
    backends build the same way. :class:`~.rest_http.RestTransport` and
    :class:`~.soap_http.SoapTransport` add their API's calls and how its failures map to the
    exception tree.

    :param base_url: the API's address (a trailing slash is dropped).
    :param options: the timeout, retries and backoff of every request.
    """

    #: The ``Accept`` header of every request (each API's transport names its own).
    accept: t.ClassVar[str]

    def __init__(self, base_url: str, options: HttpOptions) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = options.timeout
        self.retries = options.retries
        self.backoff = options.backoff
        #: The backend's counters (its ``stats``).
        self.stats = ClientStats()
        self.http = _new_session(options, accept=self.accept)

    def request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        headers: dict[str, str] | None = None,
        params: dict[str, t.Any] | None = None,
        json: t.Any = None,
        data: bytes | None = None,
        stream: bool = False,
        auth: requests.auth.AuthBase | None = None,
    ) -> requests.Response:
        """One request, counted, with the timeout and without following a redirect (which could
        carry the credentials or the session token elsewhere).

        :raises KashFlowUnavailable: a timeout, or no connection after the retries (*what* was
            being sent).
        """
        with _transport_errors(what, urlsplit(url).netloc):
            response = self.http.request(
                method,
                url,
                headers=headers,
                params=params,
                json=json,
                data=data,
                timeout=self.timeout,
                stream=stream,
                auth=auth,
                allow_redirects=False,
            )
        self.stats.add("requests")
        return response


def _new_session(options: HttpOptions, *, accept: str) -> requests.Session:
    """A :class:`requests.Session` with bounded retries, no cookies and no redirects."""
    retry = BoundedRetry(
        total=options.retries,
        connect=options.retries,
        read=options.retries,
        status=options.retries,
        other=0,
        redirect=0,
        status_forcelist=TRANSIENT_STATUSES,
        allowed_methods=None,  # our POST/PUT are logins and reads; retrying them is safe
        backoff_factor=options.backoff,
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
    )
    retry.max_retry_after = options.max_retry_after
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


def _kept(response: requests.Response) -> requests.Response:
    """*response*, made safe to keep on an exception: its request, and those of the responses
    in its history (a 401 answered before logging in again), lose token, body and hooks."""
    for earlier in (*response.history, response):
        earlier.request = redacted(earlier.request)  # type: ignore[assignment]
    return response


def about(response: requests.Response) -> dict[str, t.Any]:
    """``request=`` and ``response=`` for an exception about *response*, both safe to keep
    (see :func:`_kept`)."""
    _kept(response)
    return {"request": response.request, "response": response}


@contextmanager
def _transport_errors(what: str, host: str) -> Iterator[None]:
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
        _kept(error.response)
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


def read_body(response: requests.Response, *, max_bytes: int, deadline: float, what: str) -> bytes:
    """The whole body of a streamed *response*, at most *max_bytes*, read before *deadline*
    (``time.monotonic()``). The response is closed whatever happens.

    :raises KashFlowBadResponse: the body is larger than *max_bytes*.
    :raises KashFlowUnavailable: the transfer broke off or outlasted the deadline.
    """
    chunks, size = [], 0
    try:
        for chunk in response.iter_content(_CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise KashFlowBadResponse(f"KashFlow's {what} exceeds {max_bytes} bytes")
            if time.monotonic() > deadline:
                raise KashFlowUnavailable(f"KashFlow's {what} took too long to arrive")
            chunks.append(chunk)
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as e:
        raise KashFlowUnavailable(f"KashFlow's {what} broke off ({type(e).__name__})") from None
    finally:
        response.close()
    return b"".join(chunks)


def pdf_body(
    response: requests.Response, *, max_bytes: int, deadline: float, not_pdf_hint: str = ""
) -> bytes:
    """The PDF in a streamed HTTP 200 *response*, read as :func:`read_body` reads.

    A content type other than PDF (or a generic binary one) is refused before the body is
    read; a body that does not start as a PDF or lacks its end marker (a truncated or
    substituted file) is refused after. *not_pdf_hint* is added to the first refusal's
    message, to say what such an answer usually means for the caller's API.

    :raises KashFlowBadResponse: not a PDF, an incomplete one, or larger than *max_bytes*.
    :raises KashFlowUnavailable: the transfer broke off or outlasted the deadline.
    """
    kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if kind and not any(k in kind for k in ("pdf", "octet-stream")):
        response.close()
        raise KashFlowBadResponse(
            f"KashFlow sent {kind} for a document instead of a PDF{not_pdf_hint}"
        )
    body = read_body(response, max_bytes=max_bytes, deadline=deadline, what="document")
    if not body.startswith(b"%PDF-") or b"%%EOF" not in body[-2048:]:
        raise KashFlowBadResponse("KashFlow sent an incomplete or non-PDF document")
    return body


def run_together(calls: t.Sequence[t.Callable[[], T]], *, limit: int = CALLS_AT_ONCE) -> list[T]:
    """Run *calls* side by side, at most *limit* at once; their results in order.

    The first failure (in the order of *calls*) is raised once the calls already running have
    finished; calls not yet started are cancelled.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    if len(calls) <= 1 or limit == 1:
        return [call() for call in calls]
    with ThreadPoolExecutor(
        max_workers=min(limit, len(calls)), thread_name_prefix="kashflow-call"
    ) as pool:
        futures: list[Future[T]] = [
            # One context copy per call: a context can be entered by one thread at a time.
            pool.submit(contextvars.copy_context().run, call)
            for call in calls
        ]
        try:
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise
