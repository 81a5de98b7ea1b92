"""Assembling the portal's parts for one application, on top of its :class:`~..state.State`."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from ..state import State
from ..state import get_state
from .activity import LinkActivity
from .guard import Guard
from .pages import Pages
from .presenters import Formatter
from .renew import Renewal
from .throttle import Throttle
from .views import Views


@dataclass(frozen=True)
class Portal:
    """The parts the routes use."""

    guard: Guard
    pages: Pages
    views: Views
    renewal: Renewal


def build_portal(state: State) -> Portal:
    """The portal of the application whose state is *state*."""
    settings = state.settings
    formatter = Formatter(settings.locale, settings.timezone)
    pages = Pages(
        state.accounts,
        formatter,
        base_template=settings.base_template,
        csp=settings.content_security_policy,
        locale=settings.locale,
        site_brand=settings.brand,
    )
    throttle = Throttle(state.safe_cache, state.links.codec.derive_key("throttle"))
    activity = LinkActivity(state.links.store, interval=settings.last_opened_interval)
    guard = Guard(
        state.links,
        state.accounts,
        state.fetcher,
        pages,
        throttle,
        activity,
        throttle_limit=settings.throttle_limit,
        throttle_window=settings.throttle_window,
        can_renew=settings.mail is not None,
        today=formatter.today,
    )
    views = Views(guard, state.fetcher, pages, formatter, activity, page_size=settings.page_size)
    renewal = Renewal(
        guard,
        state.links,
        state.fetcher,
        pages,
        formatter,
        throttle,
        mail=settings.mail,
        limit_per_address=settings.renew_limit_per_address,
        limit_per_link=settings.renew_limit_per_link,
    )
    return Portal(guard=guard, pages=pages, views=views, renewal=renewal)


def get_portal() -> Portal:
    """The portal of the current application."""
    return t.cast(Portal, get_state().portal)


__all__ = ["Portal", "build_portal", "get_portal"]
