"""Minimal one-page PDF documents for the KashFlow sandbox, standard library only.

The sandbox serves invoices, payment receipts and statements as real PDF files, so that code
which streams, stores or parses them (``pypdf``, a browser's viewer) meets a valid document.
The files are deliberately plain: one A4 page, the built-in Helvetica fonts, a few lines of
text, a correct cross-reference table and a final ``%%EOF``.

The built-in fonts only cover the WinAnsi (cp1252) character set, which includes ``£``,
``€``, ``¥`` and accented Latin letters. Anything outside it (Cyrillic, Arabic, Japanese)
is drawn as ``?``; the document title in the metadata keeps the full Unicode text.
"""

from __future__ import annotations

import textwrap
import typing as t
from datetime import date

#: A4 in PostScript points.
PAGE_WIDTH = 595
PAGE_HEIGHT = 842
_LEFT_MARGIN = 50
_TOP = 790
_BOTTOM = 50


class Line(t.NamedTuple):
    """One line of text on the page."""

    text: str
    size: int = 11
    bold: bool = False


def _pdf_text(text: str) -> bytes:
    """*text* as a PDF literal string body in WinAnsi, with ``\\``, ``(`` and ``)`` escaped."""
    raw = text.encode("cp1252", errors="replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _pdf_unicode(text: str) -> bytes:
    """*text* as a UTF-16BE hex string with a byte-order mark, for the document information."""
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode("ascii") + b">"


def _wrapped(lines: t.Sequence[Line]) -> t.Iterator[Line]:
    """Split lines too wide for the page. Helvetica averages about half an em per character,
    which is close enough for a sandbox (no glyph metrics needed)."""
    for line in lines:
        width = max(20, int((PAGE_WIDTH - 2 * _LEFT_MARGIN) / (line.size * 0.52)))
        parts = textwrap.wrap(
            line.text, width, subsequent_indent="    ", break_on_hyphens=False
        ) or [""]
        for part in parts:
            yield Line(part, line.size, line.bold)


def _content_stream(lines: t.Sequence[Line]) -> bytes:
    out: list[bytes] = []
    y = _TOP
    for line in _wrapped(lines):
        # Leading of 1.3 x the font size keeps lines readable without measuring glyphs.
        step = round(line.size * 1.3)
        if y - step < _BOTTOM:
            break
        font = b"/F2" if line.bold else b"/F1"
        if line.text:
            out.append(
                b"BT "
                + font
                + b" %d Tf %d %d Td (" % (line.size, _LEFT_MARGIN, y)
                + _pdf_text(line.text)
                + b") Tj ET"
            )
        y -= step
    return b"\n".join(out) + b"\n"


def max_lines(size: int = 11) -> int:
    """How many lines of *size* points fit on the page."""
    return (_TOP - _BOTTOM) // round(size * 1.3)


def render_pdf(title: str, lines: t.Sequence[Line], *, created: date | None = None) -> bytes:
    """Return the bytes of a one-page PDF showing *lines* top to bottom.

    Long lines are wrapped; lines that do not fit on the page are dropped, so callers
    summarise long lists themselves.
    """
    stream = _content_stream(lines)
    stamp = (created or date(2000, 1, 1)).strftime("D:%Y%m%d120000Z").encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] "
        b"/Resources << /Font << /F1 4 0 R /F2 5 0 R >> >> /Contents 6 0 R >>"
        % (PAGE_WIDTH, PAGE_HEIGHT),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"endstream",
        b"<< /Title "
        + _pdf_unicode(title)
        + b" /Producer (kashflow-sandbox) /CreationDate ("
        + stamp
        + b") >>",
    ]
    # The second line is a binary comment so that transfer tools treat the file as binary.
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: list[int] = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    # Each xref entry must be exactly 20 bytes: 10-digit offset, space, 5-digit generation,
    # space, keyword, and a two-byte end of line.
    out += b"xref\n0 %d\n" % (len(objects) + 1)
    out += b"0000000000 65535 f \n"
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\n" % (
        len(objects) + 1,
        len(objects),
    )
    # The file ends exactly with %%EOF (no trailing newline), which satisfies both strict
    # ``endswith(b"%%EOF")`` checks and readers that look for it in the last kilobyte.
    out += b"startxref\n%d\n%%%%EOF" % xref_at
    return bytes(out)
