"""Helpers shared by the benchmark scripts: services they start, and cleaning up after them.

Everything started here is stopped by :class:`Services` on exit, on an exception and on
SIGTERM/SIGINT (gunicorn masters are terminated with their workers, redis-server and the
sandbox are stopped, temporary folders are removed).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
import urllib.request
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
VENV_BIN = Path(sys.executable).parent
WRK = shutil.which("wrk") or "/usr/bin/wrk"
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"

#: Keys shared by the benchmark process (which mints links) and the servers it starts.
# Generated per run: a key written in the repository would be a published, refusable key.
SECRET_KEY = secrets.token_urlsafe(32)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def machine() -> dict[str, t.Any]:
    """What the figures were measured on."""
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }


def write_results(name: str, data: t.Mapping[str, t.Any]) -> Path:
    """Write ``bench/results/<name>.json`` (machine info added)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"machine": machine(), "measured_at": time.strftime("%Y-%m-%d %H:%M:%S"), **data}
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path


def median(values: t.Iterable[float]) -> float:
    return float(statistics.median(list(values)))


def bench_env(
    api_url: str,
    *,
    fernet_key: str,
    revocation_url: str,
    instance: str,
    cache: t.Mapping[str, t.Any] | None = None,
    links: t.Sequence[t.Mapping[str, t.Any]] | None = None,
) -> dict[str, str]:
    """The ``KFL_BENCH_*`` variables read by :mod:`bench.apps`."""
    env = {
        "KFL_BENCH_API_URL": api_url,
        "KFL_BENCH_FERNET_KEY": fernet_key,
        "KFL_BENCH_SECRET_KEY": SECRET_KEY,
        "KFL_BENCH_REVOCATION_URL": revocation_url,
        "KFL_BENCH_INSTANCE": instance,
    }
    if cache is not None:
        env["KFL_BENCH_CACHE"] = json.dumps(dict(cache))
    if links is not None:
        env["KFL_BENCH_LINKS"] = json.dumps(list(links))
    return env


def new_fernet_key() -> str:
    return Fernet.generate_key().decode()


# -- processes ---------------------------------------------------------------------------------


class Process:
    """A child process in its own process group, stopped with its children."""

    def __init__(self, name: str, argv: list[str], *, env: dict[str, str] | None, log: Path):
        self.name = name
        self.log_path = log
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            # gunicorn: SIGTERM to the master stops its workers gracefully. The process group
            # is this process's own (start_new_session), so nothing else is signalled.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self._log.close()

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Services(contextlib.ExitStack):
    """Owns everything a benchmark starts; closing it stops them all (LIFO)."""

    def __init__(self, tmp: Path | None = None) -> None:
        super().__init__()
        self._nested = tmp is not None
        if tmp is None:
            tmp = Path(tempfile.mkdtemp(prefix="kfl-bench-"))
            self.callback(shutil.rmtree, tmp, ignore_errors=True)
        self.tmp = tmp
        #: The gunicorn masters started, by origin (their workers share the process group).
        self.pids: dict[str, int] = {}

    def __enter__(self) -> Services:
        super().__enter__()
        if not self._nested:
            # Turn SIGTERM into SystemExit so the exit stack still runs (Ctrl-C already does).
            previous = signal.signal(signal.SIGTERM, _raise_exit)
            self.callback(signal.signal, signal.SIGTERM, previous)
        return self

    def scope(self) -> Services:
        """A nested set of services, stopped when its ``with`` block ends (and with ours)."""
        child = Services(self.tmp)
        self.callback(child.close)
        return child

    def sandbox(self, **kwargs: t.Any) -> t.Any:
        from flask_kashflow_links.testing import KashFlowSandbox

        sandbox = KashFlowSandbox(**kwargs).start()
        self.callback(sandbox.stop)
        return sandbox

    def redis(self) -> str:
        """Start a throwaway redis-server; returns its URL."""
        port = free_port()
        folder = self.tmp / f"redis-{port}"
        folder.mkdir()
        proc = Process(
            "redis",
            [
                REDIS_SERVER,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(folder),
            ],
            env=None,
            log=self.tmp / f"redis-{port}.log",
        )
        self.callback(proc.stop)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return f"redis://127.0.0.1:{port}/0"
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start:\n{proc.tail()}")

    def gunicorn(
        self,
        name: str,
        factory: str,
        env: t.Mapping[str, str],
        *,
        workers: int = 2,
        threads: int | None = None,
        worker_class: str = "sync",
        probe_path: str = "/__probe__",
    ) -> str:
        """Start gunicorn serving ``bench.apps:<factory>``; returns its origin once it answers."""
        port = free_port()
        argv = [
            str(VENV_BIN / "gunicorn"),
            "-w",
            str(workers),
            "-k",
            worker_class,
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "--timeout",
            "60",
        ]
        if threads:
            argv += ["--threads", str(threads)]
        argv.append(f"bench.apps:{factory}")
        proc = Process(
            name,
            argv,
            env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
            log=self.tmp / f"{name}.log",
        )
        self.callback(proc.stop)
        origin = f"http://127.0.0.1:{port}"
        self.pids[origin] = proc.proc.pid
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if not proc.alive():
                raise RuntimeError(f"gunicorn {name} exited:\n{proc.tail()}")
            try:
                urllib.request.urlopen(origin + probe_path, timeout=2)
                return origin
            except urllib.error.HTTPError:
                return origin  # it answers (404 is fine)
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"gunicorn {name} did not answer:\n{proc.tail()}")


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds used so far by the live processes of process group *pgid*
    (a gunicorn master started by :class:`Services` and its workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def _raise_exit(signum: int, frame: t.Any) -> None:
    raise SystemExit(128 + signum)


# -- wrk ---------------------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"cannot read a wrk latency: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> dict[str, float]:
    """Requests/sec, the 50% and 99% latencies (ms), and error counts from ``wrk --latency``."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    requests = re.search(r"(\d+) requests in", output)
    if not (rps and p50 and p99 and requests):
        raise ValueError(f"cannot parse wrk output:\n{output}")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return {
        "rps": float(rps.group(1)),
        "p50_ms": _ms(p50.group(1)),
        "p99_ms": _ms(p99.group(1)),
        "requests": int(requests.group(1)),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(int(x) for x in errors.groups()) if errors else 0,
    }


def wrk(url: str, *, duration: float, threads: int = 2, connections: int = 16) -> dict[str, float]:
    """Run wrk against *url*; the parsed figures (raises on non-2xx answers)."""
    argv = [
        WRK,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration:g}s",
        "--latency",
        url,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60, check=True)
    result = parse_wrk(done.stdout)
    if result["non_2xx"]:
        raise RuntimeError(f"{result['non_2xx']} non-2xx answers from {url}:\n{done.stdout}")
    return result
