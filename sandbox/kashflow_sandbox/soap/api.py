"""KashFlow's legacy SOAP service as the sandbox serves it: ``POST /api/service.asmx``.

The same store, counters, latency and fault queue as the REST API: each operation counts as
``soap.<Operation>`` (``soap.other`` for anything the service does not recognise), so
``set_latency(1, "soap")`` or ``fail_next(1, endpoint="soap.GetInvoice")`` reach it. Every call
carries ``UserName`` and ``Password``; failures of the account (wrong password, SOAP not
enabled, IP not allowed, nothing found) are ``Status`` ``NO`` with a ``StatusDetail`` inside
HTTP 200, while protocol problems are HTTP 500 ``soap:Fault`` answers, as ASMX gives them.
"""

from __future__ import annotations

import functools
import hmac
import typing as t
from dataclasses import dataclass

from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from ..app import Route
from ..faults import FAIL
from ..faults import MALFORMED
from ..faults import RATE_LIMIT
from ..faults import Fault
from ..rest import fail_response
from ..sessions import LoginSettings
from ..state import SandboxState
from ..values import JSONDict
from .envelope import SoapCall
from .envelope import SoapFault
from .envelope import fault_response as soap_fault
from .envelope import parse
from .envelope import soap_response
from .envelope import version_of
from .objects import customer_xml
from .objects import invoice_xml
from .objects import payment_xml
from .xmlwrite import escape
from .xmlwrite import soap_date
from .xmlwrite import wrap

#: The operations served (the portal's; the real service has 164).
OPERATIONS = (
    "GetCustomer",
    "GetCustomerByID",
    "GetCustomers",
    "GetInvoice",
    "GetInvoicesForCustomer",
    "GetInvoicePayment",
    "GetInvoices_Recent",
    "GetInvoices_Unpaid",
    "GetInvoices_Overdue",
)
#: The REST statuses of the invoices ``GetInvoices_Unpaid`` lists: everything still owed, the
#: overdue included (probable, unconfirmed); a zero-value "NA" invoice owes nothing.
UNPAID_STATUSES = ("Unpaid", "Overdue")
#: Counter names: one per operation, and one for unrecognised requests.
ENDPOINTS = (*(f"soap.{name}" for name in OPERATIONS), "soap.other")
#: A fault kind of this protocol: answer ``Status NO`` with the fault's message.
STATUS_NO = "soap_status_no"
#: The one StatusDetail for a wrong user name, password or password mode (seen live).
INCORRECT_LOGIN = "Incorrect username or password"
#: No source quotes KashFlow's text for a disabled SOAP API: this wording is the sandbox's.
NOT_ENABLED = "API access is not enabled for this account. Tick Enable SOAP API in API Settings."
#: Confirmed up to "access list" (a client's test fixture); nothing after it.
IP_BLOCKED = "The IP address of {ip} is not in the access list"
#: Unknown records (texts unconfirmed; modelled on "There is no customer with that email
#: address", which GetCustomerByEmail is known to answer).
NOT_FOUND = {
    "GetCustomer": "There is no customer with that code",
    "GetCustomerByID": "There is no customer with that ID",
    "GetInvoice": "There is no invoice with that number",
    "GetInvoicePayment": "There is no invoice with that number",
    "GetInvoicesForCustomer": "There is no customer with that ID",
}
NOT_FOUND_ANSWERS = ("no", "missing", "nil", "zero")
EMPTY_LIST_ANSWERS = ("empty", "missing", "nil")
PASSWORD_MODES = ("login", "separate")
_CALL = "kashflow_sandbox.soap_call"
_NIL = ' xsi:nil="true"'


@dataclass
class SoapSettings:
    """The account's SOAP settings and the SOAP switches (read under the sandbox's lock)."""

    #: The separate API password (accepted only in "separate" mode).
    api_password: str
    #: "login": the web login password is accepted; "separate": only :attr:`api_password`.
    password_mode: str = "login"  # noqa: S105 - a mode's name, not a password
    #: "Enable SOAP API" ticked in API Settings.
    enabled: bool = True
    #: Refuse callers as not in the IP access list: None (allow), "" (the caller's own
    #: address) or the address to name in the message.
    blocked_ip: str | None = None
    #: How an unknown customer or invoice is answered (see :data:`NOT_FOUND_ANSWERS`).
    not_found: str = "no"
    #: How an empty list is written (see :data:`EMPTY_LIST_ANSWERS`).
    empty_list: str = "empty"

    def reset(self) -> None:
        """Back to an enabled, unrestricted service (the password mode is account set-up and
        stays)."""
        self.enabled = True
        self.blocked_ip = None
        self.not_found = "no"
        self.empty_list = "empty"

    def accepted_password(self, login: LoginSettings) -> str:
        """The password the current mode accepts."""
        # A comparison with the name of a mode, not with a password.
        separate = self.password_mode == "separate"  # noqa: S105  # nosec B105
        return self.api_password if separate else login.password


