"""The Redis link store, shared by every worker and host that points at it."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
import typing as t
from functools import partial

from ...cache import Reach
from ...config import redact_url
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
from .base import StoreUnsafe
from .base import is_live
from .base import is_revoked_by_cutoff
from .base import record_values

log = logging.getLogger(__name__)

#: Register entries loaded per pipelined round trip.
_PAGE = 200
#: A fetch of a link: a check (by a known scanner, or within a window after the link's last
#: send) or the client's opening; registered links only.
_TOUCH = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local sent = tonumber(redis.call('HGET', KEYS[1], 'last_sent_at') or '')
local when = tonumber(ARGV[1])
if ARGV[2] ~= '' or (sent and when - sent < tonumber(ARGV[3])) then
  redis.call('HSET', KEYS[1], 'last_checked_at', ARGV[1])
  return 0
end
redis.call('HSET', KEYS[1], 'last_opened_at', ARGV[1])
return 1
"""
#: Claim a customer's reminder: the time of a reminder within the last ARGV[3] seconds, or
#: nothing (and the claim made).
_CLAIM = """
local last = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '')
if last and tonumber(ARGV[2]) - last < tonumber(ARGV[3]) then return tostring(last) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return false
"""
#: The revocation check, read-only, in one command: whether the link is revoked and, with a
#: customer, the customer's cut-off and the link's registered mint time.
_CHECK = """
local revoked = redis.call('HEXISTS', KEYS[1], ARGV[1])
if #KEYS == 1 then return {revoked} end
return {revoked, redis.call('HGET', KEYS[2], ARGV[2]), redis.call('HGET', KEYS[3], 'minted_at')}
"""


