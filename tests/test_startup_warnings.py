"""Start-up warnings: a SQLite link store that looks likely to vanish, and a URL prefix that
doubles ``/invoices``, are said out loud."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links.links.store.sqlite import Host
from flask_kashflow_links.links.store.sqlite import ephemeral_reason
from flask_kashflow_links.testing import KashFlowSandbox

from .helpers import make_app
from .helpers import portal_config

#: A machine where nothing looks ephemeral: a data disk, a tmpfs elsewhere, no Heroku.
STEADY = Host(
    temp_dirs=("/tmp",),
    mounts=(("/", "ext4"), ("/srv/data", "xfs"), ("/run", "tmpfs")),
    environ={},
)


@pytest.mark.parametrize(
    ("path", "host", "reason"),
    [
        ("/tmp/links.sqlite3", STEADY, "temporary directory"),
        ("/run/app/links.sqlite3", STEADY, "held in memory (tmpfs)"),
        (
            "/app/instance/links.sqlite3",
            Host((), (("/", "overlay"), ("/app/data", "ext4")), {}),
            "container's own writable layer (overlay)",
        ),
        ("/srv/data/links.sqlite3", Host((), (), {"DYNO": "web.1"}), "Heroku"),
    ],
)
def test_ephemeral_looking_places_are_named(path: str, host: Host, reason: str) -> None:
    found = ephemeral_reason(path, host)
    assert found is not None and reason in found


@pytest.mark.parametrize(
    ("path", "host"),
    [
        ("/srv/data/links.sqlite3", STEADY),
        ("/app/data/links.sqlite3", Host((), (("/", "overlay"), ("/app/data", "ext4")), {})),
        ("/var/lib/shop/links.sqlite3", Host(("/tmp",), (), {})),
        ("/tmpfiles/links.sqlite3", STEADY),  # a name that only starts like /tmp
    ],
)
def test_lasting_places_are_not(path: str, host: Host) -> None:
    assert ephemeral_reason(path, host) is None


def test_start_up_warns_about_a_store_in_a_temporary_directory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="flask_kashflow_links")
    assert str(tmp_path).startswith(tuple(Host.this().temp_dirs))  # pytest's tmp_path is in one
    app = make_app(tmp_path, revocation_url=f"sqlite:///{tmp_path / 'links.sqlite3'}")
    assert [r for r in caplog.records if r.name == "flask_kashflow_links"] == []
    app.test_client().get("/")  # the notes come when the portal first serves
    warnings = [r for r in caplog.records if r.name == "flask_kashflow_links"]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    message = warnings[0].getMessage()
    assert "temporary directory" in message and "revoked links open again" in message
    assert "KASHFLOW_LINKS_REVOCATION_URL" in message


@pytest.mark.redis
def test_a_redis_store_draws_no_such_warning(
    tmp_path: Path, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="flask_kashflow_links")
    make_app(tmp_path, revocation_url=redis_url).test_client().get("/")
    assert [r for r in caplog.records if r.name == "flask_kashflow_links"] == []


# -- a URL prefix that already ends in /invoices (issue 21, point 7) ------------------------------


def prefix_notes(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "KASHFLOW_LINKS_URL_PREFIX" in r.getMessage()]


def test_a_prefix_ending_in_invoices_is_served_as_given_and_warned_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="flask_kashflow_links")
    app = make_app(tmp_path, url_prefix="/account/invoices")
    assert prefix_notes(caplog) == []  # not at init_app: a host's own commands stay quiet
    with app.test_request_context():
        link = KashFlowLinks().mint_invoice(1043)
    # Accepted, and served where the routes say: the doubled path.
    assert "/account/invoices/invoices/" in link.url
    client = app.test_client()
    client.get("/account/invoices/nothing")
    client.get("/account/invoices/nothing")
    [note] = prefix_notes(caplog)
    assert note.levelno == logging.WARNING
    message = note.getMessage()
    assert "'/account/invoices' already ends in /invoices" in message
    assert "links open at /account/invoices/invoices/<token>" in message
    assert "set KASHFLOW_LINKS_URL_PREFIX = '/account'" in message


@pytest.mark.parametrize(
    ("prefix", "fix"),
    [
        ("/invoices", "set no KASHFLOW_LINKS_URL_PREFIX"),
        ("/Account/Invoices/", "set KASHFLOW_LINKS_URL_PREFIX = '/Account'"),
    ],
)
def test_config_and_check_say_it_too(
    tmp_path: Path, sandbox: KashFlowSandbox, prefix: str, fix: str
) -> None:
    app = make_app(tmp_path, **portal_config(sandbox, url_prefix=prefix))
    for command in ("config", "check"):
        result = app.test_cli_runner().invoke(args=["kashflow-links", command])
        assert result.exit_code == 0, result.output
        said = " ".join(result.stderr.split())
        assert "warning: KASHFLOW_LINKS_URL_PREFIX" in said and fix in said, command


@pytest.mark.parametrize("prefix", [None, "/billing", "/account", "/my-invoices", "/invoicesx"])
def test_other_prefixes_draw_no_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, prefix: str | None
) -> None:
    caplog.set_level(logging.WARNING, logger="flask_kashflow_links")
    app = make_app(tmp_path, url_prefix=prefix)
    app.test_client().get("/")
    assert prefix_notes(caplog) == []
    result = app.test_cli_runner().invoke(args=["kashflow-links", "config"])
    assert result.exit_code == 0 and "KASHFLOW_LINKS_URL_PREFIX" not in result.output
