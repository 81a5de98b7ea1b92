"""The :class:`KashFlowLinks` extension: the composition root and the staff API.

:meth:`KashFlowLinks.init_app` builds everything one application needs from its validated
settings (the accounts, the link service with its codec and store, the KashFlow backends, the
fetch layer with its background pool, the portal) and keeps it in one typed per-app object,
``app.extensions["kashflow_links"]``. The portal's routes are bound to their parts when the
blueprint is made, so nothing looks them up at request time; the CLI reads the per-app object
through the protocol it declares (:class:`.cli.Parts`).
"""

from __future__ import annotations

import logging
import os
import typing as t
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import timedelta
from urllib.parse import parse_qs
from urllib.parse import urlsplit

from flask import Blueprint
from flask import Flask
from flask import current_app
from flask_caching import Cache
from jinja2 import TemplateError
from jinja2 import TemplateNotFound

from . import cli
from . import redaction
from . import staff
from .cache import Reach
from .cache import SafeCache
from .cache import cache_reach
from .cache import per_process_cache_warning
from .config import DEFAULT_BASE_TEMPLATE
from .config import EXTENSION_KEY
from .config import PREFIX
from .config import Account
from .config import AccountRegistry
from .config import Settings
from .config import accounts_of
from .config import load_settings
from .config import prefix_warning
from .config import redact_url
from .exceptions import ConfigurationError
from .exceptions import KashFlowError
from .exceptions import KashFlowNotFound
from .exceptions import StoreUnavailable
from .fetch import Fetcher
from .fetch.background import BackgroundPool
from .fetch.owing import CustomerSummary
from .fetch.owing import customer_invoices
from .fetch.owing import customer_summaries
from .fetch.prefetch import Prefetcher
from .formatting import Formatter
from .kashflow.backend import Backend
from .kashflow.backend import Credentials
from .kashflow.models import Invoice
from .kashflow.models import same_customer
from .kashflow.rest import RestBackend
from .kashflow.session import SessionTokens
from .kashflow.soap import SoapBackend
from .links.claims import AnyScope
from .links.claims import InvoiceScope
from .links.claims import LinkClaims
from .links.claims import Scope
from .links.codec import TokenCodec
from .links.link import Link
from .links.service import LinkService
from .links.store import RedisStore
from .links.store import RevocationStore
from .links.store import in_memory_warning
from .links.store import left_behind
from .links.store import open_store
from .links.store.base import LinkRecord
from .links.store.base import StoreUnsafe
from .portal import Portal
from .portal.pages import protect_portal_paths
from .sending import Reminder
from .sending import Reminders
from .sending import Sender
from .sending import Sent

log = logging.getLogger(__name__)
# Start-up notes go to the package's logger, where every one of them is found.
notes = logging.getLogger("flask_kashflow_links")

#: Characters Redis reads as a pattern in ``KEYS prefix*`` (what clearing a cache runs).
_GLOB = set("*?[\\")


@dataclass(frozen=True)
class _State:
    """Everything one application's portal, CLI and staff API share."""

    #: The object init_app was called on (the CLI reaches the staff API through it).
    extension: KashFlowLinks
    settings: Settings
    accounts: AccountRegistry
    #: Minting, verifying and revoking links (the codec and the store).
    links: LinkService
    #: The flask-caching object (private, or the one passed as ``cache=``).
    cache: Cache
    #: The same cache with its failures contained.
    shared: SafeCache
    fetcher: Fetcher
    #: Background work of this process: prefetches and refreshes.
    background: BackgroundPool
    #: Fetches newly minted links' first pages (``KASHFLOW_LINKS_PREFETCH``).
    prefetcher: Prefetcher
    portal: Portal
    #: Emails links and reminders.
    sender: Sender


