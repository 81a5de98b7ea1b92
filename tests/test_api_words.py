"""What ``check``, ``config`` and the start-up notes say, in the words of each account's API
(issue 21, point 5): a SOAP account has no login, no session token and no documented lockout,
so nothing said about it speaks of them; a REST account's words are as before, and a site with
both kinds of account is told about each."""

from __future__ import annotations

import logging
import re
import typing as t
from pathlib import Path

import pytest
from flask import Flask

from flask_kashflow_links.cli import explain_login_failure
from flask_kashflow_links.exceptions import KashFlowUnavailable
from flask_kashflow_links.testing import KashFlowSandbox

from .helpers import KashFlowVariant
from .helpers import internals
from .helpers import make_app

#: What is said only of a REST login: never of a SOAP account.
REST_ONLY = re.compile(
    r"\blog(?:s|ged)? ?in\b|\blogins?\b|session token|KashFlow session|locks the user",
    re.IGNORECASE,
)
SOAP = KashFlowVariant("soap")
REST = KashFlowVariant("rest")


def run(app: Flask, *args: str) -> tuple[int, str]:
    """Exit code and output of ``flask kashflow-links ARGS``, with the wrapping undone."""
    result = app.test_cli_runner().invoke(args=["kashflow-links", *args])
    return result.exit_code, " ".join((result.stdout + result.stderr).split())


def start_up(app: Flask, caplog: pytest.LogCaptureFixture) -> str:
    """The start-up note about the cache, logged when *app* first serves."""
    caplog.set_level(logging.DEBUG, logger="flask_kashflow_links")
    app.test_client().get("/")
    [note] = [r for r in caplog.records if r.getMessage().startswith("The portal's cache")]
    return note.getMessage()


def soap_app(tmp_path: Path, sandbox: KashFlowSandbox, **settings: t.Any) -> Flask:
    return make_app(tmp_path, TESTING=False, **SOAP.config(sandbox, **settings))


def test_a_soap_account_is_never_said_to_log_in(
    tmp_path: Path, sandbox: KashFlowSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    app = soap_app(tmp_path, sandbox)
    code, checked = run(app, "check")
    assert code == 0, checked
    assert "accepted the username and password over SOAP" in checked
    code, shown = run(app, "config")
    assert code == 0, shown
    note = start_up(app, caplog)
    for said in (checked, shown, note):
        assert not REST_ONLY.search(said), said
        assert "pause after KashFlow refuses the SOAP password" in said
        assert "one refused SOAP call per process" in said
    # No lockout is claimed for SOAP: KashFlow documents none.
    assert "whether KashFlow locks a SOAP user after repeated refusals is not documented" in note


def test_a_paused_soap_account_is_said_to_pause_its_calls(
    tmp_path: Path, sandbox: KashFlowSandbox
) -> None:
    app = soap_app(tmp_path, sandbox, accounts={"acme": SOAP.account(sandbox, password="nope")})
    assert run(app, "check")[0] == 1  # refused: the account's calls pause
    code, out = run(app, "check")
    assert code == 1
    assert "SOAP calls for account 'acme' are paused until" in out and "--force" in out
    assert "refused the password, this server's address or SOAP access" in out
    assert not REST_ONLY.search(out), out


def test_an_unreachable_api_names_its_own_setting(tmp_path: Path) -> None:
    backends = internals(make_app(tmp_path)).fetcher.backends
    down = KashFlowUnavailable("connection refused")
    said = explain_login_failure(down, backends["soap"])
    assert "KASHFLOW_LINKS_SOAP_URL" in said and "API_BASE_URL" not in said
    assert "KASHFLOW_LINKS_API_BASE_URL" in explain_login_failure(down, backends["rest"])


def test_a_rest_account_keeps_its_login_words(
    tmp_path: Path, sandbox: KashFlowSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(tmp_path, TESTING=False, **REST.config(sandbox))
    code, checked = run(app, "check")
    assert code == 0, checked
    assert "logged in to" in checked and "each web worker logs in on its own" in checked
    note = start_up(app, caplog)
    assert "logs in to KashFlow on its own" in note and "locks the user after a few" in note
    assert "SOAP" not in note


def test_rest_and_soap_accounts_side_by_side_are_told_about_each(
    tmp_path: Path, sandbox: KashFlowSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    accounts = {"acme": REST.account(sandbox), "legacy": SOAP.account(sandbox)}
    app = make_app(
        tmp_path, TESTING=False, **REST.config(sandbox, accounts=accounts, default_account="acme")
    )
    code, shown = run(app, "config")
    assert code == 0, shown
    assert "REST session ends with it" in shown
    assert "one failed login or refused SOAP call per process" in shown
    code, checked = run(app, "check", "--account", "legacy")
    assert code == 0, checked
    assert "logged in" not in checked  # the SOAP account's own check
    note = start_up(app, caplog)
    assert "REST API on its own" in note and "for SOAP it is not documented" in note


def test_accounts_from_a_loader_may_use_either_api(tmp_path: Path) -> None:
    def loader(account_id: str) -> dict[str, str] | None:
        return None

    app = make_app(tmp_path, accounts=loader, default_account="acme")
    code, shown = run(app, "config")
    assert code == 0, shown
    assert "one failed login or refused SOAP call per process" in shown


@pytest.mark.redis
def test_a_shared_cache_shares_no_session_for_soap(
    tmp_path: Path, sandbox: KashFlowSandbox, redis_url: str
) -> None:
    app = soap_app(
        tmp_path, sandbox, cache={"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_url}
    )
    code, shown = run(app, "config")
    assert code == 0, shown
    assert "every process honours the pause after KashFlow refuses the SOAP password" in shown
    assert "SOAP has no session to share" in shown
    assert not REST_ONLY.search(shown), shown
