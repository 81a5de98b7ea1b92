"""Per-application state, kept in ``app.extensions["kashflow_links"]``.

:func:`build_state` assembles the parts below the portal from the validated settings: the
accounts, the link service (codec and store), the caches, the KashFlow backends and the fetch
layer. The portal assembles itself on top of this (:mod:`.portal.assembly`), and the CLI and
the staff API use the parts they need.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from datetime import date
from datetime import datetime

from cachelib.redis_base import BaseRedisCache
from flask import Flask
from flask import current_app
from flask_caching import Cache

from .accounts import AccountRegistry
from .background import BackgroundPool
from .cache import SafeCache
from .config import DEFAULT_CACHE_PREFIX
from .config import Settings
from .config import redact_url
from .exceptions import ConfigurationError
from .exceptions import KashFlowError
from .exceptions import KashFlowNotFound
from .exceptions import StoreUnavailable
from .fetch import Fetcher
from .kashflow.backend import Backend
from .kashflow.backend import Credentials
from .kashflow.models import same_customer
from .kashflow.rest import RestBackend
from .kashflow.session import SessionTokens
from .kashflow.soap import SoapBackend
from .links.claims import Scope
from .links.codec import TokenCodec
from .links.service import LinkService
from .links.store import RedisStore
from .links.store import RevocationStore
from .links.store import open_store
from .prefetch import Prefetcher

EXTENSION_KEY = "kashflow_links"


@dataclass
class State:
    """Everything one application's portal, CLI and staff API share."""

    settings: Settings
    accounts: AccountRegistry
    #: Minting, verifying and withdrawing links (the codec and the store).
    links: LinkService
    #: The flask-caching object (private, or the one passed as ``cache=``).
    cache: Cache
    #: The same cache with its failures contained.
    safe_cache: SafeCache
    #: The backend of each API kind.
    backends: dict[str, Backend]
    fetcher: Fetcher
    #: Background work of this process: prefetches and refreshes.
    background: BackgroundPool
    #: Fetches newly minted links' first pages (``KASHFLOW_LINKS_PREFETCH``).
    prefetcher: Prefetcher
    #: The portal's own parts (set by the extension once the blueprint is assembled).
    portal: t.Any = None

    def confirm(
        self, scope: Scope, *, customer: str | None = None, credentials: Credentials | None = None
    ) -> str | None:
        """Ask KashFlow whether what *scope* opens exists, before a link to it is minted.

        Asked through the fetch layer, so what it fetches is cached for the link's first
        opening, and data still cached from an earlier fetch (even past its fresh window while
        KashFlow fails) answers too. Returns the customer code: an invoice's own, which
        fills in an invoice link's customer, or ``None`` when KashFlow's answer lacks it.

        :param customer: the customer an invoice link is said to belong to; checked.
        :param credentials: embed mode: the credentials the link will carry.
        :raises KashFlowNotFound: KashFlow has no such invoice or customer, or the invoice is
            not *customer*'s.
        :raises KashFlowError: KashFlow could not be asked and nothing cached answers (a
            link is not minted on a guess).
        """
        embedded = credentials if self.settings.embed_credentials else None
        account = self.accounts.for_link(scope.account, embedded)
        if scope.invoice is not None:
            what = f"invoice {scope.invoice}"
        else:
            what = f"customer {scope.customer}"
        where = f"in account {scope.account!r}"
        try:
            if scope.invoice is not None:
                found = self.fetcher.invoice(account, scope.invoice).value.customer_code or None
            else:
                found = self.fetcher.customer(account, t.cast(str, scope.customer)).value.code
        except KashFlowNotFound:
            raise KashFlowNotFound(f"KashFlow has no {what} {where}; no link minted") from None
        except KashFlowError as e:
            raise type(e)(
                f"could not ask KashFlow whether {what} exists {where} ({e}); no link minted. "
                "Try again when KashFlow answers, or mint without verifying."
            ) from None
        if customer and found and not same_customer(customer, found):
            raise KashFlowNotFound(
                f"{what} {where} is customer {found}'s, not {customer}'s; no link minted"
            )
        return found or customer


def get_state(app: Flask | None = None) -> State:
    """The extension state of *app* (default: the current app)."""
    app = app or current_app
    try:
        return t.cast(State, app.extensions[EXTENSION_KEY])
    except KeyError:
        raise RuntimeError(
            "KashFlowLinks is not initialised on this app: call KashFlowLinks(app) or "
            "links.init_app(app) first."
        ) from None


