"""``flask kashflow-links check`` against the sandbox: each failure explained plainly."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
from flask import Flask

from flask_kashflow_links.testing import KashFlowSandbox

from .helpers import make_app
from .helpers import portal_config
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


# -- the conformance probe ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "reading", "facts"),
    [
        (
            "swagger",
            "shape: the Swagger copy",
            ["list rows: DueAmount, Type present", "CustomerCode, DueAmount present"],
        ),
        (
            "documented",
            "shape: KashFlow's documented examples",
            [
                "DueAmount missing (what is owed is worked out from the payment lines)",
                "CustomerCode missing (each invoice is placed through its list row",
                "TotalPaidAmount: in the home currency (as KashFlow documents)",
                "IsPaymentCreditNote missing",
            ],
        ),
    ],
)
def test_check_probes_the_shape_of_the_answers(
    portal: Flask, sandbox: KashFlowSandbox, shape: str, reading: str, facts: list[str]
) -> None:
    sandbox.set_shape(shape)
    code, out = check(portal)
    assert code == 0, out
    assert reading in out
    for fact in facts:
        assert fact in out
    assert "document: HTTP 200, application/pdf; a PDF of" in out
    assert "an unknown invoice number answers HTTP 404 (NotFound): not found" in out
    assert "verdict: this account works with the portal" in out and out.rstrip().endswith("OK")
    # Only the login and reads, and nothing secret printed (no document link, no token).
    reads = {"invoices.list", "invoices.get", "customers.get", "documents.get"}
    assert set(sandbox.calls) <= reads | {"sessiontoken.post", "sessiontoken.put"}
    assert "/v2/documents/" not in out and sandbox.password not in out


Fault = t.Callable[[KashFlowSandbox], None]


@pytest.mark.parametrize(
    ("fault", "works", "expected"),
    [
        # What stops the portal: named, with what clients would see, and a failing exit.
        (lambda sb: sb.html_documents_next(2), False, "KashFlow sent text/html for a document"),
        (lambda sb: sb.other_401_next(2), False, "invoice PDFs are refused to this user"),
        (lambda sb: sb.redirect_documents("other"), False, "a document to another host"),
        # What the portal copes with: reported, and the verdict stays clean.
        (lambda sb: sb.redirect_documents("same"), True, "a redirect on the API host (followed)"),
        (lambda sb: sb.set_missing_invoice_answer("400"), True, "HTTP 400 (InvalidInvoiceNumber)"),
        (lambda sb: sb.set_missing_invoice_answer("null"), True, "answers HTTP 200 with null"),
        (lambda sb: sb.null_metadata_next(1), True, "list MetaData: null"),
    ],
)
def test_check_gives_a_clear_verdict_against_each_fault(
    portal: Flask, sandbox: KashFlowSandbox, fault: Fault, works: bool, expected: str
) -> None:
    fault(sandbox)
    code, out = check(portal)
    assert expected in out
    if works:
        assert code == 0 and "verdict: this account works with the portal" in out, out
    else:
        assert code == 1 and "this account does not work with the portal" in out
        assert "document unavailable" in out and "verdict: this account works" not in out


def test_check_names_an_expired_password(portal: Flask, sandbox: KashFlowSandbox) -> None:
    sandbox.password_expired_next(1)
    code, out = check(portal)
    assert code == 1 and "password has expired" in out and "choose a new password" in out
    assert "wrong username or password" not in out
