"""Thread-safe counters, for tests, benchmarks and operators to read."""

from __future__ import annotations

import dataclasses
import threading


@dataclasses.dataclass
class Counters:
    """Integer fields that threads increment safely. Subclasses declare the fields."""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def _names(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self)]

    def add(self, name: str, amount: int = 1) -> None:
        """Add *amount* to the counter *name*."""
        with self._lock:
            setattr(self, name, getattr(self, name) + amount)

    def snapshot(self) -> dict[str, int]:
        """The counters as a dict."""
        with self._lock:
            return {name: getattr(self, name) for name in self._names()}

    def reset(self) -> None:
        """Zero every counter."""
        with self._lock:
            for name in self._names():
                setattr(self, name, 0)
