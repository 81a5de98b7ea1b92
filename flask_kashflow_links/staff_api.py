"""The staff API as the front ends call it: the methods of
:class:`~flask_kashflow_links.KashFlowLinks` the CLI and the staff pages use, as a protocol.

The front ends sit below the extension and may not import it; ``init_app`` hands each the
per-app object whose ``extension`` is of this type, so mypy holds the extension to it, and a
command or a page does exactly what the same Python call does.
"""

from __future__ import annotations

import typing as t
from datetime import timedelta

from .fetch.owing import CustomerSummary
from .kashflow.models import Invoice
from .links.link import Link
from .links.store.base import LinkRecord
from .sending import Reminder
from .sending import Reminders
from .sending import Sent


class StaffAPI(t.Protocol):
    """What the commands and the staff pages call of the application's extension."""

    def mint_invoice(
        self,
        number: int,
        *,
        account: str | None = None,
        expires_in: timedelta | int | None = None,
        customer: str | None = None,
        verify: bool = False,
        prefetch: bool | None = None,
    ) -> Link: ...

    def mint_customer(
        self,
        code: str,
        *,
        status: str = "all",
        account: str | None = None,
        expires_in: timedelta | int | None = None,
        verify: bool = False,
        prefetch: bool | None = None,
    ) -> Link: ...

    def link_id_of(self, token_or_link_id: str) -> str: ...

    def revoke(self, token_or_link_id: str) -> bool: ...

    def revoke_customer(self, code: str, *, account: str | None = None) -> int: ...

    def active_links(
        self, *, customer: str | None = None, account: str | None = None, limit: int | None = None
    ) -> list[LinkRecord]: ...

    def customers(
        self, *, owing: str | None = None, account: str | None = None
    ) -> list[CustomerSummary]: ...

    def invoices(
        self, customer: str, *, status: str = "all", account: str | None = None
    ) -> list[Invoice]: ...

    def send(self, link: Link | str, *, to: t.Sequence[str] | None = None) -> Sent: ...

    def remind(
        self,
        *,
        status: str = "overdue",
        every: timedelta = timedelta(days=7),
        customers: t.Collection[str] | None = None,
        account: str | None = None,
        dry_run: bool = False,
        progress: t.Callable[[Reminder], object] | None = None,
    ) -> Reminders: ...
