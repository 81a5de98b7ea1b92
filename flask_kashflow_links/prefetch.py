"""Prefetch on mint: a new link's first page is fetched before the client opens it.

Every link is minted through :meth:`.links.service.LinkService.mint` (staff through the Python
API, the CLI or a staff page, and fresh links sent for expired ones), which calls
:meth:`Prefetcher.schedule` once the link is registered. That queues, on the
:class:`~.background.BackgroundPool`, the fetches the link's first page needs:

* an invoice link: the invoice;
* a customer link: the customer's invoice list and the customer (for the statement and the
  fresh-link email), as two jobs that run side by side.

Minting never waits for them and never fails because of them: a fetch that fails is logged by
the pool, and the first open fetches what is missing. Data already fresh costs no call.

A command-line process ends as soon as it has printed the link, so background work would be
lost: the CLI holds the prefetch (:meth:`Prefetcher.held`) and runs it in the foreground
(:meth:`Prefetcher.run_now`), saying what it did.
"""

from __future__ import annotations

import logging
import threading
import typing as t
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

from .accounts import Account
from .accounts import AccountRegistry
from .background import BackgroundPool
from .exceptions import KashFlowAuthError
from .exceptions import KashFlowNotFound
from .fetch import Fetcher
from .kashflow.http import run_together
from .links.claims import LinkClaims

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fetch:
    """One fetch a link's first page needs."""

    #: Coalesces the same fetch for several links.
    key: tuple[str, ...]
    #: For logs: what is fetched (never a link token).
    label: str
    #: The account's cache namespace: its fetches back off together when KashFlow fails.
    group: str
    run: t.Callable[[], object]


class Prefetcher:
    """Fetches newly minted links' first pages into the cache.

    :param fetcher: the fetch layer the pages read from.
    :param accounts: the account each link reads from.
    :param pool: where the fetches run.
    :param enabled: ``KASHFLOW_LINKS_PREFETCH``.
    """

    def __init__(
        self, fetcher: Fetcher, accounts: AccountRegistry, pool: BackgroundPool, *, enabled: bool
    ) -> None:
        self.fetcher = fetcher
        self.accounts = accounts
        self.pool = pool
        self.enabled = enabled
        self._local = threading.local()

    def schedule(self, claims: LinkClaims) -> None:
        """Queue the fetches of a newly minted link's first page (the link service's hook).

        Returns at once and never raises: prefetching is an optimisation.
        """
        if not self.enabled:
            return
        held: list[LinkClaims] | None = getattr(self._local, "held", None)
        if held is not None:
            held.append(claims)
            return
        try:
            fetches = self.fetches(claims)
        except Exception:  # e.g. an account loader failing: the link is minted all the same
            log.exception("no prefetch for link %s", claims.link_id)
            return
        for fetch in fetches:
            self.pool.submit(
                fetch.key,
                partial(self._in_background, fetch.run),
                group=fetch.group,
                label=f"prefetch of {fetch.label}",
            )

    def fetches(self, claims: LinkClaims) -> list[Fetch]:
        """What the first page of the link *claims* shows, as fetches (none when the link's
        account cannot be read here)."""
        account = self._account(claims)
        if account is None:
            return []
        try:
            group = self.fetcher.login_for(account).namespace
        except KashFlowAuthError:
            return []  # no credentials here: the first open will say so
        scope = claims.scope
        if scope.invoice is not None:
            number = scope.invoice
            return [
                Fetch(
                    (group, "inv", str(number)),
                    f"invoice {number}",
                    group,
                    lambda: self.fetcher.invoice(account, number),
                )
            ]
        code = t.cast(str, scope.customer)
        return [
            Fetch(
                (group, "list", code),
                f"the invoices of {code}",
                group,
                lambda: self.fetcher.customer_invoices(account, code),
            ),
            Fetch(
                (group, "cust", code),
                f"customer {code}",
                group,
                lambda: self.fetcher.customer(account, code),
            ),
        ]

    def _account(self, claims: LinkClaims) -> Account | None:
        try:
            return self.accounts.for_link(claims.scope.account, claims.credentials)
        except (LookupError, ValueError):
            log.debug("no prefetch for link %s: unknown account", claims.link_id)
            return None

    def _counted(self, run: t.Callable[[], object]) -> None:
        self.fetcher.stats.add("prefetches")
        run()

    def _in_background(self, run: t.Callable[[], object]) -> None:
        try:
            self._counted(run)
        except KashFlowNotFound:
            # A link to something KashFlow does not have: its first open says so. Not a
            # failure of KashFlow, so nothing backs off.
            log.info("prefetch: KashFlow has no such invoice or customer")

    # -- the command line ----------------------------------------------------------------------

    @contextmanager
    def held(self) -> Iterator[list[LinkClaims]]:
        """Within the block, links minted by this thread are collected in the list it gives
        instead of being prefetched in the background (for :meth:`run_now`)."""
        previous = getattr(self._local, "held", None)
        collected: list[LinkClaims] = []
        self._local.held = collected
        try:
            yield collected
        finally:
            self._local.held = previous

    def run_now(self, claims: LinkClaims) -> int:
        """Prefetch the link *claims* in this thread, its fetches side by side; how many
        fetches that was.

        :raises KashFlowNotFound: KashFlow has no such invoice or customer.
        :raises KashFlowError: a fetch failed (the link works all the same).
        """
        fetches = self.fetches(claims)
        run_together([partial(self._counted, fetch.run) for fetch in fetches])
        return len(fetches)


__all__ = ["Fetch", "Prefetcher"]
