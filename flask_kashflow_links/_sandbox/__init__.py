"""Internals of :mod:`flask_kashflow_links.testing`: the KashFlow REST API v2 sandbox.

- :mod:`.server`: :class:`KashFlowSandbox`, its WSGI app and its server thread
- :mod:`.data`: :class:`SandboxData`, the data store
- :mod:`.records`, :mod:`.values`: complete records and KashFlow's value formats
- :mod:`.demo`, :mod:`.demo_documented`: the deterministic demo business
- :mod:`.shapes`: which fields responses carry
- :mod:`.pdf`: minimal one-page PDF documents, standard library only

Import from :mod:`flask_kashflow_links.testing`; names here may change.
"""

from __future__ import annotations

from .data import SandboxData
from .server import KashFlowSandbox

__all__ = ["KashFlowSandbox", "SandboxData"]
