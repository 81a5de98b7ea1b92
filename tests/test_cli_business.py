"""The business's commands: ``customers``, ``send``, ``mint ... --send``, ``remind`` and what
``list`` says of sends and opens, through Flask's CLI runner (and, for the progress bar, a
real terminal)."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import typing as t
from collections.abc import Iterator
from datetime import date
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from flask import Flask

from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links.testing import KashFlowSandbox

from .helpers import ROOT
from .helpers import KashFlowVariant
from .helpers import app_config
from .helpers import mint
from .helpers import path
from .services import Inbox

URL = re.compile(r"^http://portal\.example\.test/invoices/\S+$", re.MULTILINE)


def run(app: Flask, *args: str) -> tuple[int, str, str]:
    result = app.test_cli_runner().invoke(args=["kashflow-links", *args])
    return result.exit_code, result.stdout, result.stderr


def today() -> date:
    return datetime.now(ZoneInfo("Europe/London")).date()


def overdue_by_customer(sandbox: KashFlowSandbox) -> dict[str, Decimal]:
    """What each customer owes past its due date, from the sandbox's records."""
    found: dict[str, Decimal] = {}
    for invoice in sandbox.invoices.values():
        due = date.fromisoformat(invoice["DueDate"][:10])
        if (
            invoice["Status"] in ("Unpaid", "Overdue")
            and invoice.get("Type") != "CreditNote"
            and due < today()
        ):
            code = invoice["CustomerCode"]
            found[code] = found.get(code, Decimal(0)) + Decimal(invoice["DueAmount"])
    return found


@pytest.fixture
def cli_app(
    apps: t.Callable[..., Flask], sandbox: KashFlowSandbox, inbox: Inbox
) -> Iterator[Flask]:
    """An app in the test's variant mailing through the test's SMTP server."""
    app = apps(sandbox, mail=inbox.settings())
    with app.app_context():
        yield app


# -- customers -------------------------------------------------------------------------------------


@pytest.mark.usefixtures("variant")
def test_customers_owing_overdue(
    cli_app: Flask, sandbox: KashFlowSandbox, kashflow: KashFlowVariant
) -> None:
    code, out, err = run(cli_app, "customers", "--owing", "overdue")
    assert code == 0, err
    header, *rows = out.splitlines()
    assert header.split() == [
        "CODE",
        "NAME",
        "OWED",
        "OVERDUE",
        "INVOICES",
        "OLDEST",
        "DUE",
        "EMAIL",
    ]
    expected = overdue_by_customer(sandbox)
    assert [row.split()[0] for row in rows] == [
        s.code for s in KashFlowLinks().customers(owing="overdue")
    ]
    assert {row.split()[0] for row in rows} == set(expected)
    (acme,) = [row for row in rows if row.startswith("ACME01 ")]
    assert f"£{expected['ACME01']:,.2f}" in acme and "accounts@acme-trading.test" in acme
    (muller,) = [row for row in rows if row.startswith("MULLER01 ")]
    # Euros as KashFlow writes them for this customer (symbol on the right, on REST).
    assert f"{expected['MULLER01']:,.2f}" in muller
    (bigco,) = [row for row in rows if row.startswith("BIGCO01 ")]
    assert bigco.endswith("ap@bigco-holdings.test, tom.baker@bigco-holdings.test")


@pytest.mark.usefixtures("variant")
def test_customers_without_an_address(cli_app: Flask, kashflow: KashFlowVariant) -> None:
    code, out, _ = run(cli_app, "customers", "--owing", "unpaid")
    assert code == 0
    (quiet,) = [row for row in out.splitlines() if row.startswith("QUIET01 ")]
    if kashflow.soap:  # SOAP has no opt-out: use no_mail
        assert quiet.endswith("accounts@quiet-lane.test, jo.hale@quiet-lane.test")
    else:
        assert quiet.endswith("no address on file")


def test_customers_refuses_an_unknown_choice(cli_app: Flask, sandbox: KashFlowSandbox) -> None:
    code, _, err = run(cli_app, "customers", "--owing", "late")
    assert code == 2 and "'late' is not one of 'unpaid', 'overdue'" in err
    assert sandbox.calls["invoices.list"] == 0


# -- send and mint --send --------------------------------------------------------------------------


def test_send_by_link_id(cli_app: Flask, inbox: Inbox) -> None:
    link = mint(cli_app, "customer", code="BIGCO01", status="unpaid")
    code, out, err = run(cli_app, "send", link.link_id)
    assert code == 0, err
    assert out == (
        f"Sent link {link.link_id} to ap@bigco-holdings.test, tom.baker@bigco-holdings.test.\n"
    )
    assert inbox.messages[0].recipients == [
        "ap@bigco-holdings.test",
        "tom.baker@bigco-holdings.test",
    ]
    assert link.token not in out + err  # the token is never printed by send
    code, out, _ = run(cli_app, "send", link.link_id, "--to", "office@bigco.example")
    assert code == 0 and out.endswith("to office@bigco.example.\n")


