"""The :class:`KashFlowLinks` extension: configuration, per-app state, and the staff API."""

from __future__ import annotations

import logging
import threading
import typing as t
from dataclasses import dataclass
from dataclasses import field
from datetime import timedelta

from flask import Flask
from flask import current_app
from flask_caching import Cache
from jinja2 import TemplateError
from jinja2 import TemplateNotFound

from . import redaction
from .accounts import Account
from .accounts import AccountRegistry
from .cache import SafeCache
from .config import DEFAULT_BASE_TEMPLATE
from .config import Settings
from .config import load_settings
from .config import redact_url
from .exceptions import ConfigurationError
from .exceptions import LinkError
from .exceptions import StoreUnavailable
from .fetch import Fetcher
from .kashflow.credentials import Credentials
from .kashflow.rest import KashFlowClient
from .kashflow.session import SessionTokens
from .links.claims import LinkClaims
from .links.claims import Scope
from .links.claims import is_link_id
from .links.codec import TokenCodec
from .links.link import Link
from .links.store import LinkRecord
from .links.store import RevocationStore
from .links.store import open_store
from .portal.presenters import Formatter
from .portal.presenters import ViewCache
from .portal.throttle import Throttle

log = logging.getLogger(__name__)

EXTENSION_KEY = "kashflow_links"


class LinkActivity:
    """Which links this process recently recorded as opened, so the register is written at
    most once per interval per link rather than on every page view."""

    def __init__(self) -> None:
        self.opened: dict[str, float] = {}
        self.learnt: set[str] = set()
        self.lock = threading.Lock()


@dataclass
class State:
    """Everything one application needs, kept in ``app.extensions["kashflow_links"]``."""

    settings: Settings
    codec: TokenCodec
    accounts: AccountRegistry
    store: RevocationStore
    #: The flask-caching object (private, or the one passed as ``cache=``).
    cache: Cache
    #: The same cache with its failures contained.
    safe_cache: SafeCache
    client: KashFlowClient
    fetcher: Fetcher
    throttle: Throttle
    formatter: Formatter
    #: Formatted view models, per process.
    views: ViewCache = field(default_factory=ViewCache)
    #: Debounced register writes ("last opened", learnt customers), per process.
    activity: LinkActivity = field(default_factory=LinkActivity)


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


def _as_lifetime(expires_in: timedelta | int | None) -> timedelta | None:
    if expires_in is None:
        return None
    if isinstance(expires_in, bool) or not isinstance(expires_in, timedelta | int):
        raise TypeError("expires_in must be a timedelta or a number of seconds")
    lifetime = expires_in if isinstance(expires_in, timedelta) else timedelta(seconds=expires_in)
    if lifetime.total_seconds() < 1:
        raise ValueError("expires_in must be at least one second")
    # Expiry is to the second.
    return timedelta(seconds=int(lifetime.total_seconds()))


