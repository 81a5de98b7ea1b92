"""Requests to KashFlow's REST API v2 and how its answers map to the exception tree.

KashFlow answers errors with a JSON body ``{"Error": ..., "Message": ...}``; the ``Error`` code
decides (``AccountLocked``, ``PasswordExpired``, ``InvalidSessionToken``, the SQL-timeout
``-2146232060``), then the HTTP status. A 401 with any other ``Error`` refuses one resource, not
the session. The SQL timeout is a .NET exception leaked as a 400: it passes, so it is retried
with a long backoff on top of urllib3's retries.
"""

from __future__ import annotations

import contextlib
import typing as t
from urllib.parse import urlsplit

import requests

from ..exceptions import KashFlowAccountLocked
from ..exceptions import KashFlowAuthError
from ..exceptions import KashFlowBadResponse
from ..exceptions import KashFlowDenied
from ..exceptions import KashFlowError
from ..exceptions import KashFlowNotFound
from ..exceptions import KashFlowPasswordExpired
from ..exceptions import KashFlowUnavailable
from .http import ClientStats
from .http import about
from .http import redacted
from .http import transport_errors
from .parsing import as_mapping
from .parsing import loads
from .parsing import parse_text

#: KashFlow's leaked .NET SqlException number for a server-side query timeout: transient.
SQL_TIMEOUT_ERROR = "-2146232060"
#: The one 401 ``Error`` that means "the session token expired or is invalid: log in again".
INVALID_SESSION = "InvalidSessionToken"


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


class RestTransport:
    """Sends requests to one REST API and turns failures into the exception tree.

    :param http: the session (bounded retries, no cookies, no redirects).
    :param base_url: e.g. ``https://api.kashflow.com/v2``.
    """

    def __init__(
        self,
        http: requests.Session,
        base_url: str,
        *,
        timeout: tuple[float, float],
        retries: int,
        backoff: float,
        stats: ClientStats,
        sleep: t.Callable[[float], None],
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.stats = stats
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
        """One request with a timeout; SQL-timeout 400s retried; transport errors mapped."""
        attempt = 0
        while True:
            parts = urlsplit(url)
            with transport_errors(f"{method} {parts.path}", parts.netloc):
                response = self.http.request(
                    method,
                    url,
                    headers=headers,
                    params=params,
                    json=json,
                    timeout=self.timeout,
                    stream=stream,
                    auth=auth,
                    allow_redirects=False,  # a redirect could carry the token elsewhere
                )
            self.stats.add("requests")
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


__all__ = ["INVALID_SESSION", "SQL_TIMEOUT_ERROR", "RestTransport", "error_of"]