def _state(app: Flask | None = None) -> _State:
    """The per-app object of *app* (default: the current app)."""
    app = app or current_app
    try:
        return t.cast(_State, app.extensions[EXTENSION_KEY])
    except KeyError:
        raise RuntimeError(
            "KashFlowLinks is not initialised on this app: call KashFlowLinks(app) or "
            "links.init_app(app) first."
        ) from None


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
        :raises RuntimeError: if the portal is already initialised on *app* (nothing is
            changed).
        """
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError(
                "KashFlowLinks is already initialised on this app: call init_app once per app "
                "(the KashFlowLinks object you made acts on every app it was initialised on)."
            )
        settings = load_settings(app)
        _require_layout_blocks(app, settings)
        cache, cache_config = self._cache_of(app, settings)
        with app.app_context():  # flask-caching finds the cache's backend through the app
            state = _build(self, settings, cache)
        _refuse_overlapping_keys(cache_config, state.links.store)
        # mypy holds the per-app object to what the CLI and the staff pages read of it.
        read_by: tuple[cli.Parts, staff.Parts] = (state, state)
        app.extensions[EXTENSION_KEY] = read_by[0]
        app.register_blueprint(state.portal.blueprint(), url_prefix=settings.url_prefix)
        # Every response under the portal's paths, the host's own 404 and 405 pages included.
        app.after_request(protect_portal_paths(settings.url_prefix))
        # Flask logs an unhandled error with the request's path, which holds the link token.
        redaction.install((app.logger.name,))
        if settings.redact_access_logs:
            redaction.install()
        if "kashflow-links" not in app.cli.commands:
            app.cli.add_command(cli.cli_group)
        app.before_request(_StartupNotes(app, state, chosen=self._cache_chosen(app)))

    def _cache_chosen(self, app: Flask) -> bool:
        """Whether the site chose the portal's cache (rather than taking the default)."""
        chosen = app.config.get("KASHFLOW_LINKS_CACHE") or {}
        return self._cache is not None or bool(chosen.get("CACHE_TYPE"))

    def _cache_of(self, app: Flask, settings: Settings) -> tuple[Cache, t.Mapping[str, t.Any]]:
        """The cache (the one passed as ``cache=``, or a private one) and its configuration."""
        if self._cache is not None:
            # flask-caching's own order: the app's config, then the object's.
            return self._cache, {**app.config, **(self._cache.config or {})}
        # A private cache (flask-caching's own suggestion for a blueprint or library), so the
        # host's cache settings and ours never collide.
        cache = Cache(with_jinja2_ext=False, config=settings.cache_config)
        cache.init_app(app, config=settings.cache_config)
        return cache, settings.cache_config

    # -- minting -------------------------------------------------------------------------------

    def mint_invoice(
        self,
        number: int,
        *,
        account: str | None = None,
        expires_in: timedelta | int | None = None,
        credentials: Credentials | None = None,
        customer: str | None = None,
        verify: bool = False,
        prefetch: bool | None = None,
    ) -> Link:
        """Mint a link to one invoice.

        :param number: the KashFlow invoice number.
        :param account: the account id; default ``KASHFLOW_LINKS_DEFAULT_ACCOUNT``.
        :param expires_in: optional lifetime (timedelta or seconds, at most a hundred years);
            permanent by default.
        :param credentials: embed mode only: credentials to carry instead of the account's.
        :param customer: the invoice's customer code, if known, so the link is listed under the
            customer at once (otherwise it is learnt when the link is first opened).
        :param verify: first ask KashFlow whether the invoice exists (and whose it is: that
            fills in *customer*, or is checked against it). Nothing is minted unless KashFlow,
            or data cached from it, says so.
        :param prefetch: fetch what the link's first page shows in the background; by
            default as ``KASHFLOW_LINKS_PREFETCH`` says.
        :raises KashFlowNotFound: with *verify*: no such invoice, or not *customer*'s.
        :raises KashFlowError: with *verify*: KashFlow could not be asked.
        """
        state = _state()
        scope = Scope.for_invoice(state.links.account_id(account), number)
        if verify:
            customer = _confirm(state, scope, customer=customer, credentials=credentials)
        return state.links.mint(
            scope,
            expires_in=expires_in,
            credentials=credentials,
            customer=customer,
            prefetch=prefetch,
        )

    def mint_customer(
        self,
        code: str,
        *,
        status: str = "all",
        account: str | None = None,
        expires_in: timedelta | int | None = None,
        credentials: Credentials | None = None,
        verify: bool = False,
        prefetch: bool | None = None,
    ) -> Link:
        """Mint a link to a customer's invoices.

        :param code: the KashFlow customer code.
        :param status: ``"all"``, ``"unpaid"`` (Unpaid and Overdue), ``"overdue"`` or ``"paid"``
            (Paid and Overpaid). Anything else raises :class:`ValueError`.
        :param verify: first ask KashFlow whether the customer exists; nothing is minted
            unless KashFlow, or data cached from it, says so.
        :param prefetch: fetch what the link's first page shows in the background; by
            default as ``KASHFLOW_LINKS_PREFETCH`` says.
        :raises KashFlowNotFound: with *verify*: no such customer.
        :raises KashFlowError: with *verify*: KashFlow could not be asked.
        """
        state = _state()
        scope = Scope.for_customer(state.links.account_id(account), code, status)
        if verify:
            _confirm(state, scope, credentials=credentials)
        return state.links.mint(
            scope, expires_in=expires_in, credentials=credentials, prefetch=prefetch
        )

    # -- revoking ------------------------------------------------------------------------------

    def link_id_of(self, token_or_link_id: str) -> str:
        """The link id of a link token (even an expired one), of a link's URL, or of a link id;
        :class:`ValueError` for anything else."""
        return _state().links.link_id_of(token_or_link_id)

    def revoke(self, token_or_link_id: str) -> bool:
        """Revoke one link at once, for every process sharing the store.

        Accepts the link token, the link's URL or its link id. Returns whether the link was in
        the register (a link id unknown to the register is still revoked).
        """
        return _state().links.revoke(token_or_link_id)

    def revoke_customer(self, code: str, *, account: str | None = None) -> int:
        """Revoke every link for customer *code* minted until now, invoice links included.

        Returns how many registered links this revoked. Links minted afterwards work.
        """
        return _state().links.revoke_customer(code, account=account)

    def active_links(
        self, *, customer: str | None = None, account: str | None = None, limit: int | None = None
    ) -> list[LinkRecord]:
        """Live links, newest first (at most *limit*): not revoked, not expired. Never
        includes link tokens."""
        return _state().links.active_links(customer=customer, account=account, limit=limit)

    def verify(self, token: str) -> LinkClaims:
        """Verify *token* as the portal does (signature, encryption, expiry, revocation).

        :raises LinkInvalid, LinkExpired, LinkRevoked: see :mod:`.exceptions`.
        """
        return _state().links.verify(token)

    # -- who owes what ------------------------------------------------------------------------

    def customers(
        self, *, owing: str | None = None, account: str | None = None
    ) -> list[CustomerSummary]:
        """The account's customers and what each owes, the most overdue first, then the most
        owed: every customer (*owing* ``None``), those with anything outstanding
        (``"unpaid"``, overdue included), or those with an invoice past its due date
        (``"overdue"``). Amounts are the portal's own (credit notes never owed; overdue judged
        by the due date), read through the cache: a warm repeat asks KashFlow nothing.

        :raises ValueError: an unknown *owing* or *account*.
        :raises KashFlowError: KashFlow could not be asked and nothing cached answers.
        """
        state = _state()
        return customer_summaries(
            state.fetcher, _account(state, account), owing=owing, today=_today(state)
        )

    def invoices(
        self, customer: str, *, status: str = "all", account: str | None = None
    ) -> list[Invoice]:
        """The invoices of *customer* with *status* (``"all"``, ``"unpaid"``, ``"overdue"``
        or ``"paid"``), newest first, with the statuses and amounts the portal shows: an
        unpaid invoice past its due date is ``Overdue`` whatever KashFlow's list said.

        :raises ValueError: an unknown *status* or *account*.
        :raises KashFlowError: KashFlow could not be asked and nothing cached answers.
        """
        state = _state()
        return customer_invoices(
            state.fetcher, _account(state, account), customer, status=status, today=_today(state)
        )

    # -- sending -------------------------------------------------------------------------------

    def send(self, link: Link | str, *, to: t.Sequence[str] | None = None) -> Sent:
        """Email *link* to its customer's addresses on file (contacts who accept email, the
        primary first; less the account's ``no_mail``), or to *to*, and record the send in
        the link store (:attr:`LinkRecord.last_sent_at`).

        *link* is a :class:`Link` just minted, or a live link of the register by its link id
        (or token, or URL): the same link is written out again (the store never keeps
        tokens), and opens, lists and is revoked as before.

        The email (``kashflow_links/email/link.txt`` and ``.html``) says what the link opens
        and, for a customer link, what is still owed. Its URL, From address and
        ``Message-ID`` come from configuration only.

        :raises NothingToSend: no address on file that may be mailed, or an address of *to*
            or the link's customer on the account's ``no_mail`` list (nothing is sent); no
            ``KASHFLOW_LINKS_MAIL``, or no ``KASHFLOW_LINKS_PUBLIC_URL``/``SERVER_NAME``.
        :raises MailError: the mail server refused the message (nothing is recorded).
        :raises KashFlowError: KashFlow could not say who the customer is.
        :raises ValueError: a link id not in the register, revoked or expired.
        """
        return _state().sender.send(link, to=to)

    def remind(
        self,
        *,
        status: str = "overdue",
        every: timedelta = timedelta(days=7),
        customers: t.Collection[str] | None = None,
        account: str | None = None,
        dry_run: bool = False,
        progress: t.Callable[[Reminder], object] | None = None,
    ) -> Reminders:
        """Email each customer who owes money (*status*: ``"overdue"`` or ``"unpaid"``) a
        reminder with their lasting link, unless reminded within *every*.

        Each customer gets one link per status that never expires: the live one the register
        holds, sent again, or a new one. A customer without an address is skipped, and so is
        one reminded within *every* (by any host: the reminder is claimed in the link store
        before its email goes). With *dry_run*, nothing is minted, claimed or sent: the result
        says who would get what. A failed email is reported and the run goes on; a rerun
        mails only those not yet done.

        :param customers: only these customer codes.
        :param progress: called with each customer's :class:`Reminder` as it is done.
        :raises ValueError: an unknown *status* or *account*.
        :raises KashFlowError: KashFlow could not say who owes what (nothing minted or sent).
        """
        state = _state()
        return state.sender.remind(
            _account(state, account),
            status=status,
            every=every,
            customers=customers,
            dry_run=dry_run,
            progress=progress,
        )

    # -- the staff pages ------------------------------------------------------------------------

    def staff_blueprint(self, *, authorize: t.Callable[[], t.Any]) -> Blueprint:
        """The staff pages, as a blueprint to register behind your site's own login::

            def staff_only():
                if current_user.is_authenticated and current_user.is_staff:
                    return True
                return redirect(url_for("login", next=request.path))

            app.register_blueprint(
                links.staff_blueprint(authorize=staff_only), url_prefix="/staff"
            )

        Customers and what each owes, one customer's invoices and live links (minting, with
        the link's URL shown once; sending; revoking one or all), and reminders with a dry
        run first (:doc:`staff`). No JavaScript; every POST carries a form token bound to the
        visitor's session and must come from this site; every response is ``no-store``.

        Register it after :meth:`init_app`, on any app this object was initialised on (the
        routes act on the current app). The app needs a ``SECRET_KEY``.

        :param authorize: called with no arguments before anything else, on every route and
            method: ``True`` lets the request through, ``False`` (or ``None``) answers 403,
            and a response (a redirect to your login page) is returned as it is. Anything
            else is a :class:`TypeError`: a truthy object is not a yes.
        :raises TypeError: *authorize* missing or not callable: the staff pages are never
            open to everyone.
        """
        return staff.make_blueprint(authorize)

    # -- operating -----------------------------------------------------------------------------

    def stats(self) -> dict[str, dict[str, int]]:
        """This process's counters for the current app, for tests, benchmarks and operators.

        ``fetch``: hits, misses, stale serves, upstream loads, waits, revalidations, refreshes
        and prefetches of the fetch layer; ``background``: jobs queued, coalesced, dropped,
        done and failed; ``pages``: rendered pages sent from memory (hits) or rendered
        (misses); ``rest`` and ``soap``: each KashFlow API's HTTP requests, logins, failed
        logins and SQL-timeout retries; ``cache``: the shared cache's failed operations
        (``errors``).
        """
        state = _state()
        counters = {
            "fetch": state.fetcher.stats.snapshot(),
            "background": state.background.stats.snapshot(),
            "pages": state.portal.pages.cache.stats.snapshot(),
            "cache": {"errors": state.shared.errors},
        }
        for api, backend in state.fetcher.backends.items():
            counters[api] = t.cast(t.Any, backend).stats.snapshot()
        return counters

    def wait_for_background(self, timeout: float | None = None) -> bool:
        """Wait until this process has no background work left for the current app
        (prefetches, refreshes); whether that happened within *timeout* seconds. For tests,
        scripts and commands that end right after minting."""
        return _state().background.wait(timeout)


