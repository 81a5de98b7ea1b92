"""KashFlow's legacy SOAP API as a :class:`~.backend.Backend`, and what its refusals mean.

There is no session: the username and password go in every call. Four operations serve the
portal:

* ``GetInvoice(InvoiceNumber)``, then ``GetInvoicePayment(InvoiceNumber)`` only when something
  has been paid (a cold invoice page: one or two calls);
* ``GetCustomer(CustomerCode)``, then ``GetInvoicesForCustomer(CustID)`` with KashFlow's numeric
  customer ID, which answers with every invoice at once (a cold list: two calls, however many
  invoices);
* the invoice PDF from the invoice's ``PermaLink`` (see :class:`~.soap_http.Permalinks`).

SOAP has no customer statement and no payment receipt, so :attr:`SoapBackend.statements` is
false and :meth:`~SoapBackend.statement_link` is ``None``: the pages do not offer them.

KashFlow reports failures as ``Status`` ``NO`` with a human-readable ``StatusDetail`` inside an
HTTP 200 answer. Only two texts are known from working clients: "Incorrect username or
password" (a wrong user, a wrong password, or the wrong password *mode*) and "The IP address of
<ip> is not in the access list". The texts for "SOAP not enabled" and for a record that does not
exist are unconfirmed, so they are recognised by their likely words, and anything else is read
as a failure that may pass (never as "not found", which would hide an outage behind a 404, and
never as a refused password, which would revoke embed-mode links).

When KashFlow refuses the caller (a wrong password, this server's address, SOAP switched off),
no SOAP call is made for the account for ``login_cooldown`` seconds, on every process sharing
the store, as after a refused REST login: whether repeated bad passwords lock a SOAP user is
unconfirmed, and asking again on every page would be no use either way. A refused password of
an embed-mode link pauses for a day and reads as a revoked link.

The connection check (:meth:`SoapBackend.connect`) asks ``GetInvoices_Recent`` with
``NumberOfInvoices`` 1, which proves the username, password, this server's address and the
"Enable SOAP API" setting at once, for the price of one invoice. When KashFlow refuses, the
check quotes its ``StatusDetail`` and names the likely causes with the fix for each (see
:data:`CAUSES`), and pauses the account's calls as the portal would. When it accepts, the newest
invoice's ``PermaLink`` is downloaded (a plain GET, not a SOAP call) to learn whether KashFlow
serves PDFs without a session.
"""

from __future__ import annotations

import logging
import re
import typing as t
from datetime import date
from datetime import datetime
from zoneinfo import ZoneInfo

from ..exceptions import KashFlowAuthError
from ..exceptions import KashFlowBadResponse
from ..exceptions import KashFlowError
from ..exceptions import KashFlowLoginsPaused
from ..exceptions import KashFlowNotFound
from ..exceptions import KashFlowUnavailable
from .backend import Connection
from .backend import Login
from .http import PROBE_MAX_BYTES
from .http import HttpOptions
from .models import Customer
from .models import Invoice
from .models import customer_key
from .models import same_customer
from .session import EMBEDDED_PAUSE
from .session import LOGIN_COOLDOWN
from .session import SessionTokens
from .soap_http import MAX_ANSWER_BYTES
from .soap_http import Permalinks
from .soap_http import SoapTransport
from .soap_xml import Answer
from .soap_xml import customer_from_soap
from .soap_xml import customer_id
from .soap_xml import invoice_from_soap
from .soap_xml import items
from .soap_xml import payments_from_soap
from .soap_xml import request_body
from .soap_xml import xml_safe

if t.TYPE_CHECKING:  # pragma: no cover
    # The type only: every document is parsed by defusedxml.
    from xml.etree.ElementTree import Element  # nosec B405

log = logging.getLogger(__name__)

#: KashFlow's SOAP service, as every published client calls it.
DEFAULT_URL = "https://securedwebapp.com/api/service.asmx"
#: The most calls one load makes (an invoice and its payments, a customer and its invoices).
CALLS_PER_LOAD = 2
#: A refusal of the credentials themselves (a wrong user, password or password mode). The
#: value names a kind of refusal; it is no password.
PASSWORD = "password"  # noqa: S105  # nosec B105
#: A refusal of this server's address (Restrict Access to specific IP addresses).
IP = "ip"
#: The SOAP API is not switched on for the account.
DISABLED = "disabled"

