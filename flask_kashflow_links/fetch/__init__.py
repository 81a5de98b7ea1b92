"""The cached fetch layer between the pages and a KashFlow backend.

* **Namespaces.** Keys are ``<namespace>:<kind>:<id>`` where the namespace is a keyed hash of the
  account (id, credentials, API kind and URL): never the raw token, username or password. Links
  carrying other credentials (embed mode, or after a password change) get a namespace of their
  own, so they can never read data fetched with someone else's login.
* **Gone is gone.** When KashFlow says a resource does not exist, the cached copy is dropped
  and "not found" is remembered for :data:`NOT_FOUND_SECONDS`, so asking again costs nothing
  upstream. When KashFlow refuses an embed-mode link's credentials, that is remembered for the
  whole stale window, and at least as long as the backends' pause on those credentials
  (:data:`~.kashflow.session.EMBEDDED_PAUSE`): such a link is never served stale data again,
  even in an outage.
* **Single-flight.** Concurrent misses for one resource make one upstream call: threads of a
  process wait on the first one; processes wait on a :class:`~.kashflow.session.SharedLock`.
  A background refresh takes the same lock without waiting: when another process holds it,
  that process is already refreshing.
* **Two levels.** A small per-process LRU keeps the models, so a warm page neither talks to the
  shared cache nor unpickles; the shared cache (Redis across workers) holds them for everyone.
* **Degrades.** A failing cache backend means direct fetches (see :class:`~.cache.SafeCache`).

Data fetched from KashFlow passes through three windows, counted from its fetch time:

1. **Fresh** for ``KASHFLOW_LINKS_CACHE_TIMEOUT`` seconds: served from the cache.
2. **Stale-while-revalidate** for ``KASHFLOW_LINKS_STALE_WHILE_REVALIDATE`` seconds more: served
   at once, with its "as of" time, while a fresh copy is fetched in the background, once across
   every process sharing the cache (HTTP's ``stale-while-revalidate``, RFC 5861). Never for
   embed-mode links: their credentials must meet KashFlow once data is not fresh, because a
   refused login is how a password change revokes them.
3. **Stale-if-error** for ``KASHFLOW_LINKS_STALE_TIMEOUT`` seconds past the fresh window: once
   a page has to fetch and KashFlow fails, the data is shown with its "as of" time.

The two later windows overlap (both start where freshness ends), so the shared cache keeps an
entry for ``CACHE_TIMEOUT + max(STALE_WHILE_REVALIDATE, STALE_TIMEOUT)``.

Backends answer with the shared models of :mod:`.kashflow.models` whatever their API, so this
layer never knows whether REST or SOAP served a page.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
import typing as t
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone

from cachetools import LRUCache

from ..cache import SafeCache
from ..config import Account
from ..exceptions import KashFlowAccountLocked
from ..exceptions import KashFlowAuthError
from ..exceptions import KashFlowBadResponse
from ..exceptions import KashFlowDenied
from ..exceptions import KashFlowError
from ..exceptions import KashFlowNotFound
from ..exceptions import KashFlowPasswordExpired
from ..exceptions import KashFlowUnavailable
from ..kashflow.backend import Backend
from ..kashflow.backend import Login
from ..kashflow.models import MODELS_VERSION
from ..kashflow.models import Customer
from ..kashflow.models import Invoice
from ..kashflow.session import EMBEDDED_PAUSE
from ..kashflow.session import SharedLock
from ..stats import Counters
from .background import BackgroundPool

log = logging.getLogger(__name__)

T = t.TypeVar("T")

#: How long "KashFlow has no such invoice (customer, document)" is remembered, in seconds.
NOT_FOUND_SECONDS = 60
#: PDFs up to this many bytes are cached; larger ones are streamed but fetched each time.
PDF_CACHE_MAX_BYTES = 2 * 1024 * 1024
#: PDFs larger than this are refused, so a misbehaving server cannot fill the site's memory.
PDF_MAX_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class Fetched(t.Generic[T]):
    """A value from KashFlow, with when it was fetched and whether it is stale."""

    value: T
    #: POSIX time of the upstream fetch.
    fetched_at: float
    #: True when shown past its fresh window (KashFlow is failing, or a fresh copy is on its
    #: way): the page says "as of".
    stale: bool = False
    #: True when served past its fresh window while a fresh copy is fetched in the background
    #: (stale-while-revalidate), rather than because KashFlow failed.
    refreshing: bool = False
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
    #: Loads from KashFlow (a list of several pages counts once; see the backend's stats).
    upstream: int = 0
    #: Requests that waited for another thread's or process's fetch instead of fetching.
    waits: int = 0
    #: Served at once past the fresh window while refreshed in the background.
    revalidating: int = 0
    #: Background refreshes that fetched from KashFlow (also counted in ``upstream``).
    refreshes: int = 0
    #: Prefetches run for newly minted links (their fetches count as hits or misses).
    prefetches: int = 0


def may_serve_stale(error: KashFlowError, *, embedded: bool) -> bool:
    """Whether a failure may be covered with stale data.

    Outages and odd answers: yes. "Not found": no, the invoice is gone. Refused logins, locks
    and cool-downs, and resources refused to the session: yes for the site's own accounts (the
    portal keeps serving while the operator fixes the login), but never for embed-mode links,
    whose credentials stopping working is exactly how changing the KashFlow password revokes
    them.
    """
    if isinstance(error, KashFlowNotFound):
        return False
    if isinstance(error, KashFlowAuthError | KashFlowDenied):
        return not embedded
    return isinstance(error, KashFlowUnavailable | KashFlowBadResponse)


def refuses_credentials(error: KashFlowError) -> bool:
    """A login refused for its credentials (not a lock or pause, not an expired password)."""
    return isinstance(error, KashFlowAuthError) and not isinstance(
        error, KashFlowAccountLocked | KashFlowPasswordExpired
    )


class _Flight:
    """One in-process fetch that other threads wait for."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: Fetched[t.Any] | None = None
        self.error: BaseException | None = None


