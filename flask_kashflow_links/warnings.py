"""Start-up warnings: settings that work, but that will hurt in production.

:meth:`KashFlowLinks.init_app <flask_kashflow_links.KashFlowLinks.init_app>` calls
:func:`log_startup_warnings` once the settings are valid. Each check in :data:`CHECKS` takes the
settings and returns a sentence for the operator, or ``None``; each sentence is logged at
``WARNING`` on the ``flask_kashflow_links`` logger. A setting that cannot work at all is not a
warning: :mod:`.config` refuses it.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import typing as t
from dataclasses import dataclass

from .config import Settings

log = logging.getLogger("flask_kashflow_links")

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


def ephemeral_store(settings: Settings, host: Host | None = None) -> str | None:
    """The SQLite link store somewhere that looks ephemeral: a redeploy would forget every
    revocation, and withdrawn links would open again."""
    url = settings.revocation_url
    if not url.startswith("sqlite:///"):
        return None
    path = url[len("sqlite:///") :]
    reason = ephemeral_reason(path, host or Host.this())
    if reason is None:
        return None
    return (
        f"the link store {path} {reason}. When it goes, every revocation goes with it and "
        "withdrawn links open again. Put KASHFLOW_LINKS_REVOCATION_URL on storage that "
        "outlives the application (a mounted volume), or use a redis:// store with persistence."
    )


Check = t.Callable[[Settings], "str | None"]
#: The start-up checks, in the order their warnings are logged.
CHECKS: tuple[Check, ...] = (ephemeral_store,)


def startup_warnings(settings: Settings) -> list[str]:
    """The warning of every check in :data:`CHECKS` that has one."""
    return [warning for check in CHECKS if (warning := check(settings)) is not None]


def log_startup_warnings(settings: Settings) -> None:
    """Log :func:`startup_warnings` at ``WARNING`` on the ``flask_kashflow_links`` logger."""
    for warning in startup_warnings(settings):
        log.warning("%s", warning)


__all__ = [
    "CHECKS",
    "Host",
    "ephemeral_reason",
    "ephemeral_store",
    "log_startup_warnings",
    "startup_warnings",
]
