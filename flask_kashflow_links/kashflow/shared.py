"""What the KashFlow layer needs from a shared store, and the one lock built on it.

The backends keep a little state that several workers and hosts must share: the session token
of each account, who is logging in right now, and when logins may resume. They ask only for the
four operations of :class:`SharedState`, which the portal's cache provides (Redis across hosts);
``None`` stands for "no shared store", and everything then stays per process.

:class:`SharedLock` is the one "lock in the store, then wait for its holder" helper of the
package: the fetch layer's single flight and the login lock both use it.
"""

from __future__ import annotations

import time
import typing as t
from dataclasses import dataclass

T = t.TypeVar("T")


class SharedState(t.Protocol):
    """A key-value store shared by every process (a cache with atomic ``add``).

    Failures are contained by the store: reads answer ``None`` and writes answer false or
    ``None`` rather than raising.
    """

    def get(self, key: str) -> t.Any:
        """The value of *key*, or ``None``."""

    def set(self, key: str, value: t.Any, timeout: int) -> bool:
        """Store *value* for *timeout* seconds."""

    def add(self, key: str, value: t.Any, timeout: int) -> bool | None:
        """Store *value* only if *key* is absent (atomically): True if added, False if present,
        ``None`` if the store failed."""

    def has(self, key: str) -> bool | None:
        """Whether *key* exists; ``None`` if the store failed."""

    def delete(self, key: str) -> None:
        """Remove *key*."""


@dataclass(frozen=True)
class Waited(t.Generic[T]):
    """What :meth:`SharedLock.acquire_or_wait` came back with."""

    #: True when this caller holds the lock now and must :meth:`~SharedLock.release` it.
    held: bool = False
    #: What *ready* produced while waiting for another holder (then ``held`` is false).
    value: T | None = None


class SharedLock:
    """A lock held in a :class:`SharedState` with an atomic ``add`` and an expiry, so it holds
    across processes (with Redis) and can never outlive *ttl* if its holder dies.

    :param store: the shared store, or ``None`` (no cross-process lock: always "acquired").
    :param key: the lock's key.
    :param ttl: seconds the lock may be held at most.
    """

    def __init__(
        self,
        store: SharedState | None,
        key: str,
        ttl: int,
        *,
        sleep: t.Callable[[float], None] = time.sleep,
    ) -> None:
        self._store = store
        self.key = key
        self._ttl = ttl
        self._sleep = sleep

    def acquire(self) -> bool | None:
        """Try once: True (got it), False (held elsewhere), ``None`` (no store reachable: go
        ahead, the caller's own process lock still applies)."""
        if self._store is None:
            return None
        return self._store.add(self.key, 1, self._ttl)

    def release(self) -> None:
        """Release the lock (call only when holding it)."""
        if self._store is not None:
            self._store.delete(self.key)

    def held_elsewhere(self) -> bool:
        """Whether the lock is (still) held, as far as the store can tell."""
        return self._store is not None and self._store.has(self.key) is True

    def acquire_or_wait(self, ready: t.Callable[[], T | None], limit: float) -> Waited[T]:
        """Take the lock, or wait up to *limit* seconds for its holder's result.

        While another process holds the lock, *ready* is polled (with a growing pause) for the
        result that process is producing; it may raise to abandon the wait. When the lock is
        released without a result, this caller tries to take it. After *limit* seconds it gives
        up: ``Waited()`` (neither held nor a value) tells the caller to go ahead unlocked or to
        fall back on what it has.
        """
        got = self.acquire()
        if got is not False:
            return Waited(held=bool(got))
        deadline = time.monotonic() + limit
        delay = 0.01
        while time.monotonic() < deadline:
            self._sleep(delay)
            delay = min(delay * 1.5, 0.25)
            value = ready()
            if value is not None:
                return Waited(value=value)
            if not self.held_elsewhere():
                # The holder finished (its result is stored before its lock goes) or gave up:
                # look once more, then it is our turn.
                value = ready()
                if value is not None:
                    return Waited(value=value)
                got = self.acquire()
                if got is not False:
                    return Waited(held=bool(got))
        return Waited()


__all__ = ["SharedLock", "SharedState", "Waited"]
