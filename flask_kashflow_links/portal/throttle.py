"""Counting attempts per client address or per link, shared across workers through the cache.

Used to answer 429 to an address that keeps trying bad tokens, and to limit "email me a fresh
link" per link and per address. Counters live in fixed windows in the shared cache; addresses
are stored as keyed hashes, never in clear. If the cache is unreachable, each process counts on
its own, so throttling weakens but never stops.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
import typing as t

from cachetools import TTLCache

from ..cache import SafeCache


class Throttle:
    """Fixed-window counters.

    :param cache: the shared cache.
    :param key: secret for hashing identifiers (client addresses, link ids).
    """

    def __init__(
        self, cache: SafeCache, key: bytes, *, clock: t.Callable[[], float] | None = None
    ) -> None:
        self._cache = cache
        self._key = key
        self._clock = clock or (lambda: time.time())
        # Per-process counts while the shared cache is down: bounded, and a window's counters
        # are worthless after it, so they expire with the longest window used.
        self._local: TTLCache[str, int] = TTLCache(50_000, ttl=86400)
        self._lock = threading.Lock()

    def _name(self, bucket: str, ident: str, window: int) -> str:
        digest = hmac.new(self._key, ident.encode(), hashlib.sha256).hexdigest()[:20]
        return f"thr:{bucket}:{digest}:{int(self._clock() // window)}"

    def hit(self, bucket: str, ident: str, window: int) -> int:
        """Count one attempt; returns the count in the current window (this one included)."""
        name = self._name(bucket, ident, window)
        count = self._cache.incr(name, window)
        if count is not None:
            return count
        with self._lock:  # no shared cache right now: count in this process
            self._local[name] = self._local.get(name, 0) + 1
            return self._local[name]

    def retry_after(self, window: int) -> int:
        """Seconds until the current window ends."""
        return max(1, int(window - self._clock() % window))
