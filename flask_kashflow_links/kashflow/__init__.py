"""The bottom layer: KashFlow's APIs behind one backend protocol, usable on its own.

It knows nothing of Flask, links, pages or caches: a backend (:mod:`.rest`, :mod:`.soap`) takes a
:class:`~.backend.Login` and answers with the shared :mod:`.models`; what it must share across
processes (session tokens, login locks and pauses) goes through the small
:class:`~.session.SharedState` protocol that the caller provides.
"""

from __future__ import annotations

from .backend import Backend as Backend
from .backend import Connection as Connection
from .backend import Credentials as Credentials
from .backend import Login as Login
from .models import Customer as Customer
from .models import Invoice as Invoice
from .rest import RestBackend as RestBackend
from .session import SessionTokens as SessionTokens
from .soap import SoapBackend as SoapBackend

__all__ = [
    "Backend",
    "Connection",
    "Credentials",
    "Customer",
    "Invoice",
    "Login",
    "RestBackend",
    "SessionTokens",
    "SoapBackend",
]
