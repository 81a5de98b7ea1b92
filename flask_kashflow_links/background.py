"""Bounded background work: fetching KashFlow data off the request path.

Prefetching a newly minted link's data and refreshing data past its fresh window happen here,
on a few daemon threads per process, so that no client waits for them. The pool is built to
stay harmless when KashFlow is slow or down:

* **Bounded.** At most ``workers`` jobs run at once and at most ``max_pending`` wait; a job
  beyond that is dropped (and counted): whatever it would have fetched is fetched when a page
  needs it. A burst of 500 mints makes ``workers`` KashFlow calls at a time, not 500.
* **Coalesced.** A job whose key is already waiting or running is not queued again.
* **Contained.** A failing job is logged, never raised. Its group (an account) then backs off:
  the group's jobs are dropped for ``backoff`` seconds, doubling with each further failure up
  to ``max_backoff``, and a success ends it. An outage costs one failing call per account and
  back-off period, not one per page view.
* **In the application.** A job runs inside ``app.app_context()`` of the application that
  submitted it (the shared cache needs it), never in a request context.
* **Per process, started lazily.** Threads start with the first job of the process that
  submits it, and idle ones end after ``idle_seconds``. Threads do not survive ``fork``
  (gunicorn ``--preload`` builds the app before forking its workers): a forked child starts
  with an empty pool of its own (the pid is checked on every submit, and :func:`os.fork`
  hooks reset it).
* **Stops cleanly.** :meth:`BackgroundPool.shutdown` drops the waiting jobs and waits, for a
  bounded time, for the running ones to finish their current call; it runs at interpreter exit
  for every pool. The threads are daemons, so a hung call never keeps a process alive.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import typing as t
import weakref
from collections import deque
from dataclasses import dataclass

from flask import Flask
from flask import current_app
from flask import has_app_context

from .stats import Counters

log = logging.getLogger(__name__)


@dataclass
class BackgroundStats(Counters):
    """Counters of one pool (per process)."""

    #: Jobs accepted into the queue.
    queued: int = 0
    #: Jobs not queued because the same job was already waiting or running.
    coalesced: int = 0
    #: Jobs dropped: the queue was full, their group was backing off, or the pool had stopped.
    dropped: int = 0
    #: Jobs that ran to the end.
    done: int = 0
    #: Jobs that raised (logged, and their group backs off).
    failed: int = 0


@dataclass(frozen=True)
class _Job:
    key: t.Hashable
    run: t.Callable[[], object]
    group: str
    label: str
    app: Flask | None


class BackgroundPool:
    """A small pool of daemon threads running jobs off the request path (see the module).

    :param workers: jobs running at once, at most.
    :param max_pending: jobs waiting, at most; more are dropped.
    :param backoff: seconds a group's jobs are dropped after its first failure.
    :param max_backoff: the longest back-off, in seconds.
    :param idle_seconds: an idle thread ends after this long.
    :param exit_wait: seconds :meth:`shutdown` waits for running jobs at interpreter exit.
    :param clock: monotonic seconds (back-off); tests move it.
    """

    def __init__(
        self,
        *,
        workers: int = 4,
        max_pending: int = 1000,
        backoff: float = 5.0,
        max_backoff: float = 300.0,
        idle_seconds: float = 60.0,
        exit_wait: float = 10.0,
        clock: t.Callable[[], float] | None = None,
    ) -> None:
        if workers < 1 or max_pending < 1:
            raise ValueError("workers and max_pending must be at least 1")
        self.workers = workers
        self.max_pending = max_pending
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.idle_seconds = idle_seconds
        self.exit_wait = exit_wait
        self.stats = BackgroundStats()
        #: Monotonic seconds for the back-off; tests may replace it.
        self.clock = clock or time.monotonic
        self._stopped = False
        self._reset()
        _POOLS.add(self)

    def _reset(self) -> None:
        """Empty state for this process (at construction, and in a forked child, where the
        parent's threads do not exist and its locks may be held)."""
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._settled = threading.Condition(self._lock)
        self._queue: deque[_Job] = deque()
        #: Keys of the jobs waiting or running.
        self._keys: set[t.Hashable] = set()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._running = 0
        #: group -> (paused until, the pause's length)
        self._paused: dict[str, tuple[float, float]] = {}

    # -- submitting ----------------------------------------------------------------------------

    def submit(
        self, key: t.Hashable, run: t.Callable[[], object], *, group: str, label: str
    ) -> bool:
        """Queue *run* under *key*; whether it is (or already was) waiting or running.

        *group* names what fails together (an account): its jobs back off together. *label*
        names the job in logs (never put a link token or a password in it).
        """
        if os.getpid() != self._pid:
            self._reset()  # a forked child: the parent's threads are not here
        app = current_app._get_current_object() if has_app_context() else None  # type: ignore[attr-defined]
        job = _Job(key, run, group, label, app)
        with self._lock:
            if key in self._keys:
                self.stats.add("coalesced")
                return True
            if self._stopped or self._backing_off(group) or len(self._queue) >= self.max_pending:
                self.stats.add("dropped")
                log.debug("background %s dropped (queue full, backing off or stopped)", label)
                return False
            self._queue.append(job)
            self._keys.add(key)
            self.stats.add("queued")
            if self._idle == 0 and len(self._threads) < self.workers:
                self._start_thread()
            else:
                self._wake.notify()
        return True

    def pending(self, key: t.Hashable) -> bool:
        """Whether a job under *key* is waiting or running in this process."""
        return key in self._keys and os.getpid() == self._pid

    def _backing_off(self, group: str) -> bool:
        paused = self._paused.get(group)
        return paused is not None and self.clock() < paused[0]

    def _start_thread(self) -> None:
        thread = threading.Thread(target=self._work, name="kashflow-links-background", daemon=True)
        self._threads.append(thread)
        thread.start()

    # -- working -------------------------------------------------------------------------------

    def _next(self) -> _Job | None:
        """The next job to run, or ``None`` when this thread should end (idle, or stopped).
        Called with the lock held."""
        while True:
            while not self._queue and not self._stopped:
                self._idle += 1
                woken = self._wake.wait(self.idle_seconds)
                self._idle -= 1
                if not woken and not self._queue:
                    break
            if self._stopped or not self._queue:
                self._threads.remove(threading.current_thread())
                self._settled.notify_all()
                return None
            job = self._queue.popleft()
            if not self._backing_off(job.group):
                self._running += 1
                return job
            # Its group failed since it was queued: drop it, as a new one would be.
            self._keys.discard(job.key)
            self.stats.add("dropped")
            self._settled.notify_all()

    def _work(self) -> None:
        while True:
            with self._lock:
                job = self._next()
            if job is None:
                return
            ok = self._run(job)
            with self._lock:
                self._running -= 1
                self._keys.discard(job.key)
                if ok:
                    self._paused.pop(job.group, None)
                else:
                    pause = self._paused.get(job.group, (0.0, 0.0))[1]
                    pause = min(self.max_backoff, pause * 2 if pause else self.backoff)
                    self._paused[job.group] = (self.clock() + pause, pause)
                self._settled.notify_all()

    def _run(self, job: _Job) -> bool:
        try:
            if job.app is not None:
                with job.app.app_context():
                    job.run()
            else:
                job.run()
        except Exception as e:  # a background job must never take its thread down
            self.stats.add("failed")
            log.warning(
                "background %s failed (%s: %s); more work for the same account waits a while",
                job.label,
                type(e).__name__,
                e,
            )
            return False
        self.stats.add("done")
        return True

    # -- waiting and stopping ------------------------------------------------------------------

    def join(self, timeout: float | None = None) -> bool:
        """Wait until no job is waiting or running (tests, scripts); whether that happened
        within *timeout* seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._queue or self._running:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._settled.wait(left)
        return True

    def shutdown(self, wait: float | None = None) -> None:
        """Stop: drop the waiting jobs, let running ones finish their current call (waiting
        at most *wait* seconds, default ``exit_wait``), refuse new ones."""
        with self._lock:
            self._stopped = True
            dropped = len(self._queue)
            for job in self._queue:
                self._keys.discard(job.key)
            self._queue.clear()
            self._wake.notify_all()
            threads = list(self._threads)
        if dropped:
            self.stats.add("dropped", dropped)
        deadline = time.monotonic() + (self.exit_wait if wait is None else wait)
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))


#: Every pool of this process, for the exit and fork hooks.
_POOLS: weakref.WeakSet[BackgroundPool] = weakref.WeakSet()


def _shutdown_all() -> None:
    for pool in list(_POOLS):
        pool.shutdown()


def _reset_after_fork() -> None:
    for pool in list(_POOLS):
        pool._reset()


atexit.register(_shutdown_all)
os.register_at_fork(after_in_child=_reset_after_fork)

__all__ = ["BackgroundPool", "BackgroundStats"]
