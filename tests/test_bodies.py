"""How both backends read a streamed answer: bounded in size and time, and PDFs only."""

from __future__ import annotations

import io
import time
import typing as t
from types import SimpleNamespace

import pytest
import requests

from flask_kashflow_links.exceptions import KashFlowBadResponse
from flask_kashflow_links.exceptions import KashFlowUnavailable
from flask_kashflow_links.kashflow import http
from flask_kashflow_links.kashflow.http import pdf_body
from flask_kashflow_links.kashflow.http import read_body

PDF = b"%PDF-1.4\n" + b"x" * 1000 + b"\n%%EOF\n"


class Dripping(io.RawIOBase):
    """A body that arrives in small pieces, calling *each_read* before every one."""

    def __init__(self, body: bytes, each_read: t.Callable[[], None] = lambda: None) -> None:
        self._body = io.BytesIO(body)
        self._each_read = each_read

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self._each_read()
        return self._body.read(min(size, 100) if size > 0 else 100)


def streamed(body: bytes, *, kind: str = "application/pdf", **dripping: t.Any) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response.headers["Content-Type"] = kind
    response.raw = Dripping(body, **dripping)
    return response


def test_a_whole_pdf_is_read() -> None:
    assert pdf_body(streamed(PDF), max_bytes=10_000, deadline=time.monotonic() + 60) == PDF


def test_a_body_larger_than_the_bound_is_refused_and_closed() -> None:
    response = streamed(PDF)
    with pytest.raises(KashFlowBadResponse, match="exceeds 500 bytes"):
        read_body(response, max_bytes=500, deadline=time.monotonic() + 60, what="document")
    assert response.raw.closed


def test_a_body_dripping_past_its_deadline_is_an_outage(monkeypatch: pytest.MonkeyPatch) -> None:
    # A clock of the module's own: freezegun hands real time to code called from a test body.
    now = [1000.0]
    monkeypatch.setattr(http, "time", SimpleNamespace(monotonic=lambda: now[0]))
    deadline = now[0] + 10

    def one_second_a_piece() -> None:
        now[0] += 1

    response = streamed(PDF, each_read=one_second_a_piece)
    with pytest.raises(KashFlowUnavailable, match="took too long"):
        pdf_body(response, max_bytes=10_000, deadline=deadline)
    assert response.raw.closed


@pytest.mark.parametrize(
    ("body", "kind", "refusal"),
    [
        (b"<html>sign in</html>", "text/html; charset=utf-8", "text/html for a document instead"),
        (PDF[:500], "application/pdf", "incomplete or non-PDF"),
        (b"PK\x03\x04" + PDF, "application/octet-stream", "incomplete or non-PDF"),
    ],
    ids=["web page", "truncated", "not a pdf"],
)
def test_only_a_whole_pdf_is_a_document(body: bytes, kind: str, refusal: str) -> None:
    with pytest.raises(KashFlowBadResponse, match=refusal):
        pdf_body(
            streamed(body, kind=kind),
            max_bytes=10_000,
            deadline=time.monotonic() + 60,
            not_pdf_hint=" (why)",
        )