class KashFlowLinks:
    """The Flask extension that mounts the client invoice portal.

    ::

        links = KashFlowLinks(app)
        # or, in an application factory:
        links = KashFlowLinks()
        links.init_app(app)

    The object holds no application: per-app state lives in ``app.extensions["kashflow_links"]``
    and the methods below act on the current app, so one object serves several apps.

    :param app: the application, or ``None`` to call :meth:`init_app` later.
    :param cache: a flask-caching :class:`~flask_caching.Cache` already set up on the app, to
        share it; by default the portal makes a private one from ``KASHFLOW_LINKS_CACHE``.
    """

    def __init__(self, app: Flask | None = None, *, cache: Cache | None = None) -> None:
        self._cache = cache
        if app is not None:
            self.init_app(app)

    # -- set-up --------------------------------------------------------------------------------

    def init_app(self, app: Flask) -> None:
        """Validate the configuration, open the stores and register the blueprint and CLI.

        :raises ConfigurationError: naming the key and the fix, for any bad setting, an
            unreachable revocation store, or an unknown default account.
        """
        from .cli import cli_group
        from .portal.routes import blueprint

        settings = load_settings(app)
        self._check_base_template(app, settings)
        codec = TokenCodec(settings.fernet_keys, settings.signing_keys)
        accounts = self._accounts(settings)
        store = self._store(settings)
        cache = self._make_cache(app, settings)
        safe_cache = SafeCache(cache)
        client = KashFlowClient(
            settings.api_base_url,
            tokens=SessionTokens(safe_cache, codec.seal, codec.unseal),
            timeout=settings.api_timeout,
            retries=settings.api_retries,
            backoff=settings.api_backoff,
            max_retry_after=settings.api_max_retry_after,
            login_cooldown=settings.login_cooldown,
        )
        fetcher = Fetcher(
            safe_cache,
            client,
            namespace_key=codec.derive_key("cache-namespace"),
            fresh=settings.cache_timeout,
            stale=settings.stale_timeout,
            pdf_cache_max_bytes=settings.pdf_cache_max_bytes,
            pdf_max_bytes=settings.pdf_max_bytes,
        )
        app.extensions[EXTENSION_KEY] = State(
            settings=settings,
            codec=codec,
            accounts=accounts,
            store=store,
            cache=cache,
            safe_cache=safe_cache,
            client=client,
            fetcher=fetcher,
            throttle=Throttle(safe_cache, codec.derive_key("throttle")),
            formatter=Formatter(settings.locale, settings.timezone),
        )
        app.register_blueprint(blueprint, url_prefix=settings.url_prefix)
        if settings.redact_access_logs:
            redaction.install()
        if "kashflow-links" not in app.cli.commands:
            app.cli.add_command(cli_group)

    @staticmethod
    def _check_base_template(app: Flask, settings: Settings) -> None:
        """A host layout must exist and have the blocks portal pages fill, or every page
        (error pages included) would fail."""
        if settings.base_template == DEFAULT_BASE_TEMPLATE:
            return
        key = "KASHFLOW_LINKS_BASE_TEMPLATE"
        try:
            template = app.jinja_env.get_template(settings.base_template)
        except TemplateNotFound:
            raise ConfigurationError(
                key,
                f"template {settings.base_template!r} not found in the app's template folder "
                "(or a blueprint registered before init_app). Check the path, or register the "
                "blueprint that provides it before calling init_app.",
            ) from None
        except TemplateError as e:
            raise ConfigurationError(
                key, f"{settings.base_template!r} does not compile: {e}"
            ) from None
        missing = {"title", "content"} - set(template.blocks)
        if missing:
            raise ConfigurationError(
                key,
                f"{settings.base_template!r} has no {{% block {sorted(missing)[0]} %}}: portal "
                "pages fill the blocks 'title' and 'content' (and 'head' if present).",
            )

    @staticmethod
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

    @staticmethod
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

    def _make_cache(self, app: Flask, settings: Settings) -> Cache:
        if self._cache is not None:
            return self._cache
        # A private cache (flask-caching's own suggestion for a blueprint or library), so the
        # host's cache settings and ours never collide.
        cache = Cache(with_jinja2_ext=False, config=settings.cache_config)
        cache.init_app(app, config=settings.cache_config)
        return cache

    # -- minting -------------------------------------------------------------------------------

    def _account(self, state: State, account: str | None) -> Account:
        try:
            return state.accounts.get(account)
        except LookupError as e:
            raise ValueError(str(e.args[0] if e.args else e)) from None

    def _mint(
        self,
        scope: Scope,
        *,
        expires_in: timedelta | int | None,
        credentials: Credentials | None,
        customer: str | None = None,
    ) -> Link:
        state = get_state()
        creds = None
        if state.settings.embed_credentials:
            creds = credentials or self._account(state, scope.account).credentials
            if creds is None:
                raise ValueError(
                    f"embed mode needs credentials for account {scope.account!r}: configure them "
                    "in KASHFLOW_LINKS_ACCOUNTS where links are minted, or pass credentials="
                )
        elif credentials is not None:
            raise ValueError("credentials= is only for KASHFLOW_LINKS_EMBED_CREDENTIALS mode")
        token, claims = state.codec.mint(
            scope, lifetime=_as_lifetime(expires_in), credentials=creds
        )
        state.store.register(claims, customer=customer)
        log.info("minted link %s for %s", claims.link_id, scope.describe())
        return Link.from_claims(token, claims, state.settings.public_url)

    def mint_invoice(
        self,
        number: int,
        *,
        account: str | None = None,
        expires_in: timedelta | int | None = None,
        credentials: Credentials | None = None,
        customer: str | None = None,
    ) -> Link:
        """Mint a link to one invoice.

        :param number: the KashFlow invoice number.
        :param account: the account id; default ``KASHFLOW_LINKS_DEFAULT_ACCOUNT``.
        :param expires_in: optional lifetime (timedelta or seconds); permanent by default.
        :param credentials: embed mode only: credentials to carry instead of the account's.
        :param customer: the invoice's customer code, if known, so the link is listed under the
            customer at once (otherwise it is learnt when the link is first opened).
        """
        state = get_state()
        account_id = self._account(state, account).id
        return self._mint(
            Scope.for_invoice(account_id, number),
            expires_in=expires_in,
            credentials=credentials,
            customer=customer,
        )

    def mint_customer(
        self,
        code: str,
        *,
        status: str = "all",
        account: str | None = None,
        expires_in: timedelta | int | None = None,
        credentials: Credentials | None = None,
    ) -> Link:
        """Mint a link to a customer's invoices.

        :param code: the KashFlow customer code.
        :param status: ``"all"``, ``"unpaid"`` (Unpaid and Overdue), ``"overdue"`` or ``"paid"``
            (Paid and Overpaid). Anything else raises :class:`ValueError`.
        """
        state = get_state()
        account_id = self._account(state, account).id
        return self._mint(
            Scope.for_customer(account_id, code, status),
            expires_in=expires_in,
            credentials=credentials,
        )

    # -- withdrawing ---------------------------------------------------------------------------

    def link_id_of(self, token_or_link_id: str) -> str:
        """The link id of a token (even an expired one) or of a link id; :class:`ValueError`."""
        value = token_or_link_id.strip()
        if is_link_id(value):
            return value
        try:
            return get_state().codec.verify(value, allow_expired=True).link_id
        except LinkError:
            raise ValueError("not a link id or a valid link token of this site") from None

    def revoke(self, token_or_link_id: str) -> bool:
        """Withdraw one link at once, for every process sharing the store.

        Accepts the token (or the whole URL's last segment) or the link id. Returns whether the
        link was in the register (a link id unknown to the register is still withdrawn).
        """
        link_id = self.link_id_of(token_or_link_id)
        known = get_state().store.revoke(link_id)
        log.info("revoked link %s", link_id)
        return known

    def revoke_customer(self, code: str, *, account: str | None = None) -> int:
        """Withdraw every link for customer *code* minted until now, invoice links included.

        Returns how many registered links this withdrew. Links minted afterwards work.
        """
        state = get_state()
        account_id = self._account(state, account).id
        count = state.store.revoke_customer(account_id, code)
        log.info(
            "revoked every link of customer %s on account %s (%d registered)",
            code,
            account_id,
            count,
        )
        return count

    def active_links(
        self, *, customer: str | None = None, account: str | None = None
    ) -> list[LinkRecord]:
        """Live links, newest first: not revoked, not expired. Never includes tokens."""
        return get_state().store.active_links(customer=customer, account=account)

    def verify(self, token: str) -> LinkClaims:
        """Verify *token* as the portal does (signature, encryption, expiry, revocation).

        :raises LinkInvalid, LinkExpired, LinkRevoked: see :mod:`.exceptions`.
        """
        from .portal.guard import check_link

        return check_link(get_state(), token)


__all__ = ["KashFlowLinks", "State", "get_state"]