def _account(state: _State, account_id: str | None) -> Account:
    """The account *account_id* (or the default); :class:`ValueError` if unknown."""
    return state.accounts.get(state.links.account_id(account_id))


def _today(state: _State) -> date:
    """Today where the business is (overdue days count from it)."""
    return datetime.now(state.settings.timezone).date()


# -- building --------------------------------------------------------------------------------------


def _build(extension: KashFlowLinks, settings: Settings, cache: Cache) -> _State:
    """The per-app object of an application with these *settings*.

    :raises ConfigurationError: for an unknown default account, a bad account, or an
        unreachable revocation store.
    """
    codec = TokenCodec(settings.fernet_keys, settings.signing_keys)
    accounts = accounts_of(settings)
    shared = SafeCache(cache)
    tokens = SessionTokens(shared, codec.seal, codec.unseal)
    backends: dict[str, Backend] = {
        "rest": RestBackend(settings.api_base_url, tokens=tokens, timeout=settings.api_timeout),
        "soap": _soap_backend(settings, tokens),
    }
    background = BackgroundPool()
    fetcher = Fetcher(
        shared,
        backends,
        namespace_key=codec.derive_key("cache-namespace"),
        fresh=settings.cache_timeout,
        stale=settings.stale_timeout,
        revalidate=settings.stale_while_revalidate,
        background=background,
    )
    prefetcher = Prefetcher(fetcher, background)
    links = LinkService(
        codec,
        _open_store(settings),
        accounts,
        embed_credentials=settings.embed_credentials,
        public_url=settings.public_url,
        after_mint=_prefetch_for(accounts, prefetcher, enabled=settings.prefetch),
    )
    formatter = Formatter(settings.locale, settings.timezone)
    sender = Sender(links, fetcher, accounts, formatter, mail=settings.mail)
    portal = Portal.build(
        settings,
        accounts,
        links,
        fetcher,
        shared,
        formatter,
        sender,
        throttle_key=codec.derive_key("throttle"),
    )
    return _State(
        extension=extension,
        settings=settings,
        accounts=accounts,
        links=links,
        cache=cache,
        shared=shared,
        fetcher=fetcher,
        background=background,
        prefetcher=prefetcher,
        portal=portal,
        sender=sender,
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
        today=today,
    )


