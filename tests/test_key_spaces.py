"""A Redis cache and the Redis link store in one database, and clocks that disagree.

Revocations are state the cache must never touch: clearing the cache (cachelib deletes every
key with its prefix, or the whole database with none) must leave each one in place, and a
cache whose prefix overlaps the store's is refused at start-up. Customer cut-offs are ordered
by the store's clock, not by the clocks of the hosts that mint and withdraw.
"""

from __future__ import annotations

import re
import typing as t
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask_caching import Cache
from freezegun import freeze_time

from flask_kashflow_links import ConfigurationError
from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links import LinkRevoked
from flask_kashflow_links.links.store import RedisStore

from .helpers import FERNET_KEY
from .helpers import SECRET_KEY
from .helpers import internals
from .helpers import make_app

pytestmark = pytest.mark.redis


def redis_cache(url: str, **config: t.Any) -> dict[str, t.Any]:
    return {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": url, **config}


def test_clearing_a_redis_cache_in_the_stores_database_leaves_every_revocation(
    tmp_path: Path, redis_url: str
) -> None:
    app = make_app(tmp_path, cache=redis_cache(redis_url), revocation_url=redis_url)
    links = KashFlowLinks()
    server = redis.Redis.from_url(redis_url)
    with app.app_context():
        by_id = links.mint_invoice(1043)
        links.revoke(by_id.link_id)
        by_customer = links.mint_customer("TCUST01", status="unpaid")
        invoice_of_customer = links.mint_invoice(1044, customer="TCUST01")
        links.revoke_customer("TCUST01")
        live = links.mint_customer("TCUST02")
        cache = internals().cache
        cache.set("something", "cached")
        store_keys = sorted(server.keys(RedisStore.PREFIX + "*"))
        assert store_keys

        cache.clear()

        assert cache.get("something") is None  # the cache was cleared...
        assert sorted(server.keys(RedisStore.PREFIX + "*")) == store_keys  # ...not the store
        for withdrawn in (by_id, by_customer):
            with pytest.raises(LinkRevoked):
                links.verify(withdrawn.token)
        with pytest.raises(LinkRevoked):
            internals().links.raise_if_revoked(
                links.verify(invoice_of_customer.token), customer="TCUST01"
            )
        assert links.verify(live.token).link_id == live.link_id


@pytest.mark.parametrize(
    ("prefix", "says"),
    [
        ("kfl:", "deletes every key matching 'kfl:*'"),
        ("", "FLUSHDB"),
        ("k", "deletes every key matching 'k*'"),
        ("kfl:rev:", "overlaps"),
        ("kfl:rev:cache:", "overlaps"),
        # A pattern character matches more than it spells (KEYS kf?:*, and so on).
        ("kf?:", "deletes every key matching 'kf?:*'"),
        ("kfl*", "overlaps"),
        ("[k]fl:", "overlaps"),
        ("kfl\\:", "overlaps"),
    ],
)
def test_a_cache_prefix_overlapping_the_stores_keys_is_refused(
    tmp_path: Path, redis_url: str, prefix: str, says: str
) -> None:
    cache = redis_cache(redis_url, CACHE_KEY_PREFIX=prefix)
    with pytest.raises(ConfigurationError) as caught:
        make_app(tmp_path, cache=cache, revocation_url=redis_url)
    message = str(caught.value)
    assert caught.value.key == "KASHFLOW_LINKS_CACHE"
    assert says in message and "every revocation" in message and "kfl:cache:" in message


def test_a_shared_cache_passed_in_is_checked_too(tmp_path: Path, redis_url: str) -> None:
    app = Flask("host", instance_path=str(tmp_path / "host"))
    app.config.update(
        SECRET_KEY=SECRET_KEY,
        KASHFLOW_LINKS_FERNET_KEYS=[FERNET_KEY],
        KASHFLOW_LINKS_REVOCATION_URL=redis_url,
    )
    cache = Cache(app, config=redis_cache(redis_url, CACHE_KEY_PREFIX=""))
    with pytest.raises(ConfigurationError, match="FLUSHDB"):
        KashFlowLinks(app, cache=cache)


@pytest.mark.parametrize(
    "cache",
    [
        {},  # the default prefix
        {"CACHE_KEY_PREFIX": "site:"},
        {"CACHE_KEY_PREFIX": "kfl:", "database": 1},
        {"CACHE_KEY_PREFIX": "", "database": 2},
    ],
)
def test_separate_prefixes_or_databases_start(
    tmp_path: Path, redis_url: str, cache: dict[str, t.Any]
) -> None:
    database = cache.pop("database", 0)
    url = re.sub(r"/\d*$", f"/{database}", redis_url)
    make_app(tmp_path, cache=redis_cache(url, **cache), revocation_url=redis_url)


# -- clocks --------------------------------------------------------------------------------------


def test_revoke_customer_is_ordered_by_the_stores_clock_not_the_hosts(
    tmp_path: Path, redis_url: str
) -> None:
    app = make_app(tmp_path, revocation_url=redis_url)
    links = KashFlowLinks()
    now = datetime.now(timezone.utc)
    with app.app_context():
        # A host whose clock runs a minute fast mints a link; a revocation follows.
        with freeze_time(now + timedelta(minutes=1), tick=True):
            before = links.mint_customer("TCUST01")
        assert links.revoke_customer("TCUST01") == 1
        with pytest.raises(LinkRevoked):
            links.verify(before.token)
        # A host whose clock runs a minute slow mints after the revocation: the link works.
        with freeze_time(now - timedelta(minutes=1), tick=True):
            after = links.mint_customer("TCUST01")
        assert links.verify(after.token).link_id == after.link_id
        assert [r.link_id for r in links.active_links(customer="TCUST01")] == [after.link_id]
