"""flask-kashflow-links: a client invoice portal for KashFlow inside your Flask site.

A business sends its client a link; the client sees one invoice, all their invoices, or only
the unpaid ones, with no login. The link is the permission: encrypted (Fernet) and signed
(itsdangerous), permanent unless minted with an expiry, and revocable.
"""

from __future__ import annotations

from importlib.metadata import version

from .config import Account as Account
from .config import Brand as Brand
from .exceptions import ConfigurationError as ConfigurationError
from .exceptions import KashFlowAccountLocked as KashFlowAccountLocked
from .exceptions import KashFlowAuthError as KashFlowAuthError
from .exceptions import KashFlowBadResponse as KashFlowBadResponse
from .exceptions import KashFlowDenied as KashFlowDenied
from .exceptions import KashFlowError as KashFlowError
from .exceptions import KashFlowLinksError as KashFlowLinksError
from .exceptions import KashFlowLoginsPaused as KashFlowLoginsPaused
from .exceptions import KashFlowNotFound as KashFlowNotFound
from .exceptions import KashFlowPasswordExpired as KashFlowPasswordExpired
from .exceptions import KashFlowUnavailable as KashFlowUnavailable
from .exceptions import LinkURLError as LinkURLError
from .exceptions import StoreUnavailable as StoreUnavailable
from .extension import KashFlowLinks as KashFlowLinks
from .fetch.owing import CustomerSummary as CustomerSummary
from .kashflow.backend import Credentials as Credentials
from .kashflow.models import Invoice as Invoice
from .links.claims import CustomerScope as CustomerScope
from .links.claims import InvoiceScope as InvoiceScope
from .links.claims import LinkClaims as LinkClaims
from .links.claims import Scope as Scope
from .links.errors import LinkError as LinkError
from .links.errors import LinkExpired as LinkExpired
from .links.errors import LinkInvalid as LinkInvalid
from .links.errors import LinkRevoked as LinkRevoked
from .links.link import Link as Link
from .links.store import LinkRecord as LinkRecord
from .mail import MailError as MailError
from .sending import NothingToSend as NothingToSend
from .sending import Reminder as Reminder
from .sending import Reminders as Reminders
from .sending import Sent as Sent

#: The installed distribution's version (one place: pyproject.toml).
__version__ = version("flask-kashflow-links")

__all__ = [
    "Account",
    "Brand",
    "ConfigurationError",
    "Credentials",
    "CustomerScope",
    "CustomerSummary",
    "Invoice",
    "InvoiceScope",
    "KashFlowAccountLocked",
    "KashFlowAuthError",
    "KashFlowBadResponse",
    "KashFlowDenied",
    "KashFlowError",
    "KashFlowLinks",
    "KashFlowLinksError",
    "KashFlowLoginsPaused",
    "KashFlowNotFound",
    "KashFlowPasswordExpired",
    "KashFlowUnavailable",
    "Link",
    "LinkClaims",
    "LinkError",
    "LinkExpired",
    "LinkInvalid",
    "LinkRecord",
    "LinkRevoked",
    "LinkURLError",
    "MailError",
    "NothingToSend",
    "Reminder",
    "Reminders",
    "Scope",
    "Sent",
    "StoreUnavailable",
    "__version__",
]