#: A copied register entry (``store copy``), in one step: a new one written whole; one already
#: here keeps its mint time unless the copy's is earlier, its other fields unless empty here,
#: and takes the later "opened", "checked" and "sent" times (the addresses with the send).
#: Then the entry is indexed by its (final) mint time and under its customer. Returns 1 when
#: anything changed. KEYS: the entry, the index, the customer's set (when it has a customer);
#: ARGV: the link id, the addresses of its last send, then field and value pairs.
_MERGE_LINK = """
local key, changed = KEYS[1], 0
for i = 3, #ARGV, 2 do
  local f, v = ARGV[i], ARGV[i + 1]
  if v ~= '' then
    local current = redis.call('HGET', key, f)
    local take = not current or current == ''
    if not take and f == 'minted_at' then
      take = tonumber(v) < tonumber(current)
    elseif not take and (f == 'last_opened_at' or f == 'last_checked_at'
        or f == 'last_sent_at') then
      take = tonumber(v) > tonumber(current)
    end
    if take then
      redis.call('HSET', key, f, v)
      if f == 'last_sent_at' then redis.call('HSET', key, 'last_sent_to', ARGV[2]) end
      changed = 1
    end
  end
end
redis.call('ZADD', KEYS[2], redis.call('HGET', key, 'minted_at'), ARGV[1])
if #KEYS == 3 then redis.call('SADD', KEYS[3], ARGV[1]) end
return changed
"""
#: A copied cut-off or reminder time: only ever later. Returns 1 when it moved.
_MERGE_LATER = """
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '')
if current and current >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""
#: A copied send, unless that send is recorded already. Returns 1 when added.
_MERGE_SEND = """
for _, entry in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if entry == ARGV[1] then return 0 end
end
redis.call('RPUSH', KEYS[1], ARGV[1])
return 1
"""


class RedisStore(RevocationStore):
    """A store in Redis, shared by every worker and host that points at it.

    Keys live under ``kfl:rev:``. A revocation is one write and is seen by every process on its
    next check; a check is one pipelined round trip.

    Registration times and customer cut-offs are taken from the Redis server's clock, not the
    host's: a link registered before a ``revoke_customer`` on another host is revoked by it,
    and one registered after it is not, however far apart the hosts' clocks are.
    """

    #: Every key of the store starts with this; a cache sharing the database must not use a
    #: prefix that overlaps it (the extension refuses one at start-up).
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
        self._url = url
        self._options: dict[str, t.Any] = {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            "health_check_interval": 30,
            "decode_responses": True,
        }
        self._client = redis.Redis.from_url(url, **self._options)
        self._redis = redis
        # This thread's own client for the revocation check (see _revocation_facts).
        self._local = threading.local()
        self._check_sha = hashlib.sha1(_CHECK.encode(), usedforsecurity=False).hexdigest()

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

    def _revocation_facts(self, keys: list[str], args: list[str]) -> list[t.Any]:
        """Run the revocation check (:data:`_CHECK`) in one command, on a client this thread
        keeps to itself.

        Every page checks revocation, so that check skips the connection pool's per-call
        bookkeeping (a lock each way and a poll of the socket at every checkout: about a third
        of the client's time): a client made with ``single_connection_client`` keeps one
        connection. Each thread (and each forked child) makes its own.
        """
        local = self._local
        client = getattr(local, "client", None)
        if getattr(local, "pid", None) != os.getpid():
            client = None  # the parent process's: not this one's to use
        try:
            if client is None:
                # A single-connection client connects as it is made.
                client = self._redis.Redis.from_url(
                    self._url, single_connection_client=True, **self._options
                )
                local.client, local.pid = client, os.getpid()
            try:
                return t.cast(list[t.Any], client.evalsha(self._check_sha, len(keys), *keys, *args))
            except self._redis.exceptions.NoScriptError:
                # The server forgot the script (a restart, SCRIPT FLUSH): teach it again.
                self._check_sha = client.script_load(_CHECK)
                return t.cast(list[t.Any], client.evalsha(self._check_sha, len(keys), *keys, *args))
        except self._redis_errors as e:
            local.client = None
            if client is not None:
                client.close()
            raise StoreUnavailable(f"link store {self.location} failed: {type(e).__name__}") from e

    @property
    def reach(self) -> Reach:
        """Every worker and host that points at the server."""
        return Reach.EVERYWHERE

    @property
    def database(self) -> int:
        """The number of the Redis database the store uses."""
        return int(self._client.connection_pool.connection_kwargs.get("db") or 0)

    def _server_time(self) -> float:
        seconds, microseconds = self._call(lambda c: c.time())
        return float(seconds) + float(microseconds) / 1e6

    def _k(self, *parts: str) -> str:
        return self.PREFIX + ":".join(parts)

    def _customer_field(self, account: str, customer: str) -> str:
        return f"{account}\x1f{customer_key(customer)}"

    def ping(self) -> None:
        """Check the server answers and is set up to keep revocations.

        :raises StoreUnsafe: Redis may evict any key when memory runs short (``allkeys-*``).
        :raises StoreUnavailable: Redis cannot be reached.
        """
        self._call(lambda c: c.ping())
        try:
            config = self._client.config_get("maxmemory-policy")
            config.update(self._client.config_get("appendonly"))
            config.update(self._client.config_get("save"))
        except self._redis_errors:
            # CONFIG is often disabled on managed Redis: what cannot be read must be checked
            # by hand, and losing revocations silently is worth a loud word.
            log.warning(
                "could not read the settings of the link store %s (CONFIG is not allowed). "
                "Check its maxmemory-policy by hand: it must be noeviction (or a volatile-* "
                "policy; the store's keys never expire), because under an allkeys-* policy "
                "one eviction of the revocation hash opens every withdrawn link again, "
                "silently. Persistence (appendonly) cannot be checked either.",
                self.location,
            )
            return
        self._refuse_eviction(str(config.get("maxmemory-policy", "")))
        if config.get("appendonly") != "yes" and not config.get("save"):
            # Revocations must outlive a Redis restart.
            log.warning(
                "the link store %s has no persistence (appendonly no, no save points): a Redis "
                "restart would forget revocations. Turn on appendonly (or RDB saves).",
                self.location,
            )

    def _refuse_eviction(self, policy: str) -> None:
        """Refuse a server that may evict any key when its memory is full.

        The store's keys have no expiry, so ``noeviction`` (writes fail, and the portal fails
        closed) and the ``volatile-*`` policies (only keys with an expiry go) never lose them.
        """
        if policy.startswith("allkeys-"):
            raise StoreUnsafe(
                f"the link store {self.location} is a Redis with maxmemory-policy {policy}: "
                "when its memory is full it may evict any key, and one eviction of the "
                "revocation hash opens every withdrawn link again, silently. Set "
                "maxmemory-policy noeviction on it (or a volatile-* policy: the store's keys "
                "never expire), or give the store a Redis of its own"
            )

    def register(self, claims: LinkClaims, *, customer: str | None = None) -> None:
        # The server's clock orders the link against customer cut-offs (see the class).
        values = {**record_values(claims, customer), "minted_at": self._server_time()}
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
        when = self._server_time() if now is None else now
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
            # Count what this cut-off revoked: live, and not already revoked.
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
        keys = [self._k("revoked")]
        args = [link_id]
        if customer:
            # The link's registered mint time with the cut-off, so that a customer whose links
            # were ever revoked costs no second round trip on every later page.
            keys += [self._k("cutoffs"), self._k("link", link_id)]
            args.append(self._customer_field(account, customer))
        results = self._revocation_facts(keys, args)
        if results[0]:
            return "link"
        if customer and results[1]:
            registered = float(results[2]) if results[2] else None
            if is_revoked_by_cutoff(float(results[1]), minted_at, registered):
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

    def touch(self, link_id: str, when: float, *, scanner: bool = False) -> bool | None:
        # Only existing records (a touch must never create a half-empty register entry), and
        # a check or the client's opening judged against the link's last send, in one script.
        found = self._call(
            lambda c: c.eval(
                _TOUCH,
                1,
                self._k("link", link_id),
                str(when),
                "1" if scanner else "",
                str(SCANNER_WINDOW),
            )
        )
        return None if found == -1 else found == 1

    def record_sent(self, link_id: str, when: float, recipients: t.Sequence[str]) -> None:
        to = "\n".join(recipients)

        def build(pipe: t.Any) -> None:
            pipe.rpush(self._k("sends", link_id), _send_entry(when, recipients))
            pipe.eval(
                "if redis.call('EXISTS', KEYS[1]) == 1 then "
                "redis.call('HSET', KEYS[1], 'last_sent_at', ARGV[1], 'last_sent_to', ARGV[2]) end",
                1,
                self._k("link", link_id),
                str(when),
                to,
            )

        self._pipeline(build)

    def claim_reminder(
        self, account: str, customer: str, *, now: float, every: float
    ) -> float | None:
        # One script: read the last reminder and, unless it is recent, replace it.
        found = self._call(
            lambda c: c.eval(
                _CLAIM,
                1,
                self._k("reminders"),
                self._customer_field(account, customer),
                str(now),
                str(every),
            )
        )
        return float(found) if found else None

    def release_reminder(self, account: str, customer: str, *, previous: float | None) -> None:
        field = self._customer_field(account, customer)
        if previous is None:
            self._call(lambda c: c.hdel(self._k("reminders"), field))
        else:
            self._call(lambda c: c.hset(self._k("reminders"), field, str(previous)))

    def last_reminded(self, account: str, customer: str) -> float | None:
        found = self._call(
            lambda c: c.hget(self._k("reminders"), self._customer_field(account, customer))
        )
        return float(found) if found else None

    def _load(
        self, client: t.Any, link_ids: t.Sequence[str], *, cutoffs: bool = False
    ) -> tuple[list[LinkRecord], dict[str, str]]:
        """The records of *link_ids* (with their revocations), and with *cutoffs* the customer
        cut-offs: one pipelined round trip."""
        if not link_ids:
            return [], {}
        pipe = client.pipeline(transaction=False)
        for link_id in link_ids:
            pipe.hgetall(self._k("link", link_id))
        pipe.hmget(self._k("revoked"), list(link_ids))
        if cutoffs:
            pipe.hgetall(self._k("cutoffs"))
        results = pipe.execute()
        found = results[: len(link_ids)]
        revoked = results[len(link_ids)]
        records = [
            _stored_link(data).record(float(revoked_at) if revoked_at else None)
            for data, revoked_at in zip(found, revoked, strict=True)
            if data
        ]
        return records, (results[-1] if cutoffs else {})

    def get(self, link_id: str) -> LinkRecord | None:
        found, _ = self._call(lambda c: self._load(c, [link_id]))
        return found[0] if found else None

    def _ids(self, client: t.Any, customer: str | None, account: str | None) -> list[str]:
        """Candidate link ids, newest first when they come from the register's index."""
        if customer is not None and account is not None:
            return list(
                client.smembers(self._k("customer", self._customer_field(account, customer)))
            )
        return list(client.zrevrange(self._k("all"), 0, -1))

    def _select(
        self,
        *,
        customer: str | None,
        account: str | None,
        limit: int | None,
        live_at: float | None,
    ) -> list[LinkRecord]:
        def wanted(record: LinkRecord) -> bool:
            if account is not None and record.account != account:
                return False
            return customer is None or (
                record.customer is not None
                and customer_key(record.customer) == customer_key(customer)
            )

        def run(client: t.Any) -> list[LinkRecord]:
            ids = self._ids(client, customer, account)
            ordered = customer is None or account is None  # the index is newest first
            selected: list[LinkRecord] = []
            for start in range(0, len(ids), _PAGE):
                records, cutoffs = self._load(
                    client, ids[start : start + _PAGE], cutoffs=live_at is not None
                )
                for record in filter(wanted, records):
                    if live_at is not None:
                        field = (
                            self._customer_field(record.account, record.customer)
                            if record.customer
                            else ""
                        )
                        cutoff = cutoffs.get(field)
                        if not is_live(record, float(cutoff) if cutoff else None, live_at):
                            continue
                    selected.append(record)
                if ordered and limit is not None and len(selected) >= limit:
                    break
            selected.sort(key=lambda r: r.minted_at, reverse=True)
            return selected if limit is None else selected[:limit]

        return t.cast(list[LinkRecord], self._call(run))

    def records(
        self, *, customer: str | None = None, account: str | None = None, limit: int | None = None
    ) -> list[LinkRecord]:
        return self._select(customer=customer, account=account, limit=limit, live_at=None)

    def active_links(
        self,
        *,
        customer: str | None = None,
        account: str | None = None,
        now: float | None = None,
        limit: int | None = None,
    ) -> list[LinkRecord]:
        # One pipelined round trip per page of register entries: records, revocations and
        # customer cut-offs together.
        when = time.time() if now is None else now
        return self._select(customer=customer, account=account, limit=limit, live_at=when)

    def is_empty(self) -> bool:
        keys = (self._k("all"), self._k("revoked"), self._k("cutoffs"))
        return not self._call(lambda c: c.exists(*keys))

    def contents(self) -> StoreContents:
        def run(client: t.Any) -> StoreContents:
            links: list[StoredLink] = []
            ids = list(client.zrange(self._k("all"), 0, -1))
            for start in range(0, len(ids), _PAGE):
                pipe = client.pipeline(transaction=False)
                for link_id in ids[start : start + _PAGE]:
                    pipe.hgetall(self._k("link", link_id))
                links += [_stored_link(data) for data in pipe.execute() if data]
            sends: list[SentRecord] = []
            prefix = self._k("sends", "")
            for key in client.scan_iter(match=prefix + "*", count=500):
                for entry in client.lrange(key, 0, -1):
                    when, _, to = entry.partition("\t")  # as _send_entry writes it
                    sends.append(
                        SentRecord(
                            key[len(prefix) :], float(when), tuple(to.split("\n")) if to else ()
                        )
                    )
            return StoreContents(
                links=tuple(links),
                revoked={k: float(v) for k, v in client.hgetall(self._k("revoked")).items()},
                cutoffs=_by_customer(client.hgetall(self._k("cutoffs"))),
                sends=tuple(sorted(sends, key=lambda s: s.sent_at)),
                reminders=_by_customer(client.hgetall(self._k("reminders"))),
            )

        return t.cast(StoreContents, self._call(run))

    def merge(self, contents: StoreContents) -> Merged:
        # Each entry in one command or script (atomic, so that a revocation a live site makes
        # meanwhile is never overwritten), in pipelined pages.
        revoked, cutoffs, reminders = self._k("revoked"), self._k("cutoffs"), self._k("reminders")
        links: list[_Call] = []
        for link in contents.links:
            keys = [self._k("link", link.link_id), self._k("all")]
            if link.customer:
                keys.append(self._k("customer", self._customer_field(link.account, link.customer)))
            values = {k: "" if v is None else str(v) for k, v in link.fields().items()}
            pairs = [part for name, value in values.items() for part in (name, value)]
            args = (link.link_id, values["last_sent_to"], *pairs)
            links.append(("eval", (_MERGE_LINK, len(keys), *keys, *args)))
        sends: list[_Call] = [
            (
                "eval",
                (_MERGE_SEND, 1, self._k("sends", s.link_id), _send_entry(s.sent_at, s.recipients)),
            )
            for s in contents.sends
        ]
        return Merged(
            links=self._changed(links),
            revoked=self._changed(
                [("hsetnx", (revoked, i, str(when))) for i, when in contents.revoked.items()]
            ),
            cutoffs=self._changed(
                [
                    ("eval", (_MERGE_LATER, 1, cutoffs, self._customer_field(a, c), str(when)))
                    for (a, c), when in contents.cutoffs.items()
                ]
            ),
            sends=self._changed(sends),
            reminders=self._changed(
                [
                    ("eval", (_MERGE_LATER, 1, reminders, self._customer_field(a, c), str(when)))
                    for (a, c), when in contents.reminders.items()
                ]
            ),
        )

    def _changed(self, calls: list[_Call]) -> int:
        """Run *calls* in pipelined pages; how many answered true (changed something)."""
        changed = 0
        for start in range(0, len(calls), _PAGE):
            page = partial(_run_calls, calls[start : start + _PAGE])
            changed += sum(1 for answer in self._pipeline(page, transaction=False) if answer)
        return changed

    def close(self) -> None:
        self._client.close()