_KINDS = (
    (IP, re.compile(r"\bIP address\b|\baccess list\b", re.IGNORECASE)),
    (
        DISABLED,
        re.compile(
            r"\bnot (?:been )?enabled\b|\bdisabled\b|\benable (?:the )?SOAP\b|\bAPI access\b",
            re.IGNORECASE,
        ),
    ),
    (
        PASSWORD,
        re.compile(
            r"\bpassword\b|\busername\b|\buser name\b|\blog ?in\b|\bauthenticat",
            re.IGNORECASE,
        ),
    ),
)
_NOT_FOUND = re.compile(
    r"\bno (?:such )?(?:invoice|customer|record|payment)s?\b|\bthere (?:is|are) no\b|"
    r"\bnot found\b|\bdoes not exist\b|\bcould not (?:be )?f(?:ou)?nd\b|"
    r"\b(?:cannot|can't|unable to) find\b",
    re.IGNORECASE,
)

#: Each refusal's likely causes, with the fix for each, for ``flask kashflow-links check``.
CAUSES = {
    PASSWORD: (
        "Password mode: KashFlow's Apps > API Settings offers 'Use login password' or "
        "'Separate API password'. With a separate API password set, the web login password is "
        "refused (and the other way round). Configure the password the account is set to use.",
        "Username: use the KashFlow login username shown in Apps > API Settings (usually the "
        "sign-in email address).",
    ),
    IP: (
        "IP access list: 'Restrict Access to specific IP addresses' is on in Apps > API "
        "Settings and this server's outgoing address is not listed. Add it (every server that "
        "serves the portal or runs its commands), or turn the restriction off. KashFlow's "
        "AutoAuthIP (enable AutoAuth in API Settings for a key) adds a caller's address for "
        "applications that cannot know it in advance.",
    ),
    DISABLED: (
        "SOAP API switched off: tick 'Enable SOAP API' in KashFlow under Apps > API Settings.",
    ),
}


def refusal_kind(detail: str) -> str | None:
    """:data:`PASSWORD`, :data:`IP` or :data:`DISABLED` when *detail* refuses the caller;
    ``None`` for anything else."""
    for kind, pattern in _KINDS:
        if pattern.search(detail):
            return kind
    return None


def is_not_found(detail: str) -> bool:
    """Whether *detail* says the record asked for does not exist."""
    return bool(_NOT_FOUND.search(detail)) and refusal_kind(detail) is None


def advice(detail: str) -> tuple[str, ...]:
    """What to tell an operator about a refusal: KashFlow's words, then the causes with the
    fix for each (those *detail* points at first, then the others that can give the same
    answer: KashFlow's texts for them are not all known)."""
    kind = refusal_kind(detail)
    said = (
        f'KashFlow refused the SOAP call: "{detail}".'
        if detail
        else "KashFlow refused the SOAP call without saying why."
    )
    likely = CAUSES[kind] if kind else ()
    others = [cause for k in (PASSWORD, IP, DISABLED) if k != kind for cause in CAUSES[k]]
    return (
        said,
        *(f"Likely cause: {cause}" for cause in likely),
        *(f"Other possible cause: {cause}" for cause in others),
    )


def _london_today() -> date:
    """Today in the UK, where KashFlow's dates are calendar dates."""
    return datetime.now(ZoneInfo("Europe/London")).date()


