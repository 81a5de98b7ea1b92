"""What the staff pages read of an application's portal, as protocols the extension is held to.

The staff blueprint is made once (:meth:`~flask_kashflow_links.KashFlowLinks.staff_blueprint`)
and may be registered on any application the extension was initialised on, so its routes find
their parts per request, in the current application's per-app object, as the CLI does:
``init_app`` assigns that object to a variable of type :class:`Parts`, so mypy holds the two
together.
"""

from __future__ import annotations

import typing as t
from datetime import timedelta

from flask import current_app

from ..config import EXTENSION_KEY
from ..config import Settings
from ..fetch.owing import CustomerSummary
from ..kashflow.models import Invoice
from ..links.link import Link
from ..links.store.base import LinkRecord
from ..sending import Reminders
from ..sending import Sent


class StaffAPI(t.Protocol):
    """What the pages call of the application's :class:`~flask_kashflow_links.KashFlowLinks`:
    the staff API itself, so a page does exactly what the same Python call does."""

    def customers(
        self, *, owing: str | None = None, account: str | None = None
    ) -> list[CustomerSummary]: ...

    def invoices(
        self, customer: str, *, status: str = "all", account: str | None = None
    ) -> list[Invoice]: ...

    def mint_invoice(
        self,
        number: int,
        *,
        account: str | None = None,
        expires_in: timedelta | int | None = None,
        customer: str | None = None,
        verify: bool = False,
    ) -> Link: ...

    def mint_customer(
        self,
        code: str,
        *,
        status: str = "all",
        account: str | None = None,
        expires_in: timedelta | int | None = None,
        verify: bool = False,
    ) -> Link: ...

    def send(self, link: Link | str, *, to: t.Sequence[str] | None = None) -> Sent: ...

    def remind(
        self,
        *,
        status: str = "overdue",
        every: timedelta = timedelta(days=7),
        customers: t.Collection[str] | None = None,
        account: str | None = None,
        dry_run: bool = False,
    ) -> Reminders: ...

    def active_links(
        self, *, customer: str | None = None, account: str | None = None, limit: int | None = None
    ) -> list[LinkRecord]: ...

    def revoke(self, token_or_link_id: str) -> bool: ...

    def revoke_customer(self, code: str, *, account: str | None = None) -> int: ...


class Parts(t.Protocol):
    """What the staff pages read of the per-app object the extension keeps in
    ``app.extensions["kashflow_links"]``."""

    @property
    def extension(self) -> StaffAPI:
        """The staff API of the app's :class:`~flask_kashflow_links.KashFlowLinks`."""

    @property
    def settings(self) -> Settings:
        """The validated configuration: the layout, brand, locale and time zone."""


def parts() -> Parts:
    """The current application's parts.

    :raises RuntimeError: the extension is not initialised on the current application.
    """
    found = current_app.extensions.get(EXTENSION_KEY)
    if found is None:
        raise RuntimeError(
            "KashFlowLinks is not initialised on this app: call KashFlowLinks(app) or "
            "links.init_app(app) before registering the staff blueprint."
        )
    return t.cast(Parts, found)
