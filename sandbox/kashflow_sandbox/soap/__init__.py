"""KashFlow's legacy SOAP service (``/api/service.asmx``) over the sandbox's data.

- :mod:`.api`: the operations, account checks and fault rendering
- :mod:`.envelope`: reading SOAP 1.1/1.2 requests safely, writing envelopes and faults
- :mod:`.objects`: ``Invoice``, ``InvoiceLine``, ``Customer`` and ``Payment`` in WSDL order
- :mod:`.xmlwrite`: ASMX's way of writing values
- :mod:`.controls`: the facade's SOAP methods and switches
"""

from __future__ import annotations

from .api import SoapApi
from .api import SoapSettings
from .controls import SoapControls

__all__ = ["SoapApi", "SoapControls", "SoapSettings"]
