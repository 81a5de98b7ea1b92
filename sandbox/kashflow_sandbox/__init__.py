"""A local KashFlow for tests and demos: :class:`KashFlowSandbox`, REST API v2 and SOAP.

The sandbox is a real HTTP server on a free local port that speaks the part of KashFlow's
REST API v2 and of its legacy SOAP service an invoice portal needs, with KashFlow's field
names, status codes, error bodies, date strings and four-decimal amounts, over deterministic
demo data. It counts the calls it receives and fails on request (latency, status codes, a
locked account, malformed bodies, dropped connections ...). It imports nothing of the
portal it was written for (flask-kashflow-links), so any KashFlow client can test against it::

    from kashflow_sandbox import KashFlowSandbox

    with KashFlowSandbox() as kashflow:
        kashflow.url                      # "http://127.0.0.1:<port>/v2"
        kashflow.soap_url                 # "http://127.0.0.1:<port>/api/service.asmx"
        kashflow.account_config()         # the REST credentials it accepts
        kashflow.fail_next(3, 503)        # the next three requests fail
        ...
        assert kashflow.logins == 1       # counters to assert on

``python -m kashflow_sandbox`` serves one until Ctrl-C and prints the settings that point a
client at it. The README beside this package (``sandbox/README.md`` in the flask-kashflow-links
repository) lists the routes, the demo data, every fault and switch, and the control routes.

The modules, for whoever changes the sandbox (only the names this package exports are public):

- :mod:`.server`: :class:`KashFlowSandbox`, the facade (lifecycle, data, counters)
- :mod:`.controls`, :mod:`.switches`: its fault methods and switches; :mod:`.control`: the
  control routes
- :mod:`.app`: the WSGI pipeline shared by every protocol; :mod:`.state`: what they share
- :mod:`.rest`, :mod:`.listing`, :mod:`.sessions`: KashFlow's REST API v2
- :mod:`.faults`: the fault queue and latency; :mod:`.httpserver`: the server thread
- :mod:`.data`, :mod:`.records`, :mod:`.values`: the data store and KashFlow's formats
- :mod:`.demo`, :mod:`.demo_documented`, :mod:`.demo_cases`: the deterministic demo business
- :mod:`.demo_extra`: many generated customers who owe money, for benchmarks
- :mod:`.shapes`: which fields responses carry; :mod:`.jsonfmt`: KashFlow's JSON numbers
- :mod:`.documents`, :mod:`.pdf`: the PDF documents, standard library only
- :mod:`.soap`: KashFlow's legacy SOAP service over the same data
- :mod:`.command`: ``python -m kashflow_sandbox``
"""

from __future__ import annotations

from .data import SandboxData
from .server import KashFlowSandbox

__all__ = ["KashFlowSandbox", "SandboxData"]
