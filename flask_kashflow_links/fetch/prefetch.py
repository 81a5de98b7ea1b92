"""Prefetch on mint: a new link's first page is fetched before the client opens it.

The extension calls :meth:`Prefetcher.schedule` for every link it mints (staff through the
Python API, the CLI or the staff pages, and fresh links sent for expired ones). That queues, on
the :class:`~.background.BackgroundPool`, the fetches the link's first page needs:

* an invoice link: the invoice;
* a customer link: the customer's invoice list and the customer (for the statement and the
  fresh-link email), as two jobs that run side by side.

Minting never waits for them and never fails because of them: a fetch that fails is logged by
the pool, and the first open fetches what is missing. Data already fresh costs no call. A
command, which ends as soon as it has printed the link, mints without the background prefetch
and runs the same fetches in the foreground (:meth:`Prefetcher.run_now`).
"""

from __future__ import annotations

import logging
import typing as t
from functools import partial

from ..config import Account
from ..exceptions import KashFlowAuthError
from ..exceptions import KashFlowNotFound
from ..kashflow.http import run_together
from . import Fetcher
from .background import BackgroundPool

log = logging.getLogger(__name__)


class Prefetcher:
    """Fetches newly minted links' first pages into the cache.

    :param fetcher: the fetch layer the pages read from.
    :param pool: where the fetches run.
    """

    def __init__(self, fetcher: Fetcher, pool: BackgroundPool) -> None:
        self.fetcher = fetcher
        self.pool = pool

    def schedule(
        self, account: Account, *, invoice: int | None = None, customer: str | None = None
    ) -> None:
        """Queue the fetches of the first page of a link to *invoice* or to *customer*'s
        invoices, read from *account*. Returns at once and never raises."""
        try:
            group = self.fetcher.login_for(account).namespace
        except KashFlowAuthError:
            return  # no credentials here: the first open will say so
        for key, label, run in self._fetches(account, group, invoice, customer):
            self.pool.submit(
                key, partial(self._quietly, run), group=group, label=f"prefetch of {label}"
            )

    def run_now(
        self, account: Account, *, invoice: int | None = None, customer: str | None = None
    ) -> int:
        """Fetch the same in this thread, side by side (for a command that ends once the link
        is printed); how many fetches that was.

        :raises KashFlowNotFound: KashFlow has no such invoice or customer.
        :raises KashFlowError: a fetch failed (the link works all the same).
        """
        group = self.fetcher.login_for(account).namespace
        fetches = self._fetches(account, group, invoice, customer)
        run_together([partial(self._counted, run) for _, _, run in fetches])
        return len(fetches)

    def _fetches(
        self, account: Account, group: str, invoice: int | None, customer: str | None
    ) -> list[tuple[tuple[str, ...], str, t.Callable[[], object]]]:
        """``(key, label, fetch)`` of what the first page needs; the key coalesces the same
        fetch for several links."""
        fetcher = self.fetcher
        if invoice is not None:
            return [
                (
                    (group, "inv", str(invoice)),
                    f"invoice {invoice}",
                    partial(fetcher.invoice, account, invoice),
                )
            ]
        if customer is None:
            return []
        return [
            (
                (group, "list", customer),
                f"the invoices of {customer}",
                partial(fetcher.customer_invoices, account, customer),
            ),
            (
                (group, "cust", customer),
                f"customer {customer}",
                partial(fetcher.customer, account, customer),
            ),
        ]

    def _counted(self, run: t.Callable[[], object]) -> None:
        self.fetcher.stats.add("prefetches")
        run()

    def _quietly(self, run: t.Callable[[], object]) -> None:
        try:
            self._counted(run)
        except KashFlowNotFound:
            # A link to something KashFlow does not have: its first open says so. Not a
            # failure of KashFlow, so nothing backs off.
            log.info("prefetch: KashFlow has no such invoice or customer")
