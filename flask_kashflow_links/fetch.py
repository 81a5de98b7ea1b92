"""The cached fetch layer between the pages and the KashFlow client.

* **Namespaces.** Keys are ``<namespace>:<kind>:<id>`` where the namespace is a keyed hash of the
  account (id, credentials, API URL): never the raw token, username or password. Links carrying
  other credentials (embed mode, or after a password change) get a namespace of their own, so
  they can never read data fetched with someone else's login.
* **Fresh, then stale-if-error.** Data is fresh for ``CACHE_TIMEOUT`` seconds; it is kept
  ``STALE_TIMEOUT`` seconds longer and shown, with its "as of" time, when KashFlow fails.
* **Single-flight.** Concurrent misses for one resource make one upstream call: threads of a
  process wait on the first one; processes wait on an atomic ``add`` lock in the shared cache.
* **Two levels.** A small per-process LRU keeps parsed models, so a warm page neither talks to
  the shared cache nor rebuilds objects; the shared cache (Redis across workers) holds the JSON.
* **Degrades.** A failing cache backend means direct fetches (see :class:`~.cache.SafeCache`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
import typing as t
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone

from .cache import SafeCache
from .exceptions import KashFlowAuthError
from .exceptions import KashFlowBadResponse
from .exceptions import KashFlowError
from .exceptions import KashFlowUnavailable
from .kashflow.models import Customer
from .kashflow.models import Invoice
from .kashflow.rest import KashFlowClient
from .kashflow.session import Login
from .stats import Counters

if t.TYPE_CHECKING:  # pragma: no cover
    from .accounts import Account

log = logging.getLogger(__name__)

T = t.TypeVar("T")


@dataclass(frozen=True)
class Fetched(t.Generic[T]):
    """A value from KashFlow, with when it was fetched and whether it is stale."""

    value: T
    #: POSIX time of the upstream fetch.
    fetched_at: float
    #: True when shown past its fresh window because KashFlow is failing.
    stale: bool = False
    #: The cache key it was stored under (with ``fetched_at``, identifies this exact data).
    key: str = ""

    @property
    def as_of(self) -> datetime:
        """When the data was fetched from KashFlow (UTC)."""
        return datetime.fromtimestamp(self.fetched_at, tz=timezone.utc)


@dataclass
class FetchStats(Counters):
    """Counters of the fetch layer (per process)."""

    #: Served fresh from the per-process LRU or the shared cache.
    hits: int = 0
    #: Not in any cache (or past fresh): fetched from KashFlow.
    misses: int = 0
    #: Served stale because KashFlow failed.
    stale: int = 0
    #: Loads from KashFlow (a list of several pages counts once; see client.stats.requests).
    upstream: int = 0
    #: Requests that waited for another thread's or process's fetch instead of fetching.
    waits: int = 0


class _Flight:
    """One in-process fetch that other threads wait for."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: Fetched[t.Any] | None = None
        self.error: BaseException | None = None


class _Entry(t.NamedTuple):
    fetched_at: float
    raw: t.Any


