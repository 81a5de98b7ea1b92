"""The KashFlow REST v2 client: login, requests, retries, paging, error mapping.

It follows KashFlow's documented protocol exactly: ``POST /sessiontoken`` with ``UserName`` and
``Password``; ``PUT /sessiontoken`` answering the ``MemorableWordList`` positions (1-based, one
character each) with the ``TemporaryToken``; then ``Authorization: KfToken <SessionToken>`` on
every call. Lists are read in the ``Data``/``MetaData`` envelope with ``perpage=100`` sorted by
``Number``. Anything the server sends is checked rather than trusted: page sizes, filters and
URLs in ``MetaData`` may differ from what was asked, and a document link is only ever fetched
from the configured API host.
"""

from __future__ import annotations

import copy
import logging
import time
import typing as t
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone
from http.cookiejar import DefaultCookiePolicy
from types import TracebackType
from urllib.parse import quote
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

from ..exceptions import KashFlowAccountLocked
from ..exceptions import KashFlowAuthError
from ..exceptions import KashFlowBadResponse
from ..exceptions import KashFlowError
from ..exceptions import KashFlowNotFound
from ..exceptions import KashFlowUnavailable
from ..stats import Counters
from .credentials import Credentials
from .models import Customer
from .models import Invoice
from .parsing import as_list
from .parsing import as_mapping
from .parsing import loads
from .parsing import parse_int
from .parsing import parse_text
from .session import Login
from .session import SessionTokens

log = logging.getLogger(__name__)

#: KashFlow's leaked .NET SqlException number for a server-side query timeout: transient.
SQL_TIMEOUT_ERROR = "-2146232060"
#: Page size asked for when listing (servers may return fewer per page).
PER_PAGE = 100
#: A bound on pages followed, so a server that never says "last page" cannot loop us.
MAX_PAGES = 1000

#: KashFlow's list filter values for the portal's statuses (the ``filterby`` parameter).
STATUS_FILTERS = {"unpaid": "Unpaid", "overdue": "Overdue", "paid": "Paid"}


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
    """Counters for tests, benchmarks and the ``check`` command."""

    requests: int = 0
    logins: int = 0
    failed_logins: int = 0
    sql_timeout_retries: int = 0


@dataclass(frozen=True)
class LoginResult:
    """What a successful login told us (never the token itself in reprs)."""

    session_token: str
    company_name: str = ""
    has_temporary_password: bool = False
    subscription_expired: bool = False

    def __repr__(self) -> str:
        return f"LoginResult(company_name={self.company_name!r}, session_token=***)"


def _error_of(response: requests.Response) -> tuple[str, str]:
    """KashFlow's ``Error`` and ``Message`` from an error body (safe to log)."""
    try:
        data = as_mapping(loads(response.content))
    except ValueError:
        return "", ""
    return (
        parse_text(data.get("Error"), limit=60),
        parse_text(data.get("Message"), limit=200).replace("\n", " "),
    )


def _redacted(request: requests.PreparedRequest | None) -> requests.PreparedRequest | None:
    """A copy of *request* safe to keep on an exception: no session token, no password."""
    if request is None:
        return None
    safe = copy.copy(request)
    safe.headers = copy.copy(request.headers)
    if "Authorization" in safe.headers:
        safe.headers["Authorization"] = "KfToken ***"
    if safe.url and "/sessiontoken" in safe.url:
        safe.body = None
    return safe


