"""``python -m kashflow_sandbox``: real defaults, and settings printed to paste that work
(issue 14, point 12)."""

from __future__ import annotations

import ast
import shlex
import subprocess
import sys
import typing as t

from sandbox_client import login_at

COMMAND = [sys.executable, "-m", "kashflow_sandbox"]


def serve(*args: str) -> tuple[subprocess.Popen[str], list[str]]:
    """Start ``python -m kashflow_sandbox`` on a free port and read what it prints up to the
    config snippet's last line."""
    process = subprocess.Popen([*COMMAND, "--port", "0", *args], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith("KASHFLOW_LINKS_ACCOUNTS"):
            break
    return process, lines


def pasted_config(lines: list[str]) -> dict[str, t.Any]:
    """The config snippet's assignments, as Python would read them from a config file."""
    config: dict[str, t.Any] = {}
    for line in lines:
        if line.startswith("KASHFLOW_LINKS_"):
            name, _, value = line.partition(" = ")
            config[name] = ast.literal_eval(value)
    return config


def pasted_environment(lines: list[str]) -> dict[str, str]:
    """What a shell would export from the printed ``export`` lines."""
    env = {}
    for line in lines:
        if line.startswith("export "):
            [assignment] = shlex.split(line[len("export ") :])
            name, _, value = assignment.partition("=")
            env[name] = value
    return env


def test_it_serves_and_prints_settings_that_work() -> None:
    process, lines = serve("--memorable-word", "avocado pear")
    try:
        url = lines[0].split()[3]
        config = pasted_config(lines)
        assert config["KASHFLOW_LINKS_API_BASE_URL"] == url
        assert list(config["KASHFLOW_LINKS_ACCOUNTS"]) == ["main"]  # the docs' account id
        env = pasted_environment(lines)
        assert env == {
            "KASHFLOW_API_BASE_URL": url,
            "KASHFLOW_USERNAME": "sandbox@example.test",
            "KASHFLOW_PASSWORD": "correct horse battery",
            "KASHFLOW_MEMORABLE_WORD": "avocado pear",  # quoted for the shell
        }
        account = config["KASHFLOW_LINKS_ACCOUNTS"]["main"]
        assert login_at(url, account["username"], account["password"], "avocado pear")
    finally:
        process.terminate()
        process.wait(10)


def test_help_shows_the_real_defaults() -> None:
    shown = subprocess.run([*COMMAND, "--help"], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    text = " ".join(shown.stdout.split())
    assert text.startswith("Usage: python -m kashflow_sandbox [OPTIONS]")
    for default in (
        "[default: 127.0.0.1]",
        "[default: 8765;",
        "[default: sandbox@example.test]",
        "[default: correct horse battery]",
        "[default: pineapple]",
        "[default: 7]",
        "[default: swagger]",
    ):
        assert default in text, (default, text)
