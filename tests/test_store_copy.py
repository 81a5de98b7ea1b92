"""Moving a deployment between link stores without bringing withdrawn links back (issue 21,
point 6): ``flask kashflow-links store copy --to URL`` and ``--from URL``, from the default
SQLite store to a real Redis and back; the start-up warning for an empty store beside a
default store left behind in the instance folder; and what the stores' merge keeps."""

from __future__ import annotations

import logging
import sqlite3
import typing as t
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from flask import Flask

from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links import Link
from flask_kashflow_links import LinkRecord
from flask_kashflow_links.links.claims import Scope
from flask_kashflow_links.links.codec import TokenCodec
from flask_kashflow_links.links.store import RedisStore
from flask_kashflow_links.links.store import RevocationStore
from flask_kashflow_links.links.store import SQLiteStore
from flask_kashflow_links.testing import KashFlowSandbox

from .helpers import FERNET_KEY
from .helpers import SECRET_KEY
from .helpers import internals
from .helpers import make_app
from .helpers import path
from .helpers import portal_config
from .services import free_port

pytestmark = pytest.mark.redis


def site(
    tmp_path: Path, sandbox: KashFlowSandbox, store: str | None = None, *, name: str = "site"
) -> tuple[Flask, list[EmailMessage]]:
    """The business's site on *sandbox*, on the link store at *store* (default: the SQLite
    file in its instance folder, the same folder for every site of one *name*), and the
    messages its mail sent."""
    sent: list[EmailMessage] = []
    settings: dict[str, t.Any] = {"mail": sent.append}
    if store is not None:
        settings["revocation_url"] = store
    return make_app(tmp_path, name, TESTING=False, **portal_config(sandbox, **settings)), sent


def copy(app: Flask, *args: str) -> tuple[int, str]:
    """``flask kashflow-links store copy ARGS`` on *app*: exit code and output (unwrapped)."""
    result = app.test_cli_runner().invoke(args=["kashflow-links", "store", "copy", *args])
    return result.exit_code, " ".join((result.stdout + result.stderr).split())


def register(app: Flask) -> list[LinkRecord]:
    """Every entry of *app*'s register, live or not, by link id (**private**: the staff API
    lists live links only)."""
    return sorted(internals(app).links.store.records(), key=lambda r: r.link_id)


def status(app: Flask, link: Link) -> int:
    return t.cast(int, app.test_client().get(path(link)).status_code)


def live(app: Flask) -> set[str]:
    with app.app_context():
        return {r.link_id for r in KashFlowLinks().active_links()}


# -- SQLite to Redis and back --------------------------------------------------------------------

#: What the four links of the move open as: withdrawn (410), live, cut off with their customer,
#: minted after the cut-off (live).
WITHDRAWN_AS_BEFORE = [410, 200, 410, 200]


def test_a_move_from_sqlite_to_redis_and_back_keeps_every_withdrawal(
    tmp_path: Path, sandbox: KashFlowSandbox, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="flask_kashflow_links")
    first, _ = site(tmp_path, sandbox)  # one process, the default SQLite store
    links = KashFlowLinks()
    with first.test_request_context():
        withdrawn = links.mint_invoice(1043)
        kept = links.mint_customer("ACME01", status="unpaid")
        cut_off = links.mint_customer("BIGCO01")
        links.revoke(withdrawn.link_id)
        links.revoke_customer("BIGCO01")
        after_cut = links.mint_customer("BIGCO01", status="unpaid")  # after the cut-off: live
        links.send(kept)
        assert links.remind(status="unpaid", customers=["ACME01"]).sent

    def opened(app: Flask) -> list[int]:
        return [status(app, link) for link in (withdrawn, kept, cut_off, after_cut)]

    assert opened(first) == WITHDRAWN_AS_BEFORE
    held = register(first)
    assert len(held) == 4

    # Moved to Redis without a copy: the withdrawn link opens again, and the site says why.
    moved, moved_mail = site(tmp_path, sandbox, redis_url)
    assert status(moved, withdrawn) == 200
    assert live(moved) == set()
    [warning] = [r.getMessage() for r in caplog.records if "store copy" in r.getMessage()]
    assert "is empty, but sqlite:///" in warning
    assert "4 links, 1 revocation, 1 customer cut-off" in warning
    assert f"store copy --from sqlite:///{tmp_path}/instance-site/kashflow_links.sqlite3" in warning

    code, out = copy(first, "--to", redis_url)
    assert code == 0, out
    assert "read: 4 links, 1 revocation, 1 customer cut-off, 2 sends, 1 reminder time" in out, out
    assert "copied: 4 links, 1 revocation, 1 customer cut-off, 2 sends, 1 reminder time" in out
    # Every record as it was, to the microsecond (a cut-off compares mint times).
    assert register(moved) == held
    assert opened(moved) == WITHDRAWN_AS_BEFORE
    assert live(moved) == live(first) == {kept.link_id, after_cut.link_id}
    with moved.app_context():
        # The reminder time came too: ACME01 is not reminded twice in a week.
        again = KashFlowLinks().remind(
            status="unpaid", every=timedelta(days=7), customers=["ACME01"]
        )
    assert again.sent == [] and again.skipped[0].reason.startswith("reminded")
    assert moved_mail == []

    # Safe to rerun: nothing new, nothing doubled, nothing the new store learnt since undone
    # (the pages just opened there are later "last opened" times than the old store's).
    now_held = register(moved)
    code, out = copy(first, "--to", redis_url)
    assert code == 0 and "copied: nothing new" in out, out
    assert register(moved) == now_held

    # And back: a new SQLite store, filled from Redis with --from.
    back_url = f"sqlite:///{tmp_path / 'back' / 'links.sqlite3'}"
    back, _ = site(tmp_path, sandbox, back_url, name="back")
    code, out = copy(back, "--from", redis_url)
    assert code == 0, out
    assert "copied: 4 links, 1 revocation, 1 customer cut-off, 2 sends, 1 reminder time" in out
    assert register(back) == register(moved)
    assert opened(back) == WITHDRAWN_AS_BEFORE
    code, out = copy(back, "--from", redis_url)
    assert code == 0 and "copied: nothing new" in out, out


