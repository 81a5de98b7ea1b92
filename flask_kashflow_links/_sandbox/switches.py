"""The response shape switch (a mixin of the facade).

KashFlow's official REST examples and its Swagger copy disagree about several fields (see
:mod:`.shapes`); the sandbox serves either reading. Every method is also a control-route
action (:data:`ACTIONS`).
"""

from __future__ import annotations

from .shapes import shape_named
from .state import SandboxState

#: The methods the control route may call, by name.
ACTIONS = ("set_shape",)


class RestSwitches:
    """The shape switch; every method is thread-safe."""

    _state: SandboxState

    @property
    def shape(self) -> str:
        """The response shape being served: ``"swagger"`` or ``"documented"``."""
        return self._state.shape.name

    def set_shape(self, shape: str) -> None:
        """Serve *shape* from now on: ``"swagger"`` (the Swagger copy's fields, the default)
        or ``"documented"`` (exactly the fields of KashFlow's official examples)."""
        chosen = shape_named(shape)
        with self._state.lock:
            self._state.shape = chosen


__all__ = ["ACTIONS", "RestSwitches"]
