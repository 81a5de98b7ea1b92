"""The KashFlow sandbox server: a WSGI app speaking KashFlow's REST API v2, in a thread.

The public face is :mod:`flask_kashflow_links.testing`; this module holds the machinery. One
:class:`KashFlowSandbox` owns the data, the sessions, the counters and the fault queue, all
behind one re-entrant lock, and serves them with werkzeug's threaded development server.
"""

from __future__ import annotations

import collections
import contextlib
import hmac
import json
import logging
import math
import random
import re
import socket
import threading
import time
import typing as t
import uuid
from dataclasses import dataclass
from datetime import date
from datetime import timedelta
from decimal import ROUND_HALF_UP
from decimal import Decimal
from http import HTTPStatus
from urllib.parse import urlencode

from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import MethodNotAllowed
from werkzeug.routing import Map
from werkzeug.routing import Rule
from werkzeug.serving import ThreadedWSGIServer
from werkzeug.serving import WSGIRequestHandler
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from .data import COMPANY_ADDRESS
from .data import COMPANY_NAME
from .data import JSONDict
from .data import SandboxData
from .pdf import Line
from .pdf import max_lines
from .pdf import render_pdf
from .shapes import invoice_summary
from .values import parse_kf_date

if t.TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Iterable
    from types import TracebackType

    from _typeshed.wsgi import StartResponse
    from _typeshed.wsgi import WSGIEnvironment

logger = logging.getLogger(__name__)

#: Counter names, one per endpoint; 404/405 routes count as "other".
ENDPOINTS = (
    "sessiontoken.post",
    "sessiontoken.put",
    "sessiontoken.delete",
    "invoices.list",
    "invoices.get",
    "customers.get",
    "documents.get",
    "other",
)
_ENDPOINT_FILTERS = frozenset(ENDPOINTS) | {name.split(".")[0] for name in ENDPOINTS}

JSON_TYPE = "application/json; charset=utf-8"
# Not a bind: where to *connect* when the server was bound to a wildcard address.
_LOOPBACK_FOR_WILDCARD = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104 # nosec
SQL_TIMEOUT_BODY: JSONDict = {
    "Error": "-2146232060",
    "Message": (
        "Execution Timeout Expired.  The timeout period elapsed prior to completion of the "
        "operation or the server is not responding."
    ),
}
INVALID_SESSION: JSONDict = {
    "Error": "InvalidSessionToken",
    "Message": "Session token provided is invalid.",
}
ACCOUNT_LOCKED: JSONDict = {
    "Error": "AccountLocked",
    "Message": "User account is locked due to multiple failed login attempts.",
}
_FAIL_BODIES = {
    500: ("InternalServerError", "An error has occurred."),
    502: ("BadGateway", "The server received an invalid response from an upstream server."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable."),
    504: ("GatewayTimeout", "The upstream server did not respond in time."),
}

#: ``sortby`` names and KashFlow's integer codes -> the invoice field sorted on.
_SORT_FIELDS = {
    "number": "Number",
    "customerref": "CustomerReference",
    "customername": "CustomerName",
    "invoicedate": "IssuedDate",
    "paymentduedate": "DueDate",
    "grossamount": "GrossAmount",
    "netamount": "NetAmount",
    "status": "Status",
    "paymentpaiddate": "PaidDate",
    "dueamount": "DueAmount",
    "vatamount": "VATAmount",
}
_SORT_CODES = {
    "0": "number",
    "1": "customerref",
    "2": "customername",
    "3": "invoicedate",
    "4": "paymentduedate",
    "5": "grossamount",
    "6": "netamount",
    "7": "status",
    "8": "paymentpaiddate",
    "9": "dueamount",
    "11": "vatamount",
}
#: Documented ``filterby`` values. Each status filter keeps invoices whose Status is exactly
#: that value ("Unpaid" does not include "Overdue", "Paid" does not include "Overpaid"): the
#: real semantics are undocumented, and exact matching is the choice that lets a client's
#: test notice when it needs to ask for two statuses.
_STATUS_FILTERS = {"unpaid": "Unpaid", "overdue": "Overdue", "overpaid": "Overpaid", "paid": "Paid"}
_DATE_FILTERS = ("thismonth", "lastmonth")
_ZERO_DECIMAL_CURRENCIES = frozenset({"JPY"})
_TOKEN_IN_PATH = re.compile(r"(?i)(sessiontoken/)[^\s/?\"]+")


# --- JSON with KashFlow's number format ------------------------------------------------------

_FOUR_DP = Decimal("0.0001")


def format_decimal(value: Decimal) -> str:
    """*value* with exactly four decimal places, as KashFlow writes amounts (``117.5000``)."""
    if not value.is_finite():
        raise ValueError(f"cannot serialise {value!r} as JSON")
    text = format(value.quantize(_FOUR_DP, rounding=ROUND_HALF_UP), "f")
    return "0.0000" if text == "-0.0000" else text


def encode_json(value: object) -> bytes:
    """Serialise *value* as compact UTF-8 JSON, writing Decimals as 4-dp number literals.

    Written by hand rather than through :mod:`json`'s float path so that amounts never pass
    through binary floating point.
    """
    parts: list[str] = []
    _encode(value, parts)
    return "".join(parts).encode("utf-8")


def _encode(value: object, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, Decimal):
        out.append(format_decimal(value))
    elif isinstance(value, (int, float)):
        out.append(json.dumps(value, allow_nan=False))
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, t.Mapping):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(",")
            out.append(json.dumps(str(key), ensure_ascii=False))
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot serialise {type(value).__name__} as JSON")


def json_response(
    status: int, payload: object, headers: t.Mapping[str, str] | None = None
) -> Response:
    """A JSON response with KashFlow's number format."""
    return Response(
        encode_json(payload), status=status, content_type=JSON_TYPE, headers=dict(headers or {})
    )


