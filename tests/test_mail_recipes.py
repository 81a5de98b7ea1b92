"""Mail in development and in tests, as the docs recommend, and the fresh link's "works
until" (issue 14, point 4)."""

from __future__ import annotations

import email
import email.policy
import os
import re
import socket
import subprocess
import sys
import time
import typing as t
from datetime import datetime
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask import Flask

from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links import Link
from flask_kashflow_links.testing import KashFlowSandbox

from .helpers import in_the_past
from .helpers import make_app
from .helpers import portal_config
from .helpers import renew
from .services import free_port

LONDON = ZoneInfo("Europe/London")


def expired_invoice_link(app: Flask, *, lifetime: timedelta, ago: timedelta) -> Link:
    """An invoice link minted *ago* with *lifetime* (shorter than *ago*: expired now)."""
    with app.test_request_context(), in_the_past(ago.total_seconds()):
        return KashFlowLinks().mint_invoice(1043, expires_in=lifetime)


def text_of(message: EmailMessage) -> str:
    return t.cast(str, message.get_body(("plain",)).get_content())  # type: ignore[union-attr]


@pytest.fixture
def outbox(tmp_path: Path, sandbox: KashFlowSandbox) -> tuple[Flask, list[EmailMessage]]:
    """The tests' recipe: a list's ``append`` as KASHFLOW_LINKS_MAIL."""
    sent: list[EmailMessage] = []
    app = make_app(tmp_path, **portal_config(sandbox, mail=sent.append))
    return app, sent


def test_a_link_expiring_within_the_day_says_until_when_to_the_minute(
    outbox: tuple[Flask, list[EmailMessage]],
) -> None:
    app, sent = outbox
    old = expired_invoice_link(app, lifetime=timedelta(minutes=30), ago=timedelta(hours=1))
    assert renew(app, old).status_code == 200
    [message] = sent
    text = text_of(message)
    match = re.search(r"The link works until (\d{1,2} \w+ \d{4}) at (\d\d:\d\d) (GMT|BST)\.", text)
    assert match, text
    expected = datetime.now(LONDON) + timedelta(minutes=30)
    shown = datetime.strptime(f"{match.group(1)} {match.group(2)}", "%d %B %Y %H:%M")
    assert abs(shown - expected.replace(tzinfo=None, second=0, microsecond=0)) <= timedelta(
        minutes=1
    )
    assert match.group(3) == expected.tzname()
    html = t.cast(str, message.get_body(("html",)).get_content())  # type: ignore[union-attr]
    assert f"{match.group(1)} at {match.group(2)} {match.group(3)}" in html


def test_a_longer_link_says_the_date(outbox: tuple[Flask, list[EmailMessage]]) -> None:
    app, sent = outbox
    old = expired_invoice_link(app, lifetime=timedelta(days=90), ago=timedelta(days=100))
    assert renew(app, old).status_code == 200
    text = text_of(sent[0])
    expected = (datetime.now(LONDON) + timedelta(days=90)).date()
    assert f"The link works until {expected.day} {expected:%B %Y}." in text


def wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert process.poll() is None, "the SMTP server stopped"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("the SMTP server did not start")


def test_the_development_recipe_a_local_smtp_server(
    tmp_path: Path, sandbox: KashFlowSandbox
) -> None:
    """``python -m aiosmtpd -n -l 127.0.0.1:1025`` prints what the site sends (on a free port
    here)."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        wait_for_port(port, server)
        mail = {"host": "127.0.0.1", "port": port, "sender": "Acme <billing@acme.example.com>"}
        app = make_app(tmp_path, **portal_config(sandbox, mail=mail))
        old = expired_invoice_link(app, lifetime=timedelta(minutes=5), ago=timedelta(hours=1))
        assert renew(app, old).status_code == 200
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=10)
    printed = email.message_from_bytes(
        output.split(b"---------- MESSAGE FOLLOWS ----------", 1)[1].lstrip(),
        policy=email.policy.default,
    )
    assert printed["Subject"] == "Your link to your invoices from Acme Accounts"
    assert "The link works until" in text_of(t.cast(EmailMessage, printed))
