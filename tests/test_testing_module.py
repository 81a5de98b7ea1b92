"""The portal's ways to the sandbox, which is its own distribution (kashflow-sandbox):
``flask_kashflow_links.testing``, ``python -m flask_kashflow_links.testing`` and
``flask kashflow-links sandbox``, with the sandbox installed and without it."""

from __future__ import annotations

import ast
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
from click.testing import CliRunner

import flask_kashflow_links.testing as testing
import kashflow_sandbox
from flask_kashflow_links.cli import cli_group

from .helpers import make_app

PUBLIC_MODULE = [sys.executable, "-m", "flask_kashflow_links.testing"]
#: Python's documented way to make an import fail: None in ``sys.modules``.
WITHOUT_SANDBOX = "import sys; sys.modules['kashflow_sandbox'] = None\n"


def test_the_names_are_the_sandboxs_own() -> None:
    assert testing.KashFlowSandbox is kashflow_sandbox.KashFlowSandbox
    assert testing.SandboxData is kashflow_sandbox.SandboxData
    assert testing.__all__ == ["KashFlowSandbox", "SandboxData"]


def test_the_public_module_serves_and_prints_settings_that_work(tmp_path: Path) -> None:
    process = subprocess.Popen([*PUBLIC_MODULE, "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        config: dict[str, t.Any] = {}
        for line in process.stdout:
            if line.startswith("KASHFLOW_LINKS_"):
                name, _, value = line.partition(" = ")
                config[name] = ast.literal_eval(value.partition("  #")[0])
            if line.startswith("KASHFLOW_LINKS_ACCOUNTS"):
                break
        assert list(config["KASHFLOW_LINKS_ACCOUNTS"]) == ["main"]  # the docs' account id
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
                [*PUBLIC_MODULE, "--help"], capture_output=True, text=True, timeout=60
            ).stdout
        ),
    ):
        text = " ".join(run().split())
        for default in ("[default: 8765;", "[default: sandbox@example.test]", "[default: 7]"):
            assert default in text, (default, text)


def test_generate_key_help_shows_its_default() -> None:
    text = CliRunner().invoke(cli_group, ["generate-key", "--help"]).output
    assert "[default: fernet]" in text


# --- without the sandbox ------------------------------------------------------------------------


def test_importing_without_the_sandbox_says_how_to_install_it() -> None:
    code = WITHOUT_SANDBOX + (
        "try:\n"
        "    import flask_kashflow_links.testing\n"
        "except ImportError as e:\n"
        "    print(type(e).__name__, e.name, e, sep='|')\n"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    kind, name, message = shown.stdout.strip().split("|")
    assert (kind, name) == ("ImportError", "kashflow_sandbox")
    assert "\n" not in message
    assert "pip install kashflow-sandbox" in message and "pip install ./sandbox" in message


def test_the_public_module_without_the_sandbox_says_how_to_install_it() -> None:
    code = WITHOUT_SANDBOX + (
        "import runpy\nrunpy.run_module('flask_kashflow_links.testing', run_name='__main__')\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code, "--port", "0"], capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 1
    assert shown.stderr.strip() == testing.INSTALL_HINT  # one line, no traceback
    assert shown.stdout == ""


def test_the_flask_command_without_the_sandbox_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "kashflow_sandbox", None)
    monkeypatch.setitem(sys.modules, "kashflow_sandbox.command", None)
    for args in (["sandbox"], ["sandbox", "--port", "0", "--shape", "documented"]):
        result = CliRunner().invoke(cli_group, args)
        assert result.exit_code == 1
        [line] = result.output.splitlines()
        assert "pip install kashflow-sandbox" in line and "pip install ./sandbox" in line
    # Still listed, with the same hint as its help.
    listed = CliRunner().invoke(cli_group, ["--help"]).output
    assert "sandbox" in listed and "The sandbox is not installed" in listed


def test_a_missing_dependency_of_the_sandbox_is_not_mistaken_for_the_sandbox() -> None:
    # The portal has imported defusedxml by now; the sandbox, importing it afresh, fails.
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from flask_kashflow_links.cli import cli_group\n"
        "sys.modules['defusedxml.ElementTree'] = None\n"
        "result = CliRunner().invoke(cli_group, ['sandbox'])\n"
        "print(type(result.exception).__name__, result.exception.name)\n"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert shown.stdout.split() == ["ModuleNotFoundError", "defusedxml.ElementTree"], shown
