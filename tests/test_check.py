"""``flask kashflow-links check`` against the sandbox: each failure explained plainly."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from flask_kashflow_links.testing import KashFlowSandbox

from .conftest import make_app
from .conftest import portal_config
from .services import free_port


def check(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["kashflow-links", "check", *args])
    return result.exit_code, result.stdout + result.stderr


def test_check_ok(portal: Flask, sandbox: KashFlowSandbox) -> None:
    code, out = check(portal)
    assert code == 0, out
    assert "logged in" in out and "invoices visible" in out and out.rstrip().endswith("OK")
    assert sandbox.logins == 1
    assert sandbox.password not in out and sandbox.memorable_word not in out


@pytest.mark.parametrize(
    ("account", "expected"),
    [
        ({"password": "wrong password"}, "wrong username or password"),
        ({"username": "nobody@example.test"}, "wrong username or password"),
        ({"memorable_word": "grapefruit"}, "memorable word was not"),
    ],
)
def test_check_explains_refused_logins(
    tmp_path: Path, sandbox: KashFlowSandbox, account: dict[str, str], expected: str
) -> None:
    app = make_app(
        tmp_path, **portal_config(sandbox, accounts={"acme": sandbox.account_config(**account)})
    )
    code, out = check(app)
    assert code == 1 and expected in out
    assert "Traceback" not in out
    for secret in ("wrong password", "grapefruit", sandbox.password):
        assert secret not in out
    # The refusal paused logins; check says so instead of risking a lock-out.
    code, out = check(app)
    assert code == 1 and "paused" in out and "--force" in out
    assert sandbox.failed_logins == 1


def test_check_explains_a_locked_user(portal: Flask, sandbox: KashFlowSandbox) -> None:
    sandbox.lock_account()
    code, out = check(portal)
    assert code == 1 and "locked" in out


def test_check_explains_api_access_refused(portal: Flask, sandbox: KashFlowSandbox) -> None:
    sandbox.fail_next(1, 403, endpoint="sessiontoken.post", body={"Message": "API access disabled"})
    code, out = check(portal)
    assert code == 1 and "Apps > API Settings" in out


def test_check_suspects_an_ip_restriction(portal: Flask, sandbox: KashFlowSandbox) -> None:
    sandbox.fail_next(2, 401, endpoint="invoices.list", body={"Error": "Forbidden"})
    code, out = check(portal)
    assert code == 1 and "IP restriction" in out


def test_check_explains_an_unreachable_api(tmp_path: Path, sandbox: KashFlowSandbox) -> None:
    config = portal_config(sandbox, api_base_url=f"http://127.0.0.1:{free_port()}/v2")
    code, out = check(make_app(tmp_path, **config))
    assert code == 1 and "cannot reach KashFlow" in out


def test_check_force_tries_during_a_cooldown(tmp_path: Path, sandbox: KashFlowSandbox) -> None:
    wrong = portal_config(sandbox, accounts={"acme": sandbox.account_config(password="bad")})
    app = make_app(tmp_path, **wrong)
    check(app)
    code, out = check(app, "--force")
    assert code == 1 and "wrong username or password" in out
