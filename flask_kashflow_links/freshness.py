"""How fresh cached KashFlow data is, and what it was when a page got it.

Data fetched from KashFlow passes through three windows, counted from its fetch time:

1. **Fresh** for ``KASHFLOW_LINKS_CACHE_TIMEOUT`` seconds: served from the cache.
2. **Stale-while-revalidate** for ``KASHFLOW_LINKS_STALE_WHILE_REVALIDATE`` seconds more: served
   at once, with its "as of" time, while a fresh copy is fetched in the background, once across
   every process sharing the cache (HTTP's ``stale-while-revalidate``, RFC 5861). Never for
   embed-mode links: their credentials must meet KashFlow once data is not fresh, because a
   refused login is how a password change withdraws them.
3. **Stale-if-error** for ``KASHFLOW_LINKS_STALE_TIMEOUT`` seconds past the fresh window: once
   a page has to fetch and KashFlow fails, the data is shown with its "as of" time.

The two later windows overlap (both start where freshness ends), so the shared cache keeps an
entry for ``CACHE_TIMEOUT + max(STALE_WHILE_REVALIDATE, STALE_TIMEOUT)``.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone

from .exceptions import KashFlowAccountLocked
from .exceptions import KashFlowAuthError
from .exceptions import KashFlowBadResponse
from .exceptions import KashFlowDenied
from .exceptions import KashFlowError
from .exceptions import KashFlowNotFound
from .exceptions import KashFlowPasswordExpired
from .exceptions import KashFlowUnavailable
from .stats import Counters

T = t.TypeVar("T")


@dataclass(frozen=True)
class Fetched(t.Generic[T]):
    """A value from KashFlow, with when it was fetched and whether it is stale."""

    value: T
    #: POSIX time of the upstream fetch.
    fetched_at: float
    #: True when shown past its fresh window (KashFlow is failing, or a fresh copy is on its
    #: way): the page says "as of".
    stale: bool = False
    #: True when served past its fresh window while a fresh copy is fetched in the background
    #: (stale-while-revalidate), rather than because KashFlow failed.
    refreshing: bool = False
    #: The cache key it was stored under (with ``fetched_at``, identifies this exact data).
    key: str = ""

    @property
    def as_of(self) -> datetime:
        """When the data was fetched from KashFlow (UTC)."""
        return datetime.fromtimestamp(self.fetched_at, tz=timezone.utc)


@dataclass
class FetchStats(Counters):
    """Counters of the fetch layer (per process)."""

    #: Served fresh from the per-process LRU or the shared cache.
    hits: int = 0
    #: Not in any cache (or past fresh): fetched from KashFlow.
    misses: int = 0
    #: Served stale because KashFlow failed.
    stale: int = 0
    #: Loads from KashFlow (a list of several pages counts once; see the backend's stats).
    upstream: int = 0
    #: Requests that waited for another thread's or process's fetch instead of fetching.
    waits: int = 0
    #: Served at once past the fresh window while refreshed in the background.
    revalidating: int = 0
    #: Background refreshes that fetched from KashFlow (also counted in ``upstream``).
    refreshes: int = 0
    #: Prefetches run for newly minted links (their fetches count as hits or misses).
    prefetches: int = 0


def may_serve_stale(error: KashFlowError, *, embedded: bool) -> bool:
    """Whether a failure may be covered with stale data.

    Outages and odd answers: yes. "Not found": no, the invoice is gone. Refused logins, locks
    and cool-downs, and resources refused to the session: yes for the site's own accounts (the
    portal keeps serving while the operator fixes the login), but never for embed-mode links,
    whose credentials stopping working is exactly how changing the KashFlow password withdraws
    them.
    """
    if isinstance(error, KashFlowNotFound):
        return False
    if isinstance(error, KashFlowAuthError | KashFlowDenied):
        return not embedded
    return isinstance(error, KashFlowUnavailable | KashFlowBadResponse)


def refuses_credentials(error: KashFlowError) -> bool:
    """A login refused for its credentials (not a lock or pause, not an expired password)."""
    return isinstance(error, KashFlowAuthError) and not isinstance(
        error, KashFlowAccountLocked | KashFlowPasswordExpired
    )


__all__ = ["FetchStats", "Fetched", "may_serve_stale", "refuses_credentials"]
