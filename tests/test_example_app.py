"""The example site: started the way the README says, and the staff workflow."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import typing as t
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask

from example_app import create_app
from example_app.app import links
from flask_kashflow_links.testing import KashFlowSandbox

from .helpers import ROOT
from .services import free_port

LINK_LINE = re.compile(
    r"^\s+(one invoice|all invoices|unpaid only|260 invoices|expired|withdrawn)\s+(\S+)$"
)


@pytest.mark.slow
@pytest.mark.parametrize("api", ["rest", "soap"])
def test_make_demo_serves_the_site_with_working_demo_links(tmp_path: Path, api: str) -> None:
    port = free_port()
    env = dict(os.environ, SANDBOX_PORT="0", KASHFLOW_API=api)
    process = subprocess.Popen(
        ["make", "-s", "demo", f"PORT={port}"],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
        start_new_session=True,  # make runs flask: stop the whole group afterwards
    )
    links: dict[str, str] = {}
    try:
        assert process.stderr is not None
        deadline = time.monotonic() + 120
        for line in process.stderr:
            if line.startswith("Harbour Lane Joinery demo"):
                assert f"sandbox's {api.upper()} API" in line
            match = LINK_LINE.match(line.rstrip())
            if match:
                links[match.group(1)] = match.group(2)
            if line.startswith("Staff page:") or time.monotonic() > deadline:
                break
        assert set(links) == {
            "one invoice",
            "all invoices",
            "unpaid only",
            "260 invoices",
            "expired",
            "withdrawn",
        }
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):  # the server starts right after printing
            try:
                requests.get(base + "/", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        home = requests.get(base + "/", timeout=5)
        assert home.status_code == 200 and "Harbour Lane" in home.text
        invoice = requests.get(links["one invoice"], timeout=10)
        assert invoice.status_code == 200
        assert "Invoice 1043" in invoice.text
        assert 'class="site-header' in invoice.text  # inside the site's own layout
        pdf = requests.get(links["one invoice"] + "/pdf", timeout=10)
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
        assert invoice.headers["Referrer-Policy"] == "no-referrer"
        listing = requests.get(links["unpaid only"], timeout=10)
        assert listing.status_code == 200 and "Outstanding balance" in listing.text
        assert requests.get(links["withdrawn"], timeout=10).status_code == 410
        # Minted with a second to live as the demo starts: expired by now, or very soon.
        for _ in range(50):
            expired = requests.get(links["expired"], timeout=10)
            if expired.status_code == 410:
                break
            time.sleep(0.1)
        assert expired.status_code == 410 and "expired" in expired.text
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)


@pytest.fixture
def outbox() -> list[t.Any]:
    return []


@pytest.fixture
def site(tmp_path: Path, sandbox: KashFlowSandbox, outbox: list[t.Any]) -> Flask:
    app = create_app(
        {
            "TESTING": True,
            "SERVER_NAME": "shop.example.test",
            "STAFF_PASSWORD": "demo-password",
            "KASHFLOW_LINKS_ACCOUNTS": {"main": sandbox.account_config()},
            "KASHFLOW_LINKS_API_BASE_URL": sandbox.url,
            "KASHFLOW_LINKS_PUBLIC_URL": "http://shop.example.test/billing",
            "KASHFLOW_LINKS_REVOCATION_URL": f"sqlite:///{tmp_path / 'links.sqlite3'}",
            "KASHFLOW_LINKS_MAIL": outbox.append,
        }
    )
    return app


SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


def csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match
    return match.group(1)


def form_token(html: str) -> str:
    match = re.search(r'name="form_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def signed_in(site: Flask) -> t.Any:
    client = site.test_client()
    page = client.get("/staff/login").get_data(as_text=True)
    client.post("/staff/login", data={"csrf": csrf(page), "password": "demo-password"})
    return client


def test_staff_sign_in_guards_the_shipped_staff_pages(site: Flask) -> None:
    client = site.test_client()
    door = client.get("/staff/customers/ACME01")
    assert door.status_code == 302  # sign-in first, then back here
    assert door.location == "/staff/login?next=/staff/customers/ACME01"
    page = client.get(door.location).get_data(as_text=True)
    wrong = client.post(door.location, data={"csrf": csrf(page), "password": "nope"})
    assert "not right" in wrong.get_data(as_text=True)
    right = client.post(door.location, data={"csrf": csrf(page), "password": "demo-password"})
    assert right.location == "/staff/customers/ACME01"
    other = site.test_client()
    login = other.get("/staff/login").get_data(as_text=True)
    elsewhere = other.post(
        "/staff/login?next=https://evil.example/",
        data={"csrf": csrf(login), "password": "demo-password"},
    )
    assert elsewhere.location == "/staff/"  # never to an address from the query
    staff = client.get("/staff/customers/ACME01")
    assert staff.status_code == 200 and 'class="site-header' in staff.get_data(as_text=True)


def test_staff_send_a_client_a_link_and_withdraw_it(site: Flask, outbox: list[t.Any]) -> None:
    client = signed_in(site)
    page = client.get("/staff/customers/ACME01").get_data(as_text=True)
    # "Send a client a link to all their unpaid invoices"
    page = client.post(
        "/staff/customers/ACME01/mint",
        data={
            "form_token": form_token(page),
            "kind": "customer",
            "status": "unpaid",
            "expires": "never",
        },
        headers=SAME_ORIGIN,
    ).get_data(as_text=True)
    url = re.search(r'value="(http://shop\.example\.test/billing/invoices/[^"]+)"', page).group(1)  # type: ignore[union-attr]
    with client.session_transaction() as session:  # the token is not kept in the cookie
        assert all(url.rsplit("/", 1)[1] not in str(value) for value in session.values())
    assert "New link: Unpaid invoices" in page
    opened = client.get(url)
    assert opened.status_code == 200 and "Outstanding balance" in opened.get_data(as_text=True)
    link_id = re.search(r'name="link_id" value="([a-z2-7]{13})"', page).group(1)  # type: ignore[union-attr]
    sent = client.post(
        "/staff/customers/ACME01/send",
        data={"form_token": form_token(page), "link_id": link_id},
        headers=SAME_ORIGIN,
    )
    assert f"Sent link {link_id} to accounts@acme-trading.test." in sent.get_data(as_text=True)
    assert [m["To"] for m in outbox] == ["accounts@acme-trading.test"]

    # "Withdraw a link sent to the wrong person"
    page = client.get("/staff/customers/ACME01").get_data(as_text=True)
    assert url.split("/")[-1] not in page  # the list never shows tokens
    gone = client.post(
        "/staff/customers/ACME01/revoke",
        data={"form_token": form_token(page), "link_id": link_id},
        headers=SAME_ORIGIN,
    ).get_data(as_text=True)
    assert f"Revoked link {link_id}" in gone
    assert client.get(url).status_code == 410
    assert f'value="{link_id}"' not in gone  # gone from the live list


def test_staff_forms_need_the_form_token(site: Flask) -> None:
    client = signed_in(site)
    response = client.post(
        "/staff/customers/ACME01/mint",
        data={"kind": "invoice", "number": "1043", "expires": "never"},
        headers=SAME_ORIGIN,
    )
    assert response.status_code == 400


def test_without_credentials_the_site_runs_on_the_sandbox(tmp_path: Path) -> None:
    app = create_app({"TESTING": True, "EXAMPLE_PRINT_DEMO_LINKS": False})
    sandbox = t.cast(KashFlowSandbox, app.extensions["example_sandbox"])
    try:
        assert app.config["KASHFLOW_LINKS_API_BASE_URL"] == sandbox.url
    finally:
        sandbox.stop()


def test_staff_pages_are_never_stored_and_answer_only_the_sites_hosts(site: Flask) -> None:
    client = signed_in(site)
    page = client.get("/staff/customers/ACME01").get_data(as_text=True)
    minted = client.post(
        "/staff/customers/ACME01/mint",
        data={
            "form_token": form_token(page),
            "kind": "invoice",
            "number": "1043",
            "expires": "never",
        },
        headers=SAME_ORIGIN,
    )
    assert "/billing/invoices/" in minted.get_data(as_text=True)  # a live link on the page
    for response in (minted, client.get("/staff/"), client.get("/staff/login")):
        assert response.headers["Cache-Control"] == "no-store"
    assert client.get("/staff/login", headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/", headers={"Host": "shop.example.test"}).status_code == 200


def test_kashflow_api_soap_runs_the_site_on_soap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KASHFLOW_API", "soap")
    monkeypatch.delenv("KASHFLOW_USERNAME", raising=False)
    app = create_app({"TESTING": True, "EXAMPLE_PRINT_DEMO_LINKS": False})
    sandbox = t.cast(KashFlowSandbox, app.extensions["example_sandbox"])
    try:
        assert app.config["KASHFLOW_LINKS_ACCOUNTS"]["main"]["api"] == "soap"
        assert app.config["KASHFLOW_LINKS_SOAP_URL"] == sandbox.soap_url
        with app.test_request_context():
            url = links.mint_invoice(1043).url
        page = app.test_client().get(urlsplit(url).path)
        assert page.status_code == 200 and "Invoice 1043" in page.get_data(as_text=True)
        assert sandbox.calls["soap.GetInvoice"] == 1 and sandbox.calls["invoices.get"] == 0
    finally:
        sandbox.stop()
    monkeypatch.setenv("KASHFLOW_USERNAME", "owner@example.test")
    monkeypatch.setenv("KASHFLOW_PASSWORD", "api-password")
    real = create_app({"TESTING": True, "EXAMPLE_PRINT_DEMO_LINKS": False})
    assert real.config["KASHFLOW_LINKS_ACCOUNTS"] == {
        "main": {"api": "soap", "username": "owner@example.test", "password": "api-password"}
    }
