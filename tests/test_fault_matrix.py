"""KashFlow faults x cold and warm cache: never a 500, stale data where it exists, a clear page
otherwise, bounded retries and logins, nothing secret in any log line or page.

The matrix is written to ``test-artifacts/fault-matrix.md``.
"""

from __future__ import annotations

import logging
import time
import typing as t
from pathlib import Path

import pytest
from flask import Flask

from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links.testing import KashFlowSandbox

from .helpers import make_app
from .helpers import portal_config
from .helpers import session_tokens

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
ROWS: list[dict[str, t.Any]] = []

FAULTS = [
    "timeout",
    "connection refused",
    "500",
    "502",
    "503",
    "429 Retry-After",
    "SQL-timeout 400",
    "401 mid-session",
    "AccountLocked",
    "malformed JSON",
    "truncated PDF",
    "30-second response",
]


def inject(fault: str, sandbox: KashFlowSandbox, app: Flask) -> None:
    if fault == "timeout":
        sandbox.hang_next(1, 5.0, "invoices.get")
    elif fault == "connection refused":
        sandbox.stop()  # a sandbox of this test's own: nothing listens on its port any more
    elif fault in ("500", "502", "503"):
        sandbox.fail_next(10, int(fault), endpoint="invoices")
    elif fault == "429 Retry-After":
        sandbox.rate_limit_next(10, retry_after=1, endpoint="invoices")
    elif fault == "SQL-timeout 400":
        sandbox.sql_timeout_next(10, "invoices")
    elif fault == "401 mid-session":
        sandbox.expire_sessions()
    elif fault == "AccountLocked":
        sandbox.expire_sessions()
        sandbox.lock_account()
    elif fault == "malformed JSON":
        sandbox.malformed_next(10, "invoices")
    elif fault == "truncated PDF":
        sandbox.truncate_pdf_next(10)
    elif fault == "30-second response":
        sandbox.hang_next(1, 30.0, "invoices.get")
    else:  # pragma: no cover
        raise AssertionError(fault)


def seen_by_client(response: t.Any) -> str:
    if response.mimetype == "application/pdf":
        return "the PDF"
    html = response.get_data(as_text=True)
    title = html.split("<title>", 1)[1].split("</title>", 1)[0].split(" · ")[0]
    return f"{title}, as of an earlier time" if "as of" in html else title


@pytest.mark.parametrize("cache", ["cold", "warm"])
@pytest.mark.parametrize("fault", FAULTS)
def test_fault(
    tmp_path: Path,
    sandbox: KashFlowSandbox,
    fault: str,
    cache: str,
    caplog: pytest.LogCaptureFixture,
    age_cache: t.Callable[..., None],
) -> None:
    caplog.set_level(logging.DEBUG)
    if fault == "connection refused":
        sandbox = KashFlowSandbox().start()
    # Slow answers are cut off by the read timeout: a short one keeps these tests quick.
    slow = fault in ("timeout", "30-second response")
    app = make_app(
        tmp_path, **portal_config(sandbox, api_timeout=(2.0, 0.5) if slow else (2.0, 3.0))
    )
    with app.test_request_context():
        link = KashFlowLinks().mint_invoice(1043)
    url = link.url + ("/pdf" if fault == "truncated PDF" else "")
    client = app.test_client()
    tokens_issued: set[str] = set()
    if cache == "warm":
        assert client.get(url).status_code == 200
        tokens_issued |= session_tokens(sandbox)
        age_cache(app)
    before, logins_before = sandbox.calls, sandbox.logins
    inject(fault, sandbox, app)
    started = time.monotonic()
    response = client.get(url)
    elapsed = time.monotonic() - started
    tokens_issued |= session_tokens(sandbox)
    calls = sandbox.calls - before
    upstream = sum(v for k, v in calls.items() if not k.startswith("sessiontoken"))
    logins = sandbox.logins - logins_before
    login_attempts = calls["sessiontoken.post"]
    ROWS.append(
        {
            "fault": fault,
            "cache": cache,
            "status": response.status_code,
            "upstream": upstream,
            "login attempts": login_attempts,
            "seconds": round(elapsed, 1),
            "client saw": seen_by_client(response),
        }
    )

    assert response.status_code != 500
    if fault == "401 mid-session":
        # One fresh login, and the page as normal.
        assert response.status_code == 200 and logins == 1
    elif cache == "warm":
        assert response.status_code == 200
        if fault != "truncated PDF":
            assert "as of" in response.get_data(as_text=True)
    else:
        assert response.status_code == 503
        assert response.headers["Retry-After"]
        assert "try again" in response.get_data(as_text=True)
    # Bounded: at most one login attempt, at most 1 + 2 retries per resource, and never
    # longer than the configured timeouts allow.
    assert login_attempts <= 1
    assert upstream <= 3 * 2  # the invoice (and for PDFs, the document), each with retries
    assert elapsed < 12
    # Nothing secret anywhere: not in the page, not in any log line.
    page = response.get_data(as_text=True) if response.mimetype == "text/html" else ""
    secrets = [sandbox.password, sandbox.memorable_word, *tokens_issued]
    logs = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    for secret in secrets:
        assert secret not in page and secret not in logs, "a secret leaked"
    assert link.token not in logs


def teardown_module() -> None:
    """Write the matrix for the closing note."""
    if not ROWS:
        return
    ARTIFACTS.mkdir(exist_ok=True)
    lines = [
        "| fault | cache | status | upstream calls | login attempts | seconds | the client saw |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in sorted(ROWS, key=lambda r: (FAULTS.index(r["fault"]), r["cache"])):
        lines.append(
            f"| {row['fault']} | {row['cache']} | {row['status']} | {row['upstream']} | "
            f"{row['login attempts']} | {row['seconds']} | {row['client saw']} |"
        )
    (ARTIFACTS / "fault-matrix.md").write_text("\n".join(lines) + "\n")
