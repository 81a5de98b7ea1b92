"""Requests to KashFlow's REST API v2: the login, the session token on each call, errors mapped.

The login follows KashFlow's documented protocol exactly: ``POST /sessiontoken`` with
``UserName`` and ``Password``; ``PUT /sessiontoken`` answering the ``MemorableWordList``
positions (1-based, one character each) with the ``TemporaryToken``; then
``Authorization: KfToken <SessionToken>`` on every call. :class:`KfTokenAuth` is a
:class:`requests.auth.AuthBase` in the style of requests' own ``HTTPDigestAuth.handle_401``:
when KashFlow answers that the session is invalid, it logs in again (once per request, one
login at a time per account) and sends the request again.

KashFlow answers errors with a JSON body ``{"Error": ..., "Message": ...}``; the ``Error`` code
decides (``AccountLocked``, ``PasswordExpired``, ``InvalidSessionToken``, the SQL-timeout
``-2146232060``), then the HTTP status. A 401 with any other ``Error`` refuses one resource, not
the session. The SQL timeout is a .NET exception leaked as a 400: it passes, so it is retried
with a long backoff on top of urllib3's retries.
"""

from __future__ import annotations

import contextlib
import logging
import typing as t
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone
from urllib.parse import urlsplit

import requests
from requests.auth import AuthBase

from ..exceptions import KashFlowAccountLocked
from ..exceptions import KashFlowAuthError
from ..exceptions import KashFlowBadResponse
from ..exceptions import KashFlowDenied
from ..exceptions import KashFlowError
from ..exceptions import KashFlowLoginsPaused
from ..exceptions import KashFlowNotFound
from ..exceptions import KashFlowPasswordExpired
from ..exceptions import KashFlowUnavailable
from .backend import Credentials
from .backend import Login
from .http import HttpOptions
from .http import Transport
from .http import about
from .http import redacted
from .parsing import as_list
from .parsing import as_mapping
from .parsing import loads
from .parsing import parse_int
from .parsing import parse_text
from .session import EMBEDDED_PAUSE
from .session import SessionTokens

log = logging.getLogger(__name__)

#: KashFlow's leaked .NET SqlException number for a server-side query timeout: transient.
SQL_TIMEOUT_ERROR = "-2146232060"
#: The one 401 ``Error`` that means "the session token expired or is invalid: log in again".
INVALID_SESSION = "InvalidSessionToken"
#: How many characters of the memorable word a login answers at most (KashFlow asks for three).
MEMORABLE_WORD_POSITIONS = 3


def error_of(response: requests.Response) -> tuple[str, str]:
    """KashFlow's ``Error`` and ``Message`` from an error body (safe to log)."""
    try:
        data = as_mapping(loads(response.content))
    except ValueError:
        return "", ""
    return (
        parse_text(data.get("Error"), limit=60),
        parse_text(data.get("Message"), limit=200).replace("\n", " "),
    )


