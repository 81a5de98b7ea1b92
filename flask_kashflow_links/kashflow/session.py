"""What the backends share across processes: the store, a lock in it, and session tokens.

The backends keep a little state that several workers and hosts must share: the session token
of each account, who is logging in right now, and when logins may resume. They ask only for the
five operations of :class:`SharedState`, which the portal's cache provides (Redis across hosts);
``None`` stands for "no shared store", and everything then stays per process.

:class:`SharedLock` is the one "lock in the store, then wait for its holder" helper of the
package: the fetch layer's single flight and the login lock both use it.

KashFlow locks a user after repeated failed logins, and its session tokens expire after an idle
period, so :class:`SessionTokens` lets the portal log in as rarely as it can:

* the session token lives in the shared store, sealed (encrypted by the caller's ``seal``), and
  in each process's memory; every request reuses it;
* a new login happens only after KashFlow says the session is invalid, and only one login runs
  at a time per account (a lock in this process, and a :class:`SharedLock` across processes);
* after a refused login or ``AccountLocked``, no login is tried for a cool-down period, during
  which pages are served from the cache. A pause after KashFlow refused the credentials
  themselves says so (:meth:`SessionTokens.refused`) for as long as it lasts, so that every
  worker answers an embed-mode link whose password changed as withdrawn, not as an outage.
"""

from __future__ import annotations

import threading
import time
import typing as t
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone

from cachetools import LRUCache

T = t.TypeVar("T")

