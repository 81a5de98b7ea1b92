"""Independent KashFlow calls side by side, a bounded number at a time.

KashFlow answers slowly (hundreds of milliseconds to seconds a call), so calls that do not
depend on each other (the pages 2..n of a list once page 1 has said how many there are, or a
customer and their invoice list) are made together: a 260-invoice customer then costs about two
round trips instead of one per page.

Each call runs in a copy of the caller's :mod:`contextvars` context, so whatever the caller's
framework keeps there (the application context the shared cache needs, for one) is there in
the worker threads too, without this layer knowing about it. The caller waits for every call,
so nothing outlives it.
"""

from __future__ import annotations

import contextvars
import typing as t
from concurrent.futures import Future
from concurrent.futures import ThreadPoolExecutor

T = t.TypeVar("T")

#: How many calls of one request run at once, at most.
DEFAULT_LIMIT = 4


def run_together(calls: t.Sequence[t.Callable[[], T]], *, limit: int = DEFAULT_LIMIT) -> list[T]:
    """Run *calls* side by side, at most *limit* at once; their results in order.

    The first failure (in the order of *calls*) is raised once the calls already running have
    finished; calls not yet started are cancelled.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    if len(calls) <= 1 or limit == 1:
        return [call() for call in calls]
    with ThreadPoolExecutor(
        max_workers=min(limit, len(calls)), thread_name_prefix="kashflow-call"
    ) as pool:
        futures: list[Future[T]] = [
            # One context copy per call: a context can be entered by one thread at a time.
            pool.submit(contextvars.copy_context().run, call)
            for call in calls
        ]
        try:
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise


__all__ = ["DEFAULT_LIMIT", "run_together"]
