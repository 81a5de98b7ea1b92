"""The SQLite link store: one file, safe with several threads and processes on one host."""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import tempfile
import threading
import time
import typing as t
from dataclasses import dataclass
from urllib.parse import quote

from ...cache import Reach
from ...exceptions import StoreUnavailable
from ...kashflow.models import customer_key
from ..claims import LinkClaims
from .base import SCANNER_WINDOW
from .base import LinkRecord
from .base import Merged
from .base import RevocationStore
from .base import SentRecord
from .base import StoreContents
from .base import StoredLink
from .base import is_revoked_by_cutoff
from .base import record_values

_SCHEMA = """
CREATE TABLE IF NOT EXISTS links (
    link_id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    kind TEXT NOT NULL,
    invoice INTEGER,
    customer TEXT,
    customer_key TEXT,
    status TEXT NOT NULL,
    minted_at REAL NOT NULL,
    expires_at REAL,
    last_opened_at REAL
);
CREATE INDEX IF NOT EXISTS links_by_customer ON links (account, customer_key);
CREATE TABLE IF NOT EXISTS sends (
    link_id TEXT NOT NULL,
    sent_at REAL NOT NULL,
    recipients TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sends_by_link ON sends (link_id, sent_at);
CREATE TABLE IF NOT EXISTS reminders (
    account TEXT NOT NULL,
    customer_key TEXT NOT NULL,
    reminded_at REAL NOT NULL,
    PRIMARY KEY (account, customer_key)
);
CREATE TABLE IF NOT EXISTS revoked_links (
    link_id TEXT PRIMARY KEY,
    revoked_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS revoked_customers (
    account TEXT NOT NULL,
    customer_key TEXT NOT NULL,
    revoked_before REAL NOT NULL,
    PRIMARY KEY (account, customer_key)
);
"""

#: Columns added to ``links`` after its first release, with their types: a file made by an
#: earlier version gains them when it is opened.
_ADDED_COLUMNS = {
    "last_checked_at": "REAL",
    "last_sent_at": "REAL",
    "last_sent_to": "TEXT",
}

