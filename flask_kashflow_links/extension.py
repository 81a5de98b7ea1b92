"""The :class:`KashFlowLinks` extension: ``init_app`` and the staff API."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Flask
from flask_caching import Cache
from jinja2 import TemplateError
from jinja2 import TemplateNotFound

from . import redaction
from .cli import cli_group
from .config import DEFAULT_BASE_TEMPLATE
from .config import Settings
from .config import load_settings
from .exceptions import ConfigurationError
from .kashflow.backend import Credentials
from .links.claims import LinkClaims
from .links.claims import Scope
from .links.link import Link
from .links.store import LinkRecord
from .portal import blueprint
from .portal import build_portal
from .portal.pages import protect_portal_paths
from .startup import warn_at_startup
from .state import EXTENSION_KEY
from .state import build_state
from .state import check_key_spaces
from .state import get_state

log = logging.getLogger(__name__)


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
                "(use get_state(app), or the KashFlowLinks object you made, to reach it)."
            )
        settings = load_settings(app)
        self._check_base_template(app, settings)
        cache = self._make_cache(app, settings)
        state = build_state(settings, cache)
        check_key_spaces(app.extensions.get("cache", {}).get(cache), state.links.store)
        app.extensions[EXTENSION_KEY] = state
        state.portal = build_portal(state)
        app.register_blueprint(blueprint, url_prefix=settings.url_prefix)
        # Every response under the portal's paths, the host's own 404 and 405 pages included.
        app.after_request(protect_portal_paths(settings.url_prefix))
        # Flask logs an unhandled error with the request's path, which holds the link token.
        redaction.install((app.logger.name,))
        if settings.redact_access_logs:
            redaction.install()
        if "kashflow-links" not in app.cli.commands:
            app.cli.add_command(cli_group)
        warn_at_startup(app, state, cache_chosen=self._cache_chosen(app))

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

    def _cache_chosen(self, app: Flask) -> bool:
        """Whether the site chose the portal's cache (rather than taking the default)."""
        chosen = app.config.get("KASHFLOW_LINKS_CACHE") or {}
        return self._cache is not None or bool(chosen.get("CACHE_TYPE"))

    def _make_cache(self, app: Flask, settings: Settings) -> Cache:
        if self._cache is not None:
            return self._cache
        # A private cache (flask-caching's own suggestion for a blueprint or library), so the
        # host's cache settings and ours never collide.
        cache = Cache(with_jinja2_ext=False, config=settings.cache_config)
        cache.init_app(app, config=settings.cache_config)
        return cache

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
    ) -> Link:
        """Mint a link to one invoice.

        :param number: the KashFlow invoice number.
        :param account: the account id; default ``KASHFLOW_LINKS_DEFAULT_ACCOUNT``.
        :param expires_in: optional lifetime (timedelta or seconds); permanent by default.
        :param credentials: embed mode only: credentials to carry instead of the account's.
        :param customer: the invoice's customer code, if known, so the link is listed under the
            customer at once (otherwise it is learnt when the link is first opened).
        :param verify: first ask KashFlow whether the invoice exists (and whose it is: that
            fills in *customer*, or is checked against it). Nothing is minted unless KashFlow,
            or data cached from it, says so.
        :raises KashFlowNotFound: with *verify*: no such invoice, or not *customer*'s.
        :raises KashFlowError: with *verify*: KashFlow could not be asked.
        """
        state = get_state()
        service = state.links
        scope = Scope.for_invoice(service.account_id(account), number)
        if verify:
            customer = state.confirm(scope, customer=customer, credentials=credentials)
        return service.mint(
            scope, expires_in=expires_in, credentials=credentials, customer=customer
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
    ) -> Link:
        """Mint a link to a customer's invoices.

        :param code: the KashFlow customer code.
        :param status: ``"all"``, ``"unpaid"`` (Unpaid and Overdue), ``"overdue"`` or ``"paid"``
            (Paid and Overpaid). Anything else raises :class:`ValueError`.
        :param verify: first ask KashFlow whether the customer exists; nothing is minted
            unless KashFlow, or data cached from it, says so.
        :raises KashFlowNotFound: with *verify*: no such customer.
        :raises KashFlowError: with *verify*: KashFlow could not be asked.
        """
        state = get_state()
        service = state.links
        scope = Scope.for_customer(service.account_id(account), code, status)
        if verify:
            state.confirm(scope, credentials=credentials)
        return service.mint(scope, expires_in=expires_in, credentials=credentials)

    # -- withdrawing ---------------------------------------------------------------------------

    def link_id_of(self, token_or_link_id: str) -> str:
        """The link id of a token (even an expired one) or of a link id; :class:`ValueError`."""
        return get_state().links.link_id_of(token_or_link_id)

    def revoke(self, token_or_link_id: str) -> bool:
        """Withdraw one link at once, for every process sharing the store.

        Accepts the token (or the whole URL's last segment) or the link id. Returns whether the
        link was in the register (a link id unknown to the register is still withdrawn).
        """
        return get_state().links.revoke(token_or_link_id)

    def revoke_customer(self, code: str, *, account: str | None = None) -> int:
        """Withdraw every link for customer *code* minted until now, invoice links included.

        Returns how many registered links this withdrew. Links minted afterwards work.
        """
        return get_state().links.revoke_customer(code, account=account)

    def active_links(
        self, *, customer: str | None = None, account: str | None = None, limit: int | None = None
    ) -> list[LinkRecord]:
        """Live links, newest first (at most *limit*): not revoked, not expired. Never
        includes link tokens."""
        return get_state().links.active_links(customer=customer, account=account, limit=limit)

    def verify(self, token: str) -> LinkClaims:
        """Verify *token* as the portal does (signature, encryption, expiry, revocation).

        :raises LinkInvalid, LinkExpired, LinkRevoked: see :mod:`.exceptions`.
        """
        return get_state().links.verify(token)


__all__ = ["KashFlowLinks"]
