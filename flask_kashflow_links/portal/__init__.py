"""The client portal: the blueprint, its one check pipeline, pages and presenters.

:mod:`.routes` holds the routes only; each goes through the :class:`~.guard.Guard`
(throttle, link, store, data, scope), then :mod:`.views` or :mod:`.renew` does the work and
:mod:`.pages` renders it. :mod:`.assembly` builds these parts for one application.
"""

from __future__ import annotations

from .assembly import Portal as Portal
from .assembly import build_portal as build_portal
from .routes import blueprint as blueprint

__all__ = ["Portal", "blueprint", "build_portal"]
