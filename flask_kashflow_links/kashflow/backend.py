"""The one protocol every KashFlow backend implements, and the account handle it is given.

A backend turns calls such as "invoice 1043 of this account" into requests to one of KashFlow's
APIs and answers with the shared :mod:`.models`. The fetch layer above caches what it returns
and never sees HTTP; the backend never sees a link, a cache key or a page. Each call names the
account with a :class:`Login`, which carries the account's :class:`Credentials` (for the REST or
the SOAP API); a :class:`Connection` is what a connection check learnt.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from dataclasses import field

from .models import Customer
from .models import Invoice

#: KashFlow's APIs: the REST API v2 (username, password and memorable word) and the legacy
#: SOAP API (username and password, sent with every call).
APIS = ("rest", "soap")


@dataclass(frozen=True)
class Credentials:
    """KashFlow credentials: the username, the password and, for the REST API, the whole
    memorable word.

    For the SOAP API (``api="soap"``) the password is the account's separate API password when
    it has one (Apps > API Settings), otherwise the web login password; SOAP has no memorable
    word.
    """

    username: str
    password: str = field(repr=False)
    memorable_word: str = field(default="", repr=False)
    #: Which API they are for: ``"rest"`` or ``"soap"``.
    api: str = "rest"

    def __post_init__(self) -> None:
        if self.api not in APIS:
            raise ValueError(f"unknown KashFlow API {self.api!r}; use 'rest' or 'soap'")
        if self.api == "soap" and self.memorable_word:
            raise ValueError(
                "KashFlow's SOAP API has no memorable word: leave it out for a SOAP account"
            )

    def __repr__(self) -> str:  # never show secrets, even in tracebacks
        return (
            f"Credentials(username={self.username!r}, password=***, memorable_word=***, "
            f"api={self.api!r})"
        )


@dataclass(frozen=True)
class Login:
    """Whom to log in as, and where that login's shared state lives."""

    #: A keyed hash naming the account in shared stores (never the username or password).
    namespace: str
    credentials: Credentials = field(repr=False)
    #: True for credentials carried by an embed-mode link.
    embedded: bool = False


@dataclass(frozen=True)
class Connection:
    """What a connection check learnt about an account (nothing secret).

    The check logs in and reads a little (changing nothing in KashFlow); ``flask kashflow-links
    check`` prints these fields and ends with a verdict from :attr:`works`.
    """

    #: The company KashFlow named, when it did.
    company_name: str = ""
    #: How many invoices the account can see, when KashFlow said.
    invoices: int | None = None
    #: Things the operator should act on that do not stop the portal ("the user has a
    #: temporary password").
    warnings: tuple[str, ...] = ()
    #: What the probe learnt about the account's answers, one line each: which fields the
    #: portal relies on are present or missing, what a document is sent as, and so on.
    findings: tuple[str, ...] = ()
    #: Why the portal would not work with this account, one line each (with the fix).
    problems: tuple[str, ...] = ()
    #: False when KashFlow refused the credentials or this server, or could not be asked
    #: (the problems say which).
    signed_in: bool = True
    #: The letters of the memorable word (1-based positions) the login was asked for and
    #: KashFlow accepted; the others were not checked. Empty for an API without one (SOAP).
    memorable_word_positions: tuple[int, ...] = ()

    @property
    def works(self) -> bool:
        """Whether the account works with the portal (no problems found)."""
        return not self.problems


@t.runtime_checkable
class Backend(t.Protocol):
    """What the portal needs from KashFlow, whichever API serves it.

    Every method raises the :class:`~flask_kashflow_links.KashFlowError` tree on failure:
    :class:`~flask_kashflow_links.KashFlowNotFound` for an invoice, customer or document that
    does not exist, :class:`~flask_kashflow_links.KashFlowAuthError` when KashFlow refuses the
    credentials, :class:`~flask_kashflow_links.KashFlowUnavailable` for what may pass, and
    :class:`~flask_kashflow_links.KashFlowBadResponse` for answers of the wrong shape.
    """

    #: ``"rest"`` or ``"soap"``.
    api: str
    #: The API's address (part of each account's cache namespace).
    base_url: str
    #: Whether the API has customer statements (:meth:`statement_link`): the pages offer a
    #: statement only when it does.
    statements: bool
    #: Whether :meth:`list_customers` can give the customers who owe money first and stop
    #: there (REST's list sorted by ``OutstandingBalance``); without it, the customers of the
    #: invoices owed are read one by one.
    customers_by_balance: bool

    @property
    def max_call_seconds(self) -> float:
        """The longest one call may take, retries included (how long a lock may be held)."""

    def get_invoice(self, login: Login, number: int) -> Invoice:
        """The full invoice *number*."""

    def get_customer(self, login: Login, code: str) -> Customer:
        """The customer *code* (codes compare case-insensitively, as KashFlow does)."""

    def list_invoices(self, login: Login, *, customer: str) -> list[Invoice]:
        """Every invoice KashFlow lists for *customer*, sorted by number. The server's filtering
        is not trusted: callers check each invoice's own customer and status."""

    def list_owing(self, login: Login) -> list[Invoice]:
        """Every invoice of the account with something still owed (unpaid or overdue), sorted
        by number, read with what the API offers (its unpaid and overdue lists). Each row is
        re-checked: no paid invoice or credit note is returned, whatever the server's filter
        did."""

    def list_customers(self, login: Login, *, owing_only: bool = False) -> list[Customer]:
        """The account's customers; with *owing_only* (and :attr:`customers_by_balance`), the
        ones KashFlow says owe money, and maybe a few more, but never fewer than it says."""

    def get_document(self, login: Login, link: str, *, max_bytes: int) -> bytes:
        """The PDF behind a document link of this API (an invoice's permalink, or what
        :meth:`statement_link` gave), fetched only from the API's own host."""

    def statement_link(self, customer: Customer) -> str | None:
        """The document link of *customer*'s statement of all invoices, or ``None`` when this
        API has none (the page then offers no statement)."""

    def connect(self, login: Login, *, force: bool = False) -> Connection:
        """Log in (honouring a login pause unless *force*) and make one cheap authorised call.

        :raises KashFlowAccountLocked: logins are paused, or KashFlow locked the user.
        """
