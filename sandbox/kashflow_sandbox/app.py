"""The sandbox's WSGI application: one pipeline for every protocol it speaks.

Each request is matched by the first protocol that claims it (SOAP before REST, whose
fallback route counts unknown paths as ``"other"``), then goes through the same steps:
count it, wait out any latency, apply the oldest matching one-shot fault, run the handler,
and cut the PDF if a truncation is pending. Control routes (``/_sandbox/...``) skip all of it.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from .faults import DROP
from .faults import HANG
from .faults import Fault
from .faults import drop_connection
from .state import SandboxState

if t.TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse
    from _typeshed.wsgi import WSGIEnvironment


@dataclass(frozen=True)
class Route:
    """A matched request: the counter it counts under and what answers it."""

    endpoint: str
    handler: t.Callable[[Request], Response]
    protocol: Protocol


class Protocol(t.Protocol):
    """One API the sandbox speaks (KashFlow's REST v2, its SOAP service)."""

    #: The counter names this protocol's routes count under.
    endpoints: tuple[str, ...]

    def match(self, request: Request) -> Route | None:
        """The route for *request*, or None if it is not this protocol's."""

    def fault_response(self, fault: Fault, request: Request, route: Route) -> Response | None:
        """The answer *fault* gives instead of the handler's, in this protocol's dialect, or
        None to let the handler answer (possibly changed by :meth:`after_fault`)."""

    def after_fault(self, fault: Fault, response: Response) -> Response:
        """*response* changed by a fault that acts on the normal answer (e.g. malformed)."""


class SandboxApp:
    """The WSGI callable: control routes, then *protocols* in order."""

    def __init__(
        self,
        state: SandboxState,
        protocols: t.Sequence[Protocol],
        control: t.Callable[[Request], Response],
    ) -> None:
        self._state = state
        self._protocols = tuple(protocols)
        self._control = control

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        response = self.dispatch(Request(environ))
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        """The response to *request*, faults included."""
        if request.path.startswith("/_sandbox/"):
            return self._control(request)
        route = self._route(request)
        state = self._state
        with state.lock:
            state.calls[route.endpoint] += 1
            delay = state.faults.latency_for(route.endpoint)
            fault = state.faults.take(route.endpoint)
        if delay:
            state.sleep(delay)
        if fault is not None:
            if fault.kind == DROP:
                drop_connection(request)
            if fault.kind == HANG:
                state.sleep(fault.seconds)
            else:
                early = route.protocol.fault_response(fault, request, route)
                if early is not None:
                    return early

        response = route.handler(request)
        if fault is not None and fault.kind not in (DROP, HANG):
            response = route.protocol.after_fault(fault, response)
        if response.status_code == 200 and response.mimetype == "application/pdf":
            with state.lock:
                cut = state.faults.take_pdf_cut()
            if cut:
                body = response.get_data()
                response.set_data(body[: len(body) // 2])
        return response

    def _route(self, request: Request) -> Route:
        for protocol in self._protocols:
            route = protocol.match(request)
            if route is not None:
                return route
        raise LookupError("no protocol claimed the request")  # the last one always does


__all__ = ["Protocol", "Route", "SandboxApp"]
