"""KashFlow latency that tests control instead of waiting for it.

The sandbox waits out its latency with the ``sleep`` it was given. :class:`HeldCalls` is such a
``sleep``: every request with latency is held until the test releases it, and the test can see
how many arrived and how many were in flight at once. So "the mint returned while its fetch was
still under way" is an observed fact, not a guess from timings.
"""

from __future__ import annotations

import threading
import typing as t
from collections.abc import Iterator
from contextlib import contextmanager

from flask_kashflow_links.testing import KashFlowSandbox


class HeldCalls:
    """A sandbox ``sleep`` that holds each delayed request until :meth:`release`.

    :param limit: the longest a request is held (so a failing test cannot hang the sandbox).
    """

    def __init__(self, limit: float = 15.0) -> None:
        self.limit = limit
        self._cond = threading.Condition()
        self._released = False
        #: Requests that reached the latency so far.
        self.arrived = 0
        #: Requests held right now.
        self.waiting = 0
        #: The most requests held at once.
        self.peak = 0

    def __call__(self, seconds: float) -> None:
        with self._cond:
            self.arrived += 1
            self.waiting += 1
            self.peak = max(self.peak, self.waiting)
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._released, timeout=self.limit)
            self.waiting -= 1
            self._cond.notify_all()

    def wait_for(self, arrived: int, timeout: float = 15.0) -> bool:
        """Wait until *arrived* requests have reached the latency; whether they did."""
        with self._cond:
            return self._cond.wait_for(lambda: self.arrived >= arrived, timeout=timeout)

    def hold(self) -> None:
        """Hold requests again from now on, counting afresh."""
        with self._cond:
            self._released = False
            self.arrived = self.waiting = self.peak = 0

    def release(self) -> None:
        """Let every held request (and every later one) through."""
        with self._cond:
            self._released = True
            self._cond.notify_all()


class TogetherOrFail:
    """A sandbox ``sleep`` that lets the first request through at once and makes the next
    *together* requests wait for each other: they all pass only if they were in flight at the
    same time; requests made one after another break the barrier (and the sandbox answers 500).
    """

    def __init__(self, together: int, limit: float = 5.0) -> None:
        self.barrier = threading.Barrier(together, timeout=limit)
        self._first = threading.Lock()
        self._seen_first = False

    def __call__(self, seconds: float) -> None:
        with self._first:
            first, self._seen_first = not self._seen_first, True
        if not first:
            self.barrier.wait()


@contextmanager
def sandbox_with(sleep: t.Callable[[float], None], **kwargs: t.Any) -> Iterator[KashFlowSandbox]:
    """A sandbox of its own whose latency goes through *sleep*."""
    with KashFlowSandbox(sleep=sleep, **kwargs) as sandbox:
        try:
            yield sandbox
        finally:
            release = getattr(sleep, "release", None)
            if release is not None:
                release()
