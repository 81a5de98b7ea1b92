"""Real services for tests: a redis-server on a free port, an SMTP server that keeps what it
receives (:func:`smtp_server`), and how to demand a missing one.

In CI (``CI=true``) a missing service fails the test loudly; on a developer's machine it skips
with the command that installs it.
"""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import typing as t
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_in_threads(work: Callable[[int], None], count: int) -> list[BaseException]:
    """Run ``work(i)`` for i in range(*count*), each in its own thread; return what they raised."""
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            work(index)
        except BaseException as e:  # returned to the caller, which asserts on it
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def in_a_fork(check: Callable[[], bool]) -> bool:
    """Run *check* in a forked child of this process: whether it returned true there."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        ok = False
        try:
            ok = bool(check())
        finally:
            os.write(write, b"1" if ok else b"0")
            os._exit(0)
    os.close(write)
    try:
        return os.read(read, 1) == b"1"
    finally:
        os.close(read)
        os.waitpid(pid, 0)


def require(what: str, ok: bool, install: str) -> None:
    """Fail in CI, skip elsewhere, when a needed service or tool is missing."""
    if ok:
        return
    message = f"{what} is not available; install it with: {install}"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def redis_server_path() -> str | None:
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None
    )


class RedisServer:
    """A throwaway redis-server process on a free port (persistent only if asked)."""

    def __init__(self, *, persistent: bool = False) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="kfl-redis-")
        # A revocation store must survive a restart: persistent servers write every change.
        self.persistence = (
            ["--appendonly", "yes", "--appendfsync", "always"]
            if persistent
            else ["--appendonly", "no"]
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = redis_server_path()
        assert binary
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                *self.persistence,
                "--dir",
                self.dir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def flush(self) -> None:
        import redis

        redis.Redis.from_url(self.url).flushall()


@contextmanager
def redis_server(*, persistent: bool = False) -> Iterator[RedisServer]:
    require("redis-server", redis_server_path() is not None, "sudo apt-get install redis-server")
    server = RedisServer(persistent=persistent).start()
    try:
        yield server
    finally:
        server.stop()


def child_pids(pid: int) -> list[int]:
    """The direct children of *pid* (gunicorn's workers), from /proc."""
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(entry))
    return sorted(children)


def rss_kib(pid: int) -> int:
    """Resident memory of *pid* in KiB."""
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Gunicorn:
    """A gunicorn server running ``tests.apps:make_portal()`` with *config*, on a free port."""

    def __init__(
        self, config: dict[str, object], *, workers: int = 2, log_dir: str | None = None
    ) -> None:
        import json
        import sys

        self.port = free_port()
        self.log_dir = log_dir or tempfile.mkdtemp(prefix="kfl-gunicorn-logs-")
        self.access_log = os.path.join(self.log_dir, f"access-{self.port}.log")
        self.error_log = os.path.join(self.log_dir, f"error-{self.port}.log")
        self.stderr_log = os.path.join(self.log_dir, f"stderr-{self.port}.log")
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        self.command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--access-logfile",
            self.access_log,
            "--error-logfile",
            self.error_log,
            "--log-level",
            "info",
            "--timeout",
            "60",
            "tests.apps:make_portal()",
        ]
        self.env = dict(os.environ, KFL_APP_CONFIG=json.dumps(config), PYTHONPATH=root)
        self.cwd = root
        self.worker_count = workers
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Gunicorn:
        # The app's own log records (no handler configured) reach the workers' stderr.
        self._stderr = open(self.stderr_log, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            self.command, cwd=self.cwd, env=self.env, stdout=self._stderr, stderr=self._stderr
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.logs()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    pass
                # The master accepts connections before it has forked every worker; tests
                # that measure each worker (memory, warm caches) need all of them.
                if len(child_pids(self.proc.pid)) >= self.worker_count:
                    return self
                time.sleep(0.1)
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("gunicorn did not start")

    def workers(self) -> list[int]:
        assert self.proc is not None
        return child_pids(self.proc.pid)

    def logs(self) -> str:
        text = ""
        for path in (self.error_log, self.stderr_log, self.access_log):
            if os.path.exists(path):
                with open(path, errors="replace") as handle:
                    text += handle.read()
        return text

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self._stderr.close()
        self.proc = None

    def __enter__(self) -> Gunicorn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- SMTP ------------------------------------------------------------------------------------------


@dataclass
class Received:
    """A message an :class:`Inbox` accepted: the envelope's recipients and the message."""

    recipients: list[str]
    message: EmailMessage

    @property
    def text(self) -> str:
        """The plain-text part."""
        return _part(self.message, "plain")

    @property
    def html(self) -> str:
        """The HTML part."""
        return _part(self.message, "html")


def _part(message: EmailMessage, kind: str) -> str:
    part = message.get_body((kind,))
    assert part is not None, f"no {kind} part"
    return str(part.get_content())  # type: ignore[attr-defined]


@dataclass
class Inbox:
    """What a real SMTP server (aiosmtpd) on :attr:`port` received; it refuses (550) any
    message to an address in :attr:`refuse`, as a mail server refusing a mailbox does."""

    port: int = 0
    messages: list[Received] = field(default_factory=list)
    #: Addresses whose messages are refused at DATA (the whole message fails).
    refuse: set[str] = field(default_factory=set)
    #: Mailboxes refused one by one (RCPT TO answered 550): the others still get the message.
    unknown: set[str] = field(default_factory=set)

    def settings(
        self, sender: str = "Acme Accounts <billing@acme.example.com>"
    ) -> dict[str, t.Any]:
        """``KASHFLOW_LINKS_MAIL`` for this server."""
        return {"host": "127.0.0.1", "port": self.port, "sender": sender, "use_tls": False}

    def to(self, address: str) -> list[Received]:
        """The messages whose envelope included *address*."""
        return [m for m in self.messages if address in m.recipients]

    async def handle_RCPT(
        self, server: t.Any, session: t.Any, envelope: t.Any, address: str, options: t.Any
    ) -> str:
        if address in self.unknown:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: t.Any, session: t.Any, envelope: t.Any) -> str:
        recipients = list(envelope.rcpt_tos)
        if self.refuse & set(recipients):
            return "550 5.1.1 mailbox unavailable"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(Received(recipients, t.cast(EmailMessage, message)))
        return "250 Message accepted"


@contextmanager
def smtp_server() -> Iterator[Inbox]:
    """A real SMTP server on a free local port, for as long as the block runs."""
    inbox = Inbox(port=free_port())
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()
