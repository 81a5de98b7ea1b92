"""What clients do with their links: signals, and the register's "last opened" and customer.

GET and HEAD change nothing a client can see: a GET may record "last opened" in the link
register (at most once per interval per link, so a busy page does not write on every view),
a HEAD records nothing and sends no signals (mail scanners and prefetchers send HEADs).
"""

from __future__ import annotations

import logging
import threading
import time
import typing as t

from cachetools import LRUCache
from cachetools import TTLCache
from flask import current_app
from flask import request

from ..exceptions import StoreUnavailable
from ..links.claims import LinkClaims
from ..links.service import LinkService

log = logging.getLogger(__name__)

#: Links whose debounced writes this process remembers (bounded: old entries just write again).
_REMEMBERED = 50_000
#: "Last opened" is recorded at most once per this many seconds per link.
LAST_OPENED_INTERVAL = 60


def notify(signal: t.Any, claims: LinkClaims | None, **extra: t.Any) -> None:
    """Send a signal with the standard payload (never the token; never on HEAD)."""
    if request.method == "HEAD" or not signal.receivers:
        return  # nobody listening: don't even build the payload
    scope = claims.scope if claims else None
    signal.send(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        link_id=claims.link_id if claims else None,
        account=scope.account if scope else None,
        customer=extra.pop("customer", scope.customer if scope else None),
        invoice=extra.pop("invoice", scope.invoice if scope else None),
        scope=scope,
        user_agent=request.user_agent.string,
        **extra,
    )


class LinkActivity:
    """Debounced register writes of this process: "last opened" and learnt customers.

    :param links: the link register's keeper.
    :param interval: record "last opened" at most once per this many seconds per link.
    """

    def __init__(self, links: LinkService, *, interval: int = LAST_OPENED_INTERVAL) -> None:
        self.links = links
        self.interval = interval
        self._lock = threading.Lock()
        self._opened: TTLCache[str, float] = TTLCache(_REMEMBERED, ttl=interval)
        self._learnt: LRUCache[str, bool] = LRUCache(_REMEMBERED)

    def record_open(self, claims: LinkClaims) -> None:
        """Record "last opened" in the register (GET only, at most once per interval)."""
        if request.method != "GET":
            return
        with self._lock:
            if claims.link_id in self._opened:
                return
            self._opened[claims.link_id] = 1.0
        try:
            self.links.record_opened(claims.link_id, time.time())
        except StoreUnavailable:
            log.warning("could not record that link %s was opened", claims.link_id)

    def learn_customer(self, claims: LinkClaims, customer: str) -> None:
        """Register an invoice link under its customer the first time it is opened (GET)."""
        if not claims.scope.is_invoice or not customer or request.method != "GET":
            return
        with self._lock:
            if claims.link_id in self._learnt:
                return
            self._learnt[claims.link_id] = True
        try:
            self.links.learn_customer(claims.link_id, customer)
        except StoreUnavailable:
            log.warning("could not register the customer of link %s", claims.link_id)