def test_send_refuses_with_the_reason(cli_app: Flask, inbox: Inbox) -> None:
    quiet = mint(cli_app, "customer", code="QUIET01")
    code, _, err = run(cli_app, "send", quiet.link_id)
    assert code == 1 and "Error: no email address on file" in err and "--to" in err
    KashFlowLinks().revoke(quiet.link_id)
    code, _, err = run(cli_app, "send", quiet.link_id, "--to", "a@b.example")
    assert code == 1 and f"Error: link {quiet.link_id} is revoked: mint a new one" in err
    assert inbox.messages == []


def test_mint_send(cli_app: Flask, inbox: Inbox) -> None:
    code, out, err = run(cli_app, "mint", "customer", "ACME01", "--status", "overdue", "--send")
    assert code == 0, err
    (url,) = URL.findall(out)
    assert out == url + "\n"  # standard output: the URL only
    assert "sent to: accounts@acme-trading.test" in err
    (received,) = inbox.messages
    assert url in received.text
    code, out, err = run(cli_app, "mint", "invoice", "1043", "--to", "me@acme.example.com")
    assert code == 0, err  # --to implies --send
    assert inbox.messages[-1].recipients == ["me@acme.example.com"]
    assert "sent to: me@acme.example.com" in err


def test_mint_send_without_an_address_keeps_the_link_and_says_so(
    cli_app: Flask, inbox: Inbox
) -> None:
    code, out, err = run(cli_app, "mint", "customer", "QUIET01", "--send")
    assert code == 1 and "no email address on file" in err
    (url,) = URL.findall(out)  # minted and printed before the send was refused
    assert inbox.messages == []
    assert cli_app.test_client().get(path(url)).status_code == 200


# -- remind ----------------------------------------------------------------------------------------


@pytest.mark.usefixtures("variant")
def test_remind_dry_run_says_who_would_get_what(
    cli_app: Flask, sandbox: KashFlowSandbox, inbox: Inbox, clock: t.Any
) -> None:
    code, out, err = run(cli_app, "remind", "--dry-run")
    assert code == 0, err
    expected = overdue_by_customer(sandbox)
    lines = out.splitlines()
    would = [line for line in lines if line.startswith("would remind ")]
    assert {line.split()[2] for line in would} == set(expected)
    (acme,) = [line for line in would if line.startswith("would remind ACME01 ")]
    assert acme.startswith(f"would remind ACME01 (Acme Trading Ltd): £{expected['ACME01']:,.2f}, ")
    assert acme.endswith(", a new link, to accounts@acme-trading.test")
    assert (
        lines[-1]
        == f"{len(expected)} would remind, 0 skipped, 0 failed (dry run: nothing minted or sent)"
    )
    assert inbox.messages == [] and KashFlowLinks().active_links() == []
    assert "Reminding" not in err  # no progress bar off a terminal

    assert run(cli_app, "remind")[0] == 0
    (link,) = KashFlowLinks().active_links(customer="ACME01")
    clock.tick(8 * 86400)
    code, out, _ = run(cli_app, "remind", "--dry-run", "--customer", "ACME01")
    assert code == 0
    assert f", link {link.link_id}, to accounts@acme-trading.test" in out  # the one it reuses


def test_remind_runs_then_skips(cli_app: Flask, sandbox: KashFlowSandbox, inbox: Inbox) -> None:
    code, out, err = run(cli_app, "remind", "--customer", "ACME01", "--customer", "LONG01")
    assert code == 0, err
    assert out.splitlines() == [
        out.splitlines()[0],
        "skipped LONG01: owes nothing overdue",
        "1 reminded, 1 skipped, 0 failed",
    ]
    assert out.startswith("reminded ACME01 (Acme Trading Ltd): £")
    assert len(inbox.messages) == 1
    code, out, _ = run(cli_app, "remind", "--customer", "ACME01", "--every", "1w")
    assert code == 0
    assert out.splitlines() == [
        "skipped ACME01: reminded just now",
        "0 reminded, 1 skipped, 0 failed",
    ]