def _open_store(settings: Settings) -> RevocationStore:
    try:
        store = open_store(settings.revocation_url)
        store.ping()
    except StoreUnsafe as e:
        raise ConfigurationError(PREFIX + "REVOCATION_URL", f"{e}.") from None
    except StoreUnavailable as e:
        raise ConfigurationError(
            PREFIX + "REVOCATION_URL",
            f"{e} ({redact_url(settings.revocation_url)}). Links cannot be checked for "
            "revocation without it: start the store or fix the URL.",
        ) from None
    return store


def _prefetch_for(
    accounts: AccountRegistry, prefetcher: Prefetcher, *, enabled: bool
) -> t.Callable[[LinkClaims, bool | None], None]:
    """The link service's after-mint hook: queue the prefetch of a new link's first page
    (``KASHFLOW_LINKS_PREFETCH`` (*enabled*) unless the minting call said otherwise)."""

    def prefetch(claims: LinkClaims, wanted: bool | None) -> None:
        if not (enabled if wanted is None else wanted):
            return
        try:
            account = accounts.for_link(claims.scope.account, claims.credentials)
        except Exception:  # e.g. an account loader failing: the link is minted all the same
            log.exception("no prefetch for link %s", claims.link_id)
            return
        scope = claims.scope
        if isinstance(scope, InvoiceScope):
            prefetcher.schedule(account, invoice=scope.invoice)
        else:
            prefetcher.schedule(account, customer=scope.customer)

    return prefetch


