"""What clients do with their links: signals, and the register's "last opened" and customer.

GET and HEAD change nothing a client can see: a GET may record "last opened" in the link
register (at most once per interval per link, so a busy page does not write on every view;
a browser's fetch the store took for a check is not counted in that interval, so the client's
own opening just after is recorded), a HEAD records nothing and sends no signals (mail
scanners and prefetchers send HEADs).

**The client, or a mail system's link checker?** Microsoft Safe Links, Mimecast, Proofpoint and
their like fetch every link in an email within seconds of its delivery. A fetch counts as a
check, not as the client opening the link, when its user agent is a known checker or not a
person's browser (:func:`is_link_checker`), or when it comes within a minute of the link being
sent (the store judges that, against the link's last send). Staff see "opened by the client"
only for the other fetches. The rule cannot be sure: a checker dressed as a browser after the
first minute counts as the client, and a client who clicks within the minute counts as a check
until they open it again.
"""

from __future__ import annotations

import logging
import re
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
#: User agents of link checkers and other software that fetch links no person clicked: mail
#: security services, previews of chat and office software, command-line and library clients,
#: and crawlers. Matched against the lower-cased user agent: twelve times quicker than
#: ``re.IGNORECASE`` on a browser's (2 µs, not 27 µs, on every page a client opens).
LINK_CHECKERS = re.compile(
    # "bot" ends a crawler's name ("Googlebot/2.1", "Slackbot-LinkExpanding", "TwitterBot)"),
    # not a phone's model ("CUBOT X30"); crawlers also name a page about them ("+https://...").
    r"bot(?:[/\-;)]|$)|\+https?://|crawl|spider|slurp|preview|scan|check|safe ?links|"
    r"mimecast|proofpoint|"
    r"barracuda|ironport|symantec|forcepoint|trend ?micro|sophos|fireeye|mcafee|"
    r"microsoft office|ms-office|outlook-|skypeuri|whatsapp|facebookexternalhit|"
    r"headless|phantomjs|python|curl|wget|libwww|go-http|java/|okhttp|axios|node-fetch|"
    r"httpclient|http_request"
)


def is_link_checker(user_agent: str) -> bool:
    """Whether *user_agent* is software that fetches links nobody clicked (a mail security
    service, a preview, a crawler, a script), or says nothing at all."""
    return not user_agent.strip() or bool(LINK_CHECKERS.search(user_agent.lower()))


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
        scanner=is_link_checker(request.user_agent.string),
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
        # The clock is looked up on every call (not bound once), so that frozen test clocks
        # apply.
        self._opened: TTLCache[tuple[str, bool], float] = TTLCache(
            _REMEMBERED, ttl=interval, timer=lambda: time.monotonic()
        )
        self._learnt: LRUCache[str, bool] = LRUCache(_REMEMBERED)

    def record_open(self, claims: LinkClaims) -> None:
        """Record "last opened" in the register (GET only, at most once per interval)."""
        if request.method != "GET":
            return
        scanner = is_link_checker(request.user_agent.string)
        # A checker's fetch must not keep the client's own opening from being recorded.
        seen = (claims.link_id, scanner)
        with self._lock:
            if seen in self._opened:
                return
            self._opened[seen] = 1.0
        try:
            opened = self.links.record_opened(claims.link_id, time.time(), scanner=scanner)
        except StoreUnavailable:
            log.warning("could not record that link %s was opened", claims.link_id)
            return
        if opened is False and not scanner:
            # A browser's fetch the store took for a check, coming so soon after a send: the
            # next fetch, past that minute, may be the client's own, and must be recorded.
            with self._lock:
                self._opened.pop(seen, None)

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