class KashFlowClient:
    """Talks to one KashFlow REST v2 API (``base_url``) for any number of accounts.

    :param base_url: e.g. ``https://api.kashflow.com/v2``.
    :param tokens: where session tokens, login locks and cool-downs are kept.
    :param timeout: ``(connect, read)`` seconds for every call.
    :param retries: retries for connection errors, 429, 502, 503, 504 and SQL timeouts.
    :param backoff: base of the exponential backoff, in seconds.
    :param max_retry_after: the longest ``Retry-After`` honoured, in seconds.
    :param login_cooldown: seconds without logins after a refused login or ``AccountLocked``.
    """

    def __init__(
        self,
        base_url: str,
        *,
        tokens: SessionTokens,
        timeout: tuple[float, float] = (3.05, 10.0),
        retries: int = 2,
        backoff: float = 0.25,
        max_retry_after: float = 3.0,
        login_cooldown: float = 900,
        sleep: t.Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.login_cooldown = login_cooldown
        self.stats = ClientStats()
        self._sleep = sleep
        retry = BoundedRetry(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            other=0,
            redirect=0,
            status_forcelist=(429, 502, 503, 504),
            allowed_methods=None,  # our POST/PUT are the login; retrying them is safe
            backoff_factor=backoff,
            respect_retry_after_header=True,
            raise_on_status=False,
            raise_on_redirect=False,
        )
        retry.max_retry_after = max_retry_after
        self.http = requests.Session()
        # Never keep cookies: one session serves every account, and KashFlow authenticates
        # with the KfToken header alone.
        self.http.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        adapter = HTTPAdapter(max_retries=retry, pool_maxsize=32)
        self.http.mount("http://", adapter)
        self.http.mount("https://", adapter)
        self.http.headers.update(
            {"Accept": "application/json", "User-Agent": "flask-kashflow-links"}
        )

    # -- HTTP ----------------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        params: dict[str, t.Any] | None = None,
        json: t.Any = None,
        stream: bool = False,
    ) -> requests.Response:
        attempt = 0
        while True:
            try:
                response = self.http.request(
                    method,
                    url,
                    headers=headers,
                    params=params,
                    json=json,
                    timeout=self.timeout,
                    stream=stream,
                    allow_redirects=False,  # a redirect could carry the token elsewhere
                )
            except requests.Timeout as e:
                raise KashFlowUnavailable(
                    f"KashFlow did not answer {method} {urlsplit(url).path} in time",
                    request=_redacted(e.request),  # type: ignore[arg-type]
                ) from None
            except (requests.ConnectionError, requests.exceptions.RetryError) as e:
                raise KashFlowUnavailable(
                    f"cannot reach KashFlow at {urlsplit(url).netloc} "
                    f"({type(e).__name__}: check the URL, DNS and firewall)",
                    request=_redacted(e.request),  # type: ignore[arg-type]
                ) from None
            self.stats.add("requests")
            if response.status_code == 400 and attempt < self.retries:
                code, _ = _error_of(response)
                if code == SQL_TIMEOUT_ERROR:
                    # KashFlow leaks a .NET SQL timeout as a 400; it passes. Back off and retry.
                    attempt += 1
                    self.stats.add("sql_timeout_retries")
                    self._sleep(self.backoff * (4**attempt))
                    continue
            return response

    def _error(
        self, response: requests.Response, what: str, *, step: str | None = None
    ) -> KashFlowError:
        """The exception for an unsuccessful *response*."""
        code, message = _error_of(response)
        status = response.status_code
        detail = f" ({code}: {message})" if code or message else ""
        kwargs: dict[str, t.Any] = {
            "request": _redacted(response.request),
            "response": response,
            "error_code": code or None,
        }
        if code == "AccountLocked":
            return KashFlowAccountLocked(
                f"KashFlow says the user is locked{detail}", step=step, **kwargs
            )
        if status == 404:
            return KashFlowNotFound(f"KashFlow has no {what}{detail}", **kwargs)
        if status == 403:
            return KashFlowAuthError(
                f"KashFlow refused API access{detail}: is the API enabled (Apps > API Settings), "
                "and is this server's IP address allowed?",
                step=step,
                **kwargs,
            )
        if status in (400, 401) and step is not None:
            return KashFlowAuthError(
                f"KashFlow refused the login at the {step.replace('_', ' ')} step{detail}",
                step=step,
                **kwargs,
            )
        if status == 401:
            return KashFlowAuthError(f"KashFlow refused the session token{detail}", **kwargs)
        if status == 429 or status >= 500:
            return KashFlowUnavailable(
                f"KashFlow answered HTTP {status} for {what}{detail}", **kwargs
            )
        if code == SQL_TIMEOUT_ERROR:
            return KashFlowUnavailable(f"KashFlow timed out reading {what}{detail}", **kwargs)
        return KashFlowBadResponse(f"KashFlow answered HTTP {status} for {what}{detail}", **kwargs)

    def _json(self, response: requests.Response, what: str) -> t.Any:
        if response.status_code not in (200, 201):
            raise self._error(response, what)
        try:
            return loads(response.content)
        except ValueError:
            raise KashFlowBadResponse(
                f"KashFlow sent malformed JSON for {what}",
                request=_redacted(response.request),
                response=response,
            ) from None

    def _url(self, path: str) -> str:
        return self.base_url + path

    # -- login ---------------------------------------------------------------------------------

    def login(self, credentials: Credentials) -> LoginResult:
        """Log in with the two documented steps and return the session token.

        Does not use or update the shared token; see :meth:`session_token` for that.
        """
        word = credentials.memorable_word
        response = self._send(
            "POST",
            self._url("/sessiontoken"),
            json={"UserName": credentials.username, "Password": credentials.password},
        )
        if response.status_code not in (200, 201):
            self.stats.add("failed_logins")
            raise self._error(response, "login", step="password")
        data = as_mapping(self._json(response, "login"))
        temporary = data.get("TemporaryToken")
        positions = [
            parse_int(as_mapping(p).get("Position")) for p in as_list(data.get("MemorableWordList"))
        ]
        if not isinstance(temporary, str) or not temporary or not positions:
            raise KashFlowBadResponse(
                "KashFlow's login answer lacks TemporaryToken or MemorableWordList",
                response=response,
            )
        answer = []
        for position in positions:
            if position is None or not 1 <= position <= len(word):
                self.stats.add("failed_logins")
                raise KashFlowAuthError(
                    f"KashFlow asked for character {position} of the memorable word, which is "
                    f"only {len(word)} characters long: check the configured memorable word",
                    step="memorable_word",
                )
            # Positions are 1-based; KashFlow compares characters case-insensitively.
            answer.append({"Position": position, "Value": word[position - 1]})
        response = self._send(
            "PUT",
            self._url("/sessiontoken"),
            json={"TemporaryToken": temporary, "MemorableWordList": answer},
        )
        if response.status_code not in (200, 201):
            self.stats.add("failed_logins")
            raise self._error(response, "login", step="memorable_word")
        data = as_mapping(self._json(response, "login"))
        token = data.get("SessionToken")
        if not isinstance(token, str) or not token.strip() or len(token) > 256:
            raise KashFlowBadResponse(
                "KashFlow's login answer lacks a SessionToken", response=response
            )
        self.stats.add("logins")
        return LoginResult(
            session_token=token.strip(),
            company_name=parse_text(data.get("CompanyName"), limit=200),
            has_temporary_password=bool(data.get("HasTemporaryPassword")),
            subscription_expired=bool(data.get("SubscriptionExpired")),
        )

    def session_token(self, login: Login, *, refused: str | None = None) -> str:
        """The account's shared session token, logging in only if there is none (or only the
        *refused* one), one login at a time across threads and processes.

        :raises KashFlowAccountLocked: during a cool-down, or if KashFlow locked the user.
        :raises KashFlowAuthError: if KashFlow refuses the credentials (starts a cool-down).
        """
        namespace = login.namespace
        token = self.tokens.current(namespace)
        if token and token != refused:
            return token
        with self.tokens.local_lock(namespace):
            token = self.tokens.current(namespace)
            if token and token != refused:
                return token
            self._raise_if_cooling_down(namespace)
            got = self._wait_for_shared_lock(login, refused)
            if isinstance(got, str):
                return got
            try:
                token = self.tokens.current(namespace)
                if token and token != refused:
                    return token
                try:
                    result = self.login(login.credentials)
                except (KashFlowAuthError, KashFlowAccountLocked) as e:
                    pause = self.login_cooldown
                    if login.embedded and not isinstance(e, KashFlowAccountLocked):
                        # Old links after a password change: the refusal is permanent, and
                        # each attempt counts towards locking the shared user out. Ask
                        # rarely (once a day per set of stale credentials).
                        pause = max(pause, 86400)
                    until = self.tokens.start_cooldown(namespace, pause)
                    log.error(
                        "KashFlow login refused (%s); no login for %d s, pages served from the "
                        "cache meanwhile",
                        e,
                        pause,
                    )
                    if isinstance(e, KashFlowAccountLocked):
                        e.retry_at = datetime.fromtimestamp(until, tz=timezone.utc)
                    raise
                self.tokens.store(namespace, result.session_token)
                self.tokens.clear_cooldown(namespace)
                return result.session_token
            finally:
                if got is True:
                    self.tokens.release_shared(namespace)

    def _raise_if_cooling_down(self, namespace: str) -> None:
        until = self.tokens.cooldown_until(namespace)
        if until is not None:
            raise KashFlowAccountLocked(
                "KashFlow logins are paused after a refused login or AccountLocked until "
                f"{datetime.fromtimestamp(until, tz=timezone.utc):%H:%M:%S} UTC",
                retry_at=datetime.fromtimestamp(until, tz=timezone.utc),
            )

    def _wait_for_shared_lock(self, login: Login, refused: str | None) -> bool | str | None:
        """Take the cross-process login lock, or wait for the process holding it to finish.

        Returns True/None to go ahead and log in, or the token another process obtained.
        """
        deadline = time.monotonic() + sum(self.timeout) * 2
        delay = 0.02
        while True:
            got = self.tokens.acquire_shared(login.namespace)
            if got is not False:
                return got
            self._sleep(delay)
            delay = min(delay * 1.5, 0.25)
            token = self.tokens.current(login.namespace)
            if token and token != refused:
                return token
            self._raise_if_cooling_down(login.namespace)
            if time.monotonic() > deadline:
                # The holder died without releasing: its lock expires, but don't wait for it.
                return None

    # -- authorised calls ----------------------------------------------------------------------

    def _call(
        self,
        login: Login,
        path: str,
        *,
        params: dict[str, t.Any] | None = None,
        url: str | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """GET with the account's session token; one fresh login after a 401, at most."""
        token = self.session_token(login)
        for attempt in (1, 2):
            response = self._send(
                "GET",
                url or self._url(path),
                params=params,
                headers={"Authorization": f"KfToken {token}"},
                stream=stream,
            )
            if response.status_code != 401:
                return response
            code, _ = _error_of(response)
            if code == "AccountLocked":
                self.tokens.start_cooldown(login.namespace, self.login_cooldown)
                raise self._error(response, path)
            self.tokens.discard(login.namespace, token)
            if attempt == 2:
                # A token fresh from a successful login was refused: most likely an IP
                # restriction. Pause logins rather than log in on every page.
                self.tokens.start_cooldown(login.namespace, self.login_cooldown)
                raise KashFlowAuthError(
                    "KashFlow refused a session token straight after logging in "
                    f"({code or 'HTTP 401'}); is this server's IP address allowed in "
                    "Apps > API Settings?",
                    request=_redacted(response.request),
                    response=response,
                    error_code=code or None,
                )
            token = self.session_token(login, refused=token)
        raise AssertionError("unreachable")  # pragma: no cover

    def get_invoice(self, login: Login, number: int) -> Invoice:
        """The full invoice *number*.

        :raises KashFlowNotFound: KashFlow has no such invoice.
        :raises KashFlowBadResponse: the answer is not that invoice.
        """
        what = f"invoice {number}"
        data = self._json(self._call(login, f"/invoices/{int(number)}"), what)
        invoice = Invoice.from_api(data, detailed=True)
        if invoice is None:
            raise KashFlowBadResponse(f"KashFlow's answer for {what} is not an invoice")
        if invoice.number != number:
            raise KashFlowBadResponse(f"asked KashFlow for {what}, got invoice {invoice.number}")
        return invoice

    def list_invoices(
        self, login: Login, *, customer: str | None = None, status: str | None = None
    ) -> list[Invoice]:
        """Every invoice (summaries) of *customer*, optionally filtered by status, following
        pages to the end. Sorted by number.

        The server's filtering is a hint, not a guarantee: callers must check each invoice's
        ``CustomerCode`` and ``Status`` themselves.
        """
        base: dict[str, t.Any] = {"perpage": PER_PAGE, "sortby": "Number", "order": "Asc"}
        if customer is not None:
            base["customercode"] = customer
        if status is not None and status != "all":
            base["filterby"] = STATUS_FILTERS[status]
        found: dict[int, Invoice] = {}
        what = f"the invoices of {customer}" if customer else "the invoice list"
        for page in range(1, MAX_PAGES + 1):
            # Pages are numbered by us: MetaData URLs are never followed, so a misbehaving
            # server cannot send the session token to another host.
            data = self._json(self._call(login, "/invoices", params={**base, "page": page}), what)
            meta: t.Mapping[str, t.Any]
            if isinstance(data, list):  # a bare array: tolerate, but it cannot page
                rows, meta = data, {}
            elif isinstance(data, dict) and isinstance(data.get("Data"), list):
                rows, meta = data["Data"], as_mapping(data.get("MetaData"))
            else:
                raise KashFlowBadResponse(f"KashFlow's answer for {what} has no Data list")
            new = 0
            for row in rows:
                invoice = Invoice.from_api(row)
                if invoice is not None and invoice.number not in found:
                    found[invoice.number] = invoice
                    new += 1
            if not rows or new == 0 or isinstance(data, list):
                break  # the end, or a server ignoring "page" and repeating itself
            total = parse_int(meta.get("TotalRecords"))
            if total is not None:
                # The count decides: a page may be shorter than asked, or NextPageUrl wrong.
                if len(found) >= total:
                    break
            elif "NextPageUrl" in meta and not meta["NextPageUrl"]:
                break
        else:
            raise KashFlowBadResponse(f"KashFlow kept paging {what} past {MAX_PAGES} pages")
        return [found[n] for n in sorted(found)]

    def count_invoices(self, login: Login) -> int | None:
        """A cheap authorised call (one invoice, first page): ``TotalRecords``, if given."""
        response = self._call(login, "/invoices", params={"page": 1, "perpage": 1})
        data = self._json(response, "the invoice list")
        return parse_int(as_mapping(data).get("MetaData", {}).get("TotalRecords"))

    def get_customer(self, login: Login, code: str) -> Customer:
        """The customer *code*.

        :raises KashFlowNotFound: KashFlow has no such customer.
        """
        what = f"customer {code}"
        data = self._json(self._call(login, f"/customers/{quote(code, safe='')}"), what)
        customer = Customer.from_api(data)
        if customer is None or customer.code.casefold() != code.casefold():
            raise KashFlowBadResponse(f"KashFlow's answer for {what} is not that customer")
        return customer

    def document_url(self, permalink: str) -> str:
        """The absolute URL of a KashFlow document permalink, on the API host only.

        Permalinks are API-relative (``/v2/documents/invoice/<guid>``; some samples lack the
        leading slash). An absolute permalink is accepted only for the configured API host,
        because fetching it sends the account's session token.
        """
        base = urlsplit(self.base_url)
        link = urlsplit(permalink.strip())
        if (link.scheme or link.netloc) and (link.scheme, link.netloc) != (
            base.scheme,
            base.netloc,
        ):
            raise KashFlowBadResponse("a document link points outside the KashFlow API")
        path = "/" + link.path.lstrip("/")
        base_path = base.path.rstrip("/")
        if path.startswith("/v2/") and base_path.endswith("/v2"):
            path = base_path[: -len("/v2")] + path
        elif not path.startswith(base_path + "/"):
            path = base_path + path
        segments = path.split("/")
        if ".." in segments or "." in segments or "documents" not in segments:
            raise KashFlowBadResponse("a document link is not a KashFlow document path")
        return urlunsplit((base.scheme, base.netloc, path, link.query, ""))

    def get_document(self, login: Login, permalink: str, *, max_bytes: int) -> bytes:
        """The PDF behind a document permalink, fetched with the account's session token.

        :raises KashFlowBadResponse: not a PDF, truncated, or larger than *max_bytes*.
        """
        url = self.document_url(permalink)
        response = self._call(login, "", url=url, stream=True)
        try:
            if response.status_code != 200:
                raise self._error(response, "document")
            kind = response.headers.get("Content-Type", "").lower()
            if kind and not any(k in kind for k in ("pdf", "octet-stream")):
                raise KashFlowBadResponse(f"KashFlow sent {kind.split(';')[0]} for a document")
            chunks, size = [], 0
            try:
                for chunk in response.iter_content(64 * 1024):
                    size += len(chunk)
                    if size > max_bytes:
                        raise KashFlowBadResponse(f"a KashFlow document exceeds {max_bytes} bytes")
                    chunks.append(chunk)
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as e:
                raise KashFlowUnavailable(
                    f"the document download broke off ({type(e).__name__})"
                ) from None
            body = b"".join(chunks)
        finally:
            response.close()
        if not body.startswith(b"%PDF-") or b"%%EOF" not in body[-2048:]:
            raise KashFlowBadResponse("KashFlow sent an incomplete or non-PDF document")
        return body


__all__ = ["SQL_TIMEOUT_ERROR", "BoundedRetry", "ClientStats", "KashFlowClient", "LoginResult"]
