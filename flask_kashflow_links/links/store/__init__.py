"""The revocation store and link register: SQLite by default, Redis for several hosts.

The store is the durable state behind permanent links:

* revoked link ids (``revoke(link_id)``);
* per-customer "revoked before" times (``revoke_customer``): every link of that customer minted
  until then is revoked, invoice links included once their invoice's customer is known;
* a register of minted links (id, account, scope, minted, expires, last opened; never the token
  or a credential) so staff can see what is live and revoke one link.

It is not a cache: nothing here expires on its own, and losing the cache never un-revokes a link.
Any failure to reach the store raises :class:`~flask_kashflow_links.StoreUnavailable`, and the
portal then refuses links (fail closed) rather than admitting one it could not check.

Backends live one per module, like flask-caching's ``backends/``: :mod:`.sqlite` and
:mod:`.redis`, both implementing :class:`.base.RevocationStore`.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from ...config import DEFAULT_STORE_FILE
from ...config import redact_url
from ...exceptions import StoreUnavailable
from .base import LinkRecord as LinkRecord
from .base import RevocationStore as RevocationStore
from .base import StoreContents as StoreContents
from .redis import RedisStore as RedisStore
from .sqlite import IN_MEMORY
from .sqlite import SQLiteStore as SQLiteStore

#: The fix for a store that does not reach every host.
REDIS_STORE_FIX = 'KASHFLOW_LINKS_REVOCATION_URL = "redis://localhost:6379/2"'


def in_memory_warning(location: str) -> str:
    """What a store kept in one process's memory breaks, and the fix."""
    return (
        f"The link store {location} is kept in this process's memory: revoked links open "
        "again after a restart, other processes never see a revocation, and the register "
        "forgets every link. Use a file (sqlite:////var/lib/mysite/kashflow_links.sqlite3) "
        f"or, for several hosts, {REDIS_STORE_FIX}."
    )


#: The URL schemes of the stores.
SCHEMES = ("sqlite", "redis", "rediss", "unix")


def url_problem(url: str) -> str | None:
    """What is wrong with *url* as a link store's URL, or ``None``."""
    scheme = urlsplit(url).scheme
    if scheme not in SCHEMES:
        return (
            f"{redact_url(url)!r} is not a link store's URL: use sqlite:///path/to/file or "
            "redis://host:6379/0"
        )
    if scheme == "sqlite" and not url.startswith("sqlite:///"):
        return "write SQLite URLs as sqlite:///relative or sqlite:////absolute"
    if scheme == "sqlite" and url[len("sqlite:///") :] in IN_MEMORY:
        return "a SQLite store in memory belongs to one process: give a file"
    return None


def open_store(url: str, *, read_only: bool = False) -> RevocationStore:
    """Open the store named by a ``KASHFLOW_LINKS_REVOCATION_URL``; with *read_only*, a SQLite
    file is read as it is (it must exist) and never written.

    :raises ValueError: not a store's URL (see :func:`url_problem`).
    """
    if urlsplit(url).scheme == "sqlite" and url.startswith("sqlite:///"):
        # In memory too: the configuration allows it (with a start-up warning).
        return SQLiteStore.from_url(url, read_only=read_only)
    problem = url_problem(url)
    if problem is not None:
        raise ValueError(problem)
    return RedisStore(url)


def same_store(store: RevocationStore, url: str) -> bool:
    """Whether *url* names *store* itself (the same SQLite file, or the same Redis URL)."""
    if isinstance(store, SQLiteStore):
        if store.path in IN_MEMORY or not url.startswith("sqlite:///"):
            return False
        return os.path.realpath(url[len("sqlite:///") :]) == os.path.realpath(store.path)
    # A Redis store's location is its URL without the password: the same server and database.
    return isinstance(store, RedisStore) and redact_url(url) == store.location


def described(counts: dict[str, int]) -> str:
    """Counts of :meth:`StoreContents.counts` or :meth:`Merged.counts` in words
    ("3 links, 1 revocation, ..."); ``"nothing"`` when all are 0."""
    words = {
        "links": ("link", "links"),
        "revoked": ("revocation", "revocations"),
        "cutoffs": ("customer cut-off", "customer cut-offs"),
        "sends": ("send", "sends"),
        "reminders": ("reminder time", "reminder times"),
    }
    said = [f"{n} {words[kind][n != 1]}" for kind, n in counts.items() if n]
    return ", ".join(said) or "nothing"


def left_behind(store: RevocationStore, instance_path: str) -> str | None:
    """A warning when *store* holds nothing but the default store's file in the instance
    folder holds links, revocations or cut-offs: a move to another store (Redis, say) that
    did not copy them, so the links withdrawn there open again. ``None`` otherwise, and when
    either cannot be read (the file is only ever read, never created or upgraded)."""
    path = os.path.join(instance_path, DEFAULT_STORE_FILE)
    if not os.path.isfile(path):
        return None
    if same_store(store, "sqlite:///" + path):
        return None
    old = SQLiteStore(path, read_only=True)
    try:
        if not store.is_empty() or old.is_empty():
            return None
        held = old.contents()
    except StoreUnavailable:
        return None
    finally:
        old.close()
    return (
        f"the link store {store.location} is empty, but {old.location} (the default store "
        f"this site used before) holds {described(held.counts())}: links withdrawn there "
        "open again here, and the links minted there are missing from the register. Copy "
        "them (safe to rerun):\n"
        f"    flask kashflow-links store copy --from {old.location}"
    )
