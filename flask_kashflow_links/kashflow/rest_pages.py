"""Reading KashFlow's list envelope, and finding one invoice in the list sorted by number.

KashFlow's official invoice detail example has no ``CustomerCode``; its list rows do. So a
detail that names no customer is placed from its own list row: the account's invoice list,
sorted by ``Number``, is searched page by page (a guess from the numbers seen, alternating with
bisection, so a handful of pages even for a large account).
"""

from __future__ import annotations

import typing as t

from ..exceptions import KashFlowBadResponse
from .models import Invoice
from .parsing import as_mapping

#: Pages looked at, at most, to find one invoice's row (bisection covers 2**10 pages).
MAX_PROBES = 12

#: One page of the list: its rows and ``MetaData.TotalRecords`` (``None`` when not sent).
Page = tuple[list[Invoice], "int | None"]


def envelope(data: t.Any, what: str) -> tuple[list[t.Any], t.Mapping[str, t.Any]]:
    """The rows and the ``MetaData`` of a list answer (``MetaData`` may be missing or null).

    :raises KashFlowBadResponse: the answer has no ``Data`` list.
    """
    if isinstance(data, list):  # a bare array: tolerate, but it cannot page
        return data, {}
    if isinstance(data, dict) and isinstance(data.get("Data"), list):
        return data["Data"], as_mapping(data.get("MetaData"))
    raise KashFlowBadResponse(f"KashFlow's answer for {what} has no Data list")


def locate(fetch_page: t.Callable[[int], Page], number: int, *, max_pages: int) -> Invoice | None:
    """The row of invoice *number* in a list sorted by number, ascending, read one page at a
    time with *fetch_page* (pages 1 to *max_pages*); ``None`` if it is not listed (or not
    found in :data:`MAX_PROBES` pages, on a server whose pages are not what they claim)."""
    low, high = 1, max_pages
    size = 0
    page = 1
    for probe in range(MAX_PROBES):
        rows, total = fetch_page(page)
        for row in rows:
            if row.number == number:
                return row
        guess: int | None = None
        if not rows:
            high = page - 1
        else:
            if not size:
                size = len(rows)
                if total is not None:
                    high = min(high, max(1, -(-total // size)))
            first, last = min(r.number for r in rows), max(r.number for r in rows)
            if first < number < last:
                return None  # within this page's numbers, yet not listed
            if number < first:
                high = page - 1
                guess = page - -(-(first - number) // size)
            else:
                low = page + 1
                guess = page + -(-(number - last) // size)
        if low > high:
            return None
        if guess is None or probe % 2:
            # Every other probe bisects: numbers with gaps cannot make the search linear.
            guess = (low + high) // 2
        page = min(max(guess, low), high)
    return None


__all__ = ["MAX_PROBES", "Page", "envelope", "locate"]
