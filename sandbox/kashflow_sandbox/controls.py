"""The sandbox's public fault methods and standing switches (a mixin of the facade).

Every method here is also a control-route action (``POST /_sandbox/faults``), listed in
:data:`ACTIONS`. One-shot faults go in the shared queue (see :mod:`.faults`); an ``endpoint``
such as ``"invoices.get"`` or the prefix ``"invoices"`` narrows them.
"""

from __future__ import annotations

from .faults import DROP
from .faults import FAIL
from .faults import HANG
from .faults import MALFORMED
from .faults import RATE_LIMIT
from .faults import Fault
from .faults import check_count
from .faults import check_seconds
from .faults import check_status
from .rest import SQL_TIMEOUT_BODY
from .state import SandboxState
from .values import JSONDict

#: The methods the control route may call, by name.
ACTIONS = (
    "fail_next",
    "sql_timeout_next",
    "rate_limit_next",
    "malformed_next",
    "truncate_pdf_next",
    "hang_next",
    "drop_next",
    "set_latency",
    "lock_account",
    "unlock_account",
    "expire_sessions",
    "set_max_perpage",
    "ignore_filters",
    "clear_faults",
    "reset_counters",
)


class FaultControls:
    """Queue faults and flip switches on a running sandbox; every method is thread-safe."""

    _state: SandboxState

    def _queue(self, n: int, fault: Fault) -> None:
        with self._state.lock:
            self._state.faults.push(n, fault)

    def set_latency(self, seconds: float, endpoint: str | None = None) -> None:
        """Delay every matching request by *seconds* until changed (0 removes the delay).

        With several settings, the most specific one applies: an endpoint name beats a
        prefix such as ``"invoices"``, which beats the global (``None``) setting.
        """
        with self._state.lock:
            self._state.faults.set_latency(seconds, endpoint)

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
        check_status(status)
        self._queue(n, Fault(FAIL, endpoint, status=status, body=body, headers=headers or {}))

    def sql_timeout_next(self, n: int, endpoint: str | None = None) -> None:
        """Answer the next *n* matching requests with KashFlow's leaked SQL timeout (HTTP 400)."""
        self._queue(n, Fault(FAIL, endpoint, status=400, body=dict(SQL_TIMEOUT_BODY)))

    def rate_limit_next(self, n: int, retry_after: int = 1, endpoint: str | None = None) -> None:
        """Answer the next *n* matching requests with 429 and ``Retry-After: retry_after``."""
        if isinstance(retry_after, bool) or not isinstance(retry_after, int) or retry_after < 0:
            raise ValueError(f"retry_after must be a whole number >= 0, not {retry_after!r}")
        self._queue(n, Fault(RATE_LIMIT, endpoint, status=429, retry_after=retry_after))

    def malformed_next(self, n: int, endpoint: str | None = None) -> None:
        """Answer the next *n* matching requests with 200 and truncated, invalid JSON."""
        self._queue(n, Fault(MALFORMED, endpoint, status=200))

    def truncate_pdf_next(self, n: int) -> None:
        """Cut the next *n* successful PDF responses in half (Content-Length matches the cut).

        Only successful document responses consume these, so a refused request (no token)
        does not use one up.
        """
        check_count(n)
        with self._state.lock:
            self._state.faults.truncate_pdfs += n

    def hang_next(self, n: int, seconds: float, endpoint: str | None = None) -> None:
        """Make the next *n* matching requests wait *seconds* before answering normally."""
        self._queue(n, Fault(HANG, endpoint, seconds=check_seconds(seconds)))

    def drop_next(self, n: int, endpoint: str | None = None) -> None:
        """Close the connection of the next *n* matching requests without any response."""
        self._queue(n, Fault(DROP, endpoint))

    def lock_account(self) -> None:
        """Lock the account: every login answers 401 ``AccountLocked`` until unlocked."""
        with self._state.lock:
            self._state.sessions.locked = True

    def unlock_account(self) -> None:
        """Unlock the account and forget earlier failed attempts."""
        self._state.sessions.unlock()

    def expire_sessions(self) -> None:
        """Invalidate every session token issued so far (as after KashFlow's idle timeout)."""
        self._state.sessions.expire_all()

    def set_max_perpage(self, n: int) -> None:
        """Cap ``perpage`` on the lists (``GET /invoices``, ``GET /customers``) at *n*,
        silently, like a real server."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"max perpage must be a whole number >= 1, not {n!r}")
        with self._state.lock:
            self._state.max_perpage = n

    def ignore_filters(self, flag: bool = True) -> None:
        """Misbehave: ignore ``customercode`` and status filters on ``GET /invoices``,
        ``namestartswith`` and ``filterarchived`` on ``GET /customers``, and answer SOAP's
        ``GetInvoicesForCustomer`` with every customer's invoices and ``GetInvoices_Unpaid``
        and ``GetInvoices_Overdue`` with every invoice."""
        with self._state.lock:
            self._state.ignore_filters = bool(flag)

    def clear_faults(self) -> None:
        """Remove queued faults and latency, unlock the account, restore the perpage cap
        and honour filters again. Sessions, data and counters are untouched.
        """
        self._state.clear_switches()


__all__ = ["ACTIONS", "FaultControls"]
