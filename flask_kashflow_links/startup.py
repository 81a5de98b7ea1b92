"""The start-up checks and warnings, and what the portal's processes share.

:meth:`KashFlowLinks.init_app <flask_kashflow_links.KashFlowLinks.init_app>` calls
:func:`warn_at_startup` once the state is assembled: settings that work, but that will hurt in
production, are logged on the ``flask_kashflow_links`` logger. A setting that cannot work at
all is not a warning: :mod:`.config` refuses it.

**What the processes share.**
The portal keeps two kinds of state outside the request: the **cache** (data fetched from
KashFlow, the KashFlow session token, the login pause, single-flight locks and throttle
counters) and the **link store** (withdrawn links and the register). How far each reaches
decides what several workers or hosts see of one another:

* a per-process cache (``SimpleCache``, the default) means one KashFlow login per process, a
  login pause that only the process meeting a refused login honours (so a wrong password costs
  one failed login per process, and ``flask kashflow-links check`` neither sees the workers'
  pause nor leaves its session token for them), and throttle limits multiplied by the number
  of processes;
* a per-host store (a SQLite file) withdraws a link at once for every worker of the host, and
  for no other host.

:func:`sharing` finds out, :func:`describe` says it in a few lines (for the CLI), and
:func:`warn_at_startup` logs what would break with several workers or hosts, with the one-line
fix.

**A link store that looks ephemeral.** A SQLite store in a temporary directory, on a file
system held in memory, in a container's writable layer or on a Heroku dyno forgets every
revocation on a redeploy (:func:`ephemeral_store`).
"""

from __future__ import annotations

import enum
import logging
import os
import re
import tempfile
import typing as t
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from .links.store import RevocationStore
from .links.store import SQLiteStore
from .state import State

if t.TYPE_CHECKING:  # pragma: no cover
    from flask import Flask

# The package's logger: every start-up warning is found in one place.
log = logging.getLogger("flask_kashflow_links")

#: The fix for a per-process cache, as one line of configuration.
REDIS_CACHE_FIX = (
    'KASHFLOW_LINKS_CACHE = {"CACHE_TYPE": "RedisCache", '
    '"CACHE_REDIS_URL": "redis://localhost:6379/1"}'
)
_REDIS_EXTRA = "pip install 'flask-kashflow-links[redis]'"
#: The fix for a store that does not reach every host.
REDIS_STORE_FIX = 'KASHFLOW_LINKS_REVOCATION_URL = "redis://localhost:6379/2"'
# True while one of the package's own commands loads the app: it states the same itself.
_FOR_COMMAND: ContextVar[bool] = ContextVar("kashflow_links_for_command", default=False)


class Reach(enum.Enum):
    """Which processes see the same state."""

    PROCESS = "kept in each process (not shared)"
    HOST = "shared by the processes of this host"
    EVERYWHERE = "shared by every process and host that uses it"
    UNKNOWN = "shared by an unknown reach (assume: not shared)"


# cachelib's and flask-caching's backends, by (a part of) their class names.
_CACHE_REACH = (
    (("Redis", "Valkey", "Memcache", "DynamoDb", "MongoDb"), Reach.EVERYWHERE),
    (("FileSystemCache", "UWSGICache"), Reach.HOST),
    (("SimpleCache",), Reach.PROCESS),
)


def cache_reach(backend: object) -> Reach:
    """How far a cachelib backend object reaches, from its class and its ancestors' names."""
    names = [cls.__name__ for cls in type(backend).__mro__]
    for parts, reach in _CACHE_REACH:
        if any(part in name for name in names for part in parts):
            return reach
    return Reach.UNKNOWN


#: SQLite paths that name no file: a database private to each connection.
IN_MEMORY = ("", ":memory:")


def store_reach(store: RevocationStore) -> Reach:
    """How far a link store reaches: SQLite per host (in memory: per process), Redis everywhere."""
    if isinstance(store, SQLiteStore):
        return Reach.PROCESS if store.path in IN_MEMORY else Reach.HOST
    return Reach.EVERYWHERE


@dataclass(frozen=True)
class Sharing:
    """What the portal's cache and link store are, and how far each reaches."""

    #: The cache backend's class name, e.g. ``"SimpleCache"``.
    cache_kind: str
    cache: Reach
    #: Where the store lives (redacted), e.g. ``"sqlite:////srv/instance/links.sqlite3"``.
    store_location: str
    store: Reach


