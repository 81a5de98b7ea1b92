"""SOAP 1.1 and 1.2 envelopes: reading a request safely, writing responses and faults.

Requests are parsed with :mod:`defusedxml` (no DTDs, no entities, no external references)
after a size check, as an ASMX service reads them: SOAP 1.1 names the operation in the
``SOAPAction`` header (``"KashFlow/GetInvoice"``, quoted or not), SOAP 1.2 in the
Content-Type's ``action`` parameter (or, failing that, by the body's element). The operation
element and its children are in the ``KashFlow`` namespace; unqualified children are ignored,
as ASMX's serializer ignores them. Protocol problems are HTTP 500 ``soap:Fault`` answers.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from dataclasses import field

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError
from defusedxml.ElementTree import fromstring
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from .xmlwrite import escape

NAMESPACE = "KashFlow"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
CONTENT_TYPES = {SOAP11: "text/xml; charset=utf-8", SOAP12: "application/soap+xml; charset=utf-8"}
#: Requests larger than this are refused before parsing.
MAX_BODY = 1024 * 1024
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_XSD = "http://www.w3.org/2001/XMLSchema"


class SoapFault(Exception):
    """A protocol-level failure: answered with HTTP *status* and a ``soap:Fault``."""

    def __init__(self, message: str, *, client: bool = True, status: int = 500) -> None:
        super().__init__(message)
        self.message = message
        self.client = client
        self.status = status


@dataclass
class SoapCall:
    """A parsed request: the SOAP version's namespace, the operation and its parameters."""

    version: str
    operation: str
    #: The KashFlow-namespaced children of the operation element, by local name.
    params: dict[str, str] = field(default_factory=dict)


def version_of(request: Request) -> str:
    """The SOAP namespace the request's Content-Type implies (1.1 unless it says 1.2)."""
    return SOAP12 if request.mimetype == "application/soap+xml" else SOAP11


def action_of(request: Request) -> str | None:
    """The operation named by SOAPAction (1.1) or the Content-Type's action (1.2), if any."""
    if version_of(request) == SOAP12:
        raw = request.mimetype_params.get("action")
    else:
        raw = request.headers.get("SOAPAction")
    if raw is None:
        return None
    return raw.strip().strip('"')


def parse(request: Request, operations: t.Collection[str]) -> SoapCall:
    """Read *request* as a call of one of *operations*; :class:`SoapFault` if it is not."""
    version = version_of(request)
    if request.mimetype not in ("text/xml", "application/soap+xml"):
        raise SoapFault("Unsupported Media Type", status=415)
    action = action_of(request)
    operation = None
    if action is not None:
        prefix, _, name = action.rpartition("/")
        if prefix != NAMESPACE or name not in operations:
            raise SoapFault(
                f"Server did not recognize the value of HTTP Header SOAPAction: {action}."
            )
        operation = name
    elif version == SOAP11:
        raise SoapFault("Server did not recognize the value of HTTP Header SOAPAction: .")
    length = request.content_length
    if length is not None and length > MAX_BODY:
        raise SoapFault("Maximum request length exceeded.", status=413)
    body = request.stream.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        raise SoapFault("Maximum request length exceeded.", status=413)
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError) as e:
        raise SoapFault(
            f"Server was unable to read request. ---> There is an error in XML document ({e})."
        ) from None
    if root.tag != f"{{{version}}}Envelope":
        raise SoapFault("Server was unable to read request. ---> Not a SOAP envelope.")
    body_element = root.find(f"{{{version}}}Body")
    payload = next(iter(body_element), None) if body_element is not None else None
    if payload is None:
        raise SoapFault("Server was unable to read request. ---> The SOAP body is empty.")
    namespace, local = _split(payload.tag)
    if operation is None:
        operation = local if namespace == NAMESPACE and local in operations else None
    if operation is None or namespace != NAMESPACE or local != operation:
        raise SoapFault(
            "Server was unable to read request. ---> There is an error in XML document. "
            f"---> <{local} xmlns='{namespace}'> was not expected."
        )
    params = {
        child.tag[len(NAMESPACE) + 2 :]: (child.text or "")
        for child in payload
        if isinstance(child.tag, str) and child.tag.startswith(f"{{{NAMESPACE}}}")
    }
    return SoapCall(version, operation, params)


def _split(tag: str) -> tuple[str, str]:
    """``(namespace, local name)`` of an ElementTree tag (``"{ns}name"`` or ``"name"``)."""
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


def envelope(version: str, body: str) -> str:
    """A whole SOAP envelope around *body*, with ASMX's XML declaration and namespaces."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<soap:Envelope xmlns:soap="{version}" xmlns:xsi="{_XSI}" xmlns:xsd="{_XSD}">'
        f"<soap:Body>{body}</soap:Body></soap:Envelope>"
    )


def soap_response(version: str, body: str, status: int = 200) -> Response:
    """An envelope around *body* with the version's Content-Type."""
    return Response(
        envelope(version, body).encode("utf-8"), status=status, content_type=CONTENT_TYPES[version]
    )


def fault_response(
    version: str, message: str, *, client: bool = True, status: int = 500
) -> Response:
    """A ``soap:Fault`` as ASMX writes one for *version* (HTTP 500 unless *status*)."""
    text = escape(f"System.Web.Services.Protocols.SoapException: {message}")
    if version == SOAP12:
        code = "soap:Sender" if client else "soap:Receiver"
        fault = (
            f"<soap:Fault><soap:Code><soap:Value>{code}</soap:Value></soap:Code>"
            f'<soap:Reason><soap:Text xml:lang="en">{text}</soap:Text></soap:Reason>'
            "<soap:Detail /></soap:Fault>"
        )
    else:
        code = "soap:Client" if client else "soap:Server"
        fault = (
            f"<soap:Fault><faultcode>{code}</faultcode><faultstring>{text}</faultstring>"
            "<detail /></soap:Fault>"
        )
    return soap_response(version, fault, status)


__all__ = [
    "CONTENT_TYPES",
    "MAX_BODY",
    "NAMESPACE",
    "SOAP11",
    "SOAP12",
    "SoapCall",
    "SoapFault",
    "action_of",
    "envelope",
    "fault_response",
    "parse",
    "soap_response",
    "version_of",
]
