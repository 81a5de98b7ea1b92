"""``flask kashflow-links ...`` through Flask's CLI runner."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet
from flask import Flask

from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links import LinkRevoked
from flask_kashflow_links.cli import parse_duration

from .helpers import make_app

TOKEN_URL = re.compile(r"^http://portal\.example\.test/invoices/(\S+)$", re.MULTILINE)


def login_at(url: str) -> str:
    """Log in to a sandbox started elsewhere (its demo credentials); the session token."""
    step1 = requests.post(
        f"{url}/sessiontoken",
        json={"UserName": "sandbox@example.test", "Password": "correct horse battery"},
        timeout=10,
    ).json()
    answers = [
        {"Position": p["Position"], "Value": "pineapple"[p["Position"] - 1]}
        for p in step1["MemorableWordList"]
    ]
    body = {"TemporaryToken": step1["TemporaryToken"], "MemorableWordList": answers}
    return str(requests.put(f"{url}/sessiontoken", json=body, timeout=10).json()["SessionToken"])


def run(app: Flask, *args: str, input: str | None = None) -> tuple[int, str, str]:
    result = app.test_cli_runner().invoke(args=["kashflow-links", *args], input=input)
    return result.exit_code, result.stdout, result.stderr


def token_of(output: str) -> str:
    match = TOKEN_URL.search(output)
    assert match, output
    return match.group(1)


def test_mint_invoice_prints_a_working_url(app: Flask) -> None:
    code, out, err = run(app, "mint", "invoice", "1043")
    assert code == 0, err
    token = token_of(out)
    assert KashFlowLinks().verify(token).scope.invoice == 1043
    assert "link id:" in err and "expires: never" in err


def test_mint_customer_with_status_expiry_and_account(app: Flask) -> None:
    code, out, err = run(
        app,
        "mint",
        "customer",
        "TCUST01",
        "--status",
        "unpaid",
        "--expires-in",
        "90d",
        "--account",
        "acme",
    )
    assert code == 0, err
    claims = KashFlowLinks().verify(token_of(out))
    assert claims.scope.customer == "TCUST01" and claims.scope.status == "unpaid"
    assert claims.lifetime == timedelta(days=90)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["mint", "invoice", "abc"], "is not a valid integer"),
        (["mint", "invoice", "0"], "0"),
        (["mint", "customer", "TCUST01", "--status", "outstanding"], "outstanding"),
        (["mint", "customer", "TCUST01", "--expires-in", "ninety days"], "90d"),
        (["mint", "customer", "TCUST01", "--expires-in", "0d"], "at least one second"),
        (["mint", "customer", "TCUST01", "--account", "nope"], "unknown account"),
        (["revoke", "not-a-token"], "not a link id"),
    ],
)
def test_bad_arguments_give_a_clear_message_and_no_traceback(
    app: Flask, args: list[str], message: str
) -> None:
    code, out, err = run(app, *args)
    assert code != 0
    assert message in err
    assert "Traceback" not in out + err


def test_list_and_revoke_by_id(app: Flask) -> None:
    _, out, _ = run(app, "mint", "customer", "TCUST01", "--status", "unpaid")
    token = token_of(out)
    run(app, "mint", "customer", "TCUST02")
    code, out, _ = run(app, "list", "--customer", "tcust01")
    assert code == 0
    assert "unpaid invoices of TCUST01" in out
    assert "TCUST02" not in out
    assert token not in out  # tokens are never listed
    link_id = KashFlowLinks().verify(token).link_id
    assert link_id in out
    code, out, _ = run(app, "revoke", link_id)
    assert code == 0 and f"Revoked link {link_id}" in out
    with pytest.raises(LinkRevoked):
        KashFlowLinks().verify(token)
    _, out, _ = run(app, "list", "--customer", "TCUST01")
    assert "No live links." in out


def test_revoke_by_token_or_whole_url(app: Flask) -> None:
    _, out, _ = run(app, "mint", "invoice", "7")
    url = TOKEN_URL.search(out).group(0)  # type: ignore[union-attr]
    code, out, _ = run(app, "revoke", url)
    assert code == 0
    with pytest.raises(LinkRevoked):
        KashFlowLinks().verify(token_of(url))


def test_revoke_customer_asks_and_withdraws(app: Flask) -> None:
    _, out, _ = run(app, "mint", "customer", "TCUST01")
    token = token_of(out)
    code, out, _ = run(app, "revoke-customer", "TCUST01", input="n\n")
    assert code != 0
    KashFlowLinks().verify(token)  # still fine
    code, out, _ = run(app, "revoke-customer", "TCUST01", "--yes")
    assert code == 0 and "1 in the register" in out
    with pytest.raises(LinkRevoked):
        KashFlowLinks().verify(token)


def test_generate_key_prints_a_usable_key_and_rotation_help(app: Flask) -> None:
    code, out, err = run(app, "generate-key")
    assert code == 0
    Fernet(out.strip().encode())
    assert "newest first" in err and "newest LAST" in err


@pytest.mark.parametrize("kind", [["invoice", "5"], ["customer", "ACME01"]])
def test_mint_without_any_url_base_fails_with_the_fix_and_mints_nothing(
    tmp_path: Path, kind: list[str]
) -> None:
    app = make_app(tmp_path, SERVER_NAME=None)
    code, out, err = run(app, "mint", *kind)
    # URL=$(flask kashflow-links mint ...) must never capture a bare link token.
    assert code == 1 and out == ""
    assert "KASHFLOW_LINKS_PUBLIC_URL" in err and "SERVER_NAME" in err and "No link" in err
    with app.app_context():
        assert KashFlowLinks().active_links() == []


def test_mint_prints_a_url_from_the_public_url(tmp_path: Path) -> None:
    app = make_app(tmp_path, SERVER_NAME=None, public_url="https://www.example.co.uk/billing")
    code, out, _ = run(app, "mint", "invoice", "5")
    assert code == 0 and out.startswith("https://www.example.co.uk/billing/invoices/")


def test_config_shows_settings_without_secrets(app: Flask) -> None:
    code, out, _ = run(app, "config")
    assert code == 0 and "api.kashflow.com" in out
    assert "correct horse" not in out and "pineapple" not in out


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90d", 90 * 86400),
        ("12h", 43200),
        ("1w2d", 9 * 86400),
        ("30m", 1800),
        ("45s", 45),
        ("1d 12h", 129600),
    ],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    "text",
    ["", "90", "d", "9x", "-1d", "1.5d", pytest.param("9" * 100_000 + "x", id="long-digits")],
)
def test_parse_duration_rejects(text: str) -> None:
    # The last one is refused at once (a regex over it would take quadratic time).
    with pytest.raises(ValueError):
        parse_duration(text)


def test_the_sandbox_command_serves_either_shape(tmp_path: Path) -> None:
    config = {
        "SECRET_KEY": "cli-sandbox-test-secret-key-0123456789abcdef",
        "KASHFLOW_LINKS_FERNET_KEYS": [Fernet.generate_key().decode()],
        "KASHFLOW_LINKS_ACCOUNTS": {"acme": {"username": "u", "password": "p"}},
        "KASHFLOW_LINKS_REVOCATION_URL": f"sqlite:///{tmp_path}/links.sqlite3",
    }
    command = [sys.executable, "-m", "flask", "--app", "tests.apps:make_portal()", "kashflow-links"]
    env = {**os.environ, "KFL_APP_CONFIG": json.dumps(config)}
    bad = subprocess.run(
        [*command, "sandbox", "--shape", "wsdl"], capture_output=True, env=env, timeout=60
    )
    assert bad.returncode == 2 and b"'wsdl' is not one of 'swagger', 'documented'" in bad.stderr
    process = subprocess.Popen(
        [*command, "sandbox", "--port", "0", "--shape", "documented"],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.endswith("(documented shape)\n"), first
        url = first.split()[3]
        token = login_at(url)
        detail = requests.get(
            f"{url}/invoices/1043", headers={"Authorization": f"KfToken {token}"}, timeout=10
        ).json()
        assert "CustomerCode" not in detail and "DueAmount" not in detail
    finally:
        process.terminate()
        process.wait(10)