# -- the start-up warning ------------------------------------------------------------------------


def notes(app: Flask, caplog: pytest.LogCaptureFixture) -> list[str]:
    """The start-up notes about a store left behind, when *app* first serves."""
    caplog.clear()
    app.test_client().get("/")
    return [r.getMessage() for r in caplog.records if "store copy --from" in r.getMessage()]


def test_the_warning_comes_until_the_copy_and_check_and_config_say_it(
    tmp_path: Path, sandbox: KashFlowSandbox, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="flask_kashflow_links")
    first, _ = site(tmp_path, sandbox)
    assert notes(first, caplog) == []  # the file is the configured store itself
    with first.test_request_context():
        KashFlowLinks().revoke(KashFlowLinks().mint_invoice(1043).link_id)
    assert notes(first, caplog) == []

    moved, _ = site(tmp_path, sandbox, redis_url)
    assert len(notes(moved, caplog)) == 1
    for command in ("config", "check"):
        result = moved.test_cli_runner().invoke(args=["kashflow-links", command])
        assert result.exit_code == 0, result.output
        assert "warning: the link store redis://" in result.stderr, command
    assert copy(moved, "--from", f"sqlite:///{first.instance_path}/kashflow_links.sqlite3")[0] == 0
    # A store that holds something is not warned about: a new process says nothing.
    assert notes(site(tmp_path, sandbox, redis_url)[0], caplog) == []


def test_no_warning_for_an_empty_file_left_behind(
    tmp_path: Path, sandbox: KashFlowSandbox, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="flask_kashflow_links")
    first, _ = site(tmp_path, sandbox)
    with first.test_request_context():
        KashFlowLinks().active_links()  # the file is made, and holds nothing
    assert (Path(first.instance_path) / "kashflow_links.sqlite3").exists()
    assert notes(site(tmp_path, sandbox, redis_url)[0], caplog) == []


# -- bad input: a clear error, and nothing changed -----------------------------------------------


def test_bad_copies_say_what_is_wrong_and_change_nothing(
    tmp_path: Path, sandbox: KashFlowSandbox, redis_url: str
) -> None:
    first, _ = site(tmp_path, sandbox)
    with first.test_request_context():
        KashFlowLinks().revoke(KashFlowLinks().mint_invoice(1043).link_id)
    held = register(first)
    missing = tmp_path / "nowhere" / "links.sqlite3"
    configured = f"sqlite:///{first.instance_path}/kashflow_links.sqlite3"
    for args, code, said in [
        ((), 2, "give either --to URL or --from URL"),
        (("--to", redis_url, "--from", redis_url), 2, "give either --to URL or --from URL"),
        (("--to", "postgres://db/links"), 2, "is not a link store's URL"),
        (("--to", "sqlite://links.sqlite3"), 2, "write SQLite URLs as sqlite:///"),
        (("--to", "sqlite:///:memory:"), 2, "in memory belongs to one process"),
        (("--from", f"sqlite:///{missing}"), 1, "there is no link store at"),
        (("--to", configured), 1, "is the configured store itself"),
        (("--to", f"redis://:s3cret-pass@127.0.0.1:{free_port()}/0"), 1, "nothing copied"),
        (("--to", "postgres://admin:s3cret-pass@db/links"), 2, "is not a link store's URL"),
    ]:
        exit_code, out = copy(first, *args)
        assert (exit_code, said in out) == (code, True), (args, out)
        assert "Traceback" not in out and "s3cret-pass" not in out
    assert not missing.exists() and not missing.parent.exists()
    assert register(first) == held
    assert RedisStore(redis_url).is_empty()


