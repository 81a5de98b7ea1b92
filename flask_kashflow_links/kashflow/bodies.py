"""Reading a streamed KashFlow answer within bounds, and accepting a document only as a PDF.

Both backends read SOAP answers, REST documents and SOAP permalinks the same way: at most a
given number of bytes, before a deadline (a server dripping bytes cannot hold a page for
long), and a broken transfer is an outage, not a bad answer.
"""

from __future__ import annotations

import time

import requests

from ..exceptions import KashFlowBadResponse
from ..exceptions import KashFlowUnavailable

#: The largest PDF ``check`` downloads from a real account.
PROBE_MAX_BYTES = 20 * 1024 * 1024
_CHUNK = 64 * 1024


def read_body(response: requests.Response, *, max_bytes: int, deadline: float, what: str) -> bytes:
    """The whole body of a streamed *response*, at most *max_bytes*, read before *deadline*
    (``time.monotonic()``). The response is closed whatever happens.

    :raises KashFlowBadResponse: the body is larger than *max_bytes*.
    :raises KashFlowUnavailable: the transfer broke off or outlasted the deadline.
    """
    chunks, size = [], 0
    try:
        for chunk in response.iter_content(_CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise KashFlowBadResponse(f"KashFlow's {what} exceeds {max_bytes} bytes")
            if time.monotonic() > deadline:
                raise KashFlowUnavailable(f"KashFlow's {what} took too long to arrive")
            chunks.append(chunk)
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as e:
        raise KashFlowUnavailable(f"KashFlow's {what} broke off ({type(e).__name__})") from None
    finally:
        response.close()
    return b"".join(chunks)


def pdf_body(
    response: requests.Response, *, max_bytes: int, deadline: float, not_pdf_hint: str = ""
) -> bytes:
    """The PDF in a streamed HTTP 200 *response*, read as :func:`read_body` reads.

    A content type other than PDF (or a generic binary one) is refused before the body is
    read; a body that does not start as a PDF or lacks its end marker (a truncated or
    substituted file) is refused after. *not_pdf_hint* is added to the first refusal's
    message, to say what such an answer usually means for the caller's API.

    :raises KashFlowBadResponse: not a PDF, an incomplete one, or larger than *max_bytes*.
    :raises KashFlowUnavailable: the transfer broke off or outlasted the deadline.
    """
    kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if kind and not any(k in kind for k in ("pdf", "octet-stream")):
        response.close()
        raise KashFlowBadResponse(
            f"KashFlow sent {kind} for a document instead of a PDF{not_pdf_hint}"
        )
    body = read_body(response, max_bytes=max_bytes, deadline=deadline, what="document")
    if not body.startswith(b"%PDF-") or b"%%EOF" not in body[-2048:]:
        raise KashFlowBadResponse("KashFlow sent an incomplete or non-PDF document")
    return body


__all__ = ["PROBE_MAX_BYTES", "pdf_body", "read_body"]
