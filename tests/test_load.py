"""A bounded load run: wrk, 64 connections, 60 s, on gunicorn against the warm portal.

Zero errors; p99 latency reported; each worker's memory before and after, within a bound.
``KFL_LOAD_SECONDS`` shortens the run for local iterations. Results go to
``test-artifacts/load.json``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import typing as t
from pathlib import Path

import pytest
import requests

from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links.testing import KashFlowSandbox

from .helpers import gunicorn_config
from .helpers import make_app
from .helpers import portal_config
from .services import Gunicorn
from .services import require
from .services import rss_kib

SECONDS = int(os.environ.get("KFL_LOAD_SECONDS", "60"))
#: Allowed growth of a worker's resident memory over the run. Caches are bounded (LRU of
#: 2,048 parsed resources, 1,024 view models), so memory must level off once warm.
MEMORY_BOUND_KIB = 20 * 1024

ROTATE = """
local paths = {%s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
"""


def parse_wrk(output: str) -> dict[str, t.Any]:
    def latency(label: str) -> float:
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)", output, re.MULTILINE)
        assert match, output
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    requests_total = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "requests": requests_total,
        "requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "socket_errors": sum(int(n) for n in errors.groups()) if errors else 0,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
    }


@pytest.mark.slow
def test_sixty_seconds_of_64_connections_without_an_error(
    tmp_path: Path, sandbox: KashFlowSandbox
) -> None:
    require("wrk", shutil.which("wrk") is not None, "sudo apt-get install wrk")
    store = f"sqlite:///{tmp_path / 'links.sqlite3'}"
    config = gunicorn_config(sandbox, revocation_url=store)
    with Gunicorn(config, workers=2) as server:
        app = make_app(tmp_path, "minter", **portal_config(sandbox, revocation_url=store))
        with app.test_request_context(base_url=server.url):
            links = KashFlowLinks()
            paths = [
                "/invoices/" + links.mint_invoice(1043).token,
                "/invoices/" + links.mint_customer("ACME01").token,
                "/invoices/" + links.mint_customer("BIGCO01", status="unpaid").token,
            ]
            paths.append(paths[1] + "/1043")
        # Warm every worker: either may accept all of a short warm-up's connections, so keep
        # going until each has fetched the three resources (invoice, two lists) itself.
        warm: dict[int, int] = {}
        for _ in range(500):
            for path in paths:
                assert requests.get(server.url + path, timeout=10).status_code == 200
            stats = requests.get(server.url + "/_test/stats", timeout=10).json()
            warm[stats["pid"]] = stats["fetch"]["upstream"]
            if len(warm) == 2 and min(warm.values()) >= 3:
                break
        assert len(warm) == 2 and min(warm.values()) >= 3, warm
        workers = server.workers()
        assert sorted(warm) == workers  # the processes measured are the ones that answered
        before = {pid: rss_kib(pid) for pid in workers}
        calls_before = sandbox.calls
        script = Path(tempfile.mkdtemp()) / "rotate.lua"
        script.write_text(ROTATE % ", ".join(f'"{p}"' for p in paths))
        run = subprocess.run(
            [
                "wrk",
                "-t2",
                "-c64",
                f"-d{SECONDS}s",
                "--timeout",
                "10s",
                "--latency",
                "-s",
                str(script),
                server.url,
            ],
            capture_output=True,
            text=True,
            timeout=SECONDS + 60,
            check=True,
        )
        after = {pid: rss_kib(pid) for pid in workers}
        figures = parse_wrk(run.stdout)
        figures.update(
            seconds=SECONDS,
            connections=64,
            memory_kib_before=before,
            memory_kib_after=after,
            upstream_calls_during_run=sum((sandbox.calls - calls_before).values()),
            upstream_calls_by_endpoint=dict(sandbox.calls - calls_before),
        )
        artifacts = Path(__file__).resolve().parent.parent / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        (artifacts / "load.json").write_text(json.dumps(figures, indent=2) + "\n")
        print("\n" + json.dumps(figures, indent=2))
        assert figures["socket_errors"] == 0 and figures["non_2xx"] == 0, run.stdout
        assert figures["requests"] > SECONDS * 50
        assert figures["upstream_calls_during_run"] == 0  # warm: KashFlow is not asked again
        for pid in workers:
            assert after[pid] - before[pid] < MEMORY_BOUND_KIB, (pid, before[pid], after[pid])
        assert "Traceback" not in server.logs()
        assert paths[0].split("/")[-1] not in server.logs()  # access log redacted
