"""KashFlow's REST API v2 as the sandbox serves it: routes bound directly to their handlers.

Each werkzeug :class:`~werkzeug.routing.Rule` carries an :class:`Endpoint` holding the counter
name and the handler, so matching a request is the whole of routing. Paths are matched
case-insensitively, as .NET routing does; values in them (codes, GUIDs, tokens) are compared
case-insensitively too. Everything but the login needs ``Authorization: KfToken <token>``.
"""

from __future__ import annotations

import functools
import re
import typing as t
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import urlsplit

from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import MethodNotAllowed
from werkzeug.routing import Map
from werkzeug.routing import Rule
from werkzeug.utils import redirect
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from .app import Route
from .documents import invoice_pdf
from .documents import receipt_pdf
from .documents import statement_pdf
from .faults import FAIL
from .faults import MALFORMED
from .faults import RATE_LIMIT
from .faults import Fault
from .jsonfmt import JSON_TYPE
from .jsonfmt import encode_json
from .jsonfmt import error_response
from .jsonfmt import json_response
from .listing import CUSTOMERS_MAX_PER_PAGE
from .listing import BadParameter
from .listing import CustomerQuery
from .listing import ListQuery
from .sessions import INVALID_SESSION
from .state import SandboxState
from .values import JSONDict

#: Counter names, one per endpoint; 404/405 routes count as "other".
ENDPOINTS = (
    "sessiontoken.post",
    "sessiontoken.put",
    "sessiontoken.delete",
    "invoices.list",
    "invoices.get",
    "customers.list",
    "customers.get",
    "documents.get",
    "documents.download",
    "other",
)
#: A fault kind of this protocol: answer a list with ``"MetaData": null``.
NULL_METADATA = "null_metadata"
#: At most this many redirected documents wait for their download (the oldest go first).
_MAX_DOWNLOADS = 256
#: KashFlow's leaked .NET SqlException for a server-side query timeout (an HTTP 400).
SQL_TIMEOUT_BODY: JSONDict = {
    "Error": "-2146232060",
    "Message": (
        "Execution Timeout Expired.  The timeout period elapsed prior to completion of the "
        "operation or the server is not responding."
    ),
}
_FAIL_BODIES = {
    500: ("InternalServerError", "An error has occurred."),
    502: ("BadGateway", "The server received an invalid response from an upstream server."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable."),
    504: ("GatewayTimeout", "The upstream server did not respond in time."),
}


@dataclass(frozen=True, eq=False)
class Endpoint:
    """What a rule leads to: the counter name and the handler (called with the path values)."""

    name: str
    handler: t.Callable[..., Response]
    #: True for the login routes, which need no session token.
    public: bool = False


class RestApi:
    """The REST v2 routes over the shared :class:`~.state.SandboxState`."""

    endpoints: tuple[str, ...] = ENDPOINTS

    def __init__(self, state: SandboxState) -> None:
        self._state = state
        sessions = state.sessions

        def rule(path: str, method: str, name: str, handler: t.Callable[..., Response]) -> Rule:
            public = name.startswith("sessiontoken.") or name == "documents.download"
            return Rule(path, methods=[method], endpoint=Endpoint(name, handler, public))

        self._map = Map(
            [
                rule("/v2/sessiontoken", "POST", "sessiontoken.post", sessions.login_start),
                rule("/v2/sessiontoken", "PUT", "sessiontoken.put", sessions.login_finish),
                rule("/v2/sessiontoken/<token>", "DELETE", "sessiontoken.delete", sessions.logout),
                rule("/v2/invoices", "GET", "invoices.list", self.list_invoices),
                rule("/v2/invoices/<number>", "GET", "invoices.get", self.get_invoice),
                rule("/v2/customers", "GET", "customers.list", self.list_customers),
                rule("/v2/customers/<code>", "GET", "customers.get", self.get_customer),
                rule("/v2/documents/invoice/<key>", "GET", "documents.get", self.invoice_document),
                rule(
                    "/v2/documents/invoice/payment/<key>",
                    "GET",
                    "documents.get",
                    self.receipt_document,
                ),
                rule("/v2/documents/packingslip/<key>", "GET", "documents.get", self.packing_slip),
                rule(
                    "/v2/documents/customerstatement/<key>",
                    "GET",
                    "documents.get",
                    self.statement_document,
                ),
                # Where redirected documents land (like a pre-signed storage URL: no token).
                rule("/v2/documents/download/<nonce>", "GET", "documents.download", self.download),
            ],
            strict_slashes=False,
            merge_slashes=False,
        )

    # -- routing and faults -------------------------------------------------------------------

    def match(self, request: Request) -> Route:
        """The route for *request*; unknown paths and methods are JSON 404/405 ("other")."""
        adapter = self._map.bind("sandbox.invalid")
        try:
            endpoint, args = adapter.match(request.path.lower(), request.method)
        except MethodNotAllowed:
            answer = error_response(405, "MethodNotAllowed", "The requested method is not allowed.")
            return Route("other", lambda request: answer, self)
        except HTTPException:
            answer = error_response(404, "NotFound", "The requested resource was not found.")
            return Route("other", lambda request: answer, self)
        return Route(endpoint.name, functools.partial(self._call, endpoint, args), self)

    def _call(self, endpoint: Endpoint, args: t.Mapping[str, t.Any], request: Request) -> Response:
        if not (
            endpoint.public
            or self._shared_document(endpoint, request)
            or self._state.sessions.authenticate(request)
        ):
            return json_response(401, INVALID_SESSION)
        return endpoint.handler(request, **args)

    def _shared_document(self, endpoint: Endpoint, request: Request) -> bool:
        """A document asked for without any session token while permalinks are public (a
        request carrying a token has it checked as usual)."""
        return (
            self._state.public_documents
            and endpoint.name == "documents.get"
            and "Authorization" not in request.headers
        )

    def fault_response(self, fault: Fault, request: Request, route: Route) -> Response | None:
        """A fault's answer as KashFlow's REST API would give it."""
        if fault.kind == RATE_LIMIT:
            return json_response(
                429,
                {
                    "Error": "TooManyRequests",
                    "Message": f"Too many requests. Retry after {fault.retry_after} seconds.",
                },
                {"Retry-After": str(fault.retry_after)},
            )
        if fault.kind == FAIL:
            return fail_response(fault)
        return None

    def after_fault(self, fault: Fault, response: Response) -> Response:
        """A malformed fault cuts the JSON in half (still 200, still JSON's Content-Type); a
        null-metadata fault replaces a list's ``MetaData`` with ``null``."""
        if fault.kind == NULL_METADATA:
            body = response.get_data()
            head, found, _ = body.rpartition(b',"MetaData":')
            if found and response.status_code == 200:
                response.set_data(head + b',"MetaData":null}')
            return response
        if fault.kind != MALFORMED:
            return response
        data = response.get_data() if response.mimetype == "application/json" else b""
        if len(data) < 8:
            data = b'{"Data":[{"Number":1043,"Status":"Unpaid"}],"MetaData":{}}'
        return Response(data[: len(data) // 2], status=200, content_type=JSON_TYPE)

    # -- invoices and customers ---------------------------------------------------------------

    def list_invoices(self, request: Request) -> Response:
        """``GET /v2/invoices``: a page of invoice rows in the ``Data``/``MetaData`` envelope."""
        try:
            query = ListQuery.parse(request.args.items(multi=True))
        except BadParameter as e:
            return error_response(400, "InvalidParameter", str(e))
        state = self._state
        with state.lock:
            perpage = min(query.perpage, state.max_perpage)
            rows = query.select(
                state.data.invoices.values(), state.data.today, filters=not state.ignore_filters
            )
            chunk = rows[(query.page - 1) * perpage : query.page * perpage]
            # Encoded under the lock: another thread may be updating these invoices.
            data = encode_json([state.shape.invoice_row(r) for r in chunk])
            meta = query.meta(rows, f"{request.host_url.rstrip('/')}/v2/invoices", perpage)
        body = b'{"Data":' + data + b',"MetaData":' + encode_json(meta) + b"}"
        return Response(body, status=200, content_type=JSON_TYPE)

    def get_invoice(self, request: Request, number: str) -> Response:
        """``GET /v2/invoices/{number}``: the full invoice."""
        if not re.fullmatch(r"[0-9]{1,9}", number):
            return error_response(
                400, "InvalidParameter", "The invoice number must be a whole number."
            )
        state = self._state
        with state.lock:
            invoice = state.data.invoices.get(int(number))
            if invoice is None:
                return _missing_invoice(state.missing_invoice_answer, int(number))
            return json_response(200, state.shape.invoice(invoice))

    def list_customers(self, request: Request) -> Response:
        """``GET /v2/customers``: a page of customers, each as ``GET /v2/customers/{code}``
        gives it, in the ``Data``/``MetaData`` envelope."""
        try:
            query = CustomerQuery.parse(request.args.items(multi=True))
        except BadParameter as e:
            return error_response(400, "InvalidParameter", str(e))
        state = self._state
        with state.lock:
            perpage = min(query.perpage, CUSTOMERS_MAX_PER_PAGE, state.max_perpage)
            rows = query.select(state.data.customers.values(), filters=not state.ignore_filters)
            chunk = rows[(query.page - 1) * perpage : query.page * perpage]
            data = encode_json([state.shape.customer(c) for c in chunk])
            meta = query.meta(rows, f"{request.host_url.rstrip('/')}/v2/customers", perpage)
        body = b'{"Data":' + data + b',"MetaData":' + encode_json(meta) + b"}"
        return Response(body, status=200, content_type=JSON_TYPE)

    def get_customer(self, request: Request, code: str) -> Response:
        """``GET /v2/customers/{code}``: the full customer."""
        state = self._state
        with state.lock:
            customer = state.data.customer(code)
            if customer is None:
                return error_response(404, "NotFound", "Customer not found.")
            return json_response(200, state.shape.customer(customer))

    # -- documents ----------------------------------------------------------------------------

    def invoice_document(self, request: Request, key: str) -> Response:
        """``GET /v2/documents/invoice/{key}``: the invoice PDF."""
        with self._state.lock:
            invoice = self._state.data.invoice_by_key(key)
            if invoice is None:
                return _no_document()
            return self._deliver(request, *invoice_pdf(invoice))

    def packing_slip(self, request: Request, key: str) -> Response:
        """``GET /v2/documents/packingslip/{key}``: the packing slip PDF."""
        with self._state.lock:
            invoice = self._state.data.invoice_by_key(key)
            if invoice is None:
                return _no_document()
            return self._deliver(request, *invoice_pdf(invoice, packing_slip=True))

    def receipt_document(self, request: Request, key: str) -> Response:
        """``GET /v2/documents/invoice/payment/{key}``: a payment receipt PDF."""
        with self._state.lock:
            found = self._state.data.payment_by_key(key)
            if found is None:
                return _no_document()
            return self._deliver(request, *receipt_pdf(*found))

    def statement_document(self, request: Request, key: str) -> Response:
        """``GET /v2/documents/customerstatement/{key}``: a customer statement PDF."""
        params = {k.lower(): v for k, v in request.args.items()}
        data = self._state.data
        with self._state.lock:
            customer = data.customer_by_key(key)
            if customer is None:
                return _no_document()
            try:
                pdf, name = statement_pdf(
                    customer, data.invoices_of(customer["Code"]), params, data.today
                )
            except ValueError as e:
                return error_response(400, "InvalidParameter", str(e))
            return self._deliver(request, pdf, name)

    def download(self, request: Request, nonce: str) -> Response:
        """``GET /v2/documents/download/{nonce}``: a redirected document (no token needed)."""
        with self._state.lock:
            found = self._state.downloads.get(nonce)
        if not found:
            return _no_document()
        return pdf_response(*found)

    def _deliver(self, request: Request, pdf: bytes, name: str) -> Response:
        """The PDF itself, or a 302 to where it waits when documents are redirected."""
        state = self._state
        target = state.document_redirect
        if target is None:
            return pdf_response(pdf, name)
        nonce = uuid.uuid4().hex
        state.downloads[nonce] = (pdf, name)
        while len(state.downloads) > _MAX_DOWNLOADS:
            del state.downloads[next(iter(state.downloads))]
        return redirect(f"{_redirect_base(request, target)}/v2/documents/download/{nonce}", 302)


def pdf_response(pdf: bytes, name: str) -> Response:
    """A PDF answer, shown inline under file name *name*."""
    return Response(
        pdf,
        status=200,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )


def fail_response(fault: Fault) -> Response:
    """The answer of a ``fail_next`` fault: *body* as given, else KashFlow's error body.

    A string body is sent as ``text/plain`` unless the fault's headers set a Content-Type.
    """
    headers = dict(fault.headers or {})
    if isinstance(fault.body, str):
        content_type = next(
            (v for k, v in headers.items() if k.lower() == "content-type"),
            "text/plain; charset=utf-8",
        )
        headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        return Response(fault.body, status=fault.status, content_type=content_type, headers=headers)
    body = fault.body
    if body is None:
        error, message = _FAIL_BODIES.get(fault.status, ("", ""))
        if not error:
            phrase = _phrase(fault.status)
            error, message = phrase.replace(" ", ""), f"{phrase}."
        body = {"Error": error, "Message": message}
    return json_response(fault.status, body, headers)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _no_document() -> Response:
    return error_response(404, "NotFound", "Document not found.")


def _missing_invoice(answer: str, number: int) -> Response:
    # Undocumented: 404 with an error body, 400 with one, or 200 with a null body are all
    # plausible for an unknown invoice number (see set_missing_invoice_answer).
    if answer == "null":
        return Response(b"null", status=200, content_type=JSON_TYPE)
    if answer == "400":
        return error_response(
            400, "InvalidInvoiceNumber", f"Invoice number {number} does not exist."
        )
    return error_response(404, "NotFound", "Invoice not found.")


def _redirect_base(request: Request, target: str) -> str:
    """Scheme, host and port a document redirect points at.

    ``"same"`` is this sandbox as the client addressed it; ``"other"`` is this sandbox under
    another loopback name (``localhost`` for ``127.0.0.1`` and back), which a client must
    treat as a different host; anything else is taken as a base URL.
    """
    here = urlsplit(request.host_url)
    if target == "same":
        return f"{here.scheme}://{here.netloc}"
    if target == "other":
        host = "localhost" if here.hostname == "127.0.0.1" else "127.0.0.1"
        port = f":{here.port}" if here.port else ""
        return f"{here.scheme}://{host}{port}"
    return target.rstrip("/")


__all__ = [
    "ENDPOINTS",
    "NULL_METADATA",
    "SQL_TIMEOUT_BODY",
    "Endpoint",
    "RestApi",
    "fail_response",
    "pdf_response",
]