# Static SQL only: every value is bound, so nothing from a link or a request reaches the text.
_SQL_REGISTER = (
    "INSERT OR REPLACE INTO links (link_id, account, kind, invoice, customer, customer_key, "
    "status, minted_at, expires_at) VALUES (:link_id, :account, :kind, :invoice, :customer, "
    ":customer_key, :status, :minted_at, :expires_at)"
)
_SQL_CHECK = (
    "SELECT (SELECT 1 FROM revoked_links WHERE link_id = :link_id), "
    "(SELECT revoked_before FROM revoked_customers "
    "WHERE account = :account AND customer_key = :customer_key), "
    "(SELECT minted_at FROM links WHERE link_id = :link_id)"
)
_SQL_CUTOFF = (
    "INSERT INTO revoked_customers (account, customer_key, revoked_before) "
    "VALUES (:account, :customer_key, :when) ON CONFLICT (account, customer_key) "
    "DO UPDATE SET revoked_before = MAX(revoked_before, excluded.revoked_before)"
)
_SQL_LIVE_FOR_CUSTOMER = (
    "SELECT COUNT(*) FROM links l WHERE l.account = :account "
    "AND l.customer_key = :customer_key AND l.minted_at <= :when "
    "AND (l.expires_at IS NULL OR l.expires_at > :when) "
    "AND l.link_id NOT IN (SELECT link_id FROM revoked_links) "
    "AND l.minted_at > COALESCE((SELECT revoked_before FROM revoked_customers "
    "WHERE account = :account AND customer_key = :customer_key), -1)"
)
_SQL_RECORDS = (
    "SELECT l.link_id, l.account, l.kind, l.invoice, l.customer, l.status, l.minted_at, "
    "l.expires_at, l.last_opened_at, l.last_checked_at, l.last_sent_at, l.last_sent_to, "
    "r.revoked_at "
    "FROM links l LEFT JOIN revoked_links r ON r.link_id = l.link_id "
    "WHERE (:link_id IS NULL OR l.link_id = :link_id) "
    "AND (:customer_key IS NULL OR l.customer_key = :customer_key) "
    "AND (:account IS NULL OR l.account = :account) "
    "ORDER BY l.minted_at DESC LIMIT :limit"
)
# A fetch by a scanner, or within SCANNER_WINDOW seconds of the link's last send, is a check;
# any other is the client's own opening.
_SQL_TOUCH = (
    "UPDATE links SET "
    "last_checked_at = CASE WHEN :scanner OR (last_sent_at IS NOT NULL "
    "AND :when - last_sent_at < :window) THEN :when ELSE last_checked_at END, "
    "last_opened_at = CASE WHEN :scanner OR (last_sent_at IS NOT NULL "
    "AND :when - last_sent_at < :window) THEN last_opened_at ELSE :when END "
    "WHERE link_id = :link_id"
)
# A copied register entry (store copy): a new one inserted; one already here keeps the earlier
# mint time and its customer, and takes the later of each other time (with the addresses of
# the later send). In an upsert every column name on the right reads the row as it was.
_SQL_MERGE_LINK = (
    "INSERT INTO links (link_id, account, kind, invoice, customer, customer_key, status, "
    "minted_at, expires_at, last_opened_at, last_checked_at, last_sent_at, last_sent_to) "
    "VALUES (:link_id, :account, :kind, :invoice, :customer, :customer_key, :status, "
    ":minted_at, :expires_at, :last_opened_at, :last_checked_at, :last_sent_at, "
    ":last_sent_to) ON CONFLICT (link_id) DO UPDATE SET "
    "customer = COALESCE(customer, excluded.customer), "
    "customer_key = COALESCE(customer_key, excluded.customer_key), "
    "minted_at = MIN(minted_at, excluded.minted_at), "
    "last_opened_at = MAX(COALESCE(last_opened_at, excluded.last_opened_at), "
    "COALESCE(excluded.last_opened_at, last_opened_at)), "
    "last_checked_at = MAX(COALESCE(last_checked_at, excluded.last_checked_at), "
    "COALESCE(excluded.last_checked_at, last_checked_at)), "
    "last_sent_to = CASE WHEN COALESCE(excluded.last_sent_at, -1) > COALESCE(last_sent_at, -1) "
    "THEN excluded.last_sent_to ELSE last_sent_to END, "
    "last_sent_at = MAX(COALESCE(last_sent_at, excluded.last_sent_at), "
    "COALESCE(excluded.last_sent_at, last_sent_at))"
)
_SQL_LINK_ROW = "SELECT * FROM links WHERE link_id = ?"
# A copied cut-off or reminder time only ever moves later (the WHERE makes an earlier one no
# change at all, so the connection's change count says what moved).
_SQL_MERGE_CUTOFF = (
    "INSERT INTO revoked_customers (account, customer_key, revoked_before) VALUES (?, ?, ?) "
    "ON CONFLICT (account, customer_key) DO UPDATE SET revoked_before = excluded.revoked_before "
    "WHERE excluded.revoked_before > revoked_before"
)
_SQL_MERGE_REMINDER = (
    "INSERT INTO reminders (account, customer_key, reminded_at) VALUES (?, ?, ?) "
    "ON CONFLICT (account, customer_key) DO UPDATE SET reminded_at = excluded.reminded_at "
    "WHERE excluded.reminded_at > reminded_at"
)
_SQL_MERGE_SEND = (
    "INSERT INTO sends (link_id, sent_at, recipients) SELECT :link_id, :sent_at, :recipients "
    "WHERE NOT EXISTS (SELECT 1 FROM sends WHERE link_id = :link_id AND sent_at = :sent_at "
    "AND recipients = :recipients)"
)
#: The register's columns as :class:`StoredLink` has them (a file from an earlier version,
#: read without upgrading it, may lack the later ones: read as NULL).
_LINK_COLUMNS = (
    "link_id",
    "account",
    "kind",
    "invoice",
    "customer",
    "status",
    "minted_at",
    "expires_at",
    "last_opened_at",
    "last_checked_at",
    "last_sent_at",
    "last_sent_to",
)

