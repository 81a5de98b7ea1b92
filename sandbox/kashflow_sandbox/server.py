"""The :class:`KashFlowSandbox` facade: construction, lifecycle, data and counters.

The public face is the package, :mod:`kashflow_sandbox`. The machinery lives in small modules:
the shared state (:mod:`.state`), the WSGI pipeline (:mod:`.app`), the REST routes
(:mod:`.rest`), logins (:mod:`.sessions`), faults (:mod:`.faults`, :mod:`.controls`), the
data store (:mod:`.data`) and the HTTP server thread (:mod:`.httpserver`).
"""

from __future__ import annotations

import collections
import logging
import random
import threading
import time
import typing as t
from datetime import date

from .app import SandboxApp
from .control import ControlRoutes
from .controls import ACTIONS as FAULT_ACTIONS
from .controls import FaultControls
from .data import SandboxData
from .demo import demo_business
from .faults import FaultState
from .httpserver import ServerThread
from .httpserver import connect_host
from .jsonfmt import encode_json
from .jsonfmt import format_decimal
from .rest import ENDPOINTS
from .rest import RestApi
from .sessions import SessionStore
from .shapes import shape_named
from .soap import SoapApi
from .soap import SoapControls
from .soap import SoapSettings
from .soap.api import PASSWORD_MODES
from .soap.controls import ACTIONS as SOAP_ACTIONS
from .state import SandboxState
from .switches import ACTIONS as SWITCH_ACTIONS
from .switches import RestSwitches
from .values import JSONDict

if t.TYPE_CHECKING:  # pragma: no cover
    from types import TracebackType

logger = logging.getLogger(__name__)


