"""Talking to the sandbox in its own tests: a logged-in API session, the two login steps, and
reading its answers.

sandbox/tests has no ``__init__.py``: pytest puts the folder on ``sys.path``, so the tests
import this module as ``sandbox_client``.
"""

from __future__ import annotations

import io
import json
import typing as t
from datetime import date
from decimal import Decimal

import pytest
import requests

from kashflow_sandbox import KashFlowSandbox

TIMEOUT = 5
#: "Today" for the sandbox's tests, so that due dates and overdue days are fixed.
TODAY = date(2026, 10, 9)


class Api:
    """A logged-in ``requests`` session against a sandbox."""

    def __init__(self, sandbox: KashFlowSandbox) -> None:
        self.sandbox = sandbox
        self.session = requests.Session()
        self.token = login(sandbox)
        self.session.headers["Authorization"] = f"KfToken {self.token}"

    def get(self, path: str, **kwargs: t.Any) -> requests.Response:
        url = path if path.startswith("http") else self.sandbox.url + path
        return self.session.get(url, timeout=TIMEOUT, **kwargs)

    def close(self) -> None:
        self.session.close()


def start_login(sb: KashFlowSandbox, **overrides: str) -> requests.Response:
    body = {"UserName": sb.username, "Password": sb.password, **overrides}
    return requests.post(f"{sb.url}/sessiontoken", json=body, timeout=TIMEOUT)


def answers_for(sb: KashFlowSandbox, step1: dict[str, t.Any], word: str | None = None) -> list:
    word = word or sb.memorable_word
    return [
        {"Position": item["Position"], "Value": word[item["Position"] - 1]}
        for item in step1["MemorableWordList"]
    ]


def finish_login(sb: KashFlowSandbox, temporary: str, answers: list) -> requests.Response:
    body = {"TemporaryToken": temporary, "MemorableWordList": answers}
    return requests.put(f"{sb.url}/sessiontoken", json=body, timeout=TIMEOUT)


def login(sb: KashFlowSandbox) -> str:
    step1 = start_login(sb)
    assert step1.status_code == 201, step1.text
    step2 = finish_login(sb, step1.json()["TemporaryToken"], answers_for(sb, step1.json()))
    assert step2.status_code == 200, step2.text
    return str(step2.json()["SessionToken"])


def login_at(
    url: str,
    username: str = "sandbox@example.test",
    password: str = "correct horse battery",
    word: str = "pineapple",
) -> str:
    """Log in to the REST API at *url* (a sandbox started elsewhere); the session token."""
    step1 = requests.post(
        f"{url}/sessiontoken", json={"UserName": username, "Password": password}, timeout=TIMEOUT
    )
    assert step1.status_code == 201, step1.text
    answers = [
        {"Position": p["Position"], "Value": word[p["Position"] - 1]}
        for p in step1.json()["MemorableWordList"]
    ]
    body = {"TemporaryToken": step1.json()["TemporaryToken"], "MemorableWordList": answers}
    step2 = requests.put(f"{url}/sessiontoken", json=body, timeout=TIMEOUT)
    assert step2.status_code == 200, step2.text
    return str(step2.json()["SessionToken"])


def decimal_json(response: requests.Response) -> t.Any:
    return json.loads(response.text, parse_float=Decimal)


def pdf_text(data: bytes) -> str:
    pypdf = pytest.importorskip("pypdf")
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def rows_of(api: Api, code: str) -> list[dict[str, t.Any]]:
    body = decimal_json(api.get("/invoices", params={"customercode": code, "perpage": 100}))
    return t.cast(list[dict[str, t.Any]], body["Data"])


def number_of(sandbox: KashFlowSandbox, code: str, **match: t.Any) -> int:
    """The first invoice of *code* whose stored fields equal *match*."""
    return next(
        n
        for n, inv in sorted(sandbox.invoices.items())
        if inv["CustomerCode"] == code and all(inv.get(k) == v for k, v in match.items())
    )