def sharing(state: State) -> Sharing:
    """What *state*'s cache and link store share, and with whom."""
    backend = state.safe_cache.backend
    store = state.links.store
    return Sharing(
        cache_kind=type(backend).__name__,
        cache=cache_reach(backend),
        store_location=store.location,
        store=store_reach(store),
    )


# -- the words -----------------------------------------------------------------------------------


def cache_consequences(kind: str) -> str:
    """What a per-process cache breaks with several workers or hosts, and the fix."""
    return (
        f"The portal's cache is {kind}, kept in each process: with several workers or hosts "
        "each process logs in to KashFlow on its own and keeps its own login pause, so a mistyped "
        "password costs one failed login per process (KashFlow locks the user after a few), "
        "`flask kashflow-links check` cannot see the workers' pause, and throttle limits "
        "multiply by the number of processes. One process is fine. For several "
        f"({_REDIS_EXTRA}): {REDIS_CACHE_FIX}"
    )


def store_consequences(location: str) -> str:
    """What a per-process store breaks, and the fix."""
    return (
        f"The link store {location} is kept in this process's memory: withdrawn links open "
        "again after a restart, other processes never see a withdrawal, and the register "
        "forgets every link. Use a file (sqlite:////var/lib/mysite/kashflow_links.sqlite3) "
        f"or, for several hosts, {REDIS_STORE_FIX}."
    )


def describe(found: Sharing) -> list[str]:
    """A few lines for ``check`` and ``config``: the real state, and what it means.

    Each fact is followed by what it means, indented by two spaces, and a fix to paste,
    indented by four.
    """
    lines = [f"cache: {found.cache_kind}, {found.cache.value}"]
    if found.cache is Reach.EVERYWHERE:
        lines.append(
            "  the web workers reuse the KashFlow session token a login leaves here, and every "
            "process honours a login pause"
        )
    elif found.cache is Reach.HOST:
        lines.append(
            "  the processes of this host share the KashFlow session token and the login pause; "
            f"other hosts log in on their own. For several hosts ({_REDIS_EXTRA}):"
        )
        lines.append(f"    {REDIS_CACHE_FIX}")
    else:
        lines.append(
            "  so this command's KashFlow session ends with it, each web worker logs in on its "
            "own and keeps its own login pause (this command cannot see it, nor they this "
            "command's), and a mistyped password costs one failed login per process. For "
            f"several workers or hosts ({_REDIS_EXTRA}):"
        )
        lines.append(f"    {REDIS_CACHE_FIX}")
    lines.append(f"link store: {found.store_location}, {found.store.value}")
    if found.store is Reach.HOST:
        lines.append(
            "  a withdrawal takes effect at once for every worker of this host; other hosts "
            "need a shared store:"
        )
        lines.append(f"    {REDIS_STORE_FIX}")
    elif found.store is Reach.PROCESS:
        lines.append("  " + store_consequences(found.store_location))
    return lines


# -- a link store that looks ephemeral ------------------------------------------------------------

#: File systems that live in memory: their files are gone after a restart.
MEMORY_FILE_SYSTEMS = ("tmpfs", "ramfs")
#: File systems of a container's own writable layer: gone when the container is replaced.
CONTAINER_LAYERS = ("overlay", "aufs")

_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


@dataclass(frozen=True)
class Host:
    """What the checks know of the machine the application runs on (tests make their own)."""

    #: Directories for temporary files.
    temp_dirs: tuple[str, ...]
    #: ``(mount point, file system type)`` of every mounted file system.
    mounts: tuple[tuple[str, str], ...]
    #: The process's environment variables.
    environ: t.Mapping[str, str]

    @classmethod
    def this(cls) -> Host:
        """The facts of this machine (mounts from ``/proc/self/mounts`` where there is one)."""
        # Only compared with a path, never written to.
        usual = ("/tmp", "/dev/shm")  # noqa: S108  # nosec B108
        temp_dirs = {os.path.realpath(d) for d in (tempfile.gettempdir(), *usual)}
        return cls(tuple(sorted(temp_dirs)), _mounts(), os.environ)


