"""The revocation store and link register: SQLite by default, Redis for several hosts.

The store is the durable state behind permanent links:

* revoked link ids (``revoke(link_id)``);
* per-customer "revoked before" times (``revoke_customer``): every link of that customer minted
  until then is withdrawn, invoice links included once their invoice's customer is known;
* a register of minted links (id, account, scope, minted, expires, last opened; never the token
  or a credential) so staff can see what is live and withdraw one link.

It is not a cache: nothing here expires on its own, and losing the cache never un-revokes a link.
Any failure to reach the store raises :class:`~.StoreUnavailable`, and the portal then refuses
links (fail closed) rather than admitting one it could not check.
"""

from __future__ import annotations

import abc
import logging
import os
import sqlite3
import tempfile
import threading
import time
import typing as t
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone
from urllib.parse import urlsplit

from .config import redact_url
from .exceptions import StoreUnavailable
from .tokens import INVOICE
from .tokens import LinkClaims
from .tokens import Scope

log = logging.getLogger(__name__)


def customer_key(code: str) -> str:
    """How customer codes are compared for revocation: case- and space-insensitive.

    Revocation matches broadly on purpose: ``revoke_customer("tcust01")`` must not silently miss
    the links of ``TCUST01``. (Scope checks, which decide what is *shown*, match exactly.)
    """
    return code.strip().casefold()


def _dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=timezone.utc)


@dataclass(frozen=True)
class LinkRecord:
    """A register entry: what a minted link opens and its history. Never the token."""

    link_id: str
    account: str
    kind: str
    invoice: int | None
    customer: str | None
    status: str
    minted_at: datetime
    expires_at: datetime | None
    last_opened_at: datetime | None
    revoked_at: datetime | None

    @property
    def scope(self) -> Scope:
        """The link's scope."""
        if self.kind == INVOICE:
            return Scope.for_invoice(self.account, t.cast(int, self.invoice))
        return Scope.for_customer(self.account, t.cast(str, self.customer), self.status)

    def is_active(self, now: datetime) -> bool:
        """Not revoked and not expired at *now*."""
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


def _record_values(claims: LinkClaims, customer: str | None) -> dict[str, t.Any]:
    # The register keeps the precise time of registration (which follows minting at once):
    # the token's own mint time is whole seconds, too coarse to order a link against a
    # revoke_customer() in the same second.
    scope = claims.scope
    expires = claims.expires_at
    customer = scope.customer or customer
    return {
        "link_id": claims.link_id,
        "account": scope.account,
        "kind": scope.kind,
        "invoice": scope.invoice,
        "customer": customer,
        "customer_key": customer_key(customer) if customer else None,
        "status": scope.status,
        "minted_at": max(time.time(), claims.minted_at.timestamp()),
        "expires_at": expires.timestamp() if expires else None,
    }