class SoapApi:
    """The SOAP service over the shared :class:`~..state.SandboxState`."""

    endpoints: tuple[str, ...] = ENDPOINTS

    def __init__(self, state: SandboxState, login: LoginSettings, settings: SoapSettings) -> None:
        self._state = state
        self._login = login
        self.settings = settings
        state.resets.append(settings.reset)
        self._operations: dict[str, t.Callable[[SoapCall, str], str | None]] = {
            "GetCustomer": self._get_customer,
            "GetCustomerByID": self._get_customer_by_id,
            "GetInvoice": self._get_invoice,
            "GetInvoicesForCustomer": self._get_invoices_for_customer,
            "GetInvoicePayment": self._get_invoice_payment,
            "GetInvoices_Recent": self._get_invoices_recent,
            "GetInvoices_Unpaid": self._get_invoices_unpaid,
            "GetInvoices_Overdue": self._get_invoices_overdue,
            "GetCustomers": self._get_customers,
        }

    # -- routing and faults -------------------------------------------------------------------

    def match(self, request: Request) -> Route | None:
        """The route for a request to ``/api/service.asmx``; None for any other path."""
        if request.path.rstrip("/").lower() != "/api/service.asmx":
            return None
        if request.method != "POST":
            answer = Response("Method Not Allowed", 405, {"Allow": "POST"}, mimetype="text/plain")
            return Route("soap.other", lambda request: answer, self)
        try:
            call = parse(request, OPERATIONS)
        except SoapFault as e:
            error = soap_fault(version_of(request), e.message, status=e.status)
            return Route("soap.other", lambda request: error, self)
        request.environ[_CALL] = call
        return Route(f"soap.{call.operation}", functools.partial(self._answer, call), self)

    def fault_response(self, fault: Fault, request: Request, route: Route) -> Response | None:
        """A fault's answer as the SOAP service would give it."""
        version = version_of(request)
        call = request.environ.get(_CALL)
        if fault.kind == STATUS_NO and isinstance(call, SoapCall):
            return _status_no(call, fault.message)
        if fault.kind == FAIL and fault.body is None:
            message = "Server was unable to process request. ---> The service is unavailable."
            return soap_fault(version, message, client=False, status=fault.status)
        if fault.kind == FAIL:
            return fail_response(fault)
        if fault.kind == RATE_LIMIT:
            answer = soap_fault(version, "Too many requests.", client=False, status=429)
            answer.headers["Retry-After"] = str(fault.retry_after)
            return answer
        return None

    def after_fault(self, fault: Fault, response: Response) -> Response:
        """A malformed fault cuts the XML in half (still 200, still the SOAP Content-Type)."""
        if fault.kind != MALFORMED:
            return response
        data = response.get_data()
        return Response(data[: len(data) // 2], status=200, content_type=response.content_type)

    # -- the call -----------------------------------------------------------------------------

    def _answer(self, call: SoapCall, request: Request) -> Response:
        origin = request.host_url.rstrip("/")
        with self._state.lock:
            refusal = self._refusal(call, request)
            if refusal is not None:
                return _status_no(call, refusal)
            try:
                result = self._operations[call.operation](call, origin)
            except SoapFault as e:
                return soap_fault(call.version, e.message)
            except LookupError:
                result = self._not_found(call)
                if result is None and self.settings.not_found == "no":
                    return _status_no(call, NOT_FOUND[call.operation])
        body = f"{result or ''}<Status>OK</Status><StatusDetail />"
        return soap_response(call.version, _response(call, body))

    def _refusal(self, call: SoapCall, request: Request) -> str | None:
        settings = self.settings
        if not settings.enabled:
            return NOT_ENABLED
        if settings.blocked_ip is not None:
            return IP_BLOCKED.format(ip=settings.blocked_ip or request.remote_addr or "")
        username = call.params.get("UserName", "")
        password = call.params.get("Password", "")
        expected = settings.accepted_password(self._login)
        right_user = username.casefold() == self._login.username.casefold()
        right_password = hmac.compare_digest(password.encode(), expected.encode())
        return None if right_user and right_password else INCORRECT_LOGIN

    def _not_found(self, call: SoapCall) -> str | None:
        """The result element for a missing record under the current switch; None to leave it
        out (or, under "no", to answer Status NO)."""
        answer = self.settings.not_found
        name = f"{call.operation}Result"
        if answer == "nil":
            return f"<{name}{_NIL} />"
        if answer != "zero":
            return None
        if call.operation in ("GetInvoicesForCustomer", "GetInvoicePayment"):
            return self._list(name, [])
        if call.operation == "GetInvoice":
            return wrap(name, invoice_xml({"Id": 0, "Number": 0, "CustomerId": 0}, ""))
        return wrap(name, customer_xml({"Id": 0}))

    def _list(self, name: str, items: t.Sequence[str]) -> str | None:
        if items:
            return wrap(name, "".join(items))
        answer = self.settings.empty_list
        if answer == "missing":
            return None
        return f"<{name}{_NIL if answer == 'nil' else ''} />"

    # -- operations: each returns its result element, or raises LookupError ------------------

    def _get_customer(self, call: SoapCall, origin: str) -> str | None:
        customer = self._state.data.customer(call.params.get("CustomerCode", ""))
        return wrap("GetCustomerResult", customer_xml(_found(customer)))

    def _get_customer_by_id(self, call: SoapCall, origin: str) -> str | None:
        customer = self._state.data.customer_by_id(_int(call, "CustomerID"))
        return wrap("GetCustomerByIDResult", customer_xml(_found(customer)))

    def _get_invoice(self, call: SoapCall, origin: str) -> str | None:
        invoice = self._state.data.invoices.get(_int(call, "InvoiceNumber"))
        return wrap("GetInvoiceResult", invoice_xml(_found(invoice), origin))

    def _get_invoices_for_customer(self, call: SoapCall, origin: str) -> str | None:
        data = self._state.data
        customer = _found(data.customer_by_id(_int(call, "CustID")))
        # ignore_filters misbehaves here too: every customer's invoices.
        listed = (
            [i for _, i in sorted(data.invoices.items())]
            if self._state.ignore_filters
            else data.invoices_of(customer["Code"])
        )
        items = [wrap("Invoice", invoice_xml(i, origin)) for i in listed]
        return self._list("GetInvoicesForCustomerResult", items)

    def _get_invoice_payment(self, call: SoapCall, origin: str) -> str | None:
        invoice = _found(self._state.data.invoices.get(_int(call, "InvoiceNumber")))
        items = [
            wrap("Payment", payment_xml(invoice, p)) for p in invoice.get("PaymentLines") or ()
        ]
        return self._list("GetInvoicePaymentResult", items)

    def _get_invoices_recent(self, call: SoapCall, origin: str) -> str | None:
        """The newest ``NumberOfInvoices`` invoices, newest (issue date, then number) first."""
        count = max(_int(call, "NumberOfInvoices"), 0)
        invoices = self._state.data.invoices.values()
        newest = sorted(invoices, key=lambda i: (_day(i), int(i["Number"])), reverse=True)
        items = [wrap("Invoice", invoice_xml(i, origin)) for i in newest[:count]]
        return self._list("GetInvoices_RecentResult", items)

    def _get_invoices_unpaid(self, call: SoapCall, origin: str) -> str | None:
        """Every invoice of the account not fully paid (overdue ones included), by number."""
        return self._invoices_in("GetInvoices_UnpaidResult", UNPAID_STATUSES, origin)

    def _get_invoices_overdue(self, call: SoapCall, origin: str) -> str | None:
        """Every invoice not fully paid and past its due date, by number."""
        return self._invoices_in("GetInvoices_OverdueResult", ("Overdue",), origin)

    def _invoices_in(self, name: str, statuses: t.Collection[str], origin: str) -> str | None:
        # No paging: the whole set in one answer, as KashFlow's SOAP lists come. The status
        # is the store's (what REST serves), so both APIs agree on who owes what; and
        # ignore_filters misbehaves here too: every invoice, whatever its status.
        everything = [i for _, i in sorted(self._state.data.invoices.items())]
        if not self._state.ignore_filters:
            everything = [i for i in everything if i.get("Status") in statuses]
        return self._list(name, [wrap("Invoice", invoice_xml(i, origin)) for i in everything])

    def _get_customers(self, call: SoapCall, origin: str) -> str | None:
        """Every customer of the account, by code, in one answer."""
        customers = sorted(self._state.data.customers.values(), key=lambda c: str(c["Code"]))
        items = [wrap("Customer", customer_xml(c)) for c in customers]
        return self._list("GetCustomersResult", items)


def _day(invoice: JSONDict) -> str:
    return soap_date(invoice.get("IssuedDate"))


def _found(record: JSONDict | None) -> JSONDict:
    if record is None:
        raise LookupError("not found")
    return record


def _int(call: SoapCall, name: str) -> int:
    """An ``s:int`` parameter; absent is 0 (as ASMX binds it), malformed is a fault."""
    text = call.params.get(name, "").strip()
    if not text:
        return 0
    try:
        return int(text)
    except ValueError:
        raise SoapFault(
            "Server was unable to read request. ---> There is an error in XML document. "
            "---> Input string was not in a correct format."
        ) from None


def _response(call: SoapCall, inner: str) -> str:
    return f'<{call.operation}Response xmlns="KashFlow">{inner}</{call.operation}Response>'


def _status_no(call: SoapCall, detail: str) -> Response:
    body = f"<Status>NO</Status><StatusDetail>{escape(detail)}</StatusDetail>"
    return soap_response(call.version, _response(call, body))


__all__ = [
    "EMPTY_LIST_ANSWERS",
    "ENDPOINTS",
    "INCORRECT_LOGIN",
    "IP_BLOCKED",
    "NOT_ENABLED",
    "NOT_FOUND",
    "NOT_FOUND_ANSWERS",
    "OPERATIONS",
    "PASSWORD_MODES",
    "STATUS_NO",
    "UNPAID_STATUSES",
    "SoapApi",
    "SoapSettings",
]
