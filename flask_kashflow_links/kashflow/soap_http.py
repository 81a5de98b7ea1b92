"""Calls to KashFlow's SOAP service over HTTP, and how their failures map to the exception tree.

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
request's body (:func:`~.http.redacted`, :func:`~.http.kept`).
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import requests

from ..exceptions import KashFlowBadResponse
from ..exceptions import KashFlowError
from ..exceptions import KashFlowUnavailable
from .http import ClientStats
from .http import about
from .http import read_body
from .http import transport_errors
from .soap_xml import Answer
from .soap_xml import MalformedAnswer
from .soap_xml import answer_of
from .soap_xml import body_of
from .soap_xml import fault_of

#: The largest answer read (KashFlow sends a customer's every invoice, with lines, at once;
#: the .NET client raises its limit to 20 MB for big accounts).
MAX_ANSWER_BYTES = 32 * 1024 * 1024


class SoapTransport:
    """Posts SOAP 1.1 envelopes to one KashFlow SOAP service.

    :param http: the session (bounded retries, no cookies, no redirects).
    :param url: the service, e.g. ``https://securedwebapp.com/api/service.asmx``.
    :param timeout: ``(connect, read)`` seconds; reading a whole answer may take at most their
        sum again.
    """

    def __init__(
        self,
        http: requests.Session,
        url: str,
        *,
        timeout: tuple[float, float],
        retries: int,
        stats: ClientStats,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        self.http = http
        self.url = url
        self.timeout = timeout
        self.retries = retries
        self.stats = stats
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
        with transport_errors(f"the SOAP call {operation}", urlsplit(self.url).netloc):
            response = self.http.post(
                self.url,
                data=body,
                headers=headers,
                timeout=self.timeout,
                stream=True,
                allow_redirects=False,  # a redirect could carry the password elsewhere
            )
        self.stats.add("requests")
        return response

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


__all__ = ["MAX_ANSWER_BYTES", "SoapTransport"]