class RevocationStore(abc.ABC):
    """What every store does. All methods raise :class:`~.StoreUnavailable` on failure."""

    #: A redacted description of where the store lives, for messages.
    location: str

    @abc.abstractmethod
    def ping(self) -> None:
        """Check the store is reachable and usable."""

    @abc.abstractmethod
    def register(self, claims: LinkClaims, *, customer: str | None = None) -> None:
        """Record a newly minted link."""

    @abc.abstractmethod
    def revoke(self, link_id: str, *, now: float | None = None) -> bool:
        """Withdraw one link. Returns whether the link was in the register."""

    @abc.abstractmethod
    def revoke_customer(self, account: str, customer: str, *, now: float | None = None) -> int:
        """Withdraw every link for *customer* minted until *now*.

        Returns how many registered links were live and are now withdrawn (not counting links
        already revoked, expired, or withdrawn by an earlier cut-off). Invoice links whose
        customer is not yet known are withdrawn too, when first opened, but not counted.
        """

    @abc.abstractmethod
    def revoked_reason(
        self, link_id: str, account: str, customer: str | None, minted_at: float
    ) -> str | None:
        """Why the link is withdrawn (``"link"`` or ``"customer"``), or ``None`` if it is not.

        *customer* is the customer the link reaches (for invoice links: once the invoice has been
        fetched; ``None`` before). *minted_at* is the token's signed mint time (whole seconds);
        the register's precise mint time is preferred when the link is registered.
        """

    @abc.abstractmethod
    def learn_customer(self, link_id: str, customer: str) -> None:
        """Remember the customer of an invoice link once its invoice has been fetched."""

    @abc.abstractmethod
    def touch(self, link_id: str, when: float) -> None:
        """Record that the link was opened at *when*."""

    @abc.abstractmethod
    def get(self, link_id: str) -> LinkRecord | None:
        """The register entry of *link_id*, if any."""

    @abc.abstractmethod
    def records(
        self, *, customer: str | None = None, account: str | None = None
    ) -> list[LinkRecord]:
        """Register entries, newest first, filtered by customer and account."""

    def active_links(
        self, *, customer: str | None = None, account: str | None = None, now: float | None = None
    ) -> list[LinkRecord]:
        """Live links (not revoked, not expired, not withdrawn with their customer)."""
        moment = datetime.fromtimestamp(time.time() if now is None else now, tz=timezone.utc)
        live = []
        for record in self.records(customer=customer, account=account):
            if not record.is_active(moment):
                continue
            reason = self.revoked_reason(
                record.link_id, record.account, record.customer, record.minted_at.timestamp()
            )
            if reason is None:
                live.append(record)
        return live

    def close(self) -> None:  # noqa: B027 - optional hook, most stores need nothing
        """Release connections (optional)."""


def _is_revoked_by_cutoff(cutoff: float | None, minted_at: float, registered: float | None) -> bool:
    if cutoff is None:
        return False
    if registered is not None:
        return registered <= cutoff
    # Unregistered: the token's mint time is whole seconds, so a link minted in the same second
    # as the revocation may have come before it. Refuse it (fail closed).
    return minted_at <= cutoff


# -- SQLite ------------------------------------------------------------------------------------

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
    "l.expires_at, l.last_opened_at, r.revoked_at "
    "FROM links l LEFT JOIN revoked_links r ON r.link_id = l.link_id "
    "WHERE (:link_id IS NULL OR l.link_id = :link_id) "
    "AND (:customer_key IS NULL OR l.customer_key = :customer_key) "
    "AND (:account IS NULL OR l.account = :account) "
    "ORDER BY l.minted_at DESC"
)


