"""The unauthenticated control routes, for processes that cannot call the sandbox's methods.

``GET /_sandbox/stats`` serves the counters; ``POST /_sandbox/faults`` with
``{"action": "<method name>", ...arguments}`` calls one of the sandbox's fault and switch
methods. Control requests are neither counted nor faulted.
"""

from __future__ import annotations

import typing as t

from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from .jsonfmt import json_body
from .jsonfmt import json_response
from .values import JSONDict


class ControlRoutes:
    """Answers ``/_sandbox/...`` requests.

    :param stats: returns the counters.
    :param actions: the callable behind each action name.
    """

    def __init__(
        self,
        stats: t.Callable[[], JSONDict],
        actions: t.Mapping[str, t.Callable[..., object]],
    ) -> None:
        self._stats = stats
        self._actions = dict(actions)

    def __call__(self, request: Request) -> Response:
        """The answer to a control request."""
        path = request.path.rstrip("/")
        if path == "/_sandbox/stats" and request.method in ("GET", "HEAD"):
            return json_response(200, self._stats())
        if path == "/_sandbox/faults" and request.method == "POST":
            return self._act(request)
        return json_response(404, {"ok": False, "error": "unknown control route"})

    def _act(self, request: Request) -> Response:
        body = json_body(request)
        if body is None:
            return json_response(400, {"ok": False, "error": "body must be a JSON object"})
        action = body.pop("action", None)
        handler = self._actions.get(action) if isinstance(action, str) else None
        if handler is None:
            return json_response(
                400,
                {
                    "ok": False,
                    "error": f"unknown action {action!r}; use one of {sorted(self._actions)}",
                },
            )
        try:
            handler(**body)
        except (TypeError, ValueError) as e:
            return json_response(400, {"ok": False, "error": str(e)})
        return json_response(200, {"ok": True})


__all__ = ["ControlRoutes"]
