"""The shared cache, with its failures contained.

The portal's cache (flask-caching: SimpleCache in one process, Redis across workers and hosts)
holds data fetched from KashFlow, single-flight locks, the sealed KashFlow session token, and
throttle counters. None of that is needed for correctness: if the backend fails, every operation
here answers "miss" quickly and pages go to KashFlow directly. After a failure the backend is
skipped for a short while so a dead Redis costs one timeout, not one per call, and it is tried
again automatically, so recovery needs no restart.

Revocations are never kept here (see :mod:`.revocation`): losing the cache never un-revokes.
"""

from __future__ import annotations

import logging
import threading
import time
import typing as t

if t.TYPE_CHECKING:  # pragma: no cover
    from flask_caching import Cache

log = logging.getLogger(__name__)


class SafeCache:
    """A flask-caching :class:`~flask_caching.Cache` whose errors become misses.

    :param cache: the flask-caching object (initialised on the app).
    :param backoff: seconds to skip the backend after it failed.
    """

    def __init__(
        self,
        cache: Cache,
        *,
        backoff: float = 2.0,
        clock: t.Callable[[], float] | None = None,
    ) -> None:
        self._cache = cache
        self._backoff = backoff
        # Looked up on every call, so that frozen test clocks apply.
        self._clock = clock or (lambda: time.monotonic())
        self._down_until = 0.0
        self._lock = threading.Lock()
        #: How many backend operations failed (for tests and benchmarks).
        self.errors = 0

    @property
    def backend(self) -> t.Any:
        """The cachelib backend object."""
        return self._cache.cache

    @property
    def available(self) -> bool:
        """False while the backend is being skipped after a failure."""
        return self._clock() >= self._down_until

    def _call(self, operation: str, action: t.Callable[[], t.Any]) -> tuple[bool, t.Any]:
        if not self.available:
            return False, None
        try:
            return True, action()
        except Exception as e:  # any backend failure must degrade, not raise
            with self._lock:
                self.errors += 1
                first = self._clock() >= self._down_until
                self._down_until = self._clock() + self._backoff
            if first:
                log.warning(
                    "cache backend failed on %s (%s); serving without it for %.1f s",
                    operation,
                    type(e).__name__,
                    self._backoff,
                )
            return False, None

    def get(self, key: str) -> t.Any:
        """The cached value, or ``None`` on a miss or a backend failure."""
        return self._call("get", lambda: self._cache.get(key))[1]

    def has(self, key: str) -> bool | None:
        """Whether *key* exists; ``None`` if the backend failed."""
        ok, value = self._call("has", lambda: self._cache.has(key))
        return bool(value) if ok else None

    def set(self, key: str, value: t.Any, timeout: int) -> bool:
        """Store *value* for *timeout* seconds; False if it could not be stored."""
        return bool(self._call("set", lambda: self._cache.set(key, value, timeout=timeout))[1])

    def delete(self, key: str) -> None:
        """Remove *key* (failures ignored)."""
        self._call("delete", lambda: self._cache.delete(key))

    def add(self, key: str, value: t.Any, timeout: int) -> bool | None:
        """Store *value* only if *key* is absent: True if added, False if present, ``None`` if
        the backend failed. Atomic with expiry on Redis, so a lock can never outlive its TTL."""
        ok, added = self._call("add", lambda: self._add(key, value, timeout))
        return bool(added) if ok else None

    def _add(self, key: str, value: t.Any, timeout: int) -> bool:
        backend = self.backend
        client = getattr(backend, "_write_client", None)
        if client is not None and hasattr(client, "set") and hasattr(backend, "_get_prefix"):
            # cachelib's RedisCache.add is SETNX then EXPIRE: a crash between the two would
            # leave a lock for ever. SET NX EX is one atomic command.
            name = f"{backend._get_prefix()}{key}"
            return bool(client.set(name, backend.serializer.dumps(value), nx=True, ex=timeout))
        return bool(self._cache.add(key, value, timeout=timeout))

    def incr(self, key: str, timeout: int) -> int | None:
        """Increment a counter that expires *timeout* seconds after its first increment."""

        def action() -> int | None:
            self._add(key, 0, timeout)
            value = self.backend.inc(key)
            return int(value) if value is not None else None

        return t.cast("int | None", self._call("incr", action)[1])


__all__ = ["SafeCache"]
