"""HTTP with KashFlow's SOAP API: the calls, the PDFs behind permalinks, failures mapped.

Every call is one POST with a timeout, bounded retries for what passes (connection errors, 429,
502, 503, 504: urllib3's ``Retry``), no redirects, a bound on the answer's size and on the
time spent reading it. The answer is then read in this order:

* HTTP 200 with a well-formed ``<OpResponse>``: the :class:`~.soap_xml.Answer` (whose
  ``Status`` the backend checks);
* a ``soap:Fault`` (HTTP 500 as a rule): the service could not process the request, which
  passes (:class:`~flask_kashflow_links.KashFlowUnavailable`) when it is the server's fault;
* HTTP 429 and 5xx without a fault: :class:`~flask_kashflow_links.KashFlowUnavailable`;
* anything else, malformed or empty XML included:
  :class:`~flask_kashflow_links.KashFlowBadResponse`.

The request body holds the username and password, so nothing kept on an exception holds the
request's body (:func:`~.http.about`).

Invoice PDFs come from a SOAP invoice's ``PermaLink``, fetched without any credentials: the
SOAP API has no session, and nothing could go with the request but the username and password,
which never leave a SOAP body. KashFlow describes the permalink as a permanent link to the PDF
that "can be shared"; whether KashFlow serves it without a REST session is unconfirmed, so an
answer asking for one (401, 403, or a sign-in page) is reported as what it is, never as a
refused password (which would revoke embed-mode links). A permalink is absolute
(``https://api.kashflow.com/v2/documents/invoice/<guid>``) and is fetched only from a document
path (``.../documents/...``) on the configured REST API's host or the SOAP service's host,
including any redirect it answers with.
"""

from __future__ import annotations

import time
import typing as t
from urllib.parse import urlsplit

import requests

from ..exceptions import KashFlowBadResponse
from ..exceptions import KashFlowError
from ..exceptions import KashFlowNotFound
from ..exceptions import KashFlowUnavailable
from .http import HttpOptions
from .http import Transport
from .http import about
from .http import follow_redirects
from .http import origin
from .http import pdf_body
from .http import read_body
from .soap_xml import Answer
from .soap_xml import MalformedAnswer
from .soap_xml import answer_of
from .soap_xml import body_of
from .soap_xml import fault_of

#: The largest answer read (KashFlow sends a customer's every invoice, with lines, at once;
#: the .NET client raises its limit to 20 MB for big accounts).
MAX_ANSWER_BYTES = 32 * 1024 * 1024


class SoapTransport(Transport):
    """Posts SOAP 1.1 envelopes to one KashFlow SOAP service.

    :param url: the service, e.g. ``https://securedwebapp.com/api/service.asmx``.
    :param options: the timeout, retries and backoff of every call; reading a whole answer may
        take at most the timeout's sum again.
    :param max_answer_bytes: the largest answer read.
    """

    accept = "text/xml, application/soap+xml"

    def __init__(
        self, url: str, options: HttpOptions, *, max_answer_bytes: int = MAX_ANSWER_BYTES
    ) -> None:
        super().__init__(url, options)
        self.max_answer_bytes = max_answer_bytes

    def call(self, operation: str, body: bytes) -> Answer:
        """Send *body* (an envelope calling *operation*) and read KashFlow's answer.

        :raises KashFlowUnavailable: no answer, a timeout, 429, 5xx or a server fault.
        :raises KashFlowBadResponse: an answer that is not this operation's.
        """
        what = f"answer to {operation}"
        response = self._post(operation, body)
        started = time.monotonic()
        content = read_body(
            response,
            max_bytes=self.max_answer_bytes,
            deadline=started + sum(self.timeout),
            what=what,
        )
        status = response.status_code
        try:
            payload = body_of(content)
        except MalformedAnswer as e:
            raise self._http_error(response, what, f"{e}") from None
        fault = fault_of(payload)
        if fault is not None:
            # A server's fault may pass; a fault of the request (an unknown SOAPAction, a bad
            # envelope) will not, but both are covered by stale data while they last.
            kind = KashFlowUnavailable if fault.server else KashFlowBadResponse
            raise kind(
                f"KashFlow's SOAP service could not process {operation} (HTTP {status}, "
                f"fault: {fault.text or 'no text'})",
                **about(response),
            )
        if status != 200:
            raise self._http_error(response, what, "a SOAP answer with an error status")
        try:
            return answer_of(payload, operation)
        except MalformedAnswer as e:
            raise KashFlowBadResponse(
                f"KashFlow sent {e} for {operation}",
                **about(response),
            ) from None

    def _post(self, operation: str, body: bytes) -> requests.Response:
        headers = {
            "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": f'"KashFlow/{operation}"',
        }
        return self.request(
            "POST",
            self.base_url,
            what=f"the SOAP call {operation}",
            data=body,
            headers=headers,
            stream=True,
        )

    def _http_error(self, response: requests.Response, what: str, reason: str) -> KashFlowError:
        """The error for an answer that is no SOAP answer: what passes, or a wrong shape."""
        status = response.status_code
        kind = response.headers.get("Content-Type", "").split(";")[0].strip() or "no type"
        message = f"KashFlow answered HTTP {status} ({kind}) for the {what}: {reason}"
        kwargs = about(response)
        if status == 429 or status >= 500:
            return KashFlowUnavailable(message, **kwargs)
        if status in (401, 403):
            # Not KashFlow's refusal of the credentials (that is Status NO in HTTP 200): a
            # firewall or proxy in front of the service. Never read as a refused password.
            message += "; a firewall or proxy in front of KashFlow may be refusing this server"
        elif status == 404:
            message += "; is KASHFLOW_LINKS_SOAP_URL KashFlow's service.asmx?"
        return KashFlowBadResponse(message, **kwargs)