# -- what a merge keeps --------------------------------------------------------------------------

CODEC = TokenCodec([FERNET_KEY], [SECRET_KEY])


@pytest.fixture(params=["sqlite", "redis"])
def destination(request: pytest.FixtureRequest, tmp_path: Path) -> t.Iterator[RevocationStore]:
    if request.param == "sqlite":
        store: RevocationStore = SQLiteStore(str(tmp_path / "destination.sqlite3"))
    else:
        store = RedisStore(request.getfixturevalue("redis_url"))
    yield store
    store.close()


def test_a_merge_keeps_the_later_cut_off_and_never_registers_a_link_twice(
    tmp_path: Path, destination: RevocationStore
) -> None:
    source = SQLiteStore(str(tmp_path / "source.sqlite3"))
    scope = Scope.for_customer("acme", "ACME01")
    shared = CODEC.mint(scope)[1].link_id
    for store in (source, destination):
        store.register(CODEC.mint(scope, link_id=shared)[1])  # in both: a copy ran before
    gone = CODEC.mint(scope)[1].link_id
    source.revoke_customer("acme", "ACME01", now=2000.0)
    source.revoke_customer("acme", "BIGCO01", now=1000.0)
    destination.revoke_customer("acme", "BIGCO01", now=3000.0)  # later here: it stays
    source.revoke(gone, now=500.0)  # a link not in the register: withdrawn all the same

    merged = destination.merge(source.contents())
    assert (merged.revoked, merged.cutoffs) == (1, 1)
    cutoffs = destination.contents().cutoffs
    assert cutoffs == {("acme", "acme01"): 2000.0, ("acme", "bigco01"): 3000.0}
    assert [link.link_id for link in destination.contents().links] == [shared]
    assert destination.revoked_reason(gone, "acme", None, 0.0) == "link"
    # Again: nothing changes, nothing is doubled.
    assert any(destination.merge(source.contents()).counts().values()) is False
    assert len(destination.records()) == 1
    # A later cut-off in the source moves the destination's; an earlier one never lowers it.
    source.revoke_customer("acme", "BIGCO01", now=4000.0)
    assert destination.merge(source.contents()).cutoffs == 1
    assert destination.contents().cutoffs[("acme", "bigco01")] == 4000.0
    source.close()


def test_a_file_from_an_earlier_version_is_copied_and_left_as_it_was(
    tmp_path: Path, sandbox: KashFlowSandbox, redis_url: str
) -> None:
    """The first schema: no sends, no reminders, none of the register's later columns. The
    copy reads it as it is; it is neither upgraded nor written."""
    old = tmp_path / "old.sqlite3"
    with sqlite3.connect(old) as db:
        db.executescript(
            "CREATE TABLE links (link_id TEXT PRIMARY KEY, account TEXT NOT NULL, kind TEXT NOT "
            "NULL, invoice INTEGER, customer TEXT, customer_key TEXT, status TEXT NOT NULL, "
            "minted_at REAL NOT NULL, expires_at REAL, last_opened_at REAL);"
            "CREATE TABLE revoked_links (link_id TEXT PRIMARY KEY, revoked_at REAL NOT NULL);"
            "CREATE TABLE revoked_customers (account TEXT NOT NULL, customer_key TEXT NOT NULL, "
            "revoked_before REAL NOT NULL, PRIMARY KEY (account, customer_key));"
        )
    moved, _ = site(tmp_path, sandbox, redis_url)
    with moved.test_request_context():
        link = KashFlowLinks().mint_invoice(1043)
    with sqlite3.connect(old) as db:
        db.execute(
            "INSERT INTO links VALUES (?, 'acme', 'invoice', 1043, 'ACME01', 'acme01', 'all', "
            "?, NULL, NULL)",
            (link.link_id, 1000.0),
        )
        db.execute("INSERT INTO revoked_links VALUES (?, 2000.0)", (link.link_id,))
    before = old.read_bytes()
    code, out = copy(moved, "--from", f"sqlite:///{old}")
    assert code == 0, out
    assert "read: 1 link, 1 revocation" in out
    assert status(moved, link) == 410
    assert old.read_bytes() == before and not Path(f"{old}-wal").exists()