def _mounts() -> tuple[tuple[str, str], ...]:
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as lines:
            fields = [line.split() for line in lines]
    except OSError:  # not Linux: the file system checks have nothing to go on
        return ()
    # Spaces and other characters in mount points are written as octal escapes (\040).
    return tuple(
        (_OCTAL_ESCAPE.sub(lambda m: chr(int(m[1], 8)), f[1]), f[2]) for f in fields if len(f) > 2
    )


def ephemeral_reason(path: str, host: Host) -> str | None:
    """Why a file at *path* looks likely to vanish on a restart or redeploy, or ``None``."""
    where = os.path.realpath(path)
    if "DYNO" in host.environ:
        return "is on a Heroku dyno, whose file system is discarded on every restart and deploy"
    for folder in host.temp_dirs:
        if _within(where, folder):
            return f"is in a temporary directory ({folder})"
    mounted = [(m, kind) for m, kind in host.mounts if _within(where, m)]
    if not mounted:
        return None
    _, kind = max(mounted, key=lambda mount: len(mount[0]))  # the innermost mount holds it
    if kind in MEMORY_FILE_SYSTEMS:
        return f"is on a file system held in memory ({kind})"
    if kind in CONTAINER_LAYERS:
        return f"is in a container's own writable layer ({kind}), not on a mounted volume"
    return None


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def ephemeral_store(store: RevocationStore, host: Host | None = None) -> str | None:
    """The SQLite link store somewhere that looks ephemeral: a redeploy would forget every
    revocation, and withdrawn links would open again."""
    if not isinstance(store, SQLiteStore) or store.path in IN_MEMORY:
        return None  # not a file: a store kept in memory is warned about on its own
    reason = ephemeral_reason(store.path, host or Host.this())
    if reason is None:
        return None
    return (
        f"the link store {store.path} {reason}. When it goes, every revocation goes with it "
        "and withdrawn links open again. Put KASHFLOW_LINKS_REVOCATION_URL on storage that "
        "outlives the application (a mounted volume), or use a redis:// store with persistence."
    )


# -- start-up ------------------------------------------------------------------------------------


@contextmanager
def loading_for_command() -> Iterator[None]:
    """While the app loads for one of the package's commands, log the start-up notes at
    ``DEBUG``: ``check`` and ``config`` say the same in their output, and the other commands
    serve no one."""
    reset = _FOR_COMMAND.set(True)
    try:
        yield
    finally:
        _FOR_COMMAND.reset(reset)


def _under_gunicorn() -> bool:
    # gunicorn's arbiter sets this before it loads the app, in the master and every worker.
    return os.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn/")


def warn_at_startup(app: Flask, state: State, *, cache_chosen: bool) -> None:
    """Log what would break with several workers or hosts, with the fix.

    A per-process cache is a ``WARNING``, or ``INFO`` when the site chose it explicitly
    (``KASHFLOW_LINKS_CACHE`` names a ``CACHE_TYPE``, or ``cache=`` was passed) and the
    process does not run under gunicorn, which forks workers; in ``TESTING`` mode it is
    ``DEBUG``, as it is while one of the package's own commands loads the app
    (:func:`loading_for_command`). A per-process store is always a ``WARNING``, and so is a
    store that looks ephemeral (:func:`ephemeral_store`).

    :param cache_chosen: whether the site chose the cache explicitly.
    """
    with app.app_context():  # the cache's backend is looked up through the current app
        found = sharing(state)
    quiet = app.testing or _FOR_COMMAND.get()
    if found.cache is Reach.PROCESS:
        if quiet:
            level = logging.DEBUG
        elif cache_chosen and not _under_gunicorn():
            level = logging.INFO
        else:
            level = logging.WARNING
        log.log(level, "%s", cache_consequences(found.cache_kind))
    if found.store is Reach.PROCESS:
        # Even for a command: a link withdrawn by it is forgotten when it exits.
        log.warning("%s", store_consequences(found.store_location))
    ephemeral = ephemeral_store(state.links.store)
    if ephemeral is not None:
        log.warning("%s", ephemeral)


__all__ = [
    "Host",
    "Reach",
    "Sharing",
    "cache_consequences",
    "cache_reach",
    "describe",
    "ephemeral_reason",
    "ephemeral_store",
    "loading_for_command",
    "sharing",
    "store_consequences",
    "store_reach",
    "warn_at_startup",
]