def _confirm(
    state: _State,
    scope: AnyScope,
    *,
    customer: str | None = None,
    credentials: Credentials | None = None,
) -> str | None:
    """Ask KashFlow whether what *scope* opens exists, before a link to it is minted.

    Asked through the fetch layer, so what it fetches is cached for the link's first opening,
    and data still cached from an earlier fetch (even past its fresh window while KashFlow
    fails) answers too. Returns the customer code: an invoice's own, which fills in an invoice
    link's customer, or *customer* when KashFlow's answer lacks it.

    :param customer: the customer an invoice link is said to belong to; checked.
    :param credentials: embed mode: the credentials the link will carry.
    :raises KashFlowNotFound: KashFlow has no such invoice or customer, or the invoice is not
        *customer*'s.
    :raises KashFlowError: KashFlow could not be asked and nothing cached answers (a link is
        not minted on a guess).
    """
    embedded = credentials if state.settings.embed_credentials else None
    account: Account = state.accounts.for_link(scope.account, embedded)
    if isinstance(scope, InvoiceScope):
        what = f"invoice {scope.invoice}"
    else:
        what = f"customer {scope.customer}"
    where = f"in account {scope.account!r}"
    try:
        if isinstance(scope, InvoiceScope):
            found = state.fetcher.invoice(account, scope.invoice).value.customer_code or None
        else:
            found = state.fetcher.customer(account, scope.customer).value.code
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


