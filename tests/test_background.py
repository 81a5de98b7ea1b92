"""The background pool: bounded, coalesced, contained, in the app, per process, stoppable.

Jobs here block on events the test controls, so "at most 4 at once" and "the queue holds 3"
are observed states, never timings.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import typing as t
from collections.abc import Iterator

import pytest
from flask import Flask
from flask import current_app
from flask import has_request_context

from flask_kashflow_links.fetch.background import BackgroundPool

from .helpers import ManualClock
from .services import in_a_fork


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def pool(clock: ManualClock) -> Iterator[BackgroundPool]:
    pool = BackgroundPool(workers=4, max_pending=8, backoff=5.0, max_backoff=40.0, clock=clock)
    yield pool
    pool.shutdown(wait=5)


class Blocked:
    """Jobs that wait for :meth:`open`, counting how many run at once."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.lock = threading.Lock()
        self.running = self.peak = self.done = 0
        self.started = threading.Semaphore(0)

    def job(self) -> None:
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        self.started.release()
        assert self.gate.wait(10)
        with self.lock:
            self.running -= 1
            self.done += 1

    def wait_started(self, n: int) -> None:
        for _ in range(n):
            assert self.started.acquire(timeout=10)


def test_at_most_workers_jobs_run_and_the_queue_is_bounded(pool: BackgroundPool) -> None:
    blocked = Blocked()
    for i in range(4):
        assert pool.submit(i, blocked.job, group="acme", label=f"job {i}")
    blocked.wait_started(4)
    # 4 running; 8 may wait; the other 8 are dropped rather than piled up.
    accepted = [pool.submit(i, blocked.job, group="acme", label=f"job {i}") for i in range(4, 20)]
    assert accepted == [True] * 8 + [False] * 8
    assert pool.stats.snapshot()["dropped"] == 8
    blocked.gate.set()
    assert pool.wait(10)
    assert blocked.peak == 4 and blocked.done == 12
    assert pool.stats.done == 12


def test_duplicates_are_coalesced_while_waiting_or_running(pool: BackgroundPool) -> None:
    blocked = Blocked()
    assert pool.submit("same", blocked.job, group="acme", label="job")
    blocked.wait_started(1)
    assert pool.submit("same", blocked.job, group="acme", label="job")  # running: coalesced
    assert pool.pending("same")
    blocked.gate.set()
    assert pool.wait(10)
    assert not pool.pending("same")
    assert blocked.done == 1 and pool.stats.coalesced == 1
    # Once finished, the same key runs again.
    assert pool.submit("same", blocked.job, group="acme", label="job")
    assert pool.wait(10) and blocked.done == 2


def test_a_failure_is_logged_and_its_group_backs_off(
    pool: BackgroundPool, caplog: pytest.LogCaptureFixture, clock: ManualClock
) -> None:
    def fail() -> None:
        raise RuntimeError("KashFlow said no")

    ran: list[str] = []
    with caplog.at_level(logging.WARNING, "flask_kashflow_links.fetch.background"):
        assert pool.submit("a", fail, group="acme", label="prefetch of invoice 1043")
        assert pool.wait(10)
    assert "background prefetch of invoice 1043 failed (RuntimeError: KashFlow said no)" in (
        caplog.text
    )
    assert pool.stats.failed == 1
    # The account's jobs are dropped while it backs off; other accounts' jobs still run.
    assert not pool.submit("b", lambda: ran.append("acme"), group="acme", label="b")
    assert pool.submit("c", lambda: ran.append("other"), group="other", label="c")
    assert pool.wait(10) and ran == ["other"]
    # The pause doubles with each failure, up to the bound; a success ends it.
    clock.tick(5.1)
    assert pool.submit("d", fail, group="acme", label="d") and pool.wait(10)
    clock.tick(5.1)
    assert not pool.submit("e", fail, group="acme", label="e")  # now 10 s
    clock.tick(5)
    assert pool.submit("f", lambda: ran.append("acme"), group="acme", label="f")
    assert pool.wait(10) and ran == ["other", "acme"]
    assert pool.submit("g", lambda: ran.append("acme again"), group="acme", label="g")
    assert pool.wait(10) and ran[-1] == "acme again"


def test_jobs_run_in_the_submitting_app_context_not_its_request(
    pool: BackgroundPool, tmp_path: t.Any
) -> None:
    app = Flask("ctx_test", instance_path=str(tmp_path))
    seen: list[tuple[t.Any, bool]] = []

    def job() -> None:
        seen.append((current_app._get_current_object(), has_request_context()))  # type: ignore[attr-defined]

    with app.test_request_context():
        pool.submit("ctx", job, group="acme", label="ctx")
    assert pool.wait(10)
    assert seen == [(app, False)]


def test_shutdown_drops_waiting_jobs_lets_running_ones_finish_and_refuses_more(
    pool: BackgroundPool,
) -> None:
    blocked = Blocked()
    for i in range(6):
        pool.submit(i, blocked.job, group="acme", label="job")
    blocked.wait_started(4)
    stopper = threading.Thread(target=pool.shutdown, kwargs={"wait": 10})
    stopper.start()
    blocked.gate.set()
    stopper.join(15)
    assert not stopper.is_alive()
    assert blocked.done == 4  # the running ones finished their call; the 2 waiting were dropped
    assert pool.stats.dropped == 2
    assert not pool.submit("late", blocked.job, group="acme", label="late")


def test_nothing_starts_or_registers_before_the_first_job() -> None:
    """Importing the package starts no thread and registers no exit or fork hook; the pool's
    threads start with its first job."""
    code = (
        "import atexit, os, threading\n"
        "hooks = []\n"
        "def ours(f): return (getattr(f, '__module__', None) or '').startswith('flask_kashflow_links')\n"
        "atexit.register = lambda f, *a, **k: ours(f) and hooks.append('atexit')\n"
        "os.register_at_fork = lambda **k: any(map(ours, k.values())) and hooks.append('fork')\n"
        "from flask_kashflow_links.fetch.background import BackgroundPool\n"
        "import flask_kashflow_links\n"
        "pool = BackgroundPool()\n"
        "before = threading.active_count()\n"
        "ran = threading.Event()\n"
        "pool.submit('x', ran.set, group='acme', label='x')\n"
        "assert ran.wait(10) and pool.wait(10)\n"
        "print(hooks, before, threading.active_count() > before)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == ["[]", "1", "True"]


@pytest.mark.multiprocess
def test_a_forked_child_starts_a_pool_of_its_own(pool: BackgroundPool) -> None:
    # gunicorn --preload: the app (and its pool) is built before the workers are forked, and
    # threads do not survive fork. A job submitted in the child runs in the child.
    blocked = Blocked()
    pool.submit("parent", blocked.job, group="acme", label="parent")
    blocked.wait_started(1)  # the parent has a running thread and a held lock state

    def child() -> bool:
        ran = threading.Event()
        if not (pool.submit("child", ran.set, group="acme", label="child") and ran.wait(10)):
            return False
        return pool.wait(10) and not pool.pending("parent")

    try:
        assert in_a_fork(child)
    finally:
        blocked.gate.set()
    assert pool.wait(10) and blocked.done == 1