class RestTransport(Transport):
    """Sends requests to one REST API and turns failures into the exception tree.

    :param base_url: e.g. ``https://api.kashflow.com/v2``.
    :param options: the timeout, retries and backoff of every request (the retries and backoff
        also serve KashFlow's SQL timeouts).
    :param sleep: waits before a SQL timeout is asked again.
    """

    accept = "application/json"

    def __init__(
        self, base_url: str, options: HttpOptions, *, sleep: t.Callable[[float], None]
    ) -> None:
        super().__init__(base_url, options)
        self._sleep = sleep

    def url(self, path: str) -> str:
        """The absolute URL of an API path such as ``/invoices``."""
        return self.base_url + path

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        params: dict[str, t.Any] | None = None,
        json: t.Any = None,
        stream: bool = False,
        auth: requests.auth.AuthBase | None = None,
    ) -> requests.Response:
        """One :meth:`~.http.Transport.request`, asked again after KashFlow's SQL timeout."""
        attempt = 0
        while True:
            response = self.request(
                method,
                url,
                what=f"{method} {urlsplit(url).path}",
                headers=headers,
                params=params,
                json=json,
                stream=stream,
                auth=auth,
            )
            if response.status_code == 400 and attempt < self.retries:
                code, _ = error_of(response)
                if code == SQL_TIMEOUT_ERROR:
                    # KashFlow leaks a .NET SQL timeout as a 400; it passes. Back off and retry.
                    attempt += 1
                    self.stats.add("sql_timeout_retries")
                    self._sleep(self.backoff * (4**attempt))
                    continue
            return response

    def error(
        self,
        response: requests.Response,
        what: str,
        *,
        step: str | None = None,
        by_number: bool = False,
    ) -> KashFlowError:
        """The exception for an unsuccessful *response* (about *what*; *step* for logins).

        With *by_number* (a lookup by invoice number), a 400 other than the SQL timeout means
        "not found": KashFlow does not document what an unknown number returns, and a 400
        with an error body is one of its plausible answers.
        """
        code, message = error_of(response)
        status = response.status_code
        detail = f" ({code}: {message})" if code or message else ""
        kwargs: dict[str, t.Any] = {**about(response), "error_code": code or None}
        if code == "AccountLocked":
            return KashFlowAccountLocked(
                f"KashFlow says the user is locked{detail}", step=step, **kwargs
            )
        if code == "PasswordExpired":
            return KashFlowPasswordExpired(
                f"KashFlow says the user's password has expired{detail}", step=step, **kwargs
            )
        if status == 404 or (by_number and status == 400 and code != SQL_TIMEOUT_ERROR):
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
        if status == 401 and code == INVALID_SESSION:
            return KashFlowAuthError(f"KashFlow refused the session token{detail}", **kwargs)
        if status == 401:
            # Not about the session: this one resource is refused (a role, a document).
            return KashFlowDenied(f"KashFlow refused {what} to this session{detail}", **kwargs)
        if status == 429 or status >= 500:
            return KashFlowUnavailable(
                f"KashFlow answered HTTP {status} for {what}{detail}", **kwargs
            )
        if code == SQL_TIMEOUT_ERROR:
            return KashFlowUnavailable(f"KashFlow timed out reading {what}{detail}", **kwargs)
        return KashFlowBadResponse(f"KashFlow answered HTTP {status} for {what}{detail}", **kwargs)

    def json(self, response: requests.Response, what: str, *, secret: bool = False) -> t.Any:
        """The JSON body of a successful *response*, amounts as :class:`~decimal.Decimal`.

        A *secret* body (a login answer carries a temporary or session token) is not kept on
        the exception when it cannot be read.
        """
        if response.status_code not in (200, 201):
            raise self.error(response, what)
        with contextlib.suppress(ValueError):
            return loads(response.content)
        # Raised outside the handler, so the decoder's error (quoting the body) is no context.
        raise KashFlowBadResponse(
            f"KashFlow sent malformed JSON for {what}",
            **({"request": redacted(response.request)} if secret else about(response)),
        )


@dataclass(frozen=True)
class LoginResult:
    """What a successful login told us (never the token itself in reprs)."""

    session_token: str
    company_name: str = ""
    has_temporary_password: bool = False
    subscription_expired: bool = False
    #: The memorable-word positions KashFlow asked for (1-based) and accepted.
    memorable_word_positions: tuple[int, ...] = ()

    def __repr__(self) -> str:
        return f"LoginResult(company_name={self.company_name!r}, session_token=***)"


