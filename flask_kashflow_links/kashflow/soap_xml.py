"""SOAP envelopes for KashFlow's legacy API: writing the few requests, reading the answers.

Requests are SOAP 1.1 documents built with the standard library: one element named after the
operation, with a default ``xmlns="KashFlow"`` so that every parameter is qualified (ASMX
silently drops unqualified parameters), and the parameters in the WSDL's order (ASMX binds a
sequence by order). Nothing else is needed for a read-only client of five operations, so no
SOAP library (and no WSDL download) is involved.

Answers are parsed with :mod:`defusedxml`: no DTDs, no entity expansion, no external
references. Every answer has the same shape, ``<OpResponse>`` holding ``<OpResult>``,
``<Status>`` and ``<StatusDetail>``; success is decided on ``Status`` alone. Element names are
matched by their local name, so an answer that qualifies its children differently still reads.
"""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass
from html import escape

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError
from defusedxml.ElementTree import fromstring

if t.TYPE_CHECKING:  # pragma: no cover
    # The type only: every document is parsed by defusedxml.
    from xml.etree.ElementTree import Element  # nosec B405

#: The target namespace of KashFlow's service (the bare string, not a URL).
NAMESPACE = "KashFlow"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
_XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
#: Characters XML 1.0 cannot carry at all.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
#: A parameter name as the WSDL spells them.
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


class MalformedAnswer(ValueError):
    """The body is not a KashFlow SOAP answer (not XML, not an envelope, or another shape)."""


@dataclass(frozen=True)
class Fault:
    """A ``soap:Fault``: the service could not process the request (HTTP 500 as a rule)."""

    #: True for a fault of the server (``soap:Server``/``soap:Receiver``), False for one of the
    #: request (``soap:Client``/``soap:Sender``).
    server: bool
    text: str


@dataclass(frozen=True)
class Answer:
    """An ``<OpResponse>``: the result element (``None`` when absent or nil) and the status."""

    status: str
    detail: str
    result: Element | None

    @property
    def ok(self) -> bool:
        """Whether KashFlow answered ``Status`` ``OK`` (its only sign of success)."""
        return self.status.strip().upper() == "OK"


def xml_safe(value: str) -> bool:
    """Whether XML 1.0 can carry *value* (no control characters but tab and newlines)."""
    return not _NOT_XML.search(value)


def request_body(operation: str, params: t.Sequence[tuple[str, str | int]]) -> bytes:
    """A SOAP 1.1 envelope calling *operation* with *params* in the given order.

    :raises ValueError: a value holds characters XML 1.0 cannot carry.
    """
    if not _NAME.fullmatch(operation):
        raise ValueError(f"not an operation name: {operation!r}")
    parts = []
    for name, value in params:
        if not _NAME.fullmatch(name):
            raise ValueError(f"not a parameter name: {name!r}")
        text = str(value)
        if not xml_safe(text):
            raise ValueError(f"{name} holds characters XML cannot carry")
        parts.append(f"<{name}>{escape(text, quote=False)}</{name}>")
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<soap:Envelope xmlns:soap="{SOAP11}"><soap:Body>'
        f'<{operation} xmlns="{NAMESPACE}">{"".join(parts)}</{operation}>'
        "</soap:Body></soap:Envelope>"
    ).encode()


def local(tag: t.Any) -> str:
    """The local name of an ElementTree tag (``"{ns}name"`` or ``"name"``)."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def child(element: Element | None, name: str) -> Element | None:
    """The first child of *element* named *name* (any namespace), or ``None``."""
    if element is None:
        return None
    for item in element:
        if local(item.tag) == name:
            return item
    return None


def text(element: Element | None, name: str) -> str | None:
    """The text of *element*'s child *name*: ``""`` for an empty element, ``None`` when absent
    or nil."""
    found = child(element, name)
    if found is None or is_nil(found):
        return None
    return found.text or ""


def is_nil(element: Element) -> bool:
    """Whether *element* says ``xsi:nil="true"``."""
    return element.get(_XSI_NIL, "").strip().lower() in ("true", "1")


def items(element: Element | None) -> list[Element]:
    """The items of a list element: every child element. A missing, empty or nil list is empty
    (KashFlow writes all three), and a list of one is still a list."""
    if element is None or is_nil(element):
        return []
    return [item for item in element if isinstance(item.tag, str)]


def body_of(content: bytes) -> Element:
    """The element inside a SOAP 1.1 or 1.2 envelope's body.

    :raises MalformedAnswer: not XML, XML with a DTD or entities, or not a SOAP envelope.
    """
    if not content.strip():
        raise MalformedAnswer("an empty answer")
    try:
        root = fromstring(content, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError) as e:
        raise MalformedAnswer(f"not well-formed XML ({type(e).__name__})") from None
    namespace = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    if local(root.tag) != "Envelope" or namespace not in (SOAP11, SOAP12):
        raise MalformedAnswer("not a SOAP envelope")
    body = root.find(f"{{{namespace}}}Body")
    payload = next(iter(items(body)), None)
    if payload is None:
        raise MalformedAnswer("an empty SOAP body")
    return payload


def fault_of(payload: Element) -> Fault | None:
    """The fault *payload* is, if it is a ``soap:Fault`` (1.1 or 1.2)."""
    if local(payload.tag) != "Fault":
        return None
    # SOAP 1.1: faultcode and faultstring; SOAP 1.2: Code/Value and Reason/Text.
    code = text(payload, "faultcode") or text(child(payload, "Code"), "Value") or ""
    message = text(payload, "faultstring") or text(child(payload, "Reason"), "Text") or ""
    server = local(code.split(":")[-1]) in ("Server", "Receiver")
    return Fault(server=server, text=" ".join(message.split())[:300])


def answer_of(payload: Element, operation: str) -> Answer:
    """The answer to *operation* in *payload*.

    :raises MalformedAnswer: the payload answers another operation, or has no ``Status``.
    """
    if local(payload.tag) != f"{operation}Response":
        raise MalformedAnswer(f"{local(payload.tag) or 'something'} instead of {operation}Response")
    status = text(payload, "Status")
    if status is None:
        raise MalformedAnswer(f"{operation}Response without a Status")
    result = child(payload, f"{operation}Result")
    detail = " ".join((text(payload, "StatusDetail") or "").split())
    return Answer(
        status=status,
        detail=detail[:500],
        result=None if result is None or is_nil(result) else result,
    )


__all__ = [
    "NAMESPACE",
    "SOAP11",
    "SOAP12",
    "Answer",
    "Fault",
    "MalformedAnswer",
    "answer_of",
    "body_of",
    "child",
    "fault_of",
    "is_nil",
    "items",
    "local",
    "request_body",
    "text",
    "xml_safe",
]