# Live links in one statement: what active_links() filters, done by SQLite.
_SQL_LIVE = (
    "SELECT l.link_id, l.account, l.kind, l.invoice, l.customer, l.status, l.minted_at, "
    "l.expires_at, l.last_opened_at, l.last_checked_at, l.last_sent_at, l.last_sent_to, NULL "
    "FROM links l "
    "WHERE (:customer_key IS NULL OR l.customer_key = :customer_key) "
    "AND (:account IS NULL OR l.account = :account) "
    "AND (l.expires_at IS NULL OR l.expires_at > :now) "
    "AND l.link_id NOT IN (SELECT link_id FROM revoked_links) "
    "AND NOT EXISTS (SELECT 1 FROM revoked_customers c WHERE c.account = l.account "
    "AND c.customer_key = l.customer_key AND l.minted_at <= c.revoked_before) "
    "ORDER BY l.minted_at DESC LIMIT :limit"
)


#: SQLite paths that name no file: a database private to each connection.
IN_MEMORY = ("", ":memory:")

#: File systems that live in memory: their files are gone after a restart.
MEMORY_FILE_SYSTEMS = ("tmpfs", "ramfs")
#: File systems of a container's own writable layer: gone when the container is replaced.
CONTAINER_LAYERS = ("overlay", "aufs")

_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


@dataclass(frozen=True)
class Host:
    """What the checks know of the machine the application runs on (tests make their own)."""

    #: Directories for temporary files.
    temp_dirs: tuple[str, ...]
    #: ``(mount point, file system type)`` of every mounted file system.
    mounts: tuple[tuple[str, str], ...]
    #: The process's environment variables.
    environ: t.Mapping[str, str]

    @classmethod
    def this(cls) -> Host:
        """The facts of this machine (mounts from ``/proc/self/mounts`` where there is one)."""
        # Only compared with a path, never written to.
        usual = ("/tmp", "/dev/shm")  # noqa: S108  # nosec B108
        temp_dirs = {os.path.realpath(d) for d in (tempfile.gettempdir(), *usual)}
        return cls(tuple(sorted(temp_dirs)), _mounts(), os.environ)


def _mounts() -> tuple[tuple[str, str], ...]:
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as lines:
            fields = [line.split() for line in lines]
    except OSError:  # not Linux: the file system checks have nothing to go on
        return ()
    # Spaces and other characters in mount points are written as octal escapes (\040).
    return tuple(
        (_OCTAL_ESCAPE.sub(lambda m: chr(int(m[1], 8)), f[1]), f[2]) for f in fields if len(f) > 2
    )


def ephemeral_reason(path: str, host: Host) -> str | None:
    """Why a file at *path* looks likely to vanish on a restart or redeploy, or ``None``."""
    where = os.path.realpath(path)
    if "DYNO" in host.environ:
        return "is on a Heroku dyno, whose file system is discarded on every restart and deploy"
    for folder in host.temp_dirs:
        if _within(where, folder):
            return f"is in a temporary directory ({folder})"
    mounted = [(m, kind) for m, kind in host.mounts if _within(where, m)]
    if not mounted:
        return None
    _, kind = max(mounted, key=lambda mount: len(mount[0]))  # the innermost mount holds it
    if kind in MEMORY_FILE_SYSTEMS:
        return f"is on a file system held in memory ({kind})"
    if kind in CONTAINER_LAYERS:
        return f"is in a container's own writable layer ({kind}), not on a mounted volume"
    return None


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


