"""What the sandbox's protocols, control routes and public methods share.

One :class:`SandboxState` holds the data store, the sessions, the call counters, the fault
machinery and the standing switches, behind one re-entrant lock. REST and SOAP read the same
store and count into the same counters, so a test can mix them.
"""

from __future__ import annotations

import collections
import threading
import typing as t
from dataclasses import dataclass
from dataclasses import field

from .data import SandboxData
from .faults import FaultState
from .sessions import SessionStore
from .shapes import SHAPES
from .shapes import Shape


@dataclass
class SandboxState:
    """The shared state. Hold :attr:`lock` while reading or changing anything mutable."""

    lock: threading.RLock
    data: SandboxData
    sessions: SessionStore
    faults: FaultState
    #: The largest page the lists serve by default, and now.
    default_max_perpage: int
    #: Waits *seconds*; tests may pass a fake that records instead of sleeping.
    sleep: t.Callable[[float], None]
    max_perpage: int = 0
    #: Misbehave: ignore the lists' filters (``customercode`` and status on ``GET /invoices``,
    #: ``namestartswith`` and ``filterarchived`` on ``GET /customers``), the customer of
    #: SOAP's ``GetInvoicesForCustomer`` and the status of its unpaid and overdue lists.
    ignore_filters: bool = False
    #: How records are presented (see :mod:`.shapes`).
    shape: Shape = field(default_factory=lambda: SHAPES["swagger"])
    #: How ``GET /invoices/{n}`` answers an unknown number: "404", "400" or "null".
    missing_invoice_answer: str = "404"
    #: Where document routes redirect to ("same", "other" or a base URL); None: no redirect.
    document_redirect: str | None = None
    #: Serve document permalinks to requests without a session token, as a permalink that
    #: "can be shared" might be (KashFlow's behaviour is unconfirmed; SOAP clients need it).
    #: Account set-up: not reset by :meth:`clear_switches`.
    public_documents: bool = False
    #: PDFs waiting behind redirect targets, by the target's nonce.
    downloads: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    #: Requests received per endpoint.
    calls: collections.Counter[str] = field(default_factory=collections.Counter)
    #: What else :meth:`clear_switches` resets (another protocol's switches).
    resets: list[t.Callable[[], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.max_perpage = self.max_perpage or self.default_max_perpage

    def clear_switches(self) -> None:
        """Back to normal behaviour: no faults, no latency, the default page cap, filters
        honoured, 404 for missing invoices, no document redirects, the account unlocked.
        Sessions, data, counters and the shape stay."""
        with self.lock:
            self.faults.clear()
            self.max_perpage = self.default_max_perpage
            self.ignore_filters = False
            self.missing_invoice_answer = "404"
            self.document_redirect = None
            self.sessions.unlock()
            for reset in self.resets:
                reset()


__all__ = ["SandboxState"]
