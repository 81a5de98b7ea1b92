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

from urllib.parse import urlsplit

from .base import LinkRecord as LinkRecord
from .base import RevocationStore as RevocationStore
from .redis import RedisStore as RedisStore
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


def open_store(url: str) -> RevocationStore:
    """Open the store named by a ``KASHFLOW_LINKS_REVOCATION_URL``."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        return SQLiteStore.from_url(url)
    return RedisStore(url)