class SQLiteStore(RevocationStore):
    """A store in one SQLite file, safe with several threads and processes on one host.

    Each thread (and each forked process) opens its own connection; WAL mode lets readers
    continue while a writer commits, and a busy timeout makes concurrent writers wait their turn.
    The file and its folder are created on first use, unless *read_only*: then the file must
    exist and is only read, as it is (the source of a copy, or a store left behind).
    """

    def __init__(self, path: str, *, busy_timeout: float = 5.0, read_only: bool = False) -> None:
        self.path = path
        self.location = f"sqlite:///{path}"
        self.read_only = read_only
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._schema_ready = False
        self._init_lock = threading.Lock()

    @property
    def reach(self) -> Reach:
        """A file is shared by the processes of this host; a database in memory by none."""
        return Reach.PROCESS if self.path in IN_MEMORY else Reach.HOST

    def ephemeral_reason(self, host: Host | None = None) -> str | None:
        """Why the store's file looks likely to vanish on a restart or redeploy (taking every
        revocation with it), or ``None`` (also for a store in memory: warned about on its
        own)."""
        if self.path in IN_MEMORY:
            return None
        return ephemeral_reason(self.path, host or Host.this())

    @classmethod
    def from_url(cls, url: str, *, read_only: bool = False) -> SQLiteStore:
        """``sqlite:///relative/path`` or ``sqlite:////absolute/path``."""
        return cls(url[len("sqlite:///") :], read_only=read_only)

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        # A connection must not cross a fork (gunicorn --preload): reopen in the child.
        if conn is not None and getattr(self._local, "pid", None) == os.getpid():
            return conn
        if self.read_only:
            return self._connect_read_only()
        try:
            folder = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(folder, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=self._busy_timeout, isolation_level=None)
            conn.execute("PRAGMA synchronous=NORMAL")
            if not self._schema_ready:
                # Once per process, one thread at a time: switching a new file to WAL (which
                # then sticks to the file) and creating the tables take locks that SQLite may
                # refuse at once to a second connection doing the same, busy timeout or not.
                with self._init_lock:
                    if not self._schema_ready:
                        self._initialise(conn)
                        self._schema_ready = True
        except (sqlite3.Error, OSError) as e:
            raise StoreUnavailable(f"cannot open the link store {self.location}: {e}") from e
        self._local.conn = conn
        self._local.pid = os.getpid()
        return conn

    def _connect_read_only(self) -> sqlite3.Connection:
        """A connection that reads the file as it is: never creates it, its folder or its
        tables, and never upgrades its schema."""
        if not os.path.isfile(self.path):
            raise StoreUnavailable(f"there is no link store at {self.location}")
        uri = f"file:{quote(os.path.abspath(self.path))}?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=self._busy_timeout)
            conn.execute("SELECT 1 FROM links LIMIT 1")
        except sqlite3.Error as e:
            raise StoreUnavailable(f"cannot read the link store {self.location}: {e}") from e
        self._local.conn = conn
        self._local.pid = os.getpid()
        return conn

    def _initialise(self, conn: sqlite3.Connection) -> None:
        """WAL mode and the schema, retried while another process is doing the same."""
        deadline = time.monotonic() + self._busy_timeout
        while True:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.executescript(_SCHEMA)
                have = {row[1] for row in conn.execute("PRAGMA table_info(links)")}
                for column, kind in _ADDED_COLUMNS.items():
                    if column not in have:
                        # Names from the constant above, never from a request.
                        conn.execute(f"ALTER TABLE links ADD COLUMN {column} {kind}")  # nosec B608
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _run(self, sql: str, params: t.Sequence[t.Any] | t.Mapping[str, t.Any] = ()) -> list[t.Any]:
        try:
            return self._connect().execute(sql, params).fetchall()
        except sqlite3.Error as e:
            raise StoreUnavailable(f"link store {self.location} failed: {e}") from e

    @contextlib.contextmanager
    def _transaction(self) -> t.Iterator[sqlite3.Connection]:
        """Statements that must happen together (single statements need none: the connection
        commits each one as it runs)."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.execute("COMMIT")
        except sqlite3.Error as e:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StoreUnavailable(f"link store {self.location} failed: {e}") from e

    def ping(self) -> None:
        """Check the store can be used, without creating the file (made on first use; a
        read-only store's must exist)."""
        if self.read_only:
            self._connect()
            return
        if os.path.exists(self.path):
            self._run("SELECT 1")
            return
        folder = os.path.dirname(os.path.abspath(self.path))
        try:
            os.makedirs(folder, exist_ok=True)
            # Permission bits lie to root and to read-only mounts: try a real write.
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".kfl-probe-"):
                pass
        except OSError as e:
            raise StoreUnavailable(
                f"cannot create the link store {self.location}: {folder} is not writable ({e})"
            ) from e

    def register(self, claims: LinkClaims, *, customer: str | None = None) -> None:
        self._run(_SQL_REGISTER, record_values(claims, customer))

    def revoke(self, link_id: str, *, now: float | None = None) -> bool:
        when = time.time() if now is None else now
        self._run(
            "INSERT OR IGNORE INTO revoked_links (link_id, revoked_at) VALUES (?, ?)",
            (link_id, when),
        )
        return bool(self._run("SELECT 1 FROM links WHERE link_id = ?", (link_id,)))

    def revoke_customer(self, account: str, customer: str, *, now: float | None = None) -> int:
        params = {
            "account": account,
            "customer_key": customer_key(customer),
            "when": time.time() if now is None else now,
        }
        with self._transaction() as conn:
            # Count what this cut-off revokes before moving it.
            live = conn.execute(_SQL_LIVE_FOR_CUSTOMER, params).fetchone()[0]
            conn.execute(_SQL_CUTOFF, params)
        return int(live)

    def revoked_reason(
        self, link_id: str, account: str, customer: str | None, minted_at: float
    ) -> str | None:
        # One statement, one round trip: revoked id, customer cut-off, registered mint time.
        params = {
            "link_id": link_id,
            "account": account,
            "customer_key": customer_key(customer) if customer else None,
        }
        row = self._run(_SQL_CHECK, params)[0]
        if row[0]:
            return "link"
        if customer and is_revoked_by_cutoff(row[1], minted_at, row[2]):
            return "customer"
        return None

    def learn_customer(self, link_id: str, customer: str) -> None:
        self._run(
            "UPDATE links SET customer = ?, customer_key = ? "
            "WHERE link_id = ? AND customer IS NULL",
            (customer, customer_key(customer), link_id),
        )

    def touch(self, link_id: str, when: float, *, scanner: bool = False) -> bool | None:
        # One statement: a check or the client's opening, judged against the link's last send.
        params = {"when": when, "link_id": link_id, "scanner": scanner, "window": SCANNER_WINDOW}
        self._run(_SQL_TOUCH, params)
        # Which it was (a read: a concurrent fetch may have written since, which only costs
        # the caller a debounced write).
        rows = self._run("SELECT last_opened_at FROM links WHERE link_id = ?", (link_id,))
        return rows[0][0] == when if rows else None

    def record_sent(self, link_id: str, when: float, recipients: t.Sequence[str]) -> None:
        to = "\n".join(recipients)
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO sends (link_id, sent_at, recipients) VALUES (?, ?, ?)",
                (link_id, when, to),
            )
            conn.execute(
                "UPDATE links SET last_sent_at = ?, last_sent_to = ? WHERE link_id = ?",
                (when, to, link_id),
            )

    def claim_reminder(
        self, account: str, customer: str, *, now: float, every: float
    ) -> float | None:
        key = customer_key(customer)
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT reminded_at FROM reminders WHERE account = ? AND customer_key = ?",
                (account, key),
            ).fetchone()
            if row is not None and now - row[0] < every:
                return float(row[0])
            conn.execute(
                "INSERT INTO reminders (account, customer_key, reminded_at) VALUES (?, ?, ?) "
                "ON CONFLICT (account, customer_key) "
                "DO UPDATE SET reminded_at = excluded.reminded_at",
                (account, key, now),
            )
        return None

    def release_reminder(self, account: str, customer: str, *, previous: float | None) -> None:
        key = customer_key(customer)
        if previous is None:
            self._run(
                "DELETE FROM reminders WHERE account = ? AND customer_key = ?", (account, key)
            )
        else:
            self._run(
                "UPDATE reminders SET reminded_at = ? WHERE account = ? AND customer_key = ?",
                (previous, account, key),
            )

    def last_reminded(self, account: str, customer: str) -> float | None:
        rows = self._run(
            "SELECT reminded_at FROM reminders WHERE account = ? AND customer_key = ?",
            (account, customer_key(customer)),
        )
        return float(rows[0][0]) if rows else None

    def get(self, link_id: str) -> LinkRecord | None:
        rows = self._run(
            _SQL_RECORDS, {"link_id": link_id, "customer_key": None, "account": None, "limit": 1}
        )
        return _record_from_row(rows[0]) if rows else None

    def records(
        self, *, customer: str | None = None, account: str | None = None, limit: int | None = None
    ) -> list[LinkRecord]:
        params = {
            "link_id": None,
            "customer_key": customer_key(customer) if customer is not None else None,
            "account": account,
            "limit": -1 if limit is None else limit,
        }
        return [_record_from_row(row) for row in self._run(_SQL_RECORDS, params)]

    def active_links(
        self,
        *,
        customer: str | None = None,
        account: str | None = None,
        now: float | None = None,
        limit: int | None = None,
    ) -> list[LinkRecord]:
        params = {
            "customer_key": customer_key(customer) if customer is not None else None,
            "account": account,
            "now": time.time() if now is None else now,
            "limit": -1 if limit is None else limit,
        }
        return [_record_from_row(row) for row in self._run(_SQL_LIVE, params)]

    def is_empty(self) -> bool:
        rows = self._run(
            "SELECT EXISTS (SELECT 1 FROM links) OR EXISTS (SELECT 1 FROM revoked_links) "
            "OR EXISTS (SELECT 1 FROM revoked_customers)"
        )
        return not rows[0][0]

    def contents(self) -> StoreContents:
        # A file from an earlier version, read without upgrading it, may lack the later
        # columns and tables: read as empty.
        tables = {
            row[0] for row in self._run("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        have = {row[1] for row in self._run("PRAGMA table_info(links)")}
        # Column names from the constant above, never from a request or a file.
        columns = ", ".join(c if c in have else f"NULL AS {c}" for c in _LINK_COLUMNS)
        query = f"SELECT {columns} FROM links ORDER BY minted_at"  # noqa: S608  # nosec B608
        links = self._run(query)

        def rows(table: str, sql: str) -> list[t.Any]:
            return self._run(sql) if table in tables else []

        sends = rows("sends", "SELECT link_id, sent_at, recipients FROM sends ORDER BY sent_at")
        reminders = rows("reminders", "SELECT account, customer_key, reminded_at FROM reminders")
        cutoffs = self._run("SELECT account, customer_key, revoked_before FROM revoked_customers")
        return StoreContents(
            links=tuple(_stored_link(row) for row in links),
            revoked=dict(self._run("SELECT link_id, revoked_at FROM revoked_links")),
            cutoffs={(row[0], row[1]): row[2] for row in cutoffs},
            sends=tuple(
                SentRecord(row[0], row[1], tuple(row[2].split("\n")) if row[2] else ())
                for row in sends
            ),
            reminders={(row[0], row[1]): row[2] for row in reminders},
        )

    def merge(self, contents: StoreContents) -> Merged:
        merged = Merged()
        # One transaction: the copy lands whole or not at all.
        with self._transaction() as conn:
            for link in contents.links:
                before = conn.execute(_SQL_LINK_ROW, (link.link_id,)).fetchone()
                conn.execute(_SQL_MERGE_LINK, link.fields())
                merged.links += before != conn.execute(_SQL_LINK_ROW, (link.link_id,)).fetchone()
            merged.revoked = _changes(
                conn,
                "INSERT OR IGNORE INTO revoked_links (link_id, revoked_at) VALUES (?, ?)",
                list(contents.revoked.items()),
            )
            merged.cutoffs = _changes(
                conn,
                _SQL_MERGE_CUTOFF,
                [
                    (account, customer_key(key), when)
                    for (account, key), when in contents.cutoffs.items()
                ],
            )
            merged.sends = _changes(
                conn,
                _SQL_MERGE_SEND,
                [
                    {
                        "link_id": s.link_id,
                        "sent_at": s.sent_at,
                        "recipients": "\n".join(s.recipients),
                    }
                    for s in contents.sends
                ],
            )
            merged.reminders = _changes(
                conn,
                _SQL_MERGE_REMINDER,
                [
                    (account, customer_key(key), when)
                    for (account, key), when in contents.reminders.items()
                ],
            )
        return merged

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _changes(conn: sqlite3.Connection, sql: str, rows: t.Sequence[t.Any]) -> int:
    """Run *sql* for each of *rows*; how many rows it inserted or changed."""
    before = conn.total_changes
    for row in rows:
        conn.execute(sql, row)
    return conn.total_changes - before


def _stored_link(row: t.Sequence[t.Any]) -> StoredLink:
    """A register row, in the order of :data:`_LINK_COLUMNS`."""
    return StoredLink(
        link_id=row[0],
        account=row[1],
        kind=row[2],
        invoice=row[3],
        customer=row[4],
        status=row[5],
        minted_at=row[6],
        expires_at=row[7],
        last_opened_at=row[8],
        last_checked_at=row[9],
        last_sent_at=row[10],
        last_sent_to=tuple(row[11].split("\n")) if row[11] else (),
    )


def _record_from_row(row: t.Sequence[t.Any]) -> LinkRecord:
    """A row of :data:`_SQL_RECORDS` or :data:`_SQL_LIVE`: the register's columns, then when
    the link was withdrawn."""
    return _stored_link(row[:-1]).record(row[-1])
