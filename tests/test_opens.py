"""Opened by the client, or only checked by a mail scanner.

Mail security services (Microsoft Safe Links, Mimecast, Proofpoint...) fetch every link of a
message within seconds of its delivery. A fetch is a check, not the client opening the link,
when its user agent is a link checker's, or when it comes within ``SCANNER_WINDOW`` (60 s) of
the link's last send; any other ``GET`` is the client's opening, and a ``HEAD`` records
nothing. Both stores (SQLite and Redis) judge alike. Time is frozen and moved by the tests.
"""

from __future__ import annotations

import re
import typing as t
from collections.abc import Iterator
from datetime import datetime
from datetime import timedelta
from datetime import timezone

import pytest
from flask import Flask

from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links import Link
from flask_kashflow_links import LinkRecord
from flask_kashflow_links.links.store.base import SCANNER_WINDOW
from flask_kashflow_links.portal.activity import is_link_checker
from flask_kashflow_links.testing import KashFlowSandbox

from .helpers import Clock
from .helpers import in_the_past
from .helpers import make_app
from .helpers import mint
from .helpers import path
from .helpers import portal_config
from .helpers import registered
from .helpers import renew

BROWSER = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
#: User agents of software fetching links nobody clicked.
CHECKERS = [
    "",
    "Mimecast/1.0 URL Protect",
    "Proofpoint URL Defense",
    "Mozilla/5.0 (compatible; BarracudaCentral/1.0)",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)",
    "Microsoft Office Existence Discovery",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Slackbot 1.0 (+https://api.slack.com/robots)",
    "WhatsApp/2.23.20.0 A",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "TelegramBot (like TwitterBot)",
    "python-requests/2.31.0",
    "curl/8.5.0",
    "Go-http-client/1.1",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/120.0.0.0 Safari/537.36",
]
#: People's browsers, phones included (one whose model name ends in "bot").
BROWSERS = [
    BROWSER,
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.6367.113 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 12; KingKong 9 Build/SP1A.210812.016; wv) "
    "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.230 Mobile "
    "Safari/537.36",
]


@pytest.mark.parametrize("user_agent", CHECKERS)
def test_link_checkers_by_their_user_agent(user_agent: str) -> None:
    assert is_link_checker(user_agent)


@pytest.mark.parametrize("user_agent", BROWSERS)
def test_people_s_browsers(user_agent: str) -> None:
    assert not is_link_checker(user_agent)


# -- what the register records ---------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "redis"])
def portal(
    request: pytest.FixtureRequest, tmp_path: t.Any, sandbox: KashFlowSandbox
) -> Iterator[Flask]:
    """A portal mailing to a list, its link store SQLite or Redis."""
    store = {}
    if request.param == "redis":
        store["revocation_url"] = request.getfixturevalue("redis_url")
    outbox: list[t.Any] = []
    app = make_app(tmp_path, **portal_config(sandbox, mail=outbox.append, **store))
    app.outbox = outbox  # type: ignore[attr-defined]  # the messages mailed, for a test to read
    with app.app_context():
        yield app


def fetch(app: Flask, link: Link, user_agent: str = BROWSER, method: str = "GET") -> datetime:
    """Fetch *link* as *user_agent*; when (the request's time)."""
    at = datetime.now(timezone.utc)
    response = app.test_client().open(path(link), method=method, headers={"User-Agent": user_agent})
    assert response.status_code == 200
    return at


def record_of(link: Link) -> LinkRecord:
    record = registered(link)
    assert record is not None
    return record


def sent(link: Link) -> datetime:
    """Email *link* to its customer; when (the register's send time)."""
    return KashFlowLinks().send(link).sent_at


def test_a_known_checker_is_a_check_whenever_it_comes(portal: Flask, clock: Clock) -> None:
    link = mint(portal, "customer", code="ACME01")
    sent(link)
    checked = fetch(portal, link, "Mimecast/1.0 URL Protect")
    record = record_of(link)
    assert record.last_checked_at is not None and record.last_checked_at >= checked
    assert record.last_opened_at is None and not record.opened_by_client
    clock.tick(3 * 3600)  # hours later: still a checker's fetch
    fetch(portal, link, "Proofpoint URL Defense")
    assert record_of(link).last_opened_at is None
    assert record_of(link).last_checked_at > record.last_checked_at  # type: ignore[operator]