class Permalinks:
    """Downloads document permalinks from the allowed hosts only.

    :param transport: the SOAP service's transport: its session (no cookies, no redirects of
        its own), timeout and counters.
    :param allowed: the URLs whose hosts may serve documents (the REST API and the SOAP
        service).
    """

    def __init__(self, transport: Transport, allowed: t.Iterable[str]) -> None:
        self.transport = transport
        self.allowed = frozenset(origin(url) for url in allowed)

    def checked(self, link: str) -> str:
        """*link* if it may be fetched: an absolute http(s) URL on an allowed host, without
        credentials or dot segments, whose path is a document's (a ``documents`` segment and
        at least one after it, as in ``/v2/documents/invoice/<key>``).

        The hosts serve more than documents (the SOAP service itself, the REST API's other
        resources): a permalink is fetched as an invoice PDF only from where documents are.

        :raises KashFlowBadResponse: anything else.
        """
        parts = urlsplit(link.strip())
        if origin(link.strip()) not in self.allowed:
            raise KashFlowBadResponse("a document link points outside KashFlow's API hosts")
        segments = parts.path.split("/")
        if parts.username or parts.password or ".." in segments or "." in segments:
            raise KashFlowBadResponse("a document link is not a plain KashFlow document path")
        after = segments[segments.index("documents") + 1 :] if "documents" in segments else []
        if not any(after):
            raise KashFlowBadResponse("a document link is not a KashFlow document path")
        return parts._replace(fragment="").geturl()

    def fetch(self, link: str, *, max_bytes: int) -> bytes:
        """The PDF behind *link*.

        :raises KashFlowNotFound: KashFlow has no such document.
        :raises KashFlowUnavailable: no answer, a timeout, 429 or 5xx.
        :raises KashFlowBadResponse: not a whole PDF, too large, a redirect elsewhere, or an
            answer that wants a session (which SOAP cannot give).
        """
        response = follow_redirects(self._get, self.checked(link), checked=self.checked)
        return self._pdf(response, max_bytes)

    def _get(self, url: str) -> requests.Response:
        return self.transport.request(
            "GET",
            url,
            what="a document request",
            headers={"Accept": "application/pdf"},
            stream=True,
        )

    def _pdf(self, response: requests.Response, max_bytes: int) -> bytes:
        status = response.status_code
        if status != 200:
            response.close()
            if status == 404:
                raise KashFlowNotFound("KashFlow has no such document")
            if status == 429 or status >= 500:
                raise KashFlowUnavailable(f"KashFlow answered HTTP {status} for a document")
            if status in (401, 403):
                raise KashFlowBadResponse(
                    f"KashFlow wants a signed-in session for invoice PDFs (HTTP {status}), which "
                    "the SOAP API cannot give: this account's clients cannot download PDFs"
                )
            raise KashFlowBadResponse(f"KashFlow answered HTTP {status} for a document")
        return pdf_body(
            response,
            max_bytes=max_bytes,
            deadline=time.monotonic() + sum(self.transport.timeout),
            not_pdf_hint=" (a sign-in page wants a session, which the SOAP API cannot give)",
        )