def _error(status: int, error: str, message: str) -> Response:
    return json_response(status, {"Error": error, "Message": message})


# --- faults ----------------------------------------------------------------------------------


@dataclass
class _Fault:
    kind: str
    endpoint: str | None
    status: int = 503
    body: JSONDict | str | None = None
    headers: dict[str, str] | None = None
    seconds: float = 0.0
    retry_after: int = 1


def _matches(endpoint_filter: str | None, endpoint: str) -> bool:
    """Whether a fault for *endpoint_filter* applies to a request counted as *endpoint*."""
    if endpoint_filter is None:
        return True
    return endpoint == endpoint_filter or endpoint.startswith(endpoint_filter + ".")


def _check_endpoint(endpoint: str | None) -> str | None:
    if endpoint is not None and endpoint not in _ENDPOINT_FILTERS:
        raise ValueError(
            f"unknown endpoint {endpoint!r}; use one of {', '.join(sorted(_ENDPOINT_FILTERS))}"
        )
    return endpoint


def _check_count(n: int) -> int:
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError(f"n must be a whole number >= 0, not {n!r}")
    return n


def _check_seconds(seconds: float) -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise ValueError(f"seconds must be a number >= 0, not {seconds!r}")
    return float(seconds)


class _Dropped(ConnectionAbortedError):
    """Raised inside the app to make werkzeug abandon the request without a response."""


# --- the HTTP server -------------------------------------------------------------------------


class _RequestHandler(WSGIRequestHandler):
    """werkzeug's handler with logging that never shows session tokens.

    ``DELETE /v2/sessiontoken/{token}`` carries a token in its path, and werkzeug would log
    the request line at INFO on the ``werkzeug`` logger. Lines go to this module's logger at
    DEBUG instead, with the token replaced by ``***``.
    """

    # Set here so werkzeug does not set it on the shared base class.
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, add=False)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        line = getattr(self, "requestline", "")
        self.log("info", '"%s" %s %s', line, code, size)

    def log(self, type: str, message: str, *args: t.Any) -> None:
        try:
            text = message % args if args else message
        except (TypeError, ValueError):
            text = message
        level = logging.WARNING if type == "error" else logging.DEBUG
        logger.log(level, "%s", _TOKEN_IN_PATH.sub(r"\1***", text))


class _Server(ThreadedWSGIServer):
    """Tracks open connections so :meth:`KashFlowSandbox.stop` can close keep-alive ones."""

    def __init__(self, host: str, port: int, app: t.Any) -> None:
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(host, port, app, handler=_RequestHandler)

    def track(self, connection: socket.socket, *, add: bool) -> None:
        with self._connections_lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


# --- the sandbox -----------------------------------------------------------------------------


@dataclass
class _TemporaryToken:
    issued_at: float
    positions: tuple[int, ...]