def test_remind_exits_1_when_a_reminder_failed(cli_app: Flask, inbox: Inbox) -> None:
    inbox.refuse.add("accounts@acme-trading.test")
    code, out, err = run(cli_app, "remind")
    assert code == 1
    assert re.search(r"^FAILED ACME01: SMTP .+$", err, re.MULTILINE)
    assert re.search(r"^\d+ reminded, 0 skipped, 1 failed$", out, re.MULTILINE)
    inbox.refuse.clear()
    code, out, _ = run(cli_app, "remind")
    assert code == 0 and "1 reminded," in out and out.startswith("reminded ACME01 ")


def test_remind_with_kashflow_down(cli_app: Flask, sandbox: KashFlowSandbox, inbox: Inbox) -> None:
    sandbox.fail_next(100, 503)
    code, out, err = run(cli_app, "remind")
    assert code == 1 and out == ""
    assert "could not ask KashFlow who owes money" in err
    assert "nothing was minted or sent" in err
    assert inbox.messages == [] and KashFlowLinks().active_links() == []


def test_remind_says_one_day(apps: t.Callable[..., Flask], inbox: Inbox) -> None:
    with KashFlowSandbox(today=today()) as own:
        own.add_invoice(
            {
                "CustomerCode": "LONG01",
                "IssuedDate": f"{today() - timedelta(days=31)} 12:00:00",
                "DueDate": f"{today() - timedelta(days=1)} 12:00:00",
                "LineItems": [{"Description": "Fitting", "Rate": Decimal("100")}],
            }
        )
        app = apps(own, mail=inbox.settings())
        with app.app_context():
            code, out, _ = run(app, "remind", "--customer", "LONG01")
    assert code == 0
    assert out.startswith("reminded LONG01 (The Extraordinarily") and ", 1 day overdue, " in out


def test_remind_shows_a_progress_bar_on_a_terminal(
    sandbox: KashFlowSandbox, inbox: Inbox, tmp_path: t.Any
) -> None:
    """``flask kashflow-links remind`` as cron or a person runs it, its standard error a
    terminal: a bar over the customers asked for, then the summary on standard output."""
    config = {
        **app_config(
            api_base_url=sandbox.url,
            accounts={"acme": sandbox.account_config()},
            mail=inbox.settings(),
            prefetch=False,
            revocation_url=f"sqlite:///{tmp_path}/links.sqlite3",
        ),
        "SERVER_NAME": "portal.example.test",
    }
    env = {**os.environ, "KFL_APP_CONFIG": json.dumps(config), "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "flask", "--app", "tests.apps:make_portal()", "kashflow-links"]
    terminal, tty = pty.openpty()
    process = subprocess.Popen(
        [*command, "remind", "--customer", "ACME01", "--customer", "TCUST01"],
        stdout=subprocess.PIPE,
        stderr=tty,
        env=env,
        cwd=ROOT,
    )
    os.close(tty)
    shown = b""
    while True:
        try:
            chunk = os.read(terminal, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        shown += chunk
    os.close(terminal)
    assert process.stdout is not None
    out = process.stdout.read().decode()
    assert process.wait(60) == 0, shown
    bar = shown.decode()
    assert "Reminding" in bar and "100%" in bar and "2/2" not in out
    assert out.splitlines()[-1] == "2 reminded, 0 skipped, 0 failed"
    assert len(inbox.messages) == 2


# -- list ------------------------------------------------------------------------------------------


def test_list_says_when_sent_and_who_opened(cli_app: Flask, inbox: Inbox, clock: t.Any) -> None:
    links = KashFlowLinks()
    not_sent = mint(cli_app, "customer", code="TCUST01")
    checked = mint(cli_app, "customer", code="ACME01")
    opened = mint(cli_app, number=1043)
    for link in (checked, opened):
        links.send(link)
        cli_app.test_client().get(path(link), headers={"User-Agent": "Mimecast/1.0"})
    clock.tick(120)
    cli_app.test_client().get(path(opened), headers={"User-Agent": "Mozilla/5.0 Firefox/125.0"})
    code, out, _ = run(cli_app, "list")
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == [
        "LINK",
        "ID",
        "OPENS",
        "MINTED",
        "EXPIRES",
        "LAST",
        "SENT",
        "OPENED",
        "BY",
        "THE",
        "CLIENT",
    ]
    by_id = {row.split()[0]: row for row in rows}
    assert "not sent" in by_id[not_sent.link_id] and by_id[not_sent.link_id].endswith("not yet")
    assert by_id[checked.link_id].endswith("only checked by a mail scanner")
    record = {r.link_id: r for r in links.active_links()}[opened.link_id]
    assert record.last_opened_at is not None
    assert by_id[opened.link_id].endswith(
        record.last_opened_at.astimezone(ZoneInfo("Europe/London")).strftime("%Y-%m-%d %H:%M %Z")
    )
    assert "not sent" not in by_id[opened.link_id]
