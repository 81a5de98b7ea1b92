"""Caching: the shared cache with its failures contained, and the per-process get-or-make LRU.

:class:`SafeCache` wraps the portal's flask-caching object (SimpleCache in one process, Redis
across workers and hosts), which holds data fetched from KashFlow, single-flight locks, the
sealed KashFlow session token and throttle counters. None of that is needed for correctness:
if the backend fails, every operation answers "miss" quickly and pages go to KashFlow
directly. After a failure the backend is skipped for a short while, so a dead Redis costs one
timeout rather than one per call, and it is tried again on its own, so recovery needs no
restart. Revocations are never kept here (they live in the link store): losing the cache never
un-revokes a link.

:class:`Memo` is the one per-process cache of the package: what a process may keep and make
again at will (rendered pages, formatted views, decoded link tokens, loaded accounts).
"""

from __future__ import annotations

import contextlib
import enum
import logging
import threading
import time
import typing as t
from dataclasses import dataclass

from cachetools import Cache
from cachetools import LRUCache
from cachetools import TTLCache

from .stats import Counters

if t.TYPE_CHECKING:  # pragma: no cover
    import flask_caching

log = logging.getLogger(__name__)

T = t.TypeVar("T")
_MISSING: t.Any = object()


class SafeCache:
    """A flask-caching :class:`~flask_caching.Cache` whose errors become misses.

    Only the backend's public operations are used (``get``, ``set``, ``add``, ``has``,
    ``delete``, ``inc``).

    :param cache: the flask-caching object (initialised on the app).
    :param backoff: seconds to skip the backend after it failed.
    """

    def __init__(
        self,
        cache: flask_caching.Cache,
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
        the backend failed."""
        ok, added = self._call("add", lambda: self._cache.add(key, value, timeout=timeout))
        return bool(added) if ok else None

    def incr(self, key: str, timeout: int) -> int | None:
        """Increment a counter that expires *timeout* seconds after its first increment
        (``None`` if the backend failed)."""

        def action() -> int | None:
            # cachelib's Redis add sets the key, then its expiry: a counter whose expiry was
            # lost to a crash between the two names a past window, and is never read again.
            self._cache.add(key, 0, timeout=timeout)
            value = self.backend.inc(key)
            return int(value) if value is not None else None

        return t.cast("int | None", self._call("incr", action)[1])


@dataclass
class MemoStats(Counters):
    """Counters of one :class:`Memo`."""

    #: Values found.
    hits: int = 0
    #: Values made (and kept, if they fit).
    misses: int = 0


class Memo:
    """A per-process, thread-safe get-or-make cache, bounded in entries or in size.

    :param maxsize: the bound: a number of entries, or, with *getsizeof*, their total size.
    :param getsizeof: the size of a value (e.g. ``len`` for rendered pages).
    :param ttl: seconds a value is kept at most (none by default).
    """

    def __init__(
        self,
        maxsize: int,
        *,
        getsizeof: t.Callable[[t.Any], int] | None = None,
        ttl: float | None = None,
    ) -> None:
        self.maxsize = maxsize
        self._items: Cache[t.Hashable, t.Any]
        if ttl is None:
            self._items = LRUCache(max(maxsize, 1), getsizeof=getsizeof)
        else:
            self._items = TTLCache(max(maxsize, 1), ttl, getsizeof=getsizeof)
        self._lock = threading.Lock()
        self.stats = MemoStats()

    def get_or_make(self, key: t.Hashable, make: t.Callable[[], T]) -> T:
        """The value kept under *key*, else *make* it (and keep it, if it fits). What *make*
        raises is raised, and nothing is kept."""
        with self._lock:
            found = self._items.get(key, _MISSING)
        if found is not _MISSING:
            self.stats.add("hits")
            return t.cast(T, found)
        value = make()
        self.stats.add("misses")
        if self.maxsize > 0:
            # A value larger than the whole bound is handed out, not kept.
            with self._lock, contextlib.suppress(ValueError):
                self._items[key] = value
        return value

    def clear(self) -> None:
        """Forget every value."""
        with self._lock:
            self._items.clear()


class Reach(enum.Enum):
    """Which processes see the same state (of the cache, or of the link store)."""

    PROCESS = "kept in each process (not shared)"
    HOST = "shared by the processes of this host"
    EVERYWHERE = "shared by every process and host that uses it"
    UNKNOWN = "shared by an unknown reach (assume: not shared)"


# cachelib's and flask-caching's backends, by (a part of) their class names.
_CACHE_REACH = (
    (("Redis", "Valkey", "Memcache", "DynamoDb", "MongoDb"), Reach.EVERYWHERE),
    (("FileSystemCache", "UWSGICache"), Reach.HOST),
    (("SimpleCache",), Reach.PROCESS),
)


def cache_reach(backend: object) -> Reach:
    """How far a cachelib backend object reaches, from its class's and ancestors' names."""
    names = [cls.__name__ for cls in type(backend).__mro__]
    for parts, reach in _CACHE_REACH:
        if any(part in name for name in names for part in parts):
            return reach
    return Reach.UNKNOWN


#: How to install what a Redis cache or store needs.
REDIS_EXTRA = "pip install 'flask-kashflow-links[redis]'"
#: The fix for a per-process cache, as one line of configuration.
REDIS_CACHE_FIX = (
    'KASHFLOW_LINKS_CACHE = {"CACHE_TYPE": "RedisCache", '
    '"CACHE_REDIS_URL": "redis://localhost:6379/1"}'
)


def apis_named(apis: t.Collection[str]) -> str:
    """Which of KashFlow's APIs *apis* holds, for wording a message: ``"rest"``, ``"soap"``
    or ``"both"`` (also for none: the accounts are not known yet)."""
    found = set(apis) & {"rest", "soap"}
    return found.pop() if len(found) == 1 else "both"


# What each process keeps on its own with a per-process cache, by the accounts' APIs: a REST
# account logs in and holds a session token; a SOAP account has no session, only the pause
# after KashFlow refuses its password (and no documented lockout).
_EACH_PROCESS = {
    "rest": "each process logs in to KashFlow on its own and keeps its own login pause, so a "
    "mistyped password costs one failed login per process (KashFlow locks the user after a "
    "few)",
    "soap": "each process keeps its own pause after KashFlow refuses the SOAP password, so a "
    "mistyped password costs one refused SOAP call per process (whether KashFlow locks a SOAP "
    "user after repeated refusals is not documented)",
    "both": "each process logs in to KashFlow's REST API on its own and keeps its own pause "
    "after a refused password, so a mistyped password costs one failed login or refused SOAP "
    "call per process (KashFlow locks a REST user after a few failed logins; for SOAP it is "
    "not documented)",
}


def per_process_cache_warning(kind: str, apis: t.Collection[str] = ("rest",)) -> str:
    """What a per-process cache breaks with several workers or hosts, worded for the accounts'
    *apis* (``"rest"``, ``"soap"``), and the fix."""
    return (
        f"The portal's cache is {kind}, kept in each process: with several workers or hosts "
        f"{_EACH_PROCESS[apis_named(apis)]}, `flask kashflow-links check` cannot see the "
        "workers' pause, and throttle limits multiply by the number of processes. One process "
        f"is fine. For several ({REDIS_EXTRA}): {REDIS_CACHE_FIX}"
    )