#: How long a sealed session token is kept in the shared store. KashFlow expires tokens after an
#: idle period (60 minutes by default); a refused token triggers a fresh login whatever this says.
SESSION_TTL = 12 * 3600
#: Seconds without a login after KashFlow refused one (or reported ``AccountLocked``), or a
#: SOAP call: repeated failed logins lock the KashFlow user, so the portal stops asking and
#: serves what it has cached meanwhile. ``flask kashflow-links check --force`` asks anyway.
LOGIN_COOLDOWN = 900
#: Seconds without a login (or a SOAP call) after KashFlow refused the credentials an
#: embed-mode link carries: a changed password does not come back, and each attempt counts
#: towards locking the shared user out, so such credentials are asked about once a day.
EMBEDDED_PAUSE = 86400
# What a pause after a refusal of the credentials is kept under, beside the namespace's own
# (the name SOAP's password pauses had: those already running carry on).
_REFUSED = "password"
#: Accounts remembered per process (embed mode has one per set of credentials in use).
_MAX_ACCOUNTS = 10_000


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

    The lock's value is its deadline: a store whose ``add`` sets the key and its expiry in two
    steps (cachelib's Redis cache does) could keep a lock for ever if its holder died between
    them, and such a lock is found past its deadline, cleared and taken.

    :param store: the shared store, or ``None`` (no cross-process lock: always "acquired").
    :param key: the lock's key.
    :param ttl: seconds the lock may be held at most.
    :param clock: POSIX time (a lock's deadline).
    """

    def __init__(
        self,
        store: SharedState | None,
        key: str,
        ttl: int,
        *,
        sleep: t.Callable[[float], None] = time.sleep,
        clock: t.Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self.key = key
        self._ttl = ttl
        self._sleep = sleep
        self._clock = clock

    def acquire(self) -> bool | None:
        """Try once: True (got it), False (held elsewhere), ``None`` (no store reachable: go
        ahead, the caller's own process lock still applies)."""
        if self._store is None:
            return None
        deadline = self._clock() + self._ttl
        added = self._store.add(self.key, deadline, self._ttl)
        if added is not False:
            return added
        held_until = self._store.get(self.key)
        if isinstance(held_until, int | float) and held_until < self._clock():
            self._store.delete(self.key)  # its holder died holding it: no expiry came
            return self._store.add(self.key, deadline, self._ttl)
        return False

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


class SessionTokens:
    """Where session tokens, login locks and cool-downs are kept.

    :param store: the shared store, or ``None`` for per-process state only.
    :param seal: encrypts a session token before it goes into the shared store.
    :param unseal: decrypts it again (``None`` if it cannot).
    :param lock_ttl: how long a cross-process login lock may be held.
    """

    def __init__(
        self,
        store: SharedState | None,
        seal: t.Callable[[bytes], bytes],
        unseal: t.Callable[[bytes], bytes | None],
        *,
        lock_ttl: int = 60,
        clock: t.Callable[[], float] | None = None,
    ) -> None:
        self._store = store
        self._seal = seal
        self._unseal = unseal
        self._lock_ttl = lock_ttl
        self._clock = clock or (lambda: time.time())
        # Bounded: embed mode meets a new namespace for every set of credentials in use.
        self._memo: LRUCache[str, str] = LRUCache(_MAX_ACCOUNTS)
        self._cooldowns: LRUCache[str, float] = LRUCache(_MAX_ACCOUNTS)
        self._locks: LRUCache[str, threading.Lock] = LRUCache(_MAX_ACCOUNTS)
        self._guard = threading.Lock()

    # -- the token -----------------------------------------------------------------------------

    def current(self, namespace: str) -> str | None:
        """The account's session token: the shared one if reachable, else this process's."""
        if self._store is not None:
            sealed = self._store.get(f"{namespace}:session")
            if isinstance(sealed, bytes):
                plain = self._unseal(sealed)
                if plain:
                    token = plain.decode("utf-8", "replace")
                    with self._guard:
                        self._memo[namespace] = token
                    return token
        with self._guard:
            return self._memo.get(namespace)

    def store(self, namespace: str, token: str) -> None:
        """Remember a fresh session token here and in the shared store (sealed)."""
        with self._guard:
            self._memo[namespace] = token
        if self._store is not None:
            self._store.set(f"{namespace}:session", self._seal(token.encode()), SESSION_TTL)

    def discard(self, namespace: str, token: str) -> None:
        """Forget *token* (KashFlow refused it), unless another login already replaced it."""
        with self._guard:
            if self._memo.get(namespace) == token:
                del self._memo[namespace]
        if self._store is not None and self.current(namespace) == token:
            self._store.delete(f"{namespace}:session")
            with self._guard:
                self._memo.pop(namespace, None)

    # -- cool-down -----------------------------------------------------------------------------

    def cooldown_until(self, namespace: str) -> float | None:
        """When logins may resume (POSIX time), or ``None`` if they may run now."""
        with self._guard:
            until = self._cooldowns.get(namespace, 0.0)
        if self._store is not None:
            shared = self._store.get(f"{namespace}:cooldown")
            if isinstance(shared, int | float):
                until = max(until, float(shared))
        return until if until > self._clock() else None

    def paused_until(self, namespace: str) -> datetime | None:
        """When logins may resume (UTC), or ``None`` if they may run now."""
        until = self.cooldown_until(namespace)
        return None if until is None else datetime.fromtimestamp(until, tz=timezone.utc)

    def start_cooldown(self, namespace: str, seconds: float, *, refused: bool = False) -> float:
        """Pause logins for *seconds*, here and (through the shared store) everywhere.

        With *refused*, the pause follows a refusal of the credentials themselves (a wrong
        password, say), not a lock or an expired password: :meth:`refused` says so while the
        pause lasts.
        """
        until = self._pause(namespace, seconds)
        if refused:
            self._pause(f"{namespace}:{_REFUSED}", seconds)
        return until

    def refused(self, namespace: str) -> bool:
        """Whether logins are paused because KashFlow refused the credentials themselves."""
        return self.cooldown_until(f"{namespace}:{_REFUSED}") is not None

    def clear_cooldown(self, namespace: str) -> None:
        """Allow logins again (after a successful one)."""
        for name in (namespace, f"{namespace}:{_REFUSED}"):
            with self._guard:
                self._cooldowns.pop(name, None)
            if self._store is not None:
                self._store.delete(f"{name}:cooldown")

    def _pause(self, name: str, seconds: float) -> float:
        until = self._clock() + seconds
        with self._guard:
            self._cooldowns[name] = until
        if self._store is not None:
            self._store.set(f"{name}:cooldown", until, int(seconds) + 1)
        return until

    # -- one login at a time -------------------------------------------------------------------

    @contextmanager
    def local_lock(self, namespace: str) -> Iterator[None]:
        """One thread of this process logs in for *namespace* at a time."""
        with self._guard:
            lock = self._locks.get(namespace)
            if lock is None:
                lock = self._locks[namespace] = threading.Lock()
        with lock:
            yield

    def login_lock(self, namespace: str) -> SharedLock:
        """The cross-process login lock of *namespace*."""
        return SharedLock(self._store, f"{namespace}:login-lock", self._lock_ttl)