class SQLiteStore(RevocationStore):
    """A store in one SQLite file, safe with several threads and processes on one host.

    Each thread (and each forked process) opens its own connection; WAL mode lets readers
    continue while a writer commits, and a busy timeout makes concurrent writers wait their turn.
    The file and its folder are created on first use.
    """

    def __init__(self, path: str, *, busy_timeout: float = 5.0) -> None:
        self.path = path
        self.location = f"sqlite:///{path}"
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._schema_ready = False

    @classmethod
    def from_url(cls, url: str) -> SQLiteStore:
        """``sqlite:///relative/path`` or ``sqlite:////absolute/path``."""
        return cls(url[len("sqlite:///") :])

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        # A connection must not cross a fork (gunicorn --preload): reopen in the child.
        if conn is not None and getattr(self._local, "pid", None) == os.getpid():
            return conn
        try:
            folder = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(folder, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=self._busy_timeout, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            if not self._schema_ready:
                conn.executescript(_SCHEMA)
                self._schema_ready = True
        except (sqlite3.Error, OSError) as e:
            raise StoreUnavailable(f"cannot open the link store {self.location}: {e}") from e
        self._local.conn = conn
        self._local.pid = os.getpid()
        return conn

    def _run(self, sql: str, params: t.Sequence[t.Any] | t.Mapping[str, t.Any] = ()) -> list[t.Any]:
        try:
            return self._connect().execute(sql, params).fetchall()
        except sqlite3.Error as e:
            raise StoreUnavailable(f"link store {self.location} failed: {e}") from e

    def _write(
        self, statements: t.Sequence[tuple[str, t.Sequence[t.Any] | t.Mapping[str, t.Any]]]
    ) -> list[int]:
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            counts = [conn.execute(sql, params).rowcount for sql, params in statements]
            conn.execute("COMMIT")
            return counts
        except sqlite3.Error as e:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StoreUnavailable(f"link store {self.location} failed: {e}") from e

    def ping(self) -> None:
        """Check the store can be used, without creating the file (made on first use)."""
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
        self._write([(_SQL_REGISTER, _record_values(claims, customer))])

    def revoke(self, link_id: str, *, now: float | None = None) -> bool:
        when = time.time() if now is None else now
        self._write(
            [
                (
                    "INSERT OR IGNORE INTO revoked_links (link_id, revoked_at) VALUES (?, ?)",
                    (link_id, when),
                )
            ]
        )
        return bool(self._run("SELECT 1 FROM links WHERE link_id = ?", (link_id,)))

    def revoke_customer(self, account: str, customer: str, *, now: float | None = None) -> int:
        params = {
            "account": account,
            "customer_key": customer_key(customer),
            "when": time.time() if now is None else now,
        }
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            # Count what this cut-off withdraws before moving it.
            live = conn.execute(_SQL_LIVE_FOR_CUSTOMER, params).fetchone()[0]
            conn.execute(_SQL_CUTOFF, params)
            conn.execute("COMMIT")
        except sqlite3.Error as e:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StoreUnavailable(f"link store {self.location} failed: {e}") from e
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
        if customer and _is_revoked_by_cutoff(row[1], minted_at, row[2]):
            return "customer"
        return None

    def learn_customer(self, link_id: str, customer: str) -> None:
        self._write(
            [
                (
                    "UPDATE links SET customer = ?, customer_key = ? "
                    "WHERE link_id = ? AND customer IS NULL",
                    (customer, customer_key(customer), link_id),
                )
            ]
        )

    def touch(self, link_id: str, when: float) -> None:
        self._write([("UPDATE links SET last_opened_at = ? WHERE link_id = ?", (when, link_id))])

    def get(self, link_id: str) -> LinkRecord | None:
        rows = self._run(_SQL_RECORDS, {"link_id": link_id, "customer_key": None, "account": None})
        return _record_from_row(rows[0]) if rows else None

    def records(
        self, *, customer: str | None = None, account: str | None = None
    ) -> list[LinkRecord]:
        params = {
            "link_id": None,
            "customer_key": customer_key(customer) if customer is not None else None,
            "account": account,
        }
        return [_record_from_row(row) for row in self._run(_SQL_RECORDS, params)]

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _record_from_row(row: t.Sequence[t.Any]) -> LinkRecord:
    return LinkRecord(
        link_id=row[0],
        account=row[1],
        kind=row[2],
        invoice=row[3],
        customer=row[4],
        status=row[5],
        minted_at=t.cast(datetime, _dt(row[6])),
        expires_at=_dt(row[7]),
        last_opened_at=_dt(row[8]),
        revoked_at=_dt(row[9]),
    )


# -- Redis -------------------------------------------------------------------------------------


class RedisStore(RevocationStore):
    """A store in Redis, shared by every worker and host that points at it.

    Keys live under ``kfl:rev:``. A revocation is one write and is seen by every process on its
    next check; a check is one pipelined round trip.
    """

    PREFIX = "kfl:rev:"

    def __init__(self, url: str, *, timeout: float = 1.0) -> None:
        try:
            import redis
        except ImportError:  # pragma: no cover - depends on the environment
            raise StoreUnavailable(
                "a redis:// link store needs the redis package: pip install "
                "'flask-kashflow-links[redis]'"
            ) from None
        self._redis_errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._watch_error: type[BaseException] = redis.WatchError
        self.location = redact_url(url)
        self._client = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            health_check_interval=30,
            decode_responses=True,
        )

    def _call(self, action: t.Callable[[t.Any], t.Any]) -> t.Any:
        try:
            return action(self._client)
        except self._redis_errors as e:
            raise StoreUnavailable(f"link store {self.location} failed: {type(e).__name__}") from e

    def _pipeline(
        self, build: t.Callable[[t.Any], object], *, transaction: bool = True
    ) -> list[t.Any]:
        def run(client: t.Any) -> list[t.Any]:
            pipe = client.pipeline(transaction=transaction)
            build(pipe)
            return t.cast(list[t.Any], pipe.execute())

        return t.cast(list[t.Any], self._call(run))

    def _k(self, *parts: str) -> str:
        return self.PREFIX + ":".join(parts)

    def _customer_field(self, account: str, customer: str) -> str:
        return f"{account}\x1f{customer_key(customer)}"

    def ping(self) -> None:
        self._call(lambda c: c.ping())
        self._warn_without_persistence()

    def _warn_without_persistence(self) -> None:
        """Revocations must outlive a Redis restart: warn if the server keeps nothing."""
        try:
            config = self._client.config_get("appendonly")
            config.update(self._client.config_get("save"))
        except self._redis_errors:  # CONFIG is often disabled on managed Redis: say nothing
            return
        if config.get("appendonly") != "yes" and not config.get("save"):
            log.warning(
                "the link store %s has no persistence (appendonly no, no save points): a Redis "
                "restart would forget revocations. Turn on appendonly (or RDB saves).",
                self.location,
            )

    def register(self, claims: LinkClaims, *, customer: str | None = None) -> None:
        values = _record_values(claims, customer)
        mapping = {k: ("" if v is None else str(v)) for k, v in values.items()}

        def build(pipe: t.Any) -> None:
            pipe.hset(self._k("link", claims.link_id), mapping=mapping)
            pipe.zadd(self._k("all"), {claims.link_id: values["minted_at"]})
            if values["customer_key"]:
                pipe.sadd(
                    self._k(
                        "customer", self._customer_field(values["account"], values["customer"])
                    ),
                    claims.link_id,
                )

        self._pipeline(build)

    def revoke(self, link_id: str, *, now: float | None = None) -> bool:
        when = time.time() if now is None else now
        results = self._pipeline(
            lambda pipe: (
                pipe.hsetnx(self._k("revoked"), link_id, str(when)),
                pipe.exists(self._k("link", link_id)),
            )
        )
        return bool(results[1])

    def revoke_customer(self, account: str, customer: str, *, now: float | None = None) -> int:
        when = time.time() if now is None else now
        field_name = self._customer_field(account, customer)
        cutoff_key = self._k("cutoffs")

        def run(client: t.Any) -> int:
            # Keep the latest cut-off: an older concurrent revocation must not lower it.
            with client.pipeline(transaction=True) as pipe:
                while True:
                    try:
                        pipe.watch(cutoff_key)
                        current = pipe.hget(cutoff_key, field_name)
                        previous = float(current) if current is not None else -1.0
                        pipe.multi()
                        if previous < when:
                            pipe.hset(cutoff_key, field_name, str(when))
                        pipe.smembers(self._k("customer", field_name))
                        members = list(pipe.execute()[-1])
                        break
                    except self._watch_error:  # a concurrent cut-off landed: read again
                        continue
            if not members:
                return 0
            # Count what this cut-off withdrew: live, and not already withdrawn.
            pipe = client.pipeline(transaction=False)
            for link_id in members:
                pipe.hmget(self._k("link", link_id), ["minted_at", "expires_at"])
            pipe.hmget(self._k("revoked"), members)
            *fields, revoked = pipe.execute()
            live = 0
            for (minted, expires), gone in zip(fields, revoked, strict=True):
                if gone or not minted or not previous < float(minted) <= when:
                    continue
                if expires and float(expires) <= when:
                    continue
                live += 1
            return live

        return int(self._call(run))

    def revoked_reason(
        self, link_id: str, account: str, customer: str | None, minted_at: float
    ) -> str | None:
        def build(pipe: t.Any) -> None:
            pipe.hexists(self._k("revoked"), link_id)
            if customer:
                pipe.hget(self._k("cutoffs"), self._customer_field(account, customer))

        # Reads only: one round trip, no MULTI/EXEC needed.
        results = self._pipeline(build, transaction=False)
        if results[0]:
            return "link"
        if customer and results[1]:
            # A cut-off exists (rare): now the link's precise registered mint time matters.
            minted = self._call(lambda c: c.hget(self._k("link", link_id), "minted_at"))
            registered = float(minted) if minted else None
            if _is_revoked_by_cutoff(float(results[1]), minted_at, registered):
                return "customer"
        return None

    def learn_customer(self, link_id: str, customer: str) -> None:
        key = self._k("link", link_id)

        def run(client: t.Any) -> None:
            record = client.hgetall(key)
            if not record or record.get("customer"):
                return
            account = record.get("account", "")
            pipe = client.pipeline(transaction=True)
            pipe.hset(key, mapping={"customer": customer, "customer_key": customer_key(customer)})
            pipe.sadd(self._k("customer", self._customer_field(account, customer)), link_id)
            pipe.execute()

        self._call(run)

    def touch(self, link_id: str, when: float) -> None:
        key = self._k("link", link_id)
        # Only existing records: a touch must never create a half-empty register entry.
        self._call(
            lambda c: c.eval(
                "if redis.call('EXISTS', KEYS[1]) == 1 then "
                "redis.call('HSET', KEYS[1], 'last_opened_at', ARGV[1]) end",
                1,
                key,
                str(when),
            )
        )

    def _load(self, client: t.Any, link_ids: t.Sequence[str]) -> list[LinkRecord]:
        if not link_ids:
            return []
        pipe = client.pipeline(transaction=False)
        for link_id in link_ids:
            pipe.hgetall(self._k("link", link_id))
        pipe.hmget(self._k("revoked"), list(link_ids))
        results = pipe.execute()
        revoked = results[-1]
        records = []
        for data, revoked_at in zip(results[: len(link_ids)], revoked, strict=False):
            if data:
                records.append(_record_from_hash(data, revoked_at))
        return records

    def get(self, link_id: str) -> LinkRecord | None:
        found = self._call(lambda c: self._load(c, [link_id]))
        return found[0] if found else None

    def records(
        self, *, customer: str | None = None, account: str | None = None
    ) -> list[LinkRecord]:
        def run(client: t.Any) -> list[LinkRecord]:
            if customer is not None and account is not None:
                ids = list(
                    client.smembers(self._k("customer", self._customer_field(account, customer)))
                )
            else:
                ids = list(client.zrevrange(self._k("all"), 0, -1))
            records = self._load(client, ids)
            if customer is not None:
                records = [
                    r
                    for r in records
                    if r.customer and customer_key(r.customer) == customer_key(customer)
                ]
            if account is not None:
                records = [r for r in records if r.account == account]
            return sorted(records, key=lambda r: r.minted_at, reverse=True)

        return t.cast(list[LinkRecord], self._call(run))

    def close(self) -> None:
        self._client.close()


def _record_from_hash(data: t.Mapping[str, str], revoked_at: str | None) -> LinkRecord:
    def num(name: str) -> float | None:
        value = data.get(name) or ""
        return float(value) if value else None

    invoice = data.get("invoice") or ""
    return LinkRecord(
        link_id=data["link_id"],
        account=data["account"],
        kind=data["kind"],
        invoice=int(invoice) if invoice else None,
        customer=data.get("customer") or None,
        status=data.get("status") or "all",
        minted_at=t.cast(datetime, _dt(num("minted_at"))),
        expires_at=_dt(num("expires_at")),
        last_opened_at=_dt(num("last_opened_at")),
        revoked_at=_dt(float(revoked_at)) if revoked_at else None,
    )


def open_store(url: str) -> RevocationStore:
    """Open the store named by a ``KASHFLOW_LINKS_REVOCATION_URL``."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        return SQLiteStore.from_url(url)
    return RedisStore(url)


__all__ = [
    "LinkRecord",
    "RedisStore",
    "RevocationStore",
    "SQLiteStore",
    "customer_key",
    "open_store",
]