class RestSessions:
    """Logs in to one REST API and keeps one shared session token per account.

    :param transport: where requests go.
    :param tokens: where session tokens, login locks and pauses are kept.
    :param login_cooldown: seconds without logins after a refused login or ``AccountLocked``.
    """

    def __init__(
        self, transport: RestTransport, tokens: SessionTokens, *, login_cooldown: float
    ) -> None:
        self.transport = transport
        self.tokens = tokens
        self.login_cooldown = login_cooldown

    def login(self, credentials: Credentials) -> LoginResult:
        """Log in with the two documented steps and return the session token.

        Does not use or update the shared token; see :meth:`session_token` for that.
        """
        transport, stats = self.transport, self.transport.stats
        word = credentials.memorable_word
        response = transport.send(
            "POST",
            transport.url("/sessiontoken"),
            json={"UserName": credentials.username, "Password": credentials.password},
        )
        if response.status_code not in (200, 201):
            stats.add("failed_logins")
            raise transport.error(response, "login", step="password")
        data = as_mapping(transport.json(response, "login", secret=True))
        temporary = data.get("TemporaryToken")
        positions = [
            parse_int(as_mapping(p).get("Position")) for p in as_list(data.get("MemorableWordList"))
        ]
        if not isinstance(temporary, str) or not temporary or not positions:
            raise KashFlowBadResponse(
                "KashFlow's login answer lacks TemporaryToken or MemorableWordList",
                request=redacted(response.request),
            )
        distinct = len(set(positions))
        if distinct > MEMORABLE_WORD_POSITIONS:
            # KashFlow asks for three. A server asking for more is not KashFlow (a mistyped or
            # hostile API_BASE_URL) and would learn the whole word: answer nothing.
            raise KashFlowBadResponse(
                f"the login asked for {distinct} characters of the memorable word; KashFlow asks "
                f"for {MEMORABLE_WORD_POSITIONS}, so none was sent. Check that "
                "KASHFLOW_LINKS_API_BASE_URL is KashFlow's REST API",
                request=redacted(response.request),
            )
        answer = []
        for position in positions:
            if position is None or not 1 <= position <= len(word):
                stats.add("failed_logins")
                raise KashFlowAuthError(
                    f"KashFlow asked for character {position} of the memorable word, which is "
                    f"only {len(word)} characters long: check the configured memorable word",
                    step="memorable_word",
                )
            # Positions are 1-based; KashFlow compares characters case-insensitively.
            answer.append({"Position": position, "Value": word[position - 1]})
        response = transport.send(
            "PUT",
            transport.url("/sessiontoken"),
            json={"TemporaryToken": temporary, "MemorableWordList": answer},
        )
        if response.status_code not in (200, 201):
            stats.add("failed_logins")
            raise transport.error(response, "login", step="memorable_word")
        data = as_mapping(transport.json(response, "login", secret=True))
        token = data.get("SessionToken")
        if not isinstance(token, str) or not token.strip() or len(token) > 256:
            raise KashFlowBadResponse(
                "KashFlow's login answer lacks a SessionToken", request=redacted(response.request)
            )
        stats.add("logins")
        return LoginResult(
            session_token=token.strip(),
            company_name=parse_text(data.get("CompanyName"), limit=200),
            has_temporary_password=bool(data.get("HasTemporaryPassword")),
            subscription_expired=bool(data.get("SubscriptionExpired")),
            memorable_word_positions=tuple(p for p in positions if p is not None),
        )

    def session_token(self, login: Login, *, refused: str | None = None) -> str:
        """The account's shared session token, logging in only if there is none (or only the
        *refused* one), one login at a time across threads and processes.

        :raises KashFlowAccountLocked: during a cool-down, or if KashFlow locked the user.
        :raises KashFlowAuthError: if KashFlow refuses the credentials (starts a cool-down),
            and during that cool-down for an embed-mode link's.
        """
        namespace = login.namespace
        token = self.tokens.current(namespace)
        if token and token != refused:
            return token
        with self.tokens.local_lock(namespace):
            token = self.tokens.current(namespace)
            if token and token != refused:
                return token
            self.raise_if_paused(login)
            lock = self.tokens.login_lock(namespace)

            def ready() -> str | None:
                found = self.tokens.current(namespace)
                if found and found != refused:
                    return found
                self.raise_if_paused(login)
                return None

            # The holder died without releasing if this outlasts two calls: its lock expires,
            # but don't wait for that.
            waited = lock.acquire_or_wait(ready, limit=sum(self.transport.timeout) * 2)
            if waited.value is not None:
                return waited.value
            try:
                token = self.tokens.current(namespace)
                if token and token != refused:
                    return token
                return self._log_in(login)
            finally:
                if waited.held:
                    lock.release()

    def _log_in(self, login: Login) -> str:
        namespace = login.namespace
        try:
            result = self.login(login.credentials)
        except KashFlowAuthError as e:
            pause = self.login_cooldown
            if login.embedded and not isinstance(e, KashFlowAccountLocked):
                # Old links after a password change: the refusal is permanent, and each attempt
                # counts towards locking the shared user out. Ask rarely (once a day per set of
                # stale credentials).
                pause = max(pause, EMBEDDED_PAUSE)
            until = self.pause(login, e, pause)
            log.error(
                "KashFlow login refused (%s); no login for %d s, pages served from the cache "
                "meanwhile",
                e,
                pause,
            )
            if isinstance(e, KashFlowAccountLocked):
                e.retry_at = datetime.fromtimestamp(until, tz=timezone.utc)
            raise
        self.tokens.store(namespace, result.session_token)
        self.tokens.clear_cooldown(namespace)
        return result.session_token

    def pause(self, login: Login, error: KashFlowAuthError, seconds: float) -> float:
        """Pause *login*'s logins for *seconds* after *error*; when they may resume.

        A refusal of the credentials themselves (not ``AccountLocked``, not
        ``PasswordExpired``) is remembered as such for the whole pause: while it lasts an
        embed-mode link with those credentials is answered as refused again
        (:meth:`raise_if_paused`), on every process sharing the store, as at the first refusal.
        """
        refused = not isinstance(error, KashFlowAccountLocked | KashFlowPasswordExpired)
        return self.tokens.start_cooldown(login.namespace, seconds, refused=refused)

    def raise_if_paused(self, login: Login) -> None:
        """Raise while logins are paused for *login*, without asking KashFlow.

        :raises KashFlowAuthError: an embed-mode link whose credentials KashFlow refused
            (they are withdrawn, as at the first refusal).
        :raises KashFlowLoginsPaused: any other pause (a lock, an expired password, the
            site's own account refused).
        """
        retry_at = self.tokens.paused_until(login.namespace)
        if retry_at is None:
            return
        if login.embedded and self.tokens.refused(login.namespace):
            raise KashFlowAuthError(
                "KashFlow refused this link's credentials; not asked again before "
                f"{retry_at:%H:%M:%S} UTC",
                step="password",
            )
        raise KashFlowLoginsPaused(
            "KashFlow logins are paused after a refused login or AccountLocked until "
            f"{retry_at:%H:%M:%S} UTC",
            retry_at=retry_at,
        )