def build_state(settings: Settings, cache: Cache) -> State:
    """Assemble the state of one application from its validated *settings*.

    :raises ConfigurationError: for an unknown default account, a bad account, or an
        unreachable revocation store.
    """
    codec = TokenCodec(settings.fernet_keys, settings.signing_keys)
    accounts = _accounts(settings)
    safe_cache = SafeCache(cache)
    tokens = SessionTokens(safe_cache, codec.seal, codec.unseal)
    rest = RestBackend(
        settings.api_base_url,
        tokens=tokens,
        timeout=settings.api_timeout,
        retries=settings.api_retries,
        backoff=settings.api_backoff,
        max_retry_after=settings.api_max_retry_after,
        login_cooldown=settings.login_cooldown,
    )
    backends: dict[str, Backend] = {"rest": rest, "soap": _soap_backend(settings, tokens)}
    background = BackgroundPool()
    fetcher = Fetcher(
        safe_cache,
        backends,
        namespace_key=codec.derive_key("cache-namespace"),
        fresh=settings.cache_timeout,
        stale=settings.stale_timeout,
        revalidate=settings.stale_while_revalidate,
        background=background,
        pdf_cache_max_bytes=settings.pdf_cache_max_bytes,
        pdf_max_bytes=settings.pdf_max_bytes,
    )
    prefetcher = Prefetcher(fetcher, accounts, background, enabled=settings.prefetch)
    links = LinkService(
        codec,
        _store(settings),
        accounts,
        embed_credentials=settings.embed_credentials,
        public_url=settings.public_url,
        after_mint=prefetcher.schedule,
    )
    return State(
        settings=settings,
        accounts=accounts,
        links=links,
        cache=cache,
        safe_cache=safe_cache,
        backends=backends,
        fetcher=fetcher,
        background=background,
        prefetcher=prefetcher,
    )


def _soap_backend(settings: Settings, tokens: SessionTokens) -> SoapBackend:
    """KashFlow's SOAP API, for accounts with ``api`` set to ``"soap"``. Invoice PDFs may come
    from the REST API's host too (where KashFlow's permalinks point)."""

    def today() -> date:
        return datetime.now(settings.timezone).date()

    return SoapBackend(
        settings.soap_url,
        tokens=tokens,
        document_hosts=(settings.api_base_url,),
        timeout=settings.api_timeout,
        retries=settings.api_retries,
        backoff=settings.api_backoff,
        max_retry_after=settings.api_max_retry_after,
        login_cooldown=settings.login_cooldown,
        today=today,
    )


def _accounts(settings: Settings) -> AccountRegistry:
    try:
        return AccountRegistry(
            settings.accounts,
            base_brand=settings.brand,
            default=settings.default_account,
            need_credentials=not settings.embed_credentials,
        )
    except KeyError as e:
        raise ConfigurationError(
            "KASHFLOW_LINKS_DEFAULT_ACCOUNT",
            f"{e.args[0]}; set it to one of the keys of KASHFLOW_LINKS_ACCOUNTS",
        ) from None
    except ValueError as e:
        raise ConfigurationError("KASHFLOW_LINKS_ACCOUNTS", str(e)) from None


def _store(settings: Settings) -> RevocationStore:
    try:
        store = open_store(settings.revocation_url)
        store.ping()
    except StoreUnavailable as e:
        raise ConfigurationError(
            "KASHFLOW_LINKS_REVOCATION_URL",
            f"{e} ({redact_url(settings.revocation_url)}). Links cannot be checked for "
            "revocation without it: start the store or fix the URL.",
        ) from None
    return store


def check_key_spaces(backend: object, store: RevocationStore) -> None:
    """Refuse a Redis cache (*backend*: the cachelib object behind the flask-caching ``Cache``)
    whose keys could include the link store's, in one database.

    cachelib's ``RedisCache.clear()`` deletes every key that starts with the cache's prefix
    (with no prefix, the whole database: ``FLUSHDB``), so a prefix that overlaps the store's
    would take every revocation with it. Servers cannot be told apart reliably from their
    addresses, so only a different database number counts as apart.

    :raises ConfigurationError: naming ``KASHFLOW_LINKS_CACHE`` and the fix.
    """
    if not isinstance(store, RedisStore) or not isinstance(backend, BaseRedisCache):
        return
    pool = getattr(backend._write_client, "connection_pool", None)
    database = int(getattr(pool, "connection_kwargs", {}).get("db") or 0)
    prefix = backend.key_prefix if isinstance(backend.key_prefix, str) else backend.key_prefix()
    if database != store.database or not (
        store.PREFIX.startswith(prefix) or prefix.startswith(store.PREFIX)
    ):
        return
    clears = (
        "flushes the whole database (FLUSHDB)"
        if not prefix
        else f"deletes every key starting with {prefix!r}"
    )
    raise ConfigurationError(
        "KASHFLOW_LINKS_CACHE",
        f"the cache's CACHE_KEY_PREFIX {prefix!r} overlaps the link store's keys "
        f"({store.PREFIX!r}) in Redis database {database}: clearing the cache {clears}, "
        "which would delete every revocation and un-withdraw every link. Give the cache a "
        f"prefix of its own such as {DEFAULT_CACHE_PREFIX!r} (the default), or another "
        "database number (CACHE_REDIS_DB, or /<n> in CACHE_REDIS_URL).",
    )


__all__ = ["EXTENSION_KEY", "State", "build_state", "check_key_spaces", "get_state"]