class Fetcher:
    """Cached, single-flight access to KashFlow for the portal's pages.

    :param cache: the shared cache (errors contained).
    :param client: the KashFlow client.
    :param namespace_key: secret key for the account namespaces (from the token codec).
    :param fresh: seconds data counts as fresh.
    :param stale: further seconds stale data may be shown while KashFlow fails.
    """

    def __init__(
        self,
        cache: SafeCache,
        client: KashFlowClient,
        *,
        namespace_key: bytes,
        fresh: int,
        stale: int,
        pdf_cache_max_bytes: int,
        pdf_max_bytes: int,
        lru_size: int = 2048,
        clock: t.Callable[[], float] = time.time,
        sleep: t.Callable[[float], None] = time.sleep,
    ) -> None:
        self.cache = cache
        self.client = client
        self.fresh = fresh
        self.stale = stale
        self.pdf_cache_max_bytes = pdf_cache_max_bytes
        self.pdf_max_bytes = pdf_max_bytes
        self.stats = FetchStats()
        #: Returns the current POSIX time; tests move it to age cached data.
        self.clock = clock
        self._namespace_key = namespace_key
        self._sleep = sleep
        self._lru: OrderedDict[str, tuple[float, t.Any]] = OrderedDict()
        self._lru_size = lru_size
        self._lru_lock = threading.Lock()
        self._flights: dict[str, _Flight] = {}
        self._flights_lock = threading.Lock()
        self._namespaces: dict[tuple[str, ...], str] = {}
        # A lock is held at most as long as one load can take with its retries.
        connect, read = client.timeout
        self._lock_ttl = int((connect + read) * (client.retries + 1)) + 5

    # -- accounts ------------------------------------------------------------------------------

    def login_for(self, account: Account) -> Login:
        """The login (namespace and credentials) of *account*.

        :raises KashFlowAuthError: the account has no credentials here (embed mode without
            credentials in the link).
        """
        credentials = account.credentials
        if credentials is None:
            raise KashFlowAuthError(f"no KashFlow credentials for account {account.id!r}")
        parts = (
            account.id,
            credentials.username,
            credentials.password,
            credentials.memorable_word,
            self.client.base_url,
        )
        namespace = self._namespaces.get(parts)
        if namespace is None:
            digest = hmac.new(self._namespace_key, "\0".join(parts).encode(), hashlib.sha256)
            namespace = digest.hexdigest()[:24]
            if len(self._namespaces) > 10_000:  # embed mode: bounded memory
                self._namespaces.clear()
            self._namespaces[parts] = namespace
        return Login(namespace=namespace, credentials=credentials, embedded=account.embedded)

    # -- resources -----------------------------------------------------------------------------

    def invoice(self, account: Account, number: int) -> Fetched[Invoice]:
        """The full invoice *number* of *account*."""
        login = self.login_for(account)

        def load() -> t.Any:
            return dict(self.client.get_invoice(login, number).raw)

        return self._get(f"{login.namespace}:inv:{number}", load, _parse_invoice, account=account)

    def customer(self, account: Account, code: str) -> Fetched[Customer]:
        """The customer *code* of *account*."""
        login = self.login_for(account)

        def load() -> t.Any:
            return dict(self.client.get_customer(login, code).raw)

        return self._get(
            f"{login.namespace}:cust:{_digest(code)}", load, _parse_customer, account=account
        )

    def customer_invoices(self, account: Account, code: str) -> Fetched[tuple[Invoice, ...]]:
        """Every invoice summary KashFlow lists for customer *code* (not yet scope-checked).

        One cached list per customer serves every status tab: the status filter is applied
        to each invoice's own data by the caller, never trusted from the server.
        """
        login = self.login_for(account)

        def load() -> t.Any:
            return [dict(i.raw) for i in self.client.list_invoices(login, customer=code)]

        return self._get(
            f"{login.namespace}:list:{_digest(code)}", load, _parse_invoice_list, account=account
        )

    def document(self, account: Account, permalink: str) -> Fetched[bytes]:
        """The PDF behind a KashFlow document permalink (cached when small enough)."""
        login = self.login_for(account)

        def load() -> t.Any:
            return self.client.get_document(login, permalink, max_bytes=self.pdf_max_bytes)

        return self._get(
            f"{login.namespace}:doc:{_digest(permalink)}",
            load,
            _parse_document,
            account=account,
            lru=False,
            cacheable=lambda raw: len(raw) <= self.pdf_cache_max_bytes,
        )

    def known_customer(self, account: Account, number: int) -> str | None:
        """The customer of invoice *number* if this process has it parsed (fresh or not),
        without any I/O: a hint that lets a page check revocation in one round trip."""
        try:
            key = f"{self.login_for(account).namespace}:inv:{number}"
        except KashFlowAuthError:
            return None
        with self._lru_lock:
            found = self._lru.get(key)
        return found[1].customer_code if found is not None else None

    # -- the machinery -------------------------------------------------------------------------

    def _read_shared(self, key: str) -> _Entry | None:
        value = self.cache.get(key)
        if (
            isinstance(value, tuple)
            and len(value) == 2
            and isinstance(value[0], float | int)
            and self.clock() - value[0] < self.fresh + self.stale
        ):
            return _Entry(float(value[0]), value[1])
        return None

    def _lru_get(self, key: str, now: float) -> tuple[float, t.Any] | None:
        with self._lru_lock:
            found = self._lru.get(key)
            if found is None:
                return None
            if now - found[0] >= self.fresh:
                return None
            self._lru.move_to_end(key)
            return found

    def _lru_put(self, key: str, fetched_at: float, value: t.Any) -> None:
        with self._lru_lock:
            self._lru[key] = (fetched_at, value)
            self._lru.move_to_end(key)
            while len(self._lru) > self._lru_size:
                self._lru.popitem(last=False)

    def forget(self) -> None:
        """Drop this process's parsed copies (the shared cache is untouched)."""
        with self._lru_lock:
            self._lru.clear()

    def _fresh_from_caches(
        self, key: str, parse: t.Callable[[t.Any], T], lru: bool
    ) -> tuple[Fetched[T] | None, _Entry | None]:
        """A fresh value from the LRU or the shared cache, and the shared entry seen."""
        now = self.clock()
        if lru:
            found = self._lru_get(key, now)
            if found is not None:
                return Fetched(found[1], found[0], key=key), None
        entry = self._read_shared(key)
        if entry is not None and now - entry.fetched_at < self.fresh:
            value = parse(entry.raw)
            if lru:
                self._lru_put(key, entry.fetched_at, value)
            return Fetched(value, entry.fetched_at, key=key), entry
        return None, entry

    def _get(
        self,
        key: str,
        load: t.Callable[[], t.Any],
        parse: t.Callable[[t.Any], T],
        *,
        account: Account,
        lru: bool = True,
        cacheable: t.Callable[[t.Any], bool] | None = None,
    ) -> Fetched[T]:
        fetched, _ = self._fresh_from_caches(key, parse, lru)
        if fetched is not None:
            self.stats.add("hits")
            return fetched
        # In-process single-flight: the first thread fetches, the others wait for it.
        with self._flights_lock:
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
        if not leader:
            self.stats.add("waits")
            flight.done.wait(self._lock_ttl)
            if flight.result is not None:
                return t.cast(Fetched[T], flight.result)
            if flight.error is not None:
                raise flight.error
            raise KashFlowUnavailable("timed out waiting for another request's KashFlow call")
        try:
            result = self._lead(
                key, load, parse, lru=lru, cacheable=cacheable, embedded=account.embedded
            )
            flight.result = result
            return result
        except BaseException as e:
            flight.error = e
            raise
        finally:
            flight.done.set()
            with self._flights_lock:
                self._flights.pop(key, None)

    def _lead(
        self,
        key: str,
        load: t.Callable[[], t.Any],
        parse: t.Callable[[t.Any], T],
        *,
        lru: bool,
        cacheable: t.Callable[[t.Any], bool] | None,
        embedded: bool,
    ) -> Fetched[T]:
        # Another thread may have finished between our miss and taking the lead.
        fetched, entry = self._fresh_from_caches(key, parse, lru)
        if fetched is not None:
            self.stats.add("hits")
            return fetched
        lock_key = f"{key}:lock"
        acquired = self.cache.add(lock_key, 1, self._lock_ttl)
        if acquired is False:
            waited = self._wait_for_other_process(key, entry, parse, lru)
            if waited is not None:
                return waited
            entry = self._read_shared(key) or entry
            acquired = self.cache.add(lock_key, 1, self._lock_ttl)
        try:
            self.stats.add("misses")
            self.stats.add("upstream")
            try:
                raw = load()
            except KashFlowError as e:
                if isinstance(e, KashFlowAuthError):
                    e.embedded = embedded
                if entry is not None and _may_serve_stale(e, embedded=embedded):
                    self.stats.add("stale")
                    log.warning(
                        "KashFlow failed (%s); serving data as of %s",
                        type(e).__name__,
                        datetime.fromtimestamp(entry.fetched_at, tz=timezone.utc).isoformat(),
                    )
                    return Fetched(parse(entry.raw), entry.fetched_at, stale=True, key=key)
                raise
            now = self.clock()
            value = parse(raw)
            if cacheable is None or cacheable(raw):
                self.cache.set(key, (now, raw), self.fresh + self.stale)
            if lru:
                self._lru_put(key, now, value)
            return Fetched(value, now, key=key)
        finally:
            # Only now: a process that sees the lock gone must find the value stored.
            if acquired:
                self.cache.delete(lock_key)

    def _wait_for_other_process(
        self, key: str, entry: _Entry | None, parse: t.Callable[[t.Any], T], lru: bool
    ) -> Fetched[T] | None:
        """Another process holds the lock: wait for its result (briefly, if stale data can be
        shown meanwhile). ``None`` means fetch ourselves."""
        self.stats.add("waits")
        limit = 1.0 if entry is not None else float(self._lock_ttl)
        deadline = time.monotonic() + limit
        delay = 0.01
        while time.monotonic() < deadline:
            self._sleep(delay)
            delay = min(delay * 1.5, 0.1)
            fetched, _ = self._fresh_from_caches(key, parse, lru)
            if fetched is not None:
                return fetched
            if self.cache.has(f"{key}:lock") is not True:
                # Finished (its value is stored before its lock goes) or gave up: look once
                # more, then it is our turn.
                fetched, _ = self._fresh_from_caches(key, parse, lru)
                return fetched
        if entry is not None:
            self.stats.add("stale")
            return Fetched(parse(entry.raw), entry.fetched_at, stale=True, key=key)
        return None


