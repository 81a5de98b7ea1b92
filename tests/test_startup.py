"""What the processes share, said truthfully: start-up warnings, ``check`` and ``config``
(issue 14, points 1 and 2)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.cli import ScriptInfo
from flask_caching import Cache

from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links.cache import Reach
from flask_kashflow_links.cache import cache_reach
from flask_kashflow_links.cli import cli_group
from flask_kashflow_links.testing import KashFlowSandbox

from .helpers import make_app
from .helpers import portal_config

LOGGER = "flask_kashflow_links"


def startup_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The start-up notes about sharing (tests' stores live in a temporary directory, which
    draws a warning of its own: see test_startup_warnings.py)."""
    return [
        r
        for r in caplog.records
        if r.name == LOGGER and r.getMessage().startswith(("The portal's cache", "The link store"))
    ]


def serve(app: Flask) -> Flask:
    """Serve one request: the start-up notes are logged when the portal first serves."""
    app.test_client().get("/")
    return app


def run(app: Flask, *args: str) -> tuple[int, str]:
    """Exit code and output, with the wrapping undone (one space between words)."""
    result = app.test_cli_runner().invoke(args=["kashflow-links", *args])
    return result.exit_code, " ".join((result.stdout + result.stderr).split())


# -- start-up ------------------------------------------------------------------------------------


def test_the_default_cache_warns_at_startup_with_the_fix(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SERVER_SOFTWARE", raising=False)
    caplog.set_level(logging.DEBUG, logger="flask_kashflow_links")
    serve(make_app(tmp_path, TESTING=False))
    [record] = startup_records(caplog)
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert "SimpleCache, kept in each process" in message
    assert "one failed login per process" in message and "check` cannot see" in message
    assert '"CACHE_TYPE": "RedisCache"' in message


def test_a_chosen_per_process_cache_is_only_noted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SERVER_SOFTWARE", raising=False)
    caplog.set_level(logging.DEBUG, logger="flask_kashflow_links")
    serve(make_app(tmp_path, TESTING=False, cache={"CACHE_TYPE": "SimpleCache"}))
    [record] = startup_records(caplog)
    assert record.levelno == logging.INFO


def test_under_gunicorn_a_chosen_per_process_cache_still_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SERVER_SOFTWARE", "gunicorn/23.0.0")
    caplog.set_level(logging.DEBUG, logger="flask_kashflow_links")
    serve(make_app(tmp_path, TESTING=False, cache={"CACHE_TYPE": "SimpleCache"}))
    [record] = startup_records(caplog)
    assert record.levelno == logging.WARNING


def test_tests_are_not_warned(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="flask_kashflow_links")
    serve(make_app(tmp_path))  # TESTING=True
    assert startup_records(caplog) == []


@pytest.mark.redis
def test_a_redis_cache_and_store_warn_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, redis_url: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="flask_kashflow_links")
    serve(
        make_app(
            tmp_path,
            TESTING=False,
            cache={"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_url},
            revocation_url=redis_url,
        )
    )
    assert startup_records(caplog) == []


def test_a_host_cache_passed_as_cache_is_judged_by_its_backend(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="flask_kashflow_links")
    app = Flask("hosted", instance_path=str(tmp_path / "instance"))
    app.config.update(make_app(tmp_path, name="donor").config)
    app.config.update(TESTING=False, KASHFLOW_LINKS_CACHE=None)
    config = {"CACHE_TYPE": "FileSystemCache", "CACHE_DIR": str(tmp_path / "cache")}
    caplog.clear()
    KashFlowLinks(app, cache=Cache(app, config=config))
    serve(app)
    assert startup_records(caplog) == []  # shared by this host's processes: no warning
    code, out = run(app, "config")
    assert code == 0 and "cache: FileSystemCache, shared by the processes of this host" in out


def test_an_in_memory_store_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="flask_kashflow_links")
    serve(make_app(tmp_path, revocation_url="sqlite:///:memory:"))
    [record] = [r for r in startup_records(caplog) if r.levelno == logging.WARNING]
    assert "revoked links open again after a restart" in record.getMessage()


@pytest.mark.parametrize(
    ("kind", "reach"),
    [
        ("SimpleCache", Reach.PROCESS),
        ("FileSystemCache", Reach.HOST),
        ("RedisCache", Reach.EVERYWHERE),
        ("RedisSentinelCache", Reach.EVERYWHERE),
        ("MemcachedCache", Reach.EVERYWHERE),
    ],
)
def test_cache_reach_by_backend(tmp_path: Path, kind: str, reach: Reach) -> None:
    backend_class = type(kind, (), {})
    assert cache_reach(backend_class()) is reach
    assert cache_reach(object()) is Reach.UNKNOWN