class KashFlowSandbox:
    """A local HTTP server that behaves like KashFlow's REST API v2, for demos and tests.

    See :mod:`flask_kashflow_links.testing` for usage. Construction builds the data; nothing
    listens until :meth:`start` (or ``with``). All methods are thread-safe.

    :param host: interface to bind; the URLs use loopback for wildcard addresses.
    :param port: port to bind; 0 lets the OS pick a free one (see :attr:`port`).
    :param username: the web login accepted (case-insensitive).
    :param password: the password accepted.
    :param memorable_word: the whole memorable word (at least 3 characters).
    :param today: the date statuses and demo dates are relative to; default today.
    :param seed: seed of the demo data and of the memorable-word positions asked.
    :param demo_data: build the demo business; False starts with no customers or invoices.
    :param session_idle_timeout: seconds a session token survives unused (KashFlow: 60 min).
    :param temporary_token_ttl: seconds between the two login steps.
    :param lockout_threshold: consecutive failed logins that lock the account.
    :param max_perpage: the largest page ``GET /invoices`` serves.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = "sandbox@example.test",
        password: str = "correct horse battery",  # noqa: S107 - a documented demo credential
        memorable_word: str = "pineapple",
        today: date | None = None,
        seed: int = 7,
        demo_data: bool = True,
        session_idle_timeout: float = 3600.0,
        temporary_token_ttl: float = 300.0,
        lockout_threshold: int = 5,
        max_perpage: int = 100,
    ) -> None:
        if len(memorable_word) < 3:
            raise ValueError("the memorable word needs at least 3 characters")
        if lockout_threshold < 1:
            raise ValueError("lockout_threshold must be at least 1")
        if max_perpage < 1:
            raise ValueError("max_perpage must be at least 1")
        self.host = host
        self._port = port
        #: The web login the sandbox accepts (compared case-insensitively, like an email).
        self.username = username
        #: The password the sandbox accepts.
        self.password = password
        #: The whole memorable word; logins ask for three of its characters.
        self.memorable_word = memorable_word
        #: The date statuses and overdue days are computed against.
        self.today = today or date.today()
        self.session_idle_timeout = session_idle_timeout
        self.temporary_token_ttl = temporary_token_ttl
        self.lockout_threshold = lockout_threshold
        self._default_max_perpage = max_perpage

        self._lock = threading.RLock()
        self._data = (
            SandboxData.demo(today=self.today, seed=seed)
            if demo_data
            else SandboxData(today=self.today, seed=seed)
        )
        # Positions asked for are reproducible for a given seed and call order.
        self._rng = random.Random(seed)  # noqa: S311  # nosec B311
        self._calls: collections.Counter[str] = collections.Counter()
        self._logins = 0
        self._failed_logins = 0
        self._consecutive_failures = 0
        self._locked = False
        self._temporary: dict[str, _TemporaryToken] = {}
        self._sessions: dict[str, float] = {}
        self._faults: list[_Fault] = []
        self._truncate_pdfs = 0
        self._latency: dict[str | None, float] = {}
        self._max_perpage = max_perpage
        self._ignore_filters = False

        self._map = Map(
            [
                Rule("/v2/sessiontoken", methods=["POST"], endpoint="sessiontoken.post"),
                Rule("/v2/sessiontoken", methods=["PUT"], endpoint="sessiontoken.put"),
                Rule(
                    "/v2/sessiontoken/<token>", methods=["DELETE"], endpoint="sessiontoken.delete"
                ),
                Rule("/v2/invoices", methods=["GET"], endpoint="invoices.list"),
                Rule("/v2/invoices/<number>", methods=["GET"], endpoint="invoices.get"),
                Rule("/v2/customers/<code>", methods=["GET"], endpoint="customers.get"),
                Rule("/v2/documents/invoice/<key>", methods=["GET"], endpoint="documents.get:inv"),
                Rule(
                    "/v2/documents/invoice/payment/<key>",
                    methods=["GET"],
                    endpoint="documents.get:payment",
                ),
                Rule(
                    "/v2/documents/packingslip/<key>",
                    methods=["GET"],
                    endpoint="documents.get:packingslip",
                ),
                Rule(
                    "/v2/documents/customerstatement/<key>",
                    methods=["GET"],
                    endpoint="documents.get:statement",
                ),
            ],
            strict_slashes=False,
            merge_slashes=False,
        )
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        where = self.origin if self._server is not None else "not started"
        return f"<KashFlowSandbox {where} user={self.username!r}>"

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> KashFlowSandbox:
        """Start serving on a background thread; returns once connections are accepted."""
        if self._server is not None:
            raise RuntimeError("the sandbox is already running")
        server = _Server(self.host, self._port, self._wsgi)
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"KashFlowSandbox:{server.server_port}",
            daemon=True,
        )
        self._server, self._thread = server, thread
        thread.start()
        # The socket listens from construction, so this succeeds at once; it also proves the
        # address is reachable before tests start talking to it.
        deadline = time.monotonic() + 5
        while True:
            try:
                with socket.create_connection((self._connect_host, server.server_port), 1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise
                time.sleep(0.01)
        logger.debug("KashFlow sandbox listening on %s", self.origin)
        return self

    def stop(self) -> None:
        """Stop serving, close open connections and join the server thread. Idempotent."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(5)
        self._server = self._thread = None

    def __enter__(self) -> KashFlowSandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def _connect_host(self) -> str:
        # A wildcard bind is reachable on loopback.
        return _LOOPBACK_FOR_WILDCARD.get(self.host, self.host)

    @property
    def port(self) -> int:
        """The port being served (the chosen one when constructed with ``port=0``)."""
        if self._server is None:
            raise RuntimeError("the sandbox is not running; call start() first")
        return int(self._server.server_port)

    @property
    def origin(self) -> str:
        """Scheme, host and port, e.g. ``"http://127.0.0.1:54321"``."""
        host = self._connect_host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """The API base URL, e.g. ``"http://127.0.0.1:54321/v2"``."""
        return f"{self.origin}/v2"

    def account_config(self, **extra: t.Any) -> dict[str, t.Any]:
        """An entry for ``KASHFLOW_LINKS_ACCOUNTS`` holding this sandbox's credentials."""
        return {
            "username": self.username,
            "password": self.password,
            "memorable_word": self.memorable_word,
            **extra,
        }

    # -- data ---------------------------------------------------------------------------------

    @property
    def data(self) -> SandboxData:
        """The underlying :class:`SandboxData` (hold no references across threads)."""
        return self._data

    @property
    def invoices(self) -> dict[int, JSONDict]:
        """Invoices by number, exactly as ``GET /v2/invoices/{number}`` returns them.

        The live store: read freely; change it through :meth:`add_invoice`,
        :meth:`update_invoice` and :meth:`remove_invoice`, which keep derived fields right.
        """
        return self._data.invoices

    @property
    def customers(self) -> dict[str, JSONDict]:
        """Customers by code, exactly as ``GET /v2/customers/{code}`` returns them."""
        return self._data.customers

    def add_customer(self, data: t.Mapping[str, t.Any]) -> JSONDict:
        """Add a customer (``Code`` required), filling missing fields; returns the stored dict."""
        with self._lock:
            return self._data.add_customer(data)

    def add_invoice(self, data: t.Mapping[str, t.Any]) -> JSONDict:
        """Add an invoice (``CustomerCode`` required), filling missing fields; returns it.

        Amounts follow the line items and payment lines; ``Status`` is computed if absent.
        """
        with self._lock:
            return self._data.add_invoice(data)

    def update_invoice(self, number: int, **fields: t.Any) -> JSONDict:
        """Change fields of invoice *number*; derived fields not given are recomputed."""
        with self._lock:
            return self._data.update_invoice(number, fields)

    def remove_invoice(self, number: int) -> None:
        """Delete invoice *number*; ``KeyError`` if it does not exist."""
        with self._lock:
            self._data.remove_invoice(number)

    # -- counters -----------------------------------------------------------------------------

    @property
    def calls(self) -> collections.Counter[str]:
        """Requests received per endpoint (a snapshot), e.g. ``calls["invoices.list"]``."""
        with self._lock:
            return collections.Counter(self._calls)

    @property
    def logins(self) -> int:
        """Successful logins (completed ``PUT /sessiontoken``) since the last reset."""
        with self._lock:
            return self._logins

    @property
    def failed_logins(self) -> int:
        """Logins refused for a wrong username, password or memorable word."""
        with self._lock:
            return self._failed_logins

    def reset_counters(self) -> None:
        """Zero :attr:`calls`, :attr:`logins` and :attr:`failed_logins`."""
        with self._lock:
            self._calls.clear()
            self._logins = 0
            self._failed_logins = 0

    def active_sessions(self) -> int:
        """How many session tokens are currently valid."""
        with self._lock:
            self._purge_sessions()
            return len(self._sessions)

    def stats(self) -> JSONDict:
        """The counters as served by ``GET /_sandbox/stats``."""
        with self._lock:
            return {
                "calls": dict(self._calls),
                "logins": self._logins,
                "failed_logins": self._failed_logins,
                "active_sessions": self.active_sessions(),
            }

    # -- faults -------------------------------------------------------------------------------

    def set_latency(self, seconds: float, endpoint: str | None = None) -> None:
        """Delay every matching request by *seconds* until changed (0 removes the delay).

        With several settings, the most specific one applies: an endpoint name beats a
        prefix such as ``"invoices"``, which beats the global (``None``) setting.
        """
        seconds = _check_seconds(seconds)
        with self._lock:
            if seconds:
                self._latency[_check_endpoint(endpoint)] = seconds
            else:
                self._latency.pop(_check_endpoint(endpoint), None)

    def _queue(self, n: int, fault: _Fault) -> None:
        _check_count(n)
        _check_endpoint(fault.endpoint)
        with self._lock:
            self._faults.extend(_Fault(**vars(fault)) for _ in range(n))

    def fail_next(
        self,
        n: int,
        status: int = 503,
        *,
        endpoint: str | None = None,
        body: JSONDict | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next *n* matching requests with HTTP *status*.

        *body* defaults to a KashFlow-style ``{"Error", "Message"}``; a string body is sent
        as ``text/plain`` unless *headers* set a ``Content-Type`` (e.g. an HTML proxy page).
        """
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise ValueError(f"status must be an HTTP status code, not {status!r}")
        self._queue(
            n,
            _Fault("fail", endpoint, status=status, body=body, headers=dict(headers or {})),
        )

    def sql_timeout_next(self, n: int, endpoint: str | None = None) -> None:
        """Answer the next *n* matching requests with KashFlow's leaked SQL timeout (HTTP 400)."""
        self._queue(n, _Fault("fail", endpoint, status=400, body=dict(SQL_TIMEOUT_BODY)))

    def rate_limit_next(self, n: int, retry_after: int = 1, endpoint: str | None = None) -> None:
        """Answer the next *n* matching requests with 429 and ``Retry-After: retry_after``."""
        if isinstance(retry_after, bool) or not isinstance(retry_after, int) or retry_after < 0:
            raise ValueError(f"retry_after must be a whole number >= 0, not {retry_after!r}")
        self._queue(n, _Fault("rate_limit", endpoint, status=429, retry_after=retry_after))

    def malformed_next(self, n: int, endpoint: str | None = None) -> None:
        """Answer the next *n* matching requests with 200 and truncated, invalid JSON."""
        self._queue(n, _Fault("malformed", endpoint, status=200))

    def truncate_pdf_next(self, n: int) -> None:
        """Cut the next *n* successful PDF responses in half (Content-Length matches the cut).

        Only successful document responses consume these, so a refused request (no token)
        does not use one up.
        """
        _check_count(n)
        with self._lock:
            self._truncate_pdfs += n

    def hang_next(self, n: int, seconds: float, endpoint: str | None = None) -> None:
        """Make the next *n* matching requests wait *seconds* before answering normally."""
        self._queue(n, _Fault("hang", endpoint, seconds=_check_seconds(seconds)))

    def drop_next(self, n: int, endpoint: str | None = None) -> None:
        """Close the connection of the next *n* matching requests without any response."""
        self._queue(n, _Fault("drop", endpoint))

    def lock_account(self) -> None:
        """Lock the account: every login answers 401 ``AccountLocked`` until unlocked."""
        with self._lock:
            self._locked = True

    def unlock_account(self) -> None:
        """Unlock the account and forget earlier failed attempts."""
        with self._lock:
            self._locked = False
            self._consecutive_failures = 0

    def expire_sessions(self) -> None:
        """Invalidate every session token issued so far (as after KashFlow's idle timeout)."""
        with self._lock:
            self._sessions.clear()

    def set_max_perpage(self, n: int) -> None:
        """Cap ``perpage`` on ``GET /invoices`` at *n*, silently, like a real server."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"max perpage must be a whole number >= 1, not {n!r}")
        with self._lock:
            self._max_perpage = n

    def ignore_filters(self, flag: bool = True) -> None:
        """Misbehave: ignore ``customercode`` and status filters on ``GET /invoices``."""
        with self._lock:
            self._ignore_filters = bool(flag)

    def clear_faults(self) -> None:
        """Remove queued faults and latency, unlock the account, restore the perpage cap
        and honour filters again. Sessions, data and counters are untouched.
        """
        with self._lock:
            self._faults.clear()
            self._truncate_pdfs = 0
            self._latency.clear()
            self._max_perpage = self._default_max_perpage
            self._ignore_filters = False
            self._locked = False
            self._consecutive_failures = 0

    # -- WSGI ---------------------------------------------------------------------------------

    def _wsgi(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        response = self._dispatch(request)
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        if request.path.startswith("/_sandbox/"):
            return self._control(request)
        adapter = self._map.bind("sandbox.invalid")
        args: t.Mapping[str, t.Any] = {}
        route_error: Response | None = None
        try:
            # .NET routing is case-insensitive; values in the path (codes, GUIDs, tokens) are
            # compared case-insensitively below, so matching on the lower-cased path is safe.
            endpoint, args = adapter.match(request.path.lower(), request.method)
            route = str(endpoint)
        except MethodNotAllowed:
            route = "other"
            route_error = _error(405, "MethodNotAllowed", "The requested method is not allowed.")
        except HTTPException:
            route = "other"
            route_error = _error(404, "NotFound", "The requested resource was not found.")
        counter = route.split(":")[0]

        with self._lock:
            self._calls[counter] += 1
            delay = self._latency_for(counter)
            fault = next((f for f in self._faults if _matches(f.endpoint, counter)), None)
            if fault is not None:
                self._faults.remove(fault)
        if delay:
            time.sleep(delay)
        if fault is not None:
            early = self._apply_fault(fault, request)
            if early is not None:
                return early

        response = route_error or self._route(route, request, args)
        if fault is not None and fault.kind == "malformed":
            return _malformed(response)
        if response.status_code == 200 and response.mimetype == "application/pdf":
            with self._lock:
                cut = self._truncate_pdfs > 0
                if cut:
                    self._truncate_pdfs -= 1
            if cut:
                body = response.get_data()
                response.set_data(body[: len(body) // 2])
        return response

    def _latency_for(self, counter: str) -> float:
        for key in (counter, counter.split(".")[0], None):
            if key in self._latency:
                return self._latency[key]
        return 0.0

    def _apply_fault(self, fault: _Fault, request: Request) -> Response | None:
        if fault.kind == "drop":
            sock = request.environ.get("werkzeug.socket")
            if isinstance(sock, socket.socket):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            # werkzeug treats ConnectionError as "client went away" and writes nothing.
            raise _Dropped("sandbox dropped the connection on purpose")
        if fault.kind == "hang":
            time.sleep(fault.seconds)
            return None
        if fault.kind == "rate_limit":
            return json_response(
                429,
                {
                    "Error": "TooManyRequests",
                    "Message": f"Too many requests. Retry after {fault.retry_after} seconds.",
                },
                {"Retry-After": str(fault.retry_after)},
            )
        if fault.kind == "fail":
            headers = dict(fault.headers or {})
            if isinstance(fault.body, str):
                content_type = next(
                    (v for k, v in headers.items() if k.lower() == "content-type"),
                    "text/plain; charset=utf-8",
                )
                headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
                return Response(
                    fault.body, status=fault.status, content_type=content_type, headers=headers
                )
            body = fault.body
            if body is None:
                error, message = _FAIL_BODIES.get(fault.status, ("", ""))
                if not error:
                    phrase = _phrase(fault.status)
                    error, message = phrase.replace(" ", ""), f"{phrase}."
                body = {"Error": error, "Message": message}
            return json_response(fault.status, body, headers)
        return None  # "malformed" acts on the normal response

    def _route(self, route: str, request: Request, args: t.Mapping[str, t.Any]) -> Response:
        if route == "sessiontoken.post":
            return self._login_start(request)
        if route == "sessiontoken.put":
            return self._login_finish(request)
        if route == "sessiontoken.delete":
            with self._lock:
                self._sessions.pop(str(args["token"]).upper(), None)
            response = Response(status=204)
            del response.headers["Content-Type"]  # no body, so no type
            return response
        if not self._authenticate(request):
            return json_response(401, INVALID_SESSION)
        if route == "invoices.list":
            return self._list_invoices(request)
        if route == "invoices.get":
            return self._get_invoice(str(args["number"]))
        if route == "customers.get":
            with self._lock:
                customer = self._data.customer(str(args["code"]))
                if customer is None:
                    return _error(404, "NotFound", "Customer not found.")
                return json_response(200, customer)
        return self._document(route.split(":")[1], str(args["key"]), request)

    # -- sessions -----------------------------------------------------------------------------

    def _register_failure(self) -> None:
        self._failed_logins += 1
        self._consecutive_failures += 1
        if self._consecutive_failures >= self.lockout_threshold:
            self._locked = True
            logger.debug("sandbox account locked after %d failures", self._consecutive_failures)

    def _login_start(self, request: Request) -> Response:
        body = _json_body(request)
        if body is None:
            return _error(400, "InvalidRequest", "The request body must be a JSON object.")
        username, password = body.get("UserName"), body.get("Password")
        if not isinstance(username, str) or not isinstance(password, str):
            return _error(400, "InvalidRequest", "UserName and Password are required.")
        with self._lock:
            if self._locked:
                return json_response(401, ACCOUNT_LOCKED)
            right_user = username.casefold() == self.username.casefold()
            right_password = hmac.compare_digest(password.encode(), self.password.encode())
            if not (right_user and right_password):
                self._register_failure()
                return _error(400, "InvalidCredentials", "The user name or password is incorrect.")
            positions = tuple(self._rng.sample(range(1, len(self.memorable_word) + 1), 3))
            token = str(uuid.uuid4())
            self._temporary[token] = _TemporaryToken(time.monotonic(), positions)
        return json_response(
            201,
            {
                "HasTemporaryPassword": False,
                "IsAdmin": True,
                "PackageName": "Business",
                "PartnerBrandingOptOut": True,
                "MemorableWordList": [{"Position": p, "Value": ""} for p in positions],
                "PartnerId": 3,
                "SubscriptionExpired": False,
                "TemporaryToken": token,
            },
        )

    def _login_finish(self, request: Request) -> Response:
        body = _json_body(request)
        if body is None:
            return _error(400, "InvalidRequest", "The request body must be a JSON object.")
        answers = _parse_answers(body.get("MemorableWordList"))
        temporary = body.get("TemporaryToken")
        if answers is None or not isinstance(temporary, str):
            return _error(
                400, "InvalidRequest", "TemporaryToken and MemorableWordList are required."
            )
        with self._lock:
            if self._locked:
                return json_response(401, ACCOUNT_LOCKED)
            # Single use: a wrong answer means starting again with POST.
            record = self._temporary.pop(temporary.lower(), None)
            if record is None or time.monotonic() - record.issued_at > self.temporary_token_ttl:
                return _error(
                    400, "InvalidTemporaryToken", "The temporary token is invalid or has expired."
                )
            word = self.memorable_word
            correct = set(answers) == set(record.positions) and all(
                answers[p].casefold() == word[p - 1].casefold() for p in record.positions
            )
            if not correct:
                self._register_failure()
                return _error(
                    400,
                    "InvalidMemorableWord",
                    "The memorable word characters provided are incorrect.",
                )
            session = str(uuid.uuid4()).upper()
            self._sessions[session] = time.monotonic()
            self._logins += 1
            self._consecutive_failures = 0
        return json_response(
            200,
            {
                "SessionToken": session,
                "CompanyName": COMPANY_NAME,
                "IsAdmin": True,
                "SubscriptionExpired": False,
                "PartnerId": 3,
                "PackageName": "Business",
                "HasTemporaryPassword": False,
                "StartPageUrl": "/",
            },
        )

    def _purge_sessions(self) -> None:
        now = time.monotonic()
        for token, last_used in list(self._sessions.items()):
            if now - last_used > self.session_idle_timeout:
                del self._sessions[token]

    def _authenticate(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip().upper()
        if scheme.lower() != "kftoken" or not token:
            return False
        with self._lock:
            last_used = self._sessions.get(token)
            now = time.monotonic()
            if last_used is None:
                return False
            if now - last_used > self.session_idle_timeout:
                del self._sessions[token]
                return False
            # KashFlow's timeout counts inactivity, so each use starts it again.
            self._sessions[token] = now
            return True

    # -- invoices -----------------------------------------------------------------------------

    def _get_invoice(self, number: str) -> Response:
        if not re.fullmatch(r"[0-9]{1,9}", number):
            return _error(400, "InvalidParameter", "The invoice number must be a whole number.")
        with self._lock:
            invoice = self._data.invoices.get(int(number))
            if invoice is None:
                return _error(404, "NotFound", "Invoice not found.")
            return json_response(200, invoice)

    def _list_invoices(self, request: Request) -> Response:
        # KashFlow's (IIS) query parameter names are case-insensitive: customerCode works.
        params = {key.lower(): value for key, value in request.args.items()}
        page = _positive_int(params.get("page") or "1")
        if page is None:
            return _error(400, "InvalidParameter", "page must be a whole number of at least 1.")
        perpage = _positive_int(params.get("perpage") or "50")
        if perpage is None:
            return _error(400, "InvalidParameter", "perpage must be a whole number of at least 1.")
        sortby = params.get("sortby") or "Number"
        sort_key = _SORT_CODES.get(sortby.strip(), sortby.strip().lower())
        if sort_key not in _SORT_FIELDS:
            return _error(400, "InvalidParameter", f"sortby {sortby!r} is not supported.")
        order = (params.get("order") or "Asc").strip().lower()
        if order not in ("asc", "desc"):
            return _error(400, "InvalidParameter", "order must be Asc or Desc.")
        status_filter = (params.get("filterby") or params.get("statusfilter") or "All").strip()
        status_key = status_filter.lower()
        if status_key not in ("all", *_STATUS_FILTERS, *_DATE_FILTERS):
            return _error(400, "InvalidParameter", f"filterby {status_filter!r} is not supported.")
        customer_code = (params.get("customercode") or "").strip().upper()

        with self._lock:
            perpage = min(perpage, self._max_perpage)
            rows = list(self._data.invoices.values())
            if not self._ignore_filters:
                if customer_code:
                    rows = [r for r in rows if str(r["CustomerCode"]).upper() == customer_code]
                rows = [r for r in rows if self._status_matches(r, status_key)]
            field = _SORT_FIELDS[sort_key]
            rows.sort(key=lambda r: (_sort_value(r.get(field), field), r["Number"]))
            if order == "desc":
                rows.reverse()
            total = len(rows)
            last_page = max(1, math.ceil(total / perpage))
            chunk = rows[(page - 1) * perpage : page * perpage]
            # Tests may plant malformed amounts to play a misbehaving KashFlow: skip them.
            total_amount = sum(
                (
                    r["GrossAmount"]
                    for r in rows
                    if isinstance(r.get("GrossAmount"), Decimal) and r["GrossAmount"].is_finite()
                ),
                Decimal(0),
            )
            # Encoded under the lock: another thread may be updating these invoices.
            data = encode_json([invoice_summary(r) for r in chunk])

        def page_url(number: int) -> str:
            query: list[tuple[str, str]] = [
                ("page", str(number)),
                ("perpage", str(perpage)),
                ("sortby", sortby),
                ("order", "Desc" if order == "desc" else "Asc"),
            ]
            query += [
                (key, value)
                for key, value in request.args.items(multi=True)
                if key.lower() not in {"page", "perpage", "sortby", "order"}
            ]
            return f"{request.host_url.rstrip('/')}/v2/invoices?{urlencode(query)}"

        meta = {
            "FirstPageUrl": page_url(1),
            "LastPageUrl": page_url(last_page),
            "NextPageUrl": page_url(page + 1) if page < last_page else None,
            "PreviousPageUrl": page_url(page - 1) if page > 1 else None,
            "TotalRecords": total,
            "TotalAmount": total_amount,
            "InvoiceLimitReached": False,
        }
        body = b'{"Data":' + data + b',"MetaData":' + encode_json(meta) + b"}"
        return Response(body, status=200, content_type=JSON_TYPE)

    def _status_matches(self, invoice: JSONDict, status_key: str) -> bool:
        if status_key == "all":
            return True
        if status_key in _STATUS_FILTERS:
            return bool(invoice.get("Status") == _STATUS_FILTERS[status_key])
        issued = parse_kf_date(invoice["IssuedDate"])
        month = self.today.replace(day=1)
        if status_key == "lastmonth":
            month = (month - timedelta(days=1)).replace(day=1)
        return (issued.year, issued.month) == (month.year, month.month)

    # -- documents ----------------------------------------------------------------------------

    def _document(self, kind: str, key: str, request: Request) -> Response:
        with self._lock:
            if kind in ("inv", "packingslip"):
                invoice = self._data.invoice_by_key(key)
                if invoice is None:
                    return _error(404, "NotFound", "Document not found.")
                pdf, name = _invoice_pdf(invoice, packing_slip=kind == "packingslip")
            elif kind == "payment":
                found = self._data.payment_by_key(key)
                if found is None:
                    return _error(404, "NotFound", "Document not found.")
                pdf, name = _receipt_pdf(*found)
            else:
                customer = self._data.customer_by_key(key)
                if customer is None:
                    return _error(404, "NotFound", "Document not found.")
                params = {k.lower(): v for k, v in request.args.items()}
                try:
                    pdf, name = self._statement_pdf(customer, params)
                except ValueError as e:
                    return _error(400, "InvalidParameter", str(e))
        return Response(
            pdf,
            status=200,
            mimetype="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{name}"'},
        )

    def _statement_pdf(self, customer: JSONDict, params: dict[str, str]) -> tuple[bytes, str]:
        # Documented: no dates -> the last 3 months; filterby=All ignores the dates.
        start = _yyyymmdd(params.get("startdate")) or self.today - timedelta(days=91)
        end = _yyyymmdd(params.get("enddate")) or self.today
        all_dates = (params.get("filterby") or "").lower() == "all"
        exclude_paid = (params.get("excludepaid") or "").lower() == "true"
        rows = []
        for invoice in self._data.invoices_of(customer["Code"]):
            issued = parse_kf_date(invoice["IssuedDate"])
            if not all_dates and not start <= issued <= end:
                continue
            if exclude_paid and invoice["Status"] in ("Paid", "Overpaid", "NA"):
                continue
            rows.append(invoice)
        cur = customer.get("Currency") or {}
        period = "all dates" if all_dates else f"{start.isoformat()} to {end.isoformat()}"
        lines = [
            *_letterhead("Statement"),
            Line(f"Customer: {customer.get('Name')} ({customer['Code']})"),
            Line(f"Period: {period}"),
            Line(f"Date: {self.today.isoformat()}"),
            Line(""),
            Line("Invoice   Issued       Due          Status     Total        Due", bold=True),
        ]
        room = max_lines() - len(lines) - 4
        for invoice in rows[:room]:
            lines.append(
                Line(
                    f"{invoice['Number']:<9} {invoice['IssuedDate'][:10]}   "
                    f"{invoice['DueDate'][:10]}   {invoice['Status']:<10} "
                    f"{_amount(invoice['GrossAmount'], cur):<12} "
                    f"{_amount(invoice['DueAmount'], cur)}"
                )
            )
        if len(rows) > room:
            lines.append(Line(f"... and {len(rows) - room} more invoices"))
        outstanding = sum(
            (i["DueAmount"] for i in rows if i["Status"] in ("Unpaid", "Overdue")), Decimal(0)
        )
        lines += [Line(""), Line(f"Outstanding: {_amount(outstanding, cur)}", bold=True)]
        title = f"Statement - {customer.get('Name')}"
        return render_pdf(title, lines, created=self.today), f"Statement-{customer['Code']}.pdf"

    # -- control routes -----------------------------------------------------------------------

    def _control(self, request: Request) -> Response:
        path = request.path.rstrip("/")
        if path == "/_sandbox/stats" and request.method in ("GET", "HEAD"):
            return json_response(200, self.stats())
        if path == "/_sandbox/faults" and request.method == "POST":
            body = _json_body(request)
            if body is None:
                return json_response(400, {"ok": False, "error": "body must be a JSON object"})
            action = body.pop("action", None)
            actions: dict[str, t.Callable[..., None]] = {
                "fail_next": self.fail_next,
                "sql_timeout_next": self.sql_timeout_next,
                "rate_limit_next": self.rate_limit_next,
                "malformed_next": self.malformed_next,
                "truncate_pdf_next": self.truncate_pdf_next,
                "hang_next": self.hang_next,
                "drop_next": self.drop_next,
                "set_latency": self.set_latency,
                "lock_account": self.lock_account,
                "unlock_account": self.unlock_account,
                "expire_sessions": self.expire_sessions,
                "set_max_perpage": self.set_max_perpage,
                "ignore_filters": self.ignore_filters,
                "clear_faults": self.clear_faults,
                "reset_counters": self.reset_counters,
            }
            handler = actions.get(action) if isinstance(action, str) else None
            if handler is None:
                return json_response(
                    400,
                    {
                        "ok": False,
                        "error": f"unknown action {action!r}; use one of {sorted(actions)}",
                    },
                )
            try:
                handler(**body)
            except (TypeError, ValueError) as e:
                return json_response(400, {"ok": False, "error": str(e)})
            return json_response(200, {"ok": True})
        return json_response(404, {"ok": False, "error": "unknown control route"})


# --- helpers ---------------------------------------------------------------------------------


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _json_body(request: Request) -> dict[str, t.Any] | None:
    """The request body as a JSON object, whatever the Content-Type says; None if it isn't."""
    try:
        value = json.loads(request.get_data(cache=True) or b"null")
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _parse_answers(value: t.Any) -> dict[int, str] | None:
    """``MemorableWordList`` as {position: character}; None if malformed."""
    if not isinstance(value, list) or not value:
        return None
    answers: dict[int, str] = {}
    for item in value:
        if not isinstance(item, dict):
            return None
        position, character = item.get("Position"), item.get("Value")
        if isinstance(position, str) and position.isdigit():
            position = int(position)
        if isinstance(position, bool) or not isinstance(position, int):
            return None
        if not isinstance(character, str) or position in answers:
            return None
        answers[position] = character
    return answers


def _positive_int(text: str) -> int | None:
    text = text.strip()
    if not re.fullmatch(r"[0-9]{1,9}", text) or int(text) < 1:
        return None
    return int(text)


def _sort_value(value: t.Any, field: str) -> tuple[int, t.Any]:
    # Nulls first (as SQL Server sorts them), then by type-appropriate value.
    if value is None:
        return (0, "")
    if field in ("IssuedDate", "DueDate", "PaidDate"):
        return (1, str(value)[:19])
    if isinstance(value, str):
        return (1, value.casefold())
    return (1, value)


def _yyyymmdd(text: str | None) -> date | None:
    if not text:
        return None
    if not re.fullmatch(r"[0-9]{8}", text.strip()):
        raise ValueError(f"dates must be yyyymmdd, not {text!r}")
    value = text.strip()
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise ValueError(f"not a date: {text!r}") from None


def _malformed(response: Response) -> Response:
    data = response.get_data() if response.mimetype == "application/json" else b""
    if len(data) < 8:
        data = b'{"Data":[{"Number":1043,"Status":"Unpaid"}],"MetaData":{}}'
    cut = data[: len(data) // 2]
    return Response(cut, status=200, content_type=JSON_TYPE)


def _amount(value: Decimal, cur: t.Mapping[str, t.Any]) -> str:
    places = 0 if cur.get("Code") in _ZERO_DECIMAL_CURRENCIES else 2
    text = f"{value:,.{places}f}"
    symbol = str(cur.get("Symbol") or cur.get("Code") or "")
    return f"{text} {symbol}" if cur.get("DisplaySymbolOnRight") else f"{symbol}{text}"


def _letterhead(title: str) -> list[Line]:
    return [
        Line(COMPANY_NAME, 18, True),
        Line(", ".join(COMPANY_ADDRESS[1:]), 9),
        Line(""),
        Line(title, 14, True),
    ]


def _display_date(value: str | None) -> str:
    return value[:10] if value else "-"


def _invoice_pdf(invoice: JSONDict, *, packing_slip: bool) -> tuple[bytes, str]:
    cur = invoice.get("Currency") or {}
    number = invoice["Number"]
    title = f"{'Packing slip' if packing_slip else 'Invoice'} {number}"
    lines = [
        *_letterhead(title.upper() if not packing_slip else title),
        Line(f"Invoice number: {number}"),
        Line(f"Customer: {invoice.get('CustomerName')} ({invoice.get('CustomerCode')})"),
        Line(f"Issued: {_display_date(invoice.get('IssuedDate'))}"),
        Line(f"Due: {_display_date(invoice.get('DueDate'))}"),
    ]
    if invoice.get("CustomerReference"):
        lines.append(Line(f"Your reference: {invoice['CustomerReference']}"))
    lines += [
        Line(""),
        Line("Qty      Description" + ("" if packing_slip else " / Amount"), bold=True),
    ]
    for item in invoice.get("LineItems") or ():
        quantity, rate = item["Quantity"], item["Rate"]
        text = f"{quantity.normalize():f}  x  {item.get('Description') or item.get('ProductName')}"
        if not packing_slip:
            text += f"  @ {_amount(rate, cur)}  = {_amount(quantity * rate, cur)}"
        lines.append(Line(text))
    if not packing_slip:
        lines += [
            Line(""),
            Line(f"Net: {_amount(invoice['NetAmount'], cur)}"),
            Line(f"VAT: {_amount(invoice['VATAmount'], cur)}"),
            Line(f"Total: {_amount(invoice['GrossAmount'], cur)}", bold=True),
            Line(f"Paid: {_amount(invoice['TotalPaidAmount'], cur)}"),
            Line(f"Amount due: {_amount(invoice['DueAmount'], cur)}", bold=True),
            Line(f"Status: {invoice.get('Status')}"),
        ]
    created = parse_kf_date(invoice["IssuedDate"])
    prefix = "PackingSlip" if packing_slip else "Invoice"
    return render_pdf(title, lines, created=created), f"{prefix}-{number}.pdf"


def _receipt_pdf(invoice: JSONDict, payment: JSONDict) -> tuple[bytes, str]:
    cur = invoice.get("Currency") or {}
    lines = [
        *_letterhead("Payment receipt"),
        Line(f"Receipt for payment {payment.get('Id')}"),
        Line(f"Invoice number: {invoice['Number']}"),
        Line(f"Customer: {invoice.get('CustomerName')} ({invoice.get('CustomerCode')})"),
        Line(f"Date: {_display_date(payment.get('Date'))}"),
        Line(f"Amount paid: {_amount(payment['Amount'], cur)}", bold=True),
        Line(f"Method: {payment.get('Note') or payment.get('Method')}"),
        Line(""),
        Line(f"Invoice total: {_amount(invoice['GrossAmount'], cur)}"),
        Line(f"Still due: {_amount(invoice['DueAmount'], cur)}"),
    ]
    created = parse_kf_date(payment["Date"])
    title = f"Payment receipt - invoice {invoice['Number']}"
    return render_pdf(title, lines, created=created), f"Receipt-{payment.get('Id')}.pdf"


__all__ = ["ENDPOINTS", "KashFlowSandbox", "encode_json", "format_decimal"]
