"""The package's commands when the app does not start, and generate-key's two kinds of key
(issue 14, points 8 and 12)."""

from __future__ import annotations

import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet
from flask import Flask
from flask.cli import ScriptInfo

from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links.cli import cli_group

from .helpers import make_app


def broken_factory() -> Flask:
    app = Flask("broken")
    app.config.update(SECRET_KEY=secrets.token_urlsafe(32), KASHFLOW_LINKS_FERNET_KEYS=[])
    KashFlowLinks(app)  # raises ConfigurationError
    return app


@pytest.mark.parametrize(
    "args",
    [
        ["check"],
        ["config"],
        ["list"],
        ["mint", "invoice", "1043"],
        ["mint", "customer", "ACME01"],
        ["revoke", "abc"],
        ["revoke-customer", "ACME01", "--yes"],
    ],
)
def test_a_configuration_error_is_printed_first_and_short(args: list[str]) -> None:
    result = CliRunner().invoke(cli_group, args, obj=ScriptInfo(create_app=broken_factory))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("Error: KASHFLOW_LINKS_FERNET_KEYS: no Fernet key configured")
    assert "generate-key" in lines[0]
    assert len(lines) <= 2 and "Traceback" not in result.output


def test_under_the_flask_command_too(tmp_path: Path) -> None:
    """The real ``flask --app ... kashflow-links check``: the message, not a traceback."""
    (tmp_path / "brokenshop.py").write_text(
        textwrap.dedent(
            """
            from flask import Flask
            from flask_kashflow_links import KashFlowLinks

            def create_app():
                app = Flask(__name__)
                app.config.update(SECRET_KEY="too short")
                KashFlowLinks(app)
                return app
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "brokenshop", "kashflow-links", "check"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("Error: SECRET_KEY: SECRET_KEY is shorter than 32 bytes")
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) <= 2


def test_generate_key_makes_a_signing_key(tmp_path: Path) -> None:
    runner = CliRunner()
    signing = runner.invoke(cli_group, ["generate-key", "--kind", "signing"])
    assert signing.exit_code == 0
    key = signing.stdout.strip()
    assert (
        len(key) >= 43
        and key != runner.invoke(cli_group, ["generate-key", "--kind", "signing"]).stdout.strip()
    )
    assert "SECRET_KEY" in signing.stderr and "LAST" in signing.stderr
    fernet = runner.invoke(cli_group, ["generate-key"]).stdout.strip()
    Fernet(fernet.encode())
    # The two are accepted together by the portal's key checks.
    app = make_app(tmp_path, SECRET_KEY=key, fernet_keys=[fernet])
    with app.app_context():
        assert KashFlowLinks().mint_invoice(1).link_id