# -- check and config ----------------------------------------------------------------------------


def test_check_says_the_default_cache_is_not_shared(
    portal: Flask, sandbox: KashFlowSandbox
) -> None:
    code, out = run(portal, "check")
    assert code == 0, out
    assert "shared by every worker" not in out  # the old, false claim
    assert "cache: SimpleCache, kept in each process (not shared)" in out
    assert "each web worker logs in on its own" in out
    assert 'KASHFLOW_LINKS_CACHE = {"CACHE_TYPE": "RedisCache"' in out
    assert "link store: sqlite:///" in out and "shared by the processes of this host" in out


@pytest.mark.redis
def test_check_says_a_redis_cache_is_shared(
    tmp_path: Path, sandbox: KashFlowSandbox, redis_url: str
) -> None:
    redis = {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_url}
    app = make_app(tmp_path, **portal_config(sandbox, cache=redis, revocation_url=redis_url))
    code, out = run(app, "check")
    assert code == 0, out
    assert "cache: RedisCache, shared by every process and host that uses it" in out
    assert "the web workers reuse the KashFlow session token" in out
    assert "link store: redis://" in out and "not shared" not in out


def test_config_states_the_cache_and_store(app: Flask) -> None:
    code, out = run(app, "config")
    assert code == 0
    assert "cache: SimpleCache, kept in each process (not shared)" in out
    assert "a mistyped password costs one failed login per process" in out


# -- the login pause, shared through Redis -------------------------------------------------------


@pytest.mark.redis
def test_check_sees_the_web_workers_login_pause_through_redis(
    tmp_path: Path, sandbox: KashFlowSandbox, redis_url: str
) -> None:
    """A web worker meets a wrong password and pauses logins; a ``check`` run in another
    process (another app here, sharing nothing but Redis) sees the pause and sends nothing."""
    wrong = sandbox.account_config(password="not the password")
    config = portal_config(
        sandbox,
        accounts={"acme": wrong},
        cache={"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_url},
    )
    web = make_app(tmp_path, name="web", **config)
    with web.app_context():
        url = KashFlowLinks().mint_invoice(1043).url
    page = web.test_client().get(url.split("portal.example.test", 1)[1])
    assert page.status_code == 503
    assert sandbox.failed_logins == 1

    cli = make_app(tmp_path, name="cli", **config)
    code, out = run(cli, "check")
    assert code == 1 and "paused until" in out and "--force" in out
    assert sandbox.failed_logins == 1  # the check did not try
    assert sandbox.calls["sessiontoken.post"] == 1


def test_with_a_per_process_cache_check_cannot_see_the_pause(
    tmp_path: Path, sandbox: KashFlowSandbox
) -> None:
    """The documented limit of the default cache: each process pays its own failed login."""
    config = portal_config(sandbox, accounts={"acme": sandbox.account_config(password="nope")})
    web = make_app(tmp_path, name="web", **config)
    with web.app_context():
        url = KashFlowLinks().mint_invoice(1043).url
    web.test_client().get(url.split("portal.example.test", 1)[1])
    code, out = run(make_app(tmp_path, name="cli", **config), "check")
    assert code == 1 and "wrong username or password" in out
    assert sandbox.failed_logins == 2


def test_commands_are_not_warned_and_serving_warns_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The host's own commands (a cron job's ``flask ...``) and the package's own stay quiet:
    ``check`` and ``config`` say it in their output. The notes come once, when the process
    first serves a request."""
    monkeypatch.delenv("SERVER_SOFTWARE", raising=False)
    caplog.set_level(logging.DEBUG, logger="flask_kashflow_links")
    app = make_app(tmp_path, TESTING=False)

    @app.cli.command("nightly-job")
    def nightly_job() -> None:
        print("job done")

    factory = lambda: app  # noqa: E731
    result = CliRunner().invoke(cli_group, ["config"], obj=ScriptInfo(create_app=factory))
    assert result.exit_code == 0
    assert "kept in each process (not shared)" in result.output
    result = app.test_cli_runner().invoke(args=["nightly-job"])
    assert result.exit_code == 0 and "job done" in result.output
    assert startup_records(caplog) == []
    # The same app serving warns, once per process.
    serve(serve(app))
    assert [r.levelno for r in startup_records(caplog)] == [logging.WARNING]