# -- start-up checks -------------------------------------------------------------------------------


def _require_layout_blocks(app: Flask, settings: Settings) -> None:
    """A host layout must exist and have the blocks portal pages fill, or every page (error
    pages included) would fail."""
    if settings.base_template == DEFAULT_BASE_TEMPLATE:
        return
    key = PREFIX + "BASE_TEMPLATE"
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
        raise ConfigurationError(key, f"{settings.base_template!r} does not compile: {e}") from None
    missing = {"title", "content"} - set(template.blocks)
    if missing:
        raise ConfigurationError(
            key,
            f"{settings.base_template!r} has no {{% block {sorted(missing)[0]} %}}: portal "
            "pages fill the blocks 'title' and 'content' (and 'head' if present).",
        )


def _refuse_overlapping_keys(config: t.Mapping[str, t.Any], store: RevocationStore) -> None:
    """Refuse a Redis cache whose keys could include the Redis link store's, in one database.

    Clearing a cachelib Redis cache deletes every key matching ``KEYS <prefix>*`` (with no
    prefix, the whole database: ``FLUSHDB``), so a prefix that overlaps the store's would take
    every revocation with it. Servers cannot be told apart reliably from their addresses, so
    only a different database number counts as apart; and a prefix with a pattern character
    (``*``, ``?``, ``[``, ``\\``) matches more than it spells.

    :raises ConfigurationError: naming ``KASHFLOW_LINKS_CACHE`` and the fix.
    """
    if not isinstance(store, RedisStore) or "redis" not in str(config.get("CACHE_TYPE")).lower():
        return
    prefix = config.get("CACHE_KEY_PREFIX") or ""
    if not isinstance(prefix, str) or _redis_db(config) != store.database:
        return
    if not (
        store.PREFIX.startswith(prefix) or prefix.startswith(store.PREFIX) or _GLOB & set(prefix)
    ):
        return
    clears = (
        "flushes the whole database (FLUSHDB)"
        if not prefix
        else f"deletes every key matching {prefix + '*'!r}"
    )
    raise ConfigurationError(
        PREFIX + "CACHE",
        f"the cache's CACHE_KEY_PREFIX {prefix!r} overlaps the link store's keys "
        f"({store.PREFIX!r}) in Redis database {store.database}: clearing the cache {clears}, "
        "which would delete every revocation and bring every revoked link back. Give the cache "
        "a prefix of its own without * ? [ or \\, such as 'kfl:cache:' (the default), or "
        "another database number (CACHE_REDIS_DB, or /<n> in CACHE_REDIS_URL).",
    )