class SoapBackend:
    """Talks to one KashFlow SOAP service (``url``) for any number of accounts.

    :param url: e.g. ``https://securedwebapp.com/api/service.asmx``.
    :param tokens: where the pauses after a refusal are kept (shared across processes).
    :param document_hosts: URLs whose hosts may serve invoice PDFs (the REST API's); the SOAP
        service's own host always may.
    :param timeout: ``(connect, read)`` seconds for every call.
    :param retries: retries for connection errors, 429, 502, 503 and 504.
    :param login_cooldown: seconds without SOAP calls after KashFlow refused the caller.
    :param today: today's date, against which unpaid invoices are overdue.
    """

    api = "soap"
    #: KashFlow's SOAP API has no customer statement document.
    statements = False
    #: Its customers carry no balance: those of the invoices owed are read one by one.
    customers_by_balance = False

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        tokens: SessionTokens,
        document_hosts: t.Iterable[str] = (),
        timeout: tuple[float, float] = (3.05, 10.0),
        retries: int | None = None,
        backoff: float | None = None,
        max_retry_after: float | None = None,
        login_cooldown: float = LOGIN_COOLDOWN,
        today: t.Callable[[], date] = _london_today,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        options = HttpOptions.of(timeout, retries, backoff, max_retry_after)
        self.transport = SoapTransport(url, options, max_answer_bytes=max_answer_bytes)
        self.base_url = self.transport.base_url
        self.stats = self.transport.stats
        self.permalinks = Permalinks(self.transport, (self.base_url, *document_hosts))
        self.tokens = tokens
        self.login_cooldown = login_cooldown
        self.today = today

    @property
    def timeout(self) -> tuple[float, float]:
        """``(connect, read)`` seconds for every call."""
        return self.transport.timeout

    @property
    def max_call_seconds(self) -> float:
        """The longest one load may take: its calls with their retries, and reading each
        answer."""
        connect, read = self.transport.timeout
        per_call = (connect + read) * (self.transport.retries + 1) + connect + read
        return per_call * CALLS_PER_LOAD

    # -- one call ------------------------------------------------------------------------------

    def _call(
        self, login: Login, operation: str, params: t.Sequence[tuple[str, str | int]], what: str
    ) -> Answer:
        """Call *operation* with the account's credentials and *params*; a successful answer.

        :raises KashFlowNotFound: KashFlow says there is no such *what*.
        :raises KashFlowAuthError: KashFlow refused the password (calls now pause).
        :raises KashFlowUnavailable: an outage, a pause, or a refusal of this server.
        """
        self._raise_if_paused(login)
        answer = self._call_unpaused(login, operation, params, what)
        if answer.ok:
            return answer
        kind = refusal_kind(answer.detail)
        if kind is not None:
            raise self._refused(login, kind, answer.detail)
        if is_not_found(answer.detail):
            raise KashFlowNotFound(f"KashFlow has no {what} ({answer.detail})")
        raise KashFlowUnavailable(
            f"KashFlow answered Status NO to {operation} ({answer.detail or 'no detail'})"
        )

    def _call_unpaused(
        self, login: Login, operation: str, params: t.Sequence[tuple[str, str | int]], what: str
    ) -> Answer:
        """Send one call whatever its ``Status`` (no pause is checked or started)."""
        credentials = login.credentials
        if not (xml_safe(credentials.username) and xml_safe(credentials.password)):
            raise KashFlowAuthError(
                "the username or password holds characters a SOAP call cannot carry",
                step=PASSWORD,
            )
        try:
            body = request_body(
                operation,
                [("UserName", credentials.username), ("Password", credentials.password), *params],
            )
        except ValueError:
            raise KashFlowNotFound(f"KashFlow has no {what}") from None
        return self.transport.call(operation, body)

    # -- pauses after a refusal ------------------------------------------------------------------

    def _refused(
        self, login: Login, kind: str, detail: str, *, quiet: bool = False
    ) -> KashFlowError:
        """Pause the account's calls after KashFlow refused the caller; the error to raise.

        Logged at ``ERROR`` unless *quiet* (the check reports it itself)."""
        namespace = login.namespace
        pause = self.login_cooldown
        if kind == PASSWORD:
            self.stats.add("failed_logins")
            if login.embedded:
                pause = max(pause, EMBEDDED_PAUSE)
        self.tokens.start_cooldown(namespace, pause, refused=kind == PASSWORD)
        log.log(
            logging.INFO if quiet else logging.ERROR,
            "KashFlow refused the SOAP call (%s); no SOAP call for %d s, pages served from the "
            "cache meanwhile",
            detail or "no detail",
            pause,
        )
        if kind == PASSWORD:
            return KashFlowAuthError(f"KashFlow refused the SOAP password ({detail})", step=kind)
        # This server or the account's settings were refused, not the credentials: an outage
        # for the pages (stale data may cover it), never a revoked link.
        return KashFlowUnavailable(f"KashFlow refused this server's SOAP calls ({detail})")

    def _raise_if_paused(self, login: Login) -> None:
        """Raise while the account's calls are paused after a refusal.

        :raises KashFlowAuthError: an embed-mode link whose password KashFlow refused.
        :raises KashFlowLoginsPaused: the site's own account's password was refused.
        :raises KashFlowUnavailable: this server's address or SOAP access was refused.
        """
        retry_at = self.tokens.paused_until(login.namespace)
        if retry_at is None:
            return
        when = f"{retry_at:%H:%M:%S} UTC"
        if not self.tokens.refused(login.namespace):
            raise KashFlowUnavailable(
                f"SOAP calls are paused until {when} after KashFlow refused this server "
                "(IP access list, or SOAP not enabled)"
            )
        if login.embedded:
            raise KashFlowAuthError(
                f"KashFlow refused this link's SOAP password; not asked again before {when}",
                step=PASSWORD,
            )
        raise KashFlowLoginsPaused(
            f"SOAP calls are paused until {when} after KashFlow refused the password",
            retry_at=retry_at,
        )

    def _resume(self, login: Login) -> None:
        """Lift the account's pause (after a call that KashFlow accepted)."""
        self.tokens.clear_cooldown(login.namespace)

    # -- the backend protocol ------------------------------------------------------------------

    def get_invoice(self, login: Login, number: int) -> Invoice:
        """The full invoice *number*, with its payments (asked for only when something has
        been paid).

        :raises KashFlowNotFound: KashFlow has no such invoice.
        """
        what = f"invoice {number}"
        params = [("InvoiceNumber", int(number))]
        found = self._call(login, "GetInvoice", params, what).result
        today = self.today()
        invoice = invoice_from_soap(found, today=today, detailed=True)
        if invoice is None:
            raise KashFlowNotFound(f"KashFlow has no {what}")
        if invoice.number != number:
            raise KashFlowBadResponse(f"asked KashFlow for {what}, got invoice {invoice.number}")
        if not (invoice.paid or invoice.is_paid):
            return invoice
        try:
            paid = self._call(login, "GetInvoicePayment", params, f"payments of {what}").result
        except KashFlowNotFound:
            return invoice  # no payments to show
        payments = payments_from_soap(paid)
        return t.cast(
            Invoice, invoice_from_soap(found, today=today, payments=payments, detailed=True)
        )

    def get_customer(self, login: Login, code: str) -> Customer:
        """The customer *code*.

        :raises KashFlowNotFound: KashFlow has no such customer.
        """
        what = f"customer {code}"
        found = self._call(login, "GetCustomer", [("CustomerCode", code)], what).result
        customer = customer_from_soap(found)
        if customer is None:
            raise KashFlowNotFound(f"KashFlow has no {what}")
        if not same_customer(customer.code, code):
            raise KashFlowBadResponse(f"KashFlow's answer for {what} is not that customer")
        return customer

    def list_invoices(self, login: Login, *, customer: str) -> list[Invoice]:
        """Every invoice KashFlow lists for *customer*, sorted by number: ``GetCustomer`` for
        the numeric ID, then ``GetInvoicesForCustomer`` (all of them in one answer).

        The server's filtering is not trusted: callers check each invoice's own customer code.
        """
        what = f"customer {customer}"
        found = self._call(login, "GetCustomer", [("CustomerCode", customer)], what).result
        number = customer_id(found)
        if number is None or customer_from_soap(found) is None:
            raise KashFlowNotFound(f"KashFlow has no {what}")
        listed = self._call(
            login, "GetInvoicesForCustomer", [("CustID", number)], f"the invoices of {customer}"
        ).result
        today = self.today()
        invoices: dict[int, Invoice] = {}
        for element in items(listed):
            invoice = invoice_from_soap(element, today=today)
            if invoice is not None:
                invoices.setdefault(invoice.number, invoice)
        return [invoices[n] for n in sorted(invoices)]

    def list_owing(self, login: Login) -> list[Invoice]:
        """Every invoice of the account still owed: ``GetInvoices_Unpaid`` and
        ``GetInvoices_Overdue``, both always (whether the unpaid list holds the overdue
        invoices is not documented, and an answer cannot show it: SOAP invoices carry no
        status, and one past its due date by this host's clock may be one KashFlow has not
        yet moved); every row is re-checked, sorted by number."""
        today = self.today()
        found = self._read_invoices(login, "GetInvoices_Unpaid", "the unpaid invoices", today)
        overdue = self._read_invoices(login, "GetInvoices_Overdue", "the overdue invoices", today)
        for number, invoice in overdue.items():
            found.setdefault(number, invoice)
        return [found[n] for n in sorted(found) if found[n].is_unpaid]

    def list_customers(self, login: Login, *, owing_only: bool = False) -> list[Customer]:
        """Every customer of the account, from ``GetCustomers`` (one answer; SOAP has no
        balance to stop at, so *owing_only* changes nothing)."""
        found: dict[str, Customer] = {}
        for element in self._listed(login, "GetCustomers", "the customer list"):
            customer = customer_from_soap(element)
            if customer is not None:
                found.setdefault(customer_key(customer.code), customer)
        return list(found.values())

    def _read_invoices(
        self, login: Login, operation: str, what: str, today: date
    ) -> dict[int, Invoice]:
        """The invoices of a list operation that takes nothing but the credentials."""
        found: dict[int, Invoice] = {}
        for element in self._listed(login, operation, what):
            invoice = invoice_from_soap(element, today=today)
            if invoice is not None:
                found.setdefault(invoice.number, invoice)
        return found

    def _listed(self, login: Login, operation: str, what: str) -> list[Element]:
        """The items of a list operation that takes nothing but the credentials. "Not found"
        is an empty list (KashFlow may answer Status NO when there is nothing to list)."""
        try:
            return items(self._call(login, operation, [], what).result)
        except KashFlowNotFound:
            return []

    def get_document(self, login: Login, link: str, *, max_bytes: int) -> bytes:
        """The PDF behind an invoice's ``PermaLink``, fetched without credentials from the REST
        API's or the SOAP service's host only.

        :raises KashFlowBadResponse: not a PDF, too large, elsewhere, or wanting a session.
        """
        self._raise_if_paused(login)
        return self.permalinks.fetch(link, max_bytes=max_bytes)

    def statement_link(self, customer: Customer) -> str | None:
        """``None``: the SOAP API has no customer statement."""
        return None

    def connect(self, login: Login, *, force: bool = False) -> Connection:
        """One cheap authenticated call (the newest invoice), and whether its PDF downloads
        (see the module's docstring). Problems, never a raise, when KashFlow cannot be asked or
        refuses the call.

        :raises KashFlowLoginsPaused: calls are paused after a refusal (unless *force*).
        """
        retry_at = self.tokens.paused_until(login.namespace)
        if retry_at is not None and not force:
            raise KashFlowLoginsPaused(
                "SOAP calls are paused after KashFlow refused them", retry_at=retry_at
            )
        try:
            answer = self._call_unpaused(
                login, "GetInvoices_Recent", [("NumberOfInvoices", 1)], "the newest invoice"
            )
        except KashFlowUnavailable as e:
            return _failed(
                f"cannot reach KashFlow's SOAP service ({e}). Check KASHFLOW_LINKS_SOAP_URL "
                f"({self.base_url}), DNS, the firewall and any proxy; KashFlow may also be down."
            )
        except KashFlowBadResponse as e:
            return _failed(
                f"the SOAP service answered unexpectedly ({e}). Is KASHFLOW_LINKS_SOAP_URL "
                "KashFlow's SOAP API (https://securedwebapp.com/api/service.asmx)?"
            )
        except KashFlowAuthError as e:
            return _failed(f"{e}: correct the configured credentials")
        if not answer.ok:
            kind = refusal_kind(answer.detail)
            if kind is not None:
                # As the portal would: a refused password is not tried again on every run.
                self._refused(login, kind, answer.detail, quiet=True)
            return Connection(signed_in=False, problems=advice(answer.detail))
        self._resume(login)
        findings = [
            "KashFlow accepted the username and password over SOAP (there is no session: they go "
            "with every call)"
        ]
        warnings: list[str] = []
        newest = next(iter(items(answer.result)), None)
        invoice = invoice_from_soap(newest, today=self.today())
        if invoice is None:
            findings.append("no invoices yet, so invoice PDFs were not tried")
        elif not invoice.permalink:
            warnings.append(
                f"KashFlow gave no PermaLink for invoice {invoice.number}: the pages offer no PDF "
                "for invoices without one"
            )
        else:
            try:
                pdf = self.permalinks.fetch(invoice.permalink, max_bytes=PROBE_MAX_BYTES)
            except KashFlowError as e:
                warnings.append(
                    f"invoice {invoice.number}'s PDF did not download ({e}); clients of this "
                    "account will see 'temporarily unavailable' instead of a PDF"
                )
            else:
                findings.append(
                    f"invoice PDFs download from the PermaLink without a session (invoice "
                    f"{invoice.number}: {len(pdf) // 1024 + 1} KB)"
                )
        findings.append(
            "customer statements and payment receipts are not part of the SOAP API: the pages do "
            "not offer them"
        )
        return Connection(findings=tuple(findings), warnings=tuple(warnings))


def _failed(problem: str) -> Connection:
    """A check that could not sign in, for *problem*."""
    return Connection(signed_in=False, problems=(problem,))
