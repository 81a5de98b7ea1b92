"""Rendered portal pages, kept per process: a warm page is sent, not rendered again.

Rendering is most of what a warm page costs (the Jinja template of a 20-row list, on every
request). The same data, scope and page always render to the same bytes, so the bytes are kept
and a warm request does only: throttle, link check (cached), revocation check (every request),
the data's version from the fetch layer (the process's LRU), the scope check, a look-up here,
and sending. Signals and "last opened" still happen on every request.

**Per process.** One LRU of bytes in each process, bounded by total size
(:data:`DEFAULT_MAX_BYTES`). A shared cache (Redis) was measured and rejected: reading a 15 KB
page from Redis costs a network round trip and a copy on every request, about as much as the
rest of a warm request, while rendering it once per process and data version costs about a
millisecond (``bench/profile_warm.py`` prints both).

**The key** is everything that shapes the bytes: the page (template, title), the link's own
path (every URL on the page extends it, so two links never share a page, even for one scope),
its scope, the tab and page number, the brand, the mount point, and the version of every piece
of data on the page (its cache key and fetch time, whether it is stale or being refreshed, so
the "as of" note is right), and today's date (overdue days count from it). Locale, time zone
and the layout are the application's own, as is this cache. New data has a new fetch time, so
data changes are picked up by the key, never by invalidation.

**Templates.** When Jinja reloads changed templates (Flask's debug mode, or
``TEMPLATES_AUTO_RELOAD``), nothing is kept: every page is rendered, as without this cache.

**A host layout** (``KASHFLOW_LINKS_BASE_TEMPLATE``) may show per-visitor content: a signed-in
user's name, flashed messages, a CSRF token. Whole pages are then never kept: only the portal's
own part (the layout's ``content`` block) is, and the host's layout is rendered around it on
every request. Portal templates themselves (``kashflow_links/...``, overridden or not) must not
show per-visitor content (see the templates documentation).
"""

from __future__ import annotations

import threading
import typing as t
from dataclasses import dataclass

from cachetools import LRUCache

from ..stats import Counters

#: The default bound of one process's rendered pages, in bytes (characters for fragments).
DEFAULT_MAX_BYTES = 16 * 1024 * 1024

Rendered = bytes | str


@dataclass
class PageCacheStats(Counters):
    """Counters of one process's rendered-page cache."""

    #: Pages (or fragments) sent without rendering.
    hits: int = 0
    #: Pages (or fragments) rendered and kept.
    misses: int = 0


class PageCache:
    """A per-process LRU of rendered pages, bounded by their total size.

    :param max_bytes: the bound; 0 keeps nothing.
    """

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.stats = PageCacheStats()
        self._items: LRUCache[t.Hashable, Rendered] = LRUCache(max(max_bytes, 1), getsizeof=len)
        self._lock = threading.Lock()

    def get_or_render(self, key: t.Hashable, render: t.Callable[[], Rendered]) -> Rendered:
        """The page kept under *key*, else *render* it (and keep it, if it fits)."""
        with self._lock:
            found = self._items.get(key)
        if found is not None:
            self.stats.add("hits")
            return found
        rendered = render()
        self.stats.add("misses")
        if 0 < len(rendered) <= self.max_bytes:
            with self._lock:
                self._items[key] = rendered
        return rendered


__all__ = ["DEFAULT_MAX_BYTES", "PageCache", "PageCacheStats"]