class KfTokenAuth(AuthBase):
    """``Authorization: KfToken <SessionToken>`` for one request of one account, logging in
    again (at most once) when KashFlow answers that the session token is invalid."""

    def __init__(self, sessions: RestSessions, login: Login) -> None:
        self.sessions = sessions
        self.login = login
        #: The session token this request was sent with (set when it is sent).
        self.token: str | None = None
        self._renewed = False

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        self.token = self.sessions.session_token(self.login)
        request.headers["Authorization"] = f"KfToken {self.token}"
        request.register_hook("response", self.handle_401)  # type: ignore[no-untyped-call]
        return request

    def handle_401(self, response: requests.Response, **kwargs: t.Any) -> requests.Response:
        """On a 401: pause logins after ``AccountLocked``; after ``InvalidSessionToken`` (and
        only then: KashFlow's one documented answer for an expired session) log in again once
        and send the request again with the new session token.

        Any other 401 refuses this one resource (a role, a document's own permissions): the
        shared session token stays, no login is tried and no pause starts, so other pages and
        other workers carry on. The caller turns it into :class:`KashFlowDenied`.
        """
        if response.status_code != 401:
            return response
        sessions, namespace = self.sessions, self.login.namespace
        code, _ = error_of(response)
        if code == "AccountLocked":
            sessions.tokens.start_cooldown(namespace, sessions.login_cooldown)
            return response
        if code != INVALID_SESSION:
            return response
        refused = self.token or ""
        sessions.tokens.discard(namespace, refused)
        if self._renewed:
            # A token fresh from a successful login was refused: most likely an IP restriction.
            # Pause logins rather than log in on every page.
            error = KashFlowAuthError(
                f"KashFlow refused a session token straight after logging in ({code}); is "
                "this server's IP address allowed in Apps > API Settings?",
                request=redacted(response.request),
                error_code=code,
            )
            sessions.pause(self.login, error, sessions.login_cooldown)
            raise error
        self._renewed = True
        # Consume and release the refused answer before sending again on the same pool.
        response.content  # noqa: B018
        response.close()
        self.token = sessions.session_token(self.login, refused=refused)
        again = response.request.copy()
        again.headers["Authorization"] = f"KfToken {self.token}"
        resent = response.connection.send(again, **kwargs)
        sessions.transport.stats.add("requests")
        resent.history.append(response)
        resent.request = again
        return self.handle_401(resent, **kwargs)
