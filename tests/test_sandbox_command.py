"""The sandbox command: public, with real defaults, printing settings to paste (issue 14,
point 12)."""

from __future__ import annotations

import ast
import shlex
import subprocess
import sys
import typing as t
from pathlib import Path

from click.testing import CliRunner

from flask_kashflow_links.cli import cli_group

from .conftest import make_app


def serve(*args: str) -> tuple[subprocess.Popen[str], list[str]]:
    """Start ``python -m flask_kashflow_links.testing`` and read what it prints up to the
    config snippet's last line."""
    process = subprocess.Popen(
        [sys.executable, "-m", "flask_kashflow_links.testing", "--port", "0", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
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


def test_the_public_module_serves_and_prints_settings_that_work(tmp_path: Path) -> None:
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
        app = make_app(tmp_path, **config)
        result = app.test_cli_runner().invoke(args=["kashflow-links", "check"])
        assert result.exit_code == 0, result.output
        assert "Checking account 'main'" in result.output
    finally:
        process.terminate()
        process.wait(10)


def test_help_shows_the_real_defaults() -> None:
    for run in (
        lambda: CliRunner().invoke(cli_group, ["sandbox", "--help"]).output,
        lambda: (
            subprocess.run(
                [sys.executable, "-m", "flask_kashflow_links.testing", "--help"],
                capture_output=True,
                text=True,
                timeout=60,
            ).stdout
        ),
    ):
        text = " ".join(run().split())
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


def test_generate_key_help_shows_its_default() -> None:
    text = CliRunner().invoke(cli_group, ["generate-key", "--help"]).output
    assert "[default: fernet]" in text