class KashFlowSandbox(FaultControls, RestSwitches, SoapControls):
    """A local HTTP server that behaves like KashFlow's REST API v2 and its legacy SOAP
    service (``/api/service.asmx``, same data), for demos and tests.

    See :mod:`kashflow_sandbox` for usage. Construction builds the data; nothing
    listens until :meth:`start` (or ``with``). All methods are thread-safe.

    :param host: interface to bind; the URLs use loopback for wildcard addresses.
    :param port: port to bind; 0 lets the OS pick a free one (see :attr:`port`).
    :param username: the web login accepted (case-insensitive).
    :param password: the password accepted.
    :param memorable_word: the whole memorable word (at least 3 characters).
    :param today: the date statuses and demo dates are relative to; default today.
    :param seed: seed of the demo data and of the memorable-word positions asked.
    :param demo_data: build the demo business; False starts with no customers or invoices.
    :param extra_customers: add this many generated customers who owe money (``EXTRA0001``
        upward, four invoices each, overdue and unpaid among them), after the demo business,
        for benchmarks; deterministic for a *seed* and *today*. See
        :meth:`SandboxData.add_extra_customers`.
    :param session_idle_timeout: seconds a session token survives unused (KashFlow: 60 min).
    :param temporary_token_ttl: seconds between the two login steps.
    :param lockout_threshold: consecutive failed logins that lock the account.
    :param max_perpage: the largest page ``GET /invoices`` serves (``GET /customers``: at most
        100 in any case, as KashFlow documents).
    :param shape: the fields served: ``"swagger"`` (the Swagger copy's, the default) or
        ``"documented"`` (exactly those of KashFlow's official examples); see
        :meth:`set_shape`.
    :param soap_password: the account's separate SOAP API password (a demo value by default);
        SOAP accepts it only in "separate" mode.
    :param soap_password_mode: ``"login"`` (SOAP takes the web login password, the
        default) or ``"separate"`` (only *soap_password*); see :meth:`set_soap_password_mode`.
    :param public_documents: serve document permalinks without a session token, as a SOAP
        client needs for invoice PDFs; see :meth:`set_public_documents`.
    :param clock: monotonic seconds for session and login timeouts; a test can pass a fake
        clock and move it forward instead of sleeping.
    :param sleep: how latency and ``hang_next`` wait; a test can pass a fake that records.
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
        extra_customers: int = 0,
        session_idle_timeout: float = 3600.0,
        temporary_token_ttl: float = 300.0,
        lockout_threshold: int = 5,
        max_perpage: int = 100,
        shape: str = "swagger",
        soap_password: str = "sandbox-api-password",  # noqa: S107 - a documented demo value
        soap_password_mode: str = "login",  # noqa: S107 - a mode's name, not a password
        public_documents: bool = False,
        clock: t.Callable[[], float] = time.monotonic,
        sleep: t.Callable[[float], None] = time.sleep,
    ) -> None:
        if len(memorable_word) < 3:
            raise ValueError("the memorable word needs at least 3 characters")
        if lockout_threshold < 1:
            raise ValueError("lockout_threshold must be at least 1")
        if max_perpage < 1:
            raise ValueError("max_perpage must be at least 1")
        served = shape_named(shape)
        if soap_password_mode not in PASSWORD_MODES:
            raise ValueError(f"soap_password_mode must be one of {', '.join(PASSWORD_MODES)}")
        self.host = host
        self._port = port
        #: The web login the sandbox accepts (compared case-insensitively, like an email).
        self.username = username
        #: The password the sandbox accepts.
        self.password = password
        #: The whole memorable word; logins ask for three of its characters.
        self.memorable_word = memorable_word
        #: Seconds a session token survives unused.
        self.session_idle_timeout = session_idle_timeout
        #: Seconds allowed between the two login steps.
        self.temporary_token_ttl = temporary_token_ttl
        #: Consecutive failed logins that lock the account.
        self.lockout_threshold = lockout_threshold

        today = today or date.today()
        build = demo_business if demo_data else SandboxData
        data = build(today=today, seed=seed)
        data.add_extra_customers(extra_customers)
        lock = threading.RLock()
        # Positions asked for are reproducible for a given seed and call order.
        rng = random.Random(seed)  # noqa: S311  # nosec B311
        self._state = SandboxState(
            lock=lock,
            data=data,
            sessions=SessionStore(self, lock, rng, clock),
            faults=FaultState(),
            default_max_perpage=max_perpage,
            sleep=sleep,
            shape=served,
            public_documents=public_documents,
        )
        rest = RestApi(self._state)
        settings = SoapSettings(api_password=soap_password, password_mode=soap_password_mode)
        self._soap = SoapApi(self._state, self, settings)
        self._state.faults.add_endpoints((*rest.endpoints, *self._soap.endpoints))
        actions = (*FAULT_ACTIONS, *SWITCH_ACTIONS, *SOAP_ACTIONS)
        control = ControlRoutes(self.stats, {name: getattr(self, name) for name in actions})
        # SOAP first: REST's fallback route claims every other path.
        self._app = SandboxApp(self._state, [self._soap, rest], control)
        self._server: ServerThread | None = None

    def __repr__(self) -> str:
        where = self.origin if self._server is not None else "not started"
        return f"<KashFlowSandbox {where} user={self.username!r}>"

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> KashFlowSandbox:
        """Start serving on a background thread; returns once connections are accepted."""
        if self._server is not None:
            raise RuntimeError("the sandbox is already running")
        self._server = ServerThread(self.host, self._port, self._app)
        logger.debug("KashFlow sandbox listening on %s", self.origin)
        return self

    def stop(self) -> None:
        """Stop serving, close open connections and join the server thread. Idempotent."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()

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
    def port(self) -> int:
        """The port being served (the chosen one when constructed with ``port=0``)."""
        if self._server is None:
            raise RuntimeError("the sandbox is not running; call start() first")
        return self._server.port

    @property
    def origin(self) -> str:
        """Scheme, host and port, e.g. ``"http://127.0.0.1:54321"``."""
        host = connect_host(self.host)
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """The API base URL, e.g. ``"http://127.0.0.1:54321/v2"``."""
        return f"{self.origin}/v2"

    @property
    def soap_url(self) -> str:
        """The SOAP endpoint, e.g. ``"http://127.0.0.1:54321/api/service.asmx"``."""
        return f"{self.origin}/api/service.asmx"

    def account_config(self, **extra: t.Any) -> dict[str, t.Any]:
        """An entry for ``KASHFLOW_LINKS_ACCOUNTS`` holding this sandbox's credentials.

        ``account_config(api="soap")`` gives ``{"api": "soap", "username": ...,
        "password": ...}`` with the password the SOAP password mode accepts (no memorable
        word: SOAP has none); other keyword arguments are added as they are.
        """
        if extra.get("api") == "soap":
            with self._state.lock:
                password = self._soap.settings.accepted_password(self)
            return {"api": "soap", "username": self.username, "password": password, **extra}
        return {
            "username": self.username,
            "password": self.password,
            "memorable_word": self.memorable_word,
            **extra,
        }

    # -- data ---------------------------------------------------------------------------------

    @property
    def today(self) -> date:
        """The date statuses, overdue days and statements are computed against.

        Setting it affects records computed from then on (added or updated invoices, list
        filters by month, statements); stored statuses are not recomputed.
        """
        return self._state.data.today

    @today.setter
    def today(self, value: date) -> None:
        with self._state.lock:
            self._state.data.today = value

    @property
    def data(self) -> SandboxData:
        """The underlying :class:`SandboxData` (hold no references across threads)."""
        return self._state.data

    @property
    def invoices(self) -> dict[int, JSONDict]:
        """Invoices by number, exactly as ``GET /v2/invoices/{number}`` returns them.

        The live store: read freely; change it through :meth:`add_invoice`,
        :meth:`update_invoice` and :meth:`remove_invoice`, which keep derived fields right.
        """
        return self._state.data.invoices

    @property
    def customers(self) -> dict[str, JSONDict]:
        """Customers by code, exactly as ``GET /v2/customers/{code}`` returns them."""
        return self._state.data.customers

    def add_customer(self, data: t.Mapping[str, t.Any]) -> JSONDict:
        """Add a customer (``Code`` required), filling missing fields; returns the stored dict."""
        with self._state.lock:
            return self._state.data.add_customer(data)

    def add_invoice(self, data: t.Mapping[str, t.Any]) -> JSONDict:
        """Add an invoice (``CustomerCode`` required), filling missing fields; returns it.

        Amounts follow the line items and payment lines; ``Status`` is computed if absent.
        """
        with self._state.lock:
            return self._state.data.add_invoice(data)

    def add_extra_customers(self, count: int, *, invoices_each: int = 4) -> list[str]:
        """Add *count* generated customers who owe money, for benchmarks; returns their codes
        (see :meth:`SandboxData.add_extra_customers` and the *extra_customers* argument)."""
        with self._state.lock:
            return self._state.data.add_extra_customers(count, invoices_each=invoices_each)

    def update_invoice(self, number: int, **fields: t.Any) -> JSONDict:
        """Change fields of invoice *number*; derived fields not given are recomputed."""
        with self._state.lock:
            return self._state.data.update_invoice(number, fields)

    def remove_invoice(self, number: int) -> None:
        """Delete invoice *number*; ``KeyError`` if it does not exist."""
        with self._state.lock:
            self._state.data.remove_invoice(number)

    # -- counters -----------------------------------------------------------------------------

    @property
    def calls(self) -> collections.Counter[str]:
        """Requests received per endpoint (a snapshot), e.g. ``calls["invoices.list"]``."""
        with self._state.lock:
            return collections.Counter(self._state.calls)

    @property
    def logins(self) -> int:
        """Successful logins (completed ``PUT /sessiontoken``) since the last reset."""
        with self._state.lock:
            return self._state.sessions.logins

    @property
    def failed_logins(self) -> int:
        """Logins refused for a wrong username, password or memorable word."""
        with self._state.lock:
            return self._state.sessions.failed_logins

    @property
    def _sessions(self) -> dict[str, float]:
        # The live session tokens; the project's secret-scanning tests read them.
        return self._state.sessions.sessions

    def reset_counters(self) -> None:
        """Zero :attr:`calls`, :attr:`logins` and :attr:`failed_logins`."""
        with self._state.lock:
            self._state.calls.clear()
            self._state.sessions.reset_counters()

    def active_sessions(self) -> int:
        """How many session tokens are currently valid."""
        return self._state.sessions.active()

    def stats(self) -> JSONDict:
        """The counters as served by ``GET /_sandbox/stats``."""
        with self._state.lock:
            return {
                "calls": dict(self._state.calls),
                "logins": self._state.sessions.logins,
                "failed_logins": self._state.sessions.failed_logins,
                "active_sessions": self.active_sessions(),
            }


__all__ = ["ENDPOINTS", "KashFlowSandbox", "encode_json", "format_decimal"]
