"""Internals of :mod:`flask_kashflow_links.testing`: the KashFlow API sandbox (REST and SOAP).

- :mod:`.server`: :class:`KashFlowSandbox`, the facade (lifecycle, data, counters)
- :mod:`.controls`, :mod:`.switches`: its fault methods and switches; :mod:`.control`: the
  control routes
- :mod:`.app`: the WSGI pipeline shared by every protocol; :mod:`.state`: what they share
- :mod:`.rest`, :mod:`.listing`, :mod:`.sessions`: KashFlow's REST API v2
- :mod:`.faults`: the fault queue and latency; :mod:`.httpserver`: the server thread
- :mod:`.data`, :mod:`.records`, :mod:`.values`: the data store and KashFlow's formats
- :mod:`.demo`, :mod:`.demo_documented`, :mod:`.demo_cases`: the deterministic demo business
- :mod:`.shapes`: which fields responses carry; :mod:`.jsonfmt`: KashFlow's JSON numbers
- :mod:`.documents`, :mod:`.pdf`: the PDF documents, standard library only
- :mod:`.soap`: KashFlow's legacy SOAP service over the same data

Import from :mod:`flask_kashflow_links.testing`; names here may change.
"""

from __future__ import annotations

from .data import SandboxData
from .server import KashFlowSandbox

__all__ = ["KashFlowSandbox", "SandboxData"]
