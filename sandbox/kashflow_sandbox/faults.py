"""Fault injection: one-shot faults queued per endpoint, standing latency, PDF truncation.

A fault is data: its *kind* says what happens, and the protocol that serves the request (REST
or SOAP) renders kinds that need a body in its own dialect. The queue, the latency table and
the endpoint names are shared by every protocol, so ``set_latency(1, "soap")`` and
``fail_next(1, endpoint="invoices")`` go through the same machinery.

:class:`FaultState` is not thread-safe by itself: the sandbox calls it under its lock.
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import typing as t
from dataclasses import dataclass

from werkzeug.wrappers import Request

from .values import JSONDict

#: Kinds every protocol handles the same way (the dispatcher applies them).
DROP, HANG = "drop", "hang"
#: Kinds rendered by the protocol: answer with an error, with 429, or cut the body.
FAIL, RATE_LIMIT, MALFORMED = "fail", "rate_limit", "malformed"


@dataclass
class Fault:
    """One queued fault: what to do to the next request counted as a matching endpoint."""

    kind: str
    #: A counter name (``"invoices.get"``), a prefix (``"invoices"``) or None for any.
    endpoint: str | None
    status: int = 503
    body: JSONDict | str | None = None
    headers: dict[str, str] | None = None
    seconds: float = 0.0
    retry_after: int = 1
    #: Free text some kinds carry (an error message, a redirect target).
    message: str = ""

    def copy(self) -> Fault:
        """An independent copy, so queued faults never share a mutable body or headers."""
        return dataclasses.replace(
            self,
            body=dict(self.body) if isinstance(self.body, dict) else self.body,
            headers=dict(self.headers) if self.headers is not None else None,
        )


def matches(endpoint_filter: str | None, endpoint: str) -> bool:
    """Whether a fault for *endpoint_filter* applies to a request counted as *endpoint*."""
    if endpoint_filter is None:
        return True
    return endpoint == endpoint_filter or endpoint.startswith(endpoint_filter + ".")


def check_count(n: int) -> int:
    """*n* if it is a whole number of at least 0, else ``ValueError``."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError(f"n must be a whole number >= 0, not {n!r}")
    return n


def check_seconds(seconds: float) -> float:
    """*seconds* as a float if it is a number of at least 0, else ``ValueError``."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise ValueError(f"seconds must be a number >= 0, not {seconds!r}")
    return float(seconds)


def check_status(status: int) -> int:
    """*status* if it is an HTTP status code, else ``ValueError``."""
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise ValueError(f"status must be an HTTP status code, not {status!r}")
    return status


class Dropped(ConnectionAbortedError):
    """Raised inside the app to make werkzeug abandon the request without a response."""


def drop_connection(request: Request) -> t.NoReturn:
    """Close the client's connection without answering (raises :class:`Dropped`)."""
    sock = request.environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    # werkzeug treats ConnectionError as "client went away" and writes nothing.
    raise Dropped("sandbox dropped the connection on purpose")


class FaultState:
    """Queued one-shot faults, latency per endpoint and the count of PDFs still to cut."""

    def __init__(self, endpoints: t.Iterable[str] = ()) -> None:
        self._filters: set[str] = set()
        #: One-shot faults in the order they were queued.
        self.queue: list[Fault] = []
        #: Delay in seconds by endpoint filter (None: every request).
        self.latency: dict[str | None, float] = {}
        #: How many more successful PDF answers to cut in half.
        self.truncate_pdfs = 0
        self.add_endpoints(endpoints)

    def add_endpoints(self, endpoints: t.Iterable[str]) -> None:
        """Accept faults for *endpoints* (counter names) and their prefixes."""
        for name in endpoints:
            self._filters.add(name)
            self._filters.add(name.split(".")[0])

    @property
    def filters(self) -> frozenset[str]:
        """Every endpoint name and prefix a fault may name."""
        return frozenset(self._filters)

    def check_endpoint(self, endpoint: str | None) -> str | None:
        """*endpoint* if it is None or a known name or prefix, else ``ValueError``."""
        if endpoint is not None and endpoint not in self._filters:
            raise ValueError(
                f"unknown endpoint {endpoint!r}; use one of {', '.join(sorted(self._filters))}"
            )
        return endpoint

    def push(self, n: int, fault: Fault) -> None:
        """Queue *n* copies of *fault*, after checking *n* and its endpoint."""
        check_count(n)
        self.check_endpoint(fault.endpoint)
        self.queue.extend(fault.copy() for _ in range(n))

    def take(self, endpoint: str) -> Fault | None:
        """Remove and return the oldest queued fault matching *endpoint*, if any."""
        fault = next((f for f in self.queue if matches(f.endpoint, endpoint)), None)
        if fault is not None:
            self.queue.remove(fault)
        return fault

    def set_latency(self, seconds: float, endpoint: str | None) -> None:
        """Delay requests matching *endpoint* by *seconds* (0 removes that setting)."""
        seconds = check_seconds(seconds)
        self.check_endpoint(endpoint)
        if seconds:
            self.latency[endpoint] = seconds
        else:
            self.latency.pop(endpoint, None)

    def latency_for(self, endpoint: str) -> float:
        """The delay for *endpoint*: its own setting, else its prefix's, else the global one."""
        for key in (endpoint, endpoint.split(".")[0], None):
            if key in self.latency:
                return self.latency[key]
        return 0.0

    def take_pdf_cut(self) -> bool:
        """Whether to cut this PDF (uses one up)."""
        if self.truncate_pdfs > 0:
            self.truncate_pdfs -= 1
            return True
        return False

    def clear(self) -> None:
        """Forget queued faults, latency and PDF cuts."""
        self.queue.clear()
        self.latency.clear()
        self.truncate_pdfs = 0


__all__ = [
    "DROP",
    "FAIL",
    "HANG",
    "MALFORMED",
    "RATE_LIMIT",
    "Dropped",
    "Fault",
    "FaultState",
    "check_count",
    "check_seconds",
    "check_status",
    "drop_connection",
    "matches",
]