def _may_serve_stale(error: KashFlowError, *, embedded: bool) -> bool:
    """Whether a failure may be covered with stale data.

    Outages and odd answers: yes. "Not found": no, the invoice is gone. Refused logins, locks
    and cool-downs: yes for the site's own accounts (the portal keeps serving while the
    operator fixes the login), but never for embed-mode links, whose credentials stopping
    working is exactly how changing the KashFlow password withdraws them.
    """
    if isinstance(error, KashFlowAuthError):
        return not embedded
    return isinstance(error, KashFlowUnavailable | KashFlowBadResponse)


def _digest(value: str) -> str:
    """A short, backend-safe key part for free text (customer codes, permalinks)."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def _parse_invoice(raw: t.Any) -> Invoice:
    invoice = Invoice.from_api(raw, detailed=True)
    if invoice is None:
        raise KashFlowBadResponse("cached invoice data is unreadable")
    return invoice


def _parse_invoice_list(raw: t.Any) -> tuple[Invoice, ...]:
    rows = raw if isinstance(raw, list) else []
    return tuple(i for i in (Invoice.from_api(r) for r in rows) if i is not None)


def _parse_customer(raw: t.Any) -> Customer:
    customer = Customer.from_api(raw)
    if customer is None:
        raise KashFlowBadResponse("cached customer data is unreadable")
    return customer


def _parse_document(raw: t.Any) -> bytes:
    if not isinstance(raw, bytes):
        raise KashFlowBadResponse("cached document is unreadable")
    return raw


__all__ = ["FetchStats", "Fetched", "Fetcher"]
