"""Bounded background work: fetching KashFlow data off the request path.

Prefetching a newly minted link's data and refreshing data past its fresh window run here, on
a :class:`~concurrent.futures.ThreadPoolExecutor` of a few threads per process, so that no
client waits for them. Beyond the executor, the pool keeps two things:

* **the keys of the jobs waiting or running**: a job whose key is already there is not queued
  again (two pages past their fresh window make one refresh), and at most ``max_pending``
  jobs wait beside the ``workers`` running; a job beyond that is dropped (and counted):
  whatever it would have fetched is fetched when a page needs it;
* **a back-off per group** (an account): a failing job is logged, never raised, and its group's
  jobs are dropped for ``backoff`` seconds, doubling with each further failure up to
  ``max_backoff``; a success ends it. An outage costs one failing call per account and back-off
  period, not one per page view. A job whose group began backing off while it waited is
  dropped too.

A job runs inside ``app.app_context()`` of the application that submitted it (the shared cache
needs it), never in a request context. The executor starts with the first job of a process; a
forked child (gunicorn ``--preload`` builds the app before forking) finds the process id
changed and starts its own, so nothing is registered with :mod:`atexit` or
:func:`os.register_at_fork`. Waiting jobs are dropped once the interpreter is shutting down
(the executor would otherwise run them all before the process can exit); a running one
finishes its current call, which has a timeout.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import typing as t
from concurrent.futures import Future
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from flask import Flask
from flask import current_app
from flask import has_app_context

from ..stats import Counters

log = logging.getLogger(__name__)


@dataclass
class BackgroundStats(Counters):
    """Counters of one pool (per process)."""

    #: Jobs accepted into the queue.
    queued: int = 0
    #: Jobs not queued because the same job was already waiting or running.
    coalesced: int = 0
    #: Jobs dropped: the queue was full, their group was backing off, or the process is ending.
    dropped: int = 0
    #: Jobs that ran to the end.
    done: int = 0
    #: Jobs that raised (logged, and their group backs off).
    failed: int = 0


class BackgroundPool:
    """A few threads running jobs off the request path (see the module).

    :param workers: jobs running at once, at most.
    :param max_pending: jobs waiting, at most; more are dropped.
    :param backoff: seconds a group's jobs are dropped after its first failure.
    :param max_backoff: the longest back-off, in seconds.
    :param clock: monotonic seconds (back-off); tests move it.
    """

    def __init__(
        self,
        *,
        workers: int = 4,
        max_pending: int = 1000,
        backoff: float = 5.0,
        max_backoff: float = 300.0,
        clock: t.Callable[[], float] | None = None,
    ) -> None:
        if workers < 1 or max_pending < 1:
            raise ValueError("workers and max_pending must be at least 1")
        self.workers = workers
        self.max_pending = max_pending
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.stats = BackgroundStats()
        #: Monotonic seconds for the back-off; tests may replace it.
        self.clock = clock or time.monotonic
        self._lock = threading.Lock()
        #: Notified whenever a job ends (for wait()).
        self._settled = threading.Condition(self._lock)
        #: Keys of the jobs waiting or running.
        self._keys: set[t.Hashable] = set()
        self._running = 0
        #: group -> (paused until, the pause's length)
        self._paused: dict[str, tuple[float, float]] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._pid = os.getpid()
        self._stopped = False

    def submit(
        self, key: t.Hashable, run: t.Callable[[], object], *, group: str, label: str
    ) -> bool:
        """Queue *run* under *key*; whether it is (or already was) waiting or running.

        *group* names what fails together (an account): its jobs back off together. *label*
        names the job in logs (never put a link token or a password in it).
        """
        app = current_app._get_current_object() if has_app_context() else None  # type: ignore[attr-defined]
        with self._lock:
            executor = self._executor_here()
            if key in self._keys:
                self.stats.add("coalesced")
                return True
            waiting = len(self._keys) - self._running
            if self._stopped or self._backing_off(group) or waiting >= self.max_pending:
                self.stats.add("dropped")
                log.debug("background %s dropped (queue full, backing off or stopped)", label)
                return False
            self._keys.add(key)
            self.stats.add("queued")
        future = executor.submit(self._run, key, run, group, label, app)
        future.add_done_callback(lambda done: self._forget_cancelled(key, done))
        return True

    def _forget_cancelled(self, key: t.Hashable, future: Future[None]) -> None:
        """A job cancelled by :meth:`shutdown` never ran: its key goes, and it counts as
        dropped."""
        if future.cancelled():
            self.stats.add("dropped")
            with self._lock:
                self._keys.discard(key)
                self._settled.notify_all()

    def pending(self, key: t.Hashable) -> bool:
        """Whether a job under *key* is waiting or running in this process."""
        return key in self._keys and os.getpid() == self._pid

    def _executor_here(self) -> ThreadPoolExecutor:
        """This process's executor (called with the lock held). A forked child has its
        parent's objects but none of its threads: it starts afresh."""
        if os.getpid() != self._pid:
            self._pid = os.getpid()
            self._keys = set()
            self._running = 0
            self._executor = None
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                self.workers, thread_name_prefix="kashflow-links-background"
            )
        return self._executor

    def _backing_off(self, group: str) -> bool:
        paused = self._paused.get(group)
        return paused is not None and self.clock() < paused[0]

    def _run(
        self,
        key: t.Hashable,
        run: t.Callable[[], object],
        group: str,
        label: str,
        app: Flask | None,
    ) -> None:
        ok: bool | None = None
        with self._lock:
            self._running += 1
        try:
            # The interpreter is ending (its main thread is done): drop what still waits
            # rather than hold the exit up with calls nobody will see.
            if self._backing_off(group) or not threading.main_thread().is_alive():
                self.stats.add("dropped")
                return
            ok = self._call(run, label, app)
        finally:
            with self._lock:
                self._running -= 1
                self._keys.discard(key)
                if ok:
                    self._paused.pop(group, None)
                elif ok is False:
                    pause = self._paused.get(group, (0.0, 0.0))[1]
                    pause = min(self.max_backoff, pause * 2 if pause else self.backoff)
                    self._paused[group] = (self.clock() + pause, pause)
                self._settled.notify_all()

    def _call(self, run: t.Callable[[], object], label: str, app: Flask | None) -> bool:
        try:
            if app is not None:
                with app.app_context():
                    run()
            else:
                run()
        except Exception as e:  # a background job must never take its thread down
            self.stats.add("failed")
            log.warning(
                "background %s failed (%s: %s); more work for the same account waits a while",
                label,
                type(e).__name__,
                e,
            )
            return False
        self.stats.add("done")
        return True

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until no job is waiting or running (tests, scripts, commands); whether that
        happened within *timeout* seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._keys and os.getpid() == self._pid:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._settled.wait(left)
        return True

    def shutdown(self, wait: float | None = 10.0) -> None:
        """Stop: drop the waiting jobs, refuse new ones, and wait at most *wait* seconds for
        the running ones to finish their current call (``None``: as long as they take)."""
        with self._lock:
            self._stopped = True
            executor = self._executor if os.getpid() == self._pid else None
        if executor is None:
            return
        executor.shutdown(wait=False, cancel_futures=True)
        self.wait(wait)