def _redis_db(config: t.Mapping[str, t.Any]) -> int:
    """The database number a flask-caching Redis configuration uses."""
    url = config.get("CACHE_REDIS_URL")
    if url:
        parts = urlsplit(str(url))
        query = parse_qs(parts.query).get("db")
        path = parts.path.strip("/")
        if query:
            return int(query[0])
        if path.isdigit():
            return int(path)
    return int(config.get("CACHE_REDIS_DB") or 0)


class _StartupNotes:
    """Once per process, at the first request the application serves: what would break with
    several workers or hosts, a URL prefix that doubles ``/invoices``, and an empty store
    beside a default store with links left in the instance folder, with the fix.

    Logged where the portal serves, not at ``init_app``: a host's own commands (a cron job's
    ``flask ...``) would print them on every run. The package's ``check`` and ``config``
    commands say the same in their output.

    A per-process cache is a ``WARNING``, or ``INFO`` when the site chose it explicitly
    (``KASHFLOW_LINKS_CACHE`` names a ``CACHE_TYPE``, or ``cache=`` was passed) and the
    process does not run under gunicorn, which forks workers; in ``TESTING`` mode it is
    ``DEBUG``. A per-process store is always a ``WARNING``, and so is a store that looks
    ephemeral.
    """

    def __init__(self, app: Flask, state: _State, *, chosen: bool) -> None:
        self.app = app
        self.state = state
        self.chosen = chosen
        self.done_in: int | None = None

    def __call__(self) -> None:
        if self.done_in == os.getpid():
            return
        self.done_in = os.getpid()
        for level, message in startup_notes(
            self.state,
            testing=self.app.testing,
            chosen=self.chosen,
            instance_path=self.app.instance_path,
        ):
            notes.log(level, "%s", message)


def startup_notes(
    state: _State, *, testing: bool, chosen: bool, instance_path: str | None = None
) -> list[tuple[int, str]]:
    """The start-up notes of an application, as ``(logging level, message)``; with
    *instance_path*, also a default store left behind there with links in it."""
    found: list[tuple[int, str]] = []
    backend = state.shared.backend
    if cache_reach(backend) is Reach.PROCESS:
        if testing:
            level = logging.DEBUG
        elif chosen and not _under_gunicorn():
            level = logging.INFO
        else:
            level = logging.WARNING
        kind = type(backend).__name__
        found.append((level, per_process_cache_warning(kind, state.accounts.apis)))
    prefix = prefix_warning(state.settings.url_prefix)
    if prefix is not None:
        found.append((logging.WARNING, prefix))
    store = state.links.store
    if store.reach is Reach.PROCESS:
        found.append((logging.WARNING, in_memory_warning(store.location)))
    ephemeral = store.ephemeral_reason()
    if ephemeral is not None:
        found.append(
            (
                logging.WARNING,
                f"the link store {store.location} {ephemeral}. When it goes, every revocation "
                "goes with it and revoked links open again. Put KASHFLOW_LINKS_REVOCATION_URL "
                "on storage that outlives the application (a mounted volume), or use a "
                "redis:// store with persistence.",
            )
        )
    behind = left_behind(store, instance_path) if instance_path else None
    if behind is not None:
        found.append((logging.WARNING, behind))
    return found


def _under_gunicorn() -> bool:
    # gunicorn's arbiter sets this before it loads the app, in the master and every worker.
    return os.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn/")
