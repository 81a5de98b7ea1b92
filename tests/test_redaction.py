"""Link tokens out of logs: linear-time redaction, and error logs as well as access logs."""

from __future__ import annotations

import io
import logging
import re
import string
import time
import typing as t
from pathlib import Path

import pytest
from flask import Flask
from flask import request
from hypothesis import given
from hypothesis import strategies as st

from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links.kashflow.parsing import parse_amount
from flask_kashflow_links.redaction import redact
from flask_kashflow_links.testing import KashFlowSandbox

from .helpers import in_the_past
from .helpers import make_app
from .helpers import portal_config

#: The pattern before the fix (no left anchor): what a token looks like to anyone.
UNANCHORED = re.compile(r"[A-Za-z0-9_-]{40,}\.[A-Za-z0-9_-]{1,12}\.[A-Za-z0-9_-]{20,64}")
TOKEN = "gAAAAABrAj3cEag2-q2hwXa1b2c3d4e5f6g7h8i9j0kLmNoPqRsTuVwXyZ_0.awI93A.GKvuDD-3Vu6-CJkyewHgl04VZ-M"

# -- linear time ---------------------------------------------------------------------------------

#: Lines an attacker controls (a User-Agent or Referer) that make an unanchored scan quadratic:
#: long runs of base64url characters, with or without the dots of a token's shape.
HOSTILE = {
    "one long run": lambda n: "a" * n,
    "runs just too short": lambda n: ("a" * 39 + ".") * (n // 40),
    "almost tokens": lambda n: ("a" * 50 + "." + "b" * 12 + "." + "c" * 19 + " ") * (n // 83),
    "runs then dots": lambda n: ("a" * 200 + "..") * (n // 202),
    "percent-encoded": lambda n: ("%2F" + "a" * 97) * (n // 100),
    "an encoded run": lambda n: "%61" * (n // 3),
    "encoded runs just too short": lambda n: ("%61" * 39 + "%2E") * (n // 120),
    "encoded almost tokens": lambda n: (
        ("%61" * 50 + "%2E" + "b" * 12 + "." + "c" * 19 + " ") * (n // 185)
    ),
    "percent signs": lambda n: "%" * n,
    "encoded dots": lambda n: ("a%2E" + "%2E") * (n // 7),
    "half encodings": lambda n: "%6" * (n // 2),
}


def seconds_per_char(action: t.Callable[[str], object], text: str, *, repeats: int) -> float:
    """The best of several timings of *action* on *text*, per character."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        action(text)
        best = min(best, time.perf_counter() - start)
    return best / len(text)


def growth(action: t.Callable[[str], object], make: t.Callable[[int], str]) -> float:
    """How much more *action* costs per character on 64k characters than on 4k: about 1 when
    linear, 16 when quadratic. A ratio of two timings taken in the same run, so the machine's
    speed and load cancel out; a slow, busy machine cannot make linear work look quadratic."""
    small = seconds_per_char(action, make(4096), repeats=31)
    return seconds_per_char(action, make(65536), repeats=7) / small


@pytest.mark.parametrize("shape", HOSTILE)
def test_redaction_is_linear_in_the_line_length(shape: str) -> None:
    make = HOSTILE[shape]
    assert len(make(65536)) > 60000
    # Linear: ~1. The unanchored pattern measured 16 to 25 here (8k characters: 110 ms).
    assert growth(redact, make) < 4, shape


def test_amount_parsing_is_linear_in_the_text_length() -> None:
    # KashFlow's amounts are parsed with a regex too; a long run of digits that is not a number
    # (from a hostile or mistyped API_BASE_URL) cost 420 ms at 8k digits before the fix.
    assert growth(parse_amount, lambda n: "1" * (n - 1) + "x") < 4
    assert parse_amount("1" * 100 + "x") is None
    assert parse_amount("-12.50") is not None and parse_amount("12.") is not None


# -- what is redacted ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        f'127.0.0.1 - - "GET /invoices/{TOKEN} HTTP/1.1" 200',
        f'"GET /billing/invoices/{TOKEN}/1043/pdf HTTP/1.1" 200',
        f"Referer: https://shop.example/invoices/{TOKEN}?page=2",
        f"/login?next=%2Fbilling%2Finvoices%2F{TOKEN}",  # percent-encoded, glued to "2F"
        f"{TOKEN}{TOKEN}",  # glued to another
        f"[{TOKEN}]",
    ],
)
def test_tokens_are_redacted_wherever_they_appear(line: str) -> None:
    cleaned = redact(line)
    assert "[link]" in cleaned
    assert TOKEN not in cleaned and TOKEN.split(".")[0] not in cleaned


RUNS = st.sampled_from(
    [
        *("a" * 39, "a" * 40, "B" * 63, "c" * 20, "9" * 12, "-", "_x", TOKEN, "%2F", "/", "."),
        # Percent-encoded: token characters, dots, and what only looks like them.
        *("%61", "%4a" * 13, "%2E", "%2e", "%", "%6", "%%", "%7A", "%7B", "%2D%5f"),
    ]
)
BASE64URL = set(string.ascii_letters + string.digits + "-_")


def decoded(text: str) -> str:
    """*text* with each %XX that encodes a token's character (base64url, or a dot) decoded, as
    Flask decodes a path."""

    def character(match: re.Match[str]) -> str:
        found = chr(int(match[1], 16))
        return found if found in BASE64URL or found == "." else match[0]

    return re.sub(r"%([0-9A-Fa-f]{2})", character, text)


@given(st.lists(RUNS, max_size=12).map("".join))
def test_nothing_the_unanchored_pattern_finds_survives(text: str) -> None:
    """The anchored pattern finds every token the unanchored one finds, plain or
    percent-encoded, from the start of its run of token characters, and nothing where the
    unanchored one finds nothing in the text decoded."""
    cleaned = redact(text)
    assert UNANCHORED.search(decoded(cleaned)) is None
    assert (cleaned == text) == (UNANCHORED.search(decoded(text)) is None)


# -- error logs ----------------------------------------------------------------------------------


class FullRecords(logging.Handler):
    """Every record as handlers could write it: the standard format, and the traceback
    formatted afresh from ``exc_info`` as a JSON formatter or an error tracker would."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.text = io.StringIO()
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.text.write(self.format(record) + "\n")
        if record.exc_info:
            self.text.write(logging.Formatter().formatException(record.exc_info) + "\n")
        if record.stack_info:
            self.text.write(record.stack_info + "\n")


@pytest.fixture
def every_log() -> t.Iterator[FullRecords]:
    handler = FullRecords()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
def production(tmp_path: Path, sandbox: KashFlowSandbox) -> Flask:
    """A portal that handles errors as in production (logged, then a 500 page)."""
    app = make_app(tmp_path, **portal_config(sandbox), PROPAGATE_EXCEPTIONS=False)
    app.testing = False
    return app


def minted(app: Flask, kind: str = "customer") -> str:
    with app.test_request_context():
        links = KashFlowLinks()
        link = links.mint_customer("ACME01") if kind == "customer" else links.mint_invoice(1043)
    return link.token


def test_an_error_inside_a_route_never_logs_the_token(
    production: Flask, every_log: FullRecords, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = minted(production)
    portal = production.extensions["kashflow_links"].portal

    def bug(*args: t.Any, **kwargs: t.Any) -> t.Any:
        # The worst case: a bug whose message quotes the URL, inside a chained exception.
        try:
            raise KeyError(request.url)
        except KeyError as e:
            raise RuntimeError(f"cannot show {request.path}") from e

    monkeypatch.setattr(portal.views, "customer", bug)
    response = production.test_client().get(f"/invoices/{token}?page=1")
    assert response.status_code == 500
    assert "Acme Accounts" in response.get_data(as_text=True)  # the portal's own 500 page
    logged = every_log.text.getvalue()
    assert "Exception on /invoices/[link] [GET]" in logged  # Flask's own error log, redacted
    assert "RuntimeError: cannot show /invoices/[link]" in logged
    assert "portal error" in logged
    assert token not in logged and token.split(".")[0] not in logged


def test_a_bug_outside_the_portal_code_under_its_paths_never_logs_the_token(
    production: Flask, every_log: FullRecords
) -> None:
    @production.before_request
    def host_bug() -> None:  # the host site's own code, failing on a portal URL
        if request.path.startswith("/invoices/"):
            raise ValueError(f"unexpected {request.url}")

    token = minted(production)
    assert production.test_client().get(f"/invoices/{token}").status_code == 500
    logged = every_log.text.getvalue()
    assert "Exception on /invoices/[link] [GET]" in logged
    assert token not in logged and token.split(".")[0] not in logged


def test_error_logs_keep_tracebacks_without_tokens_intact(
    production: Flask, every_log: FullRecords
) -> None:
    # Redaction leaves a traceback with no token in it as it was, for error trackers.
    records: list[logging.LogRecord] = []
    capture = logging.Handler()
    capture.emit = records.append  # type: ignore[method-assign]
    production.logger.addHandler(capture)
    try:
        try:
            raise ValueError("no link here")
        except ValueError:
            production.logger.exception("while doing something")
    finally:
        production.logger.removeHandler(capture)
    assert records[0].exc_info is not None


@pytest.mark.parametrize(
    ("query", "status"), [("?page=%C2%B2", 404), ("?page=%D9%A1", 404), ("?page=1", 200)]
)
def test_unicode_digits_in_page_are_not_found_not_a_server_error(
    production: Flask, every_log: FullRecords, query: str, status: int
) -> None:
    """``"²".isdigit()`` is true and ``int("²")`` raises; U+0661, an Arabic-Indic 1, is a
    digit to ``int()`` but no page number here."""
    token = minted(production)
    assert production.test_client().get(f"/invoices/{token}{query}").status_code == status
    assert "Exception on" not in every_log.text.getvalue()


@pytest.mark.parametrize("origin", ["http://[", "http://[::1", "https://]x["])
def test_an_unparsable_origin_is_a_refusal_not_a_server_error(
    tmp_path: Path, sandbox: KashFlowSandbox, origin: str
) -> None:
    sent: list[t.Any] = []
    app = make_app(tmp_path, **portal_config(sandbox, mail=sent.append), PROPAGATE_EXCEPTIONS=False)
    app.testing = False
    with app.test_request_context(), in_the_past():
        own = "/invoices/" + KashFlowLinks().mint_customer("ACME01", expires_in=60).token
    page = app.test_client().get(own).get_data(as_text=True)
    token = re.search(r'name="form_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    response = app.test_client().post(
        own + "/renew", data={"form_token": token}, headers={"Origin": origin}
    )
    assert response.status_code == 400 and sent == []
