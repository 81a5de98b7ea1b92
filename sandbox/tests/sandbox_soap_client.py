"""Talking SOAP to the sandbox in its own tests: envelopes built as plain strings, answers
parsed with defusedxml."""

from __future__ import annotations

import typing as t

import requests
from defusedxml.ElementTree import fromstring

from kashflow_sandbox import KashFlowSandbox
from sandbox_client import TIMEOUT

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
KF = "{KashFlow}"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"


class Answer(t.NamedTuple):
    http: requests.Response
    response: t.Any  # the <OpResponse> element

    @property
    def status(self) -> str:
        return str(self.response.findtext(f"{KF}Status"))

    @property
    def detail(self) -> str:
        return self.response.findtext(f"{KF}StatusDetail") or ""

    def result(self, operation: str) -> t.Any:
        return self.response.find(f"{KF}{operation}Result")


def envelope(operation: str, params: str, *, version: str = SOAP11, user: str | None = None,
             password: str | None = None, sb: KashFlowSandbox | None = None) -> str:  # fmt: skip
    user = user if user is not None else (sb.username if sb else "")
    password = password if password is not None else (sb.password if sb else "")
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<soap:Envelope xmlns:soap="{version}"><soap:Body>'
        f'<{operation} xmlns="KashFlow"><UserName>{user}</UserName><Password>{password}</Password>'
        f"{params}</{operation}></soap:Body></soap:Envelope>"
    )


def post(sb: KashFlowSandbox, body: str | bytes, *, version: str = SOAP11,
         action: str | None = None, quoted: bool = True) -> requests.Response:  # fmt: skip
    headers: dict[str, str] = {}
    if version == SOAP12:
        extra = f'; action="{action}"' if action else ""
        headers["Content-Type"] = f"application/soap+xml; charset=utf-8{extra}"
    else:
        headers["Content-Type"] = "text/xml; charset=utf-8"
        if action is not None:
            headers["SOAPAction"] = f'"{action}"' if quoted else action
    data = body.encode() if isinstance(body, str) else body
    return requests.post(sb.soap_url, data=data, headers=headers, timeout=TIMEOUT)


def call(sb: KashFlowSandbox, operation: str, params: str = "", *, version: str = SOAP11,
         password: str | None = None, user: str | None = None) -> Answer:  # fmt: skip
    body = envelope(operation, params, version=version, user=user, password=password, sb=sb)
    http = post(sb, body, version=version, action=f"KashFlow/{operation}")
    assert http.status_code == 200, http.text
    root = fromstring(http.content)
    response = root.find(f"{{{version}}}Body/{KF}{operation}Response")
    assert response is not None, http.text
    return Answer(http, response)


def tags(element: t.Any) -> list[str]:
    return [child.tag.replace(KF, "") for child in element]


def field(element: t.Any, name: str) -> str:
    return str(element.findtext(f"{KF}{name}"))


def fault_text(http: requests.Response, version: str = SOAP11) -> str:
    root = fromstring(http.content)
    fault = root.find(f"{{{version}}}Body/{{{version}}}Fault")
    assert fault is not None, http.text
    if version == SOAP12:
        return str(fault.findtext(f"{{{SOAP12}}}Reason/{{{SOAP12}}}Text"))
    assert fault.findtext("faultcode") in ("soap:Client", "soap:Server")
    return str(fault.findtext("faultstring"))
