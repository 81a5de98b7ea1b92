"""The client portal: the blueprint, its one door (the guard), pages and presenters.

:mod:`.routes` holds the routes only; each enters the :class:`~.guard.Guard` (throttle, link,
store), then :mod:`.views` or :mod:`.renew` does the work with the data the guard hands out
(data, scope) and :mod:`.pages` renders it. :class:`Portal` is one application's set of these
parts, made by the extension.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint

from ..cache import SafeCache
from ..config import AccountRegistry
from ..config import Settings
from ..fetch import Fetcher
from ..formatting import Formatter
from ..links.service import LinkService
from ..sending import Sender
from .activity import LinkActivity
from .guard import Guard
from .pages import Pages
from .renew import Renewal
from .routes import make_blueprint
from .throttle import Throttle
from .views import Views


@dataclass(frozen=True)
class Portal:
    """One application's portal: the parts its routes use."""

    guard: Guard
    views: Views
    renewal: Renewal
    pages: Pages

    @classmethod
    def build(
        cls,
        settings: Settings,
        accounts: AccountRegistry,
        links: LinkService,
        fetcher: Fetcher,
        shared: SafeCache,
        formatter: Formatter,
        sender: Sender,
        *,
        throttle_key: bytes,
    ) -> Portal:
        """The portal of an application with these *settings* and parts.

        :param throttle_key: the secret that hashes client addresses and link ids in the
            throttle's counters.
        """
        pages = Pages(
            accounts,
            formatter,
            base_template=settings.base_template,
            csp=settings.content_security_policy,
            locale=settings.locale,
            site_brand=settings.brand,
        )
        throttle = Throttle(shared, throttle_key)
        activity = LinkActivity(links)
        guard = Guard(
            links,
            accounts,
            fetcher,
            pages,
            throttle,
            activity,
            throttle_limit=settings.throttle_limit,
            can_renew=settings.mail is not None,
            today=formatter.today,
        )
        views = Views(guard, pages, formatter, activity, page_size=settings.page_size)
        renewal = Renewal(guard, links, pages, formatter, throttle, sender)
        return cls(guard=guard, views=views, renewal=renewal, pages=pages)

    def blueprint(self) -> Blueprint:
        """The blueprint serving this portal (register it once, on its application)."""
        return make_blueprint(self.guard, self.views, self.renewal, self.pages)
