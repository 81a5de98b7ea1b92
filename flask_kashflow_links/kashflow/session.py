"""KashFlow session tokens: one per account, shared by every worker and host.

KashFlow locks a user after repeated failed logins, and its session tokens expire after an idle
period, so the portal logs in as rarely as it can:

* the session token lives in the shared cache, sealed (encrypted with the Fernet keys), and in
  each process's memory; every request reuses it;
* a new login happens only after KashFlow answers 401, and only one login runs at a time per
  account (a lock in this process, and an atomic ``add`` in the shared cache across processes);
* after a refused login or ``AccountLocked``, no login is tried for a cool-down period, during
  which pages are served from the cache.
"""

from __future__ import annotations

import threading
import time
import typing as t
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field

from ..cache import SafeCache
from .credentials import Credentials

#: How long a sealed session token is kept in the cache. KashFlow expires tokens after an idle
#: period (60 minutes by default); a 401 triggers a fresh login whatever this says.
SESSION_TTL = 12 * 3600


@dataclass(frozen=True)
class Login:
    """Whom to log in as, and where that login's shared state lives."""

    #: A keyed hash naming the account in the cache (never the username or password).
    namespace: str
    credentials: Credentials = field(repr=False)
    #: True for credentials carried by an embed-mode link.
    embedded: bool = False


class SessionTokens:
    """Where session tokens, login locks and cool-downs are kept.

    :param cache: the shared cache, or ``None`` for per-process state only.
    :param seal: encrypts a session token before it goes into the cache.
    :param unseal: decrypts it again (``None`` if it cannot).
    :param lock_ttl: how long a cross-process login lock may be held.
    """

    def __init__(
        self,
        cache: SafeCache | None,
        seal: t.Callable[[bytes], bytes],
        unseal: t.Callable[[bytes], bytes | None],
        *,
        lock_ttl: int = 60,
        clock: t.Callable[[], float] = time.time,
    ) -> None:
        self._cache = cache
        self._seal = seal
        self._unseal = unseal
        self._lock_ttl = lock_ttl
        self._clock = clock
        self._memo: dict[str, str] = {}
        self._cooldowns: dict[str, float] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    # -- the token -----------------------------------------------------------------------------

    def current(self, namespace: str) -> str | None:
        """The account's session token: the shared one if reachable, else this process's."""
        if self._cache is not None:
            sealed = self._cache.get(f"{namespace}:session")
            if isinstance(sealed, bytes):
                plain = self._unseal(sealed)
                if plain:
                    token = plain.decode("utf-8", "replace")
                    self._memo[namespace] = token
                    return token
        return self._memo.get(namespace)

    def store(self, namespace: str, token: str) -> None:
        """Remember a fresh session token here and in the shared cache (sealed)."""
        self._memo[namespace] = token
        if self._cache is not None:
            self._cache.set(f"{namespace}:session", self._seal(token.encode()), SESSION_TTL)

    def discard(self, namespace: str, token: str) -> None:
        """Forget *token* (KashFlow refused it), unless another login already replaced it."""
        if self._memo.get(namespace) == token:
            del self._memo[namespace]
        if self._cache is not None and self.current(namespace) == token:
            self._cache.delete(f"{namespace}:session")
            self._memo.pop(namespace, None)

    # -- cool-down -----------------------------------------------------------------------------

    def cooldown_until(self, namespace: str) -> float | None:
        """When logins may resume (POSIX time), or ``None`` if they may run now."""
        until = self._cooldowns.get(namespace, 0.0)
        if self._cache is not None:
            shared = self._cache.get(f"{namespace}:cooldown")
            if isinstance(shared, int | float):
                until = max(until, float(shared))
        return until if until > self._clock() else None

    def start_cooldown(self, namespace: str, seconds: float) -> float:
        """Pause logins for *seconds*, here and (through the cache) everywhere."""
        until = self._clock() + seconds
        self._cooldowns[namespace] = until
        if self._cache is not None:
            self._cache.set(f"{namespace}:cooldown", until, int(seconds) + 1)
        return until

    def clear_cooldown(self, namespace: str) -> None:
        """Allow logins again (after a successful one)."""
        self._cooldowns.pop(namespace, None)
        if self._cache is not None:
            self._cache.delete(f"{namespace}:cooldown")

    # -- one login at a time -------------------------------------------------------------------

    @contextmanager
    def local_lock(self, namespace: str) -> Iterator[None]:
        """One thread of this process logs in for *namespace* at a time."""
        with self._guard:
            lock = self._locks.setdefault(namespace, threading.Lock())
        with lock:
            yield

    def acquire_shared(self, namespace: str) -> bool | None:
        """Try the cross-process login lock: True (got it), False (held elsewhere), ``None``
        (no shared cache reachable: go ahead, the process lock still applies)."""
        if self._cache is None:
            return None
        return self._cache.add(f"{namespace}:login-lock", 1, self._lock_ttl)

    def release_shared(self, namespace: str) -> None:
        """Release the cross-process login lock."""
        if self._cache is not None:
            self._cache.delete(f"{namespace}:login-lock")


__all__ = ["SESSION_TTL", "Login", "SessionTokens"]