def test_a_fetch_within_a_minute_of_the_send_is_a_check(portal: Flask, clock: Clock) -> None:
    """A scanner dressed as a browser right after delivery is a check; the next fetch after
    the minute, the client's own opening (the first one is not allowed to hide it)."""
    link = mint(portal, "customer", code="ACME01")
    when = sent(link)
    clock.tick(5)
    fetch(portal, link)
    clock.tick(50)  # 55 s after the send: another scanner, or the same again
    fetch(portal, link)
    record = record_of(link)
    assert record.last_sent_at == when
    assert record.last_checked_at is not None and record.last_opened_at is None
    assert not record.opened_by_client

    # 61 s after the send: past the minute, though within a minute of the first fetch (which
    # must not keep this one from being recorded as the client's).
    clock.tick(6)
    opened = fetch(portal, link)
    record = record_of(link)
    assert record.opened_by_client
    assert record.last_opened_at is not None and record.last_opened_at >= opened
    assert record.last_opened_at - when >= timedelta(seconds=SCANNER_WINDOW)


def test_the_minute_is_the_last_send_s(portal: Flask, clock: Clock) -> None:
    link = mint(portal, "customer", code="ACME01")
    fetch(portal, link)  # before any send: the client (the link was given by hand)
    first = record_of(link).last_opened_at
    assert first is not None
    clock.tick(3600)
    sent(link)  # sent again later: the register keeps the client's opening
    clock.tick(2)
    fetch(portal, link)
    record = record_of(link)
    assert record.last_opened_at == first and record.last_checked_at is not None
    clock.tick(3600)
    fetch(portal, link)
    assert record_of(link).last_opened_at > first  # type: ignore[operator]


def test_head_records_nothing(portal: Flask, clock: Clock) -> None:
    link = mint(portal, "customer", code="ACME01")
    sent(link)
    fetch(portal, link, method="HEAD")
    clock.tick(3600)
    fetch(portal, link, method="HEAD")
    record = record_of(link)
    assert record.last_checked_at is None and record.last_opened_at is None


def test_active_links_show_sent_checked_and_opened(portal: Flask, clock: Clock) -> None:
    links = KashFlowLinks()
    never_sent = mint(portal, "customer", code="TCUST01")
    only_checked = mint(portal, "customer", code="ACME01")
    opened = mint(portal, number=1043)
    for link in (only_checked, opened):
        sent(link)
        fetch(portal, link, "Mozilla/5.0 (compatible; BarracudaCentral/1.0)")
    clock.tick(600)
    fetch(portal, opened)
    records = {r.link_id: r for r in links.active_links()}
    assert records[never_sent.link_id].last_sent_at is None
    assert not records[never_sent.link_id].opened_by_client
    checked = records[only_checked.link_id]
    assert checked.last_sent_at is not None and checked.last_checked_at is not None
    assert not checked.opened_by_client and checked.last_opened_at is None
    client = records[opened.link_id]
    assert client.opened_by_client and client.last_sent_at is not None
    assert client.last_opened_at > client.last_sent_at  # type: ignore[operator]


def test_a_fresh_link_emailed_on_renewal_is_a_send(portal: Flask, clock: Clock) -> None:
    """ "Email me a fresh link" sends a link like any other: recorded, and a fetch right after
    its delivery is a check."""
    with in_the_past():
        old = mint(portal, "customer", code="ACME01", expires_in=60)
    assert renew(portal, old).status_code == 200
    (fresh,) = [r for r in KashFlowLinks().active_links() if r.link_id != old.link_id]
    assert fresh.last_sent_to == ("accounts@acme-trading.test",)
    assert fresh.last_sent_at is not None
    (message,) = portal.outbox  # type: ignore[attr-defined]
    url = re.search(r"http://portal\.example\.test/\S+", message.get_body(("plain",)).get_content())
    assert url is not None
    clock.tick(3)
    portal.test_client().get(path(url[0]), headers={"User-Agent": BROWSER})
    (record,) = [r for r in KashFlowLinks().active_links() if r.link_id == fresh.link_id]
    assert record.last_checked_at is not None and not record.opened_by_client