class Fetcher:
    """Cached, single-flight access to KashFlow for the portal's pages.

    :param cache: the shared cache (errors contained).
    :param backends: the backend serving each API kind (``"rest"``, ``"soap"``).
    :param namespace_key: secret key for the account namespaces (derived from the link keys).
    :param fresh: seconds data counts as fresh.
    :param stale: further seconds stale data may be shown while KashFlow fails.
    :param revalidate: further seconds data is served at once while refreshed in the
        background (0: never).
    :param background: where refreshes run; without one, data past its fresh window is
        fetched on the request path.
    """

    def __init__(
        self,
        cache: SafeCache,
        backends: t.Mapping[str, Backend],
        *,
        namespace_key: bytes,
        fresh: int,
        stale: int,
        revalidate: int = 0,
        background: BackgroundPool | None = None,
        lru_size: int = 2048,
        clock: t.Callable[[], float] | None = None,
    ) -> None:
        self.cache = cache
        self.backends = dict(backends)
        self.fresh = fresh
        self.stale = stale
        self.revalidate = revalidate if background is not None else 0
        self.background = background
        #: How long the shared cache keeps an entry: it serves both later windows.
        self.keep = fresh + max(self.revalidate, stale)
        #: PDFs up to this size are cached.
        self.pdf_cache_max_bytes = PDF_CACHE_MAX_BYTES
        #: PDFs larger than this are refused.
        self.pdf_max_bytes = PDF_MAX_BYTES
        self.stats = FetchStats()
        #: Returns the current POSIX time; tests move it to age cached data.
        self.clock = clock or (lambda: time.time())
        self._namespace_key = namespace_key
        self._lru: LRUCache[str, tuple[float, t.Any]] = LRUCache(lru_size)
        self._lru_lock = threading.Lock()
        self._flights: dict[str, _Flight] = {}
        self._flights_lock = threading.Lock()
        # Embed mode meets a login per set of credentials in use: bounded.
        self._logins: LRUCache[Account, Login] = LRUCache(10_000)
        # A lock is held at most as long as one load can take with its retries.
        self._lock_ttl = int(max(b.max_call_seconds for b in self.backends.values())) + 5

    # -- accounts ------------------------------------------------------------------------------

    def backend_for(self, account: Account) -> Backend:
        """The backend of *account*'s API."""
        return self.backends[account.api]

    def login_for(self, account: Account) -> Login:
        """The login (namespace and credentials) of *account*.

        :raises KashFlowAuthError: the account has no credentials here (embed mode without
            credentials in the link).
        """
        # Every page asks (twice for an invoice link): remembered per account, by value.
        with self._lru_lock:
            login = self._logins.get(account)
        if login is not None:
            return login
        credentials = account.credentials
        if credentials is None:
            raise KashFlowAuthError(f"no KashFlow credentials for account {account.id!r}")
        backend = self.backend_for(account)
        parts = (
            account.id,
            credentials.username,
            credentials.password,
            credentials.memorable_word,
            backend.api,
            backend.base_url,
            str(MODELS_VERSION),
        )
        digest = hmac.new(self._namespace_key, "\0".join(parts).encode(), hashlib.sha256)
        namespace = digest.hexdigest()[:24]
        login = Login(namespace=namespace, credentials=credentials, embedded=account.embedded)
        with self._lru_lock:
            self._logins[account] = login
        return login

    # -- resources -----------------------------------------------------------------------------

    def invoice(self, account: Account, number: int) -> Fetched[Invoice]:
        """The full invoice *number* of *account*."""
        login, backend = self.login_for(account), self.backend_for(account)
        return self._get(
            f"{login.namespace}:inv:{number}",
            lambda: backend.get_invoice(login, number),
            account=account,
        )

    def customer(self, account: Account, code: str) -> Fetched[Customer]:
        """The customer *code* of *account*."""
        login, backend = self.login_for(account), self.backend_for(account)
        return self._get(
            f"{login.namespace}:cust:{_digest(code)}",
            lambda: backend.get_customer(login, code),
            account=account,
        )

    def customer_invoices(self, account: Account, code: str) -> Fetched[tuple[Invoice, ...]]:
        """Every invoice summary KashFlow lists for customer *code* (not yet scope-checked).

        One cached list per customer serves every status tab: the status filter is applied
        to each invoice's own data by the caller, never trusted from the server.
        """
        login, backend = self.login_for(account), self.backend_for(account)
        return self._get(
            f"{login.namespace}:list:{_digest(code)}",
            lambda: tuple(backend.list_invoices(login, customer=code)),
            account=account,
        )

    def owing_invoices(self, account: Account) -> Fetched[tuple[Invoice, ...]]:
        """Every invoice of *account* still owed (unpaid or overdue), as KashFlow lists them:
        one cached list for the whole account (who owes what, and the reminders)."""
        login, backend = self.login_for(account), self.backend_for(account)
        return self._get(
            f"{login.namespace}:owing",
            lambda: tuple(backend.list_owing(login)),
            account=account,
        )

    def customer_list(self, account: Account, *, owing_only: bool) -> Fetched[tuple[Customer, ...]]:
        """The customers of *account*: all of them, or (*owing_only*, where the API can say)
        those KashFlow says owe money."""
        login, backend = self.login_for(account), self.backend_for(account)
        kind = "owing" if owing_only else "all"
        return self._get(
            f"{login.namespace}:customers:{kind}",
            lambda: tuple(backend.list_customers(login, owing_only=owing_only)),
            account=account,
        )

    def document(self, account: Account, link: str) -> Fetched[bytes]:
        """The PDF behind a KashFlow document link (cached when small enough)."""
        login, backend = self.login_for(account), self.backend_for(account)
        return self._get(
            f"{login.namespace}:doc:{_digest(link)}",
            lambda: backend.get_document(login, link, max_bytes=self.pdf_max_bytes),
            account=account,
            lru=False,
            cacheable=lambda data: len(data) <= self.pdf_cache_max_bytes,
        )

    def has_statements(self, account: Account) -> bool:
        """Whether *account*'s API has customer statements (SOAP has none)."""
        return self.backend_for(account).statements

    def statement_link(self, account: Account, customer: Customer) -> str | None:
        """The document link of *customer*'s statement, if *account*'s API has statements."""
        return self.backend_for(account).statement_link(customer)

    def known_customer(self, account: Account, number: int) -> str | None:
        """The customer of invoice *number* if this process has it (fresh or not), without any
        I/O: a hint that lets a page check revocation in one round trip."""
        try:
            key = f"{self.login_for(account).namespace}:inv:{number}"
        except KashFlowAuthError:
            return None
        with self._lru_lock:
            found = self._lru.get(key)
        return t.cast(Invoice, found[1]).customer_code if found is not None else None

    def forget(self) -> None:
        """Drop this process's copies (the shared cache is untouched)."""
        with self._lru_lock:
            self._lru.clear()

    # -- the machinery -------------------------------------------------------------------------

    def _read_shared(self, key: str) -> tuple[float, t.Any] | None:
        """A usable (fetched_at, value) entry of the shared cache (within any window)."""
        value = self.cache.get(key)
        if (
            isinstance(value, tuple)
            and len(value) == 2
            and isinstance(value[0], float | int)
            and self.clock() - value[0] < self.keep
        ):
            return float(value[0]), value[1]
        return None

    def _fresh(
        self, key: str, lru: bool, *, look: bool = False
    ) -> tuple[Fetched[t.Any] | None, tuple[float, t.Any] | None]:
        """A fresh value from the LRU or the shared cache; else the newest entry seen. With
        *look*, the shared cache is read even while this process is refreshing *key*."""
        now = self.clock()
        found = None
        if lru:
            with self._lru_lock:
                found = self._lru.get(key)
            if found is not None and now - found[0] < self.fresh:
                return Fetched(found[1], found[0], key=key), None
            if found is not None and not look and self._refreshing(key):
                # This process is refreshing it: no need to read the shared cache meanwhile.
                return None, found
        entry = self._read_shared(key)
        if entry is not None and now - entry[0] < self.fresh:
            if lru:
                with self._lru_lock:
                    self._lru[key] = entry
            return Fetched(entry[1], entry[0], key=key), entry
        if found is not None and (entry is None or found[0] > entry[0]):
            return None, found  # the shared cache lost it, or is down: this copy still counts
        return None, entry

    def _refreshing(self, key: str) -> bool:
        return self.background is not None and self.background.pending(("fresh", key))

    def _within(self, entry: tuple[float, t.Any] | None, window: int) -> tuple[float, t.Any] | None:
        """*entry* if it is at most *window* seconds past its fresh window."""
        if entry is not None and self.clock() - entry[0] < self.fresh + window:
            return entry
        return None

    def _get(
        self,
        key: str,
        load: t.Callable[[], T],
        *,
        account: Account,
        lru: bool = True,
        cacheable: t.Callable[[T], bool] | None = None,
    ) -> Fetched[T]:
        fetched, entry = self._fresh(key, lru)
        if fetched is not None:
            self.stats.add("hits")
            return fetched
        if not account.embedded and self._within(entry, self.revalidate) is not None:
            # Stale-while-revalidate: serve at once, refresh in the background.
            entry = t.cast(tuple[float, T], entry)
            self._refresh_later(key, lambda: self._refresh(key, load, lru=lru, cacheable=cacheable))
            self.stats.add("revalidating")
            return Fetched(entry[1], entry[0], stale=True, refreshing=True, key=key)
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
            result = self._lead(key, load, lru=lru, cacheable=cacheable, embedded=account.embedded)
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
        load: t.Callable[[], T],
        *,
        lru: bool,
        cacheable: t.Callable[[T], bool] | None,
        embedded: bool,
    ) -> Fetched[T]:
        # Another thread may have finished between our miss and taking the lead.
        fetched, entry = self._fresh(key, lru)
        if fetched is not None:
            self.stats.add("hits")
            return fetched
        entry = self._within(entry, self.stale)
        lock = SharedLock(self.cache, f"{key}:lock", self._lock_ttl)

        def ready() -> Fetched[t.Any] | None:
            return self._fresh(key, lru)[0]

        # With stale data to show, wait briefly for another process's fetch; without, as long
        # as its fetch may take.
        waited = lock.acquire_or_wait(ready, 1.0 if entry is not None else float(self._lock_ttl))
        if waited.value is not None:
            self.stats.add("waits")
            return t.cast(Fetched[T], waited.value)
        if not waited.held and entry is not None and lock.held_elsewhere():
            # Another process is still fetching: show what we have meanwhile.
            self.stats.add("stale")
            return Fetched(entry[1], entry[0], stale=True, key=key)
        entry = self._within(self._read_shared(key), self.stale) or entry
        try:
            self._raise_if_gone(key)
            self.stats.add("misses")
            self.stats.add("upstream")
            try:
                value = load()
            except KashFlowError as e:
                self._remember_failure(key, e, embedded=embedded)
                if embedded and self._credentials_refused(key, e):
                    # Refused once: an outage now must not bring the link back with stale data.
                    raise KashFlowAuthError(
                        f"KashFlow refused these credentials before; no stale data ({e})"
                    ) from e
                if entry is not None and may_serve_stale(e, embedded=embedded):
                    self.stats.add("stale")
                    log.warning(
                        "KashFlow failed (%s); serving data as of %s",
                        type(e).__name__,
                        datetime.fromtimestamp(entry[0], tz=timezone.utc).isoformat(),
                    )
                    return Fetched(entry[1], entry[0], stale=True, key=key)
                raise
            if embedded:
                self.cache.delete(_refusal_key(key))  # the credentials work (again)
            return Fetched(value, self._store(key, value, lru, cacheable), key=key)
        finally:
            # Only now: a process that sees the lock gone must find the value stored.
            if waited.held:
                lock.release()

    def _store(
        self, key: str, value: T, lru: bool, cacheable: t.Callable[[T], bool] | None
    ) -> float:
        """Keep *value*, fetched now, in the shared cache and the LRU; its fetch time."""
        now = self.clock()
        if cacheable is None or cacheable(value):
            self.cache.set(key, (now, value), self.keep)
        if lru:
            with self._lru_lock:
                self._lru[key] = (now, value)
        return now

    # -- refreshing in the background ----------------------------------------------------------

    def _refresh_later(self, key: str, refresh: t.Callable[[], None]) -> None:
        """Queue *refresh* of *key* (coalesced with one already waiting or running)."""
        if self.background is None:  # revalidate is 0 without one: not reached
            return
        namespace, kind = key.split(":", 2)[:2]
        self.background.submit(
            ("fresh", key),  # what _refreshing() looks for
            refresh,
            group=namespace,
            label=f"refresh ({kind})",
        )

    def _refresh(
        self,
        key: str,
        load: t.Callable[[], T],
        *,
        lru: bool,
        cacheable: t.Callable[[T], bool] | None,
    ) -> None:
        """Fetch *key* again, once across every process sharing the cache: skipped when it is
        fresh already or another process holds its lock (that one is fetching it).

        A failure keeps the entry for the windows still open (and is raised, for the pool to
        log and back off), unless KashFlow says the data is gone: then the entry goes, so the
        next page says so.
        """
        if self._fresh(key, lru, look=True)[0] is not None:
            return
        lock = SharedLock(self.cache, f"{key}:lock", self._lock_ttl)
        held = lock.acquire()
        if held is False:
            return
        try:
            if self._fresh(key, lru, look=True)[0] is not None:
                return  # refreshed by another process between our look and our lock
            self.stats.add("refreshes")
            self.stats.add("upstream")
            try:
                value = load()
            except KashFlowNotFound as e:
                # Gone from KashFlow: no stale copy of it may be shown any more.
                self._remember_failure(key, e, embedded=False)
                log.info("a refresh found the data gone from KashFlow; dropped its cached copy")
                return
            self._store(key, value, lru, cacheable)
        finally:
            if held:
                lock.release()

    # -- remembered failures: "not found", and refused embed-mode credentials ------------------

    def _raise_if_gone(self, key: str) -> None:
        """Raise :class:`KashFlowNotFound` if KashFlow said *key* does not exist a moment ago."""
        if self.cache.get(f"{key}:gone") is not None:
            raise KashFlowNotFound("KashFlow said a moment ago that this does not exist")

    def _remember_failure(self, key: str, error: KashFlowError, *, embedded: bool) -> None:
        """After "not found": drop the cached copy and remember the answer briefly. After a
        refusal of embed-mode credentials: remember it for as long as stale data is kept, and
        at least as long as the backends pause those credentials (whatever STALE_TIMEOUT is,
        the refusal outlives the pause that answers for it)."""
        if isinstance(error, KashFlowNotFound):
            self.cache.set(f"{key}:gone", True, NOT_FOUND_SECONDS)
            self.cache.delete(key)
            with self._lru_lock:
                self._lru.pop(key, None)
        elif embedded and refuses_credentials(error):
            self.cache.set(_refusal_key(key), True, max(self.fresh + self.stale, EMBEDDED_PAUSE))

    def _credentials_refused(self, key: str, error: KashFlowError) -> bool:
        """Whether KashFlow refused the credentials of *key*'s namespace before (on any
        worker), when *error* is not itself that refusal."""
        if isinstance(error, KashFlowAuthError):
            return False
        return self.cache.get(_refusal_key(key)) is not None


def _refusal_key(key: str) -> str:
    """The marker of refused credentials: one per namespace (per set of credentials)."""
    return f"{key.split(':', 1)[0]}:refused"


def _digest(value: str) -> str:
    """A short, backend-safe key part for free text (customer codes, document links)."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]