#: One command of a copy: a pipeline method's name and its arguments.
_Call = tuple[str, tuple[t.Any, ...]]


def _run_calls(calls: t.Sequence[_Call], pipe: t.Any) -> None:
    for method, args in calls:
        getattr(pipe, method)(*args)


def _send_entry(when: float, recipients: t.Sequence[str]) -> str:
    """One entry of a link's list of sends: the time, a tab, the addresses one per line."""
    return f"{when}\t" + "\n".join(recipients)


def _by_customer(found: t.Mapping[str, str]) -> dict[tuple[str, str], float]:
    """A hash whose fields are ``account`` and a customer key joined by ``\\x1f`` (the
    cut-offs, the reminder times), as a dict keyed by the pair."""
    pairs: dict[tuple[str, str], float] = {}
    for name, value in found.items():
        account, _, customer = name.partition("\x1f")
        pairs[(account, customer)] = float(value)
    return pairs


def _stored_link(data: t.Mapping[str, str]) -> StoredLink:
    """A register entry's hash as :class:`StoredLink`."""

    def num(name: str) -> float | None:
        value = data.get(name) or ""
        return float(value) if value else None

    invoice = data.get("invoice") or ""
    return StoredLink(
        link_id=data["link_id"],
        account=data["account"],
        kind=data["kind"],
        invoice=int(invoice) if invoice else None,
        customer=data.get("customer") or None,
        status=data.get("status") or "all",
        minted_at=float(data["minted_at"]),
        expires_at=num("expires_at"),
        last_opened_at=num("last_opened_at"),
        last_checked_at=num("last_checked_at"),
        last_sent_at=num("last_sent_at"),
        last_sent_to=tuple(data["last_sent_to"].split("\n")) if data.get("last_sent_to") else (),
    )
