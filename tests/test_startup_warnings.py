"""Start-up warnings: a SQLite link store that looks likely to vanish is said out loud."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from flask_kashflow_links.links.store.sqlite import Host
from flask_kashflow_links.links.store.sqlite import ephemeral_reason

from .helpers import make_app

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
