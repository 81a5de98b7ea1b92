"""Invoice PDFs from a SOAP invoice's ``PermaLink``, fetched without any credentials.

The SOAP API has no session: nothing could go with the request but the username and password,
which never leave a SOAP body. KashFlow describes the permalink as a permanent link to the
PDF that "can be shared"; whether KashFlow serves it without a REST session is unconfirmed, so
an answer asking for one (401, 403, or a sign-in page) is reported as what it is, never as a
refused password (which would withdraw embed-mode links).

A permalink is absolute (``https://api.kashflow.com/v2/documents/invoice/<guid>``) and is
fetched only from the configured REST API's host or the SOAP service's host, including any
redirect it answers with.
"""

from __future__ import annotations

import time
import typing as t
from urllib.parse import urlsplit

import requests

from ..exceptions import KashFlowBadResponse
from ..exceptions import KashFlowNotFound
from ..exceptions import KashFlowUnavailable
from .http import ClientStats
from .http import follow_redirects
from .http import origin
from .http import pdf_body
from .http import transport_errors


class Permalinks:
    """Downloads document permalinks from the allowed hosts only.

    :param http: the session (no cookies, no redirects of its own).
    :param allowed: the URLs whose hosts may serve documents (the REST API and the SOAP
        service).
    """

    def __init__(
        self,
        http: requests.Session,
        allowed: t.Iterable[str],
        *,
        timeout: tuple[float, float],
        stats: ClientStats,
    ) -> None:
        self.http = http
        self.allowed = frozenset(origin(url) for url in allowed)
        self.timeout = timeout
        self.stats = stats

    def checked(self, link: str) -> str:
        """*link* if it may be fetched: an absolute http(s) URL on an allowed host, without
        credentials or dot segments.

        :raises KashFlowBadResponse: anything else.
        """
        parts = urlsplit(link.strip())
        if origin(link.strip()) not in self.allowed:
            raise KashFlowBadResponse("a document link points outside KashFlow's API hosts")
        segments = parts.path.split("/")
        if parts.username or parts.password or ".." in segments or "." in segments:
            raise KashFlowBadResponse("a document link is not a plain KashFlow document path")
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
        with transport_errors("a document request", urlsplit(url).netloc):
            response = self.http.get(
                url,
                headers={"Accept": "application/pdf"},
                timeout=self.timeout,
                stream=True,
                allow_redirects=False,
            )
        self.stats.add("requests")
        return response

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
            deadline=time.monotonic() + sum(self.timeout),
            not_pdf_hint=" (a sign-in page wants a session, which the SOAP API cannot give)",
        )


__all__ = ["Permalinks"]
