"""The portal on KashFlow's SOAP API: counted calls per page, what SOAP accounts are not
offered, embed-mode links carrying SOAP credentials, mixed accounts, start-up checks, and
``flask kashflow-links check``."""

from __future__ import annotations

import base64
import threading
import typing as t
from datetime import datetime
from datetime import timezone
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from flask import Flask

from flask_kashflow_links import ConfigurationError
from flask_kashflow_links import Credentials
from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links.links.claims import Scope
from flask_kashflow_links.links.codec import TokenCodec
from flask_kashflow_links.links.codec import pack_claims
from flask_kashflow_links.links.codec import unpack_claims
from flask_kashflow_links.testing import KashFlowSandbox

from .helpers import NUMBER_IN_PAGE
from .helpers import make_app
from .helpers import path
from .services import free_port
from .services import run_in_threads


def soap_config(sandbox: KashFlowSandbox, **config: t.Any) -> dict[str, t.Any]:
    base: dict[str, t.Any] = {
        "api_base_url": sandbox.url,
        "soap_url": sandbox.soap_url,
        "accounts": {"acme": sandbox.account_config(api="soap")},
        "api_timeout": (2.0, 3.0),
    }
    return {**base, **config}


def calls_of(sandbox: KashFlowSandbox) -> dict[str, int]:
    return {k: v for k, v in sandbox.calls.items() if v}


@pytest.fixture(scope="module")
def big() -> t.Iterator[KashFlowSandbox]:
    """A sandbox of its own whose BIGCO01 has 263 invoices."""
    with KashFlowSandbox(public_documents=True) as sandbox:
        for _ in range(3):
            sandbox.add_invoice({"CustomerCode": "BIGCO01", "NetAmount": "10.00"})
        yield sandbox


@pytest.fixture
def soap_sandbox(sandbox: KashFlowSandbox) -> KashFlowSandbox:
    sandbox.set_public_documents(True)
    return sandbox


# -- counted calls -------------------------------------------------------------------------


def test_counted_calls_cold_and_warm(tmp_path: Path, big: KashFlowSandbox) -> None:
    assert len(big.data.invoices_of("BIGCO01")) == 263
    app = make_app(tmp_path, **soap_config(big))
    links = KashFlowLinks()
    with app.test_request_context():
        customer = links.mint_customer("BIGCO01")
        paid_in_part = links.mint_invoice(1291)  # DUBOIS01: something paid
        unpaid = links.mint_invoice(1043)  # nothing paid
    client = app.test_client()
    pages = {
        "customer": (path(customer.url), 3),
        "invoice, part-paid": (path(paid_in_part.url), 2),
        "invoice, nothing paid": (path(unpaid.url), 2),
        "invoice in the list": (path(customer.url) + "/1130", 2),
    }
    cold: dict[str, dict[str, int]] = {}
    for name, (url, budget) in pages.items():
        big.reset_counters()
        response = client.get(url)
        assert response.status_code == 200, name
        cold[name] = calls_of(big)
        assert sum(cold[name].values()) <= budget, (name, cold[name])
        assert all(k.startswith("soap.") for k in cold[name]), cold[name]
    assert cold["customer"] == {"soap.GetCustomer": 1, "soap.GetInvoicesForCustomer": 1}
    assert cold["invoice, part-paid"] == {"soap.GetInvoice": 1, "soap.GetInvoicePayment": 1}
    assert cold["invoice, nothing paid"] == {"soap.GetInvoice": 1}
    first = client.get(path(customer.url)).get_data(as_text=True)
    assert "Page 1 of 14" in first and len(NUMBER_IN_PAGE.findall(first)) == 20
    # Warm: every page again, and the customer's other pages and tabs, cost no call at all.
    big.reset_counters()
    for url, _ in pages.values():
        assert client.get(url).status_code == 200
    for query in ("?page=14", "?status=unpaid", "?status=paid&page=2"):
        assert client.get(path(customer.url) + query).status_code == 200
    assert calls_of(big) == {}


# -- what SOAP accounts are not offered ----------------------------------------------------


def test_no_statement_over_soap(tmp_path: Path, soap_sandbox: KashFlowSandbox) -> None:
    app = make_app(tmp_path, **soap_config(soap_sandbox))
    with app.test_request_context():
        link = KashFlowLinks().mint_customer("ACME01")
    client = app.test_client()
    page = client.get(path(link.url)).get_data(as_text=True)
    assert "Invoices for" in page and "statement" not in page.lower()
    soap_sandbox.reset_counters()
    assert client.get(path(link.url) + "/pdf").status_code == 404
    assert calls_of(soap_sandbox) == {}  # decided from the backend, before any call
    # The same link on REST offers the statement.
    rest = make_app(
        tmp_path,
        "rest",
        **soap_config(soap_sandbox, accounts={"acme": soap_sandbox.account_config()}),
    )
    with rest.test_request_context():
        rest_link = KashFlowLinks().mint_customer("ACME01")
    assert "Download statement" in rest.test_client().get(path(rest_link.url)).get_data(
        as_text=True
    )


def test_an_invoice_page_over_soap(tmp_path: Path, soap_sandbox: KashFlowSandbox) -> None:
    app = make_app(tmp_path, **soap_config(soap_sandbox))
    with app.test_request_context():
        link = KashFlowLinks().mint_invoice(1004)  # overpaid, two payments
    client = app.test_client()
    html = client.get(path(link.url)).get_data(as_text=True)
    stored = soap_sandbox.invoices[1004]
    assert "Invoice 1004" in html and "Paid on" in html and "you have a credit" in html
    assert "Payments received" in html
    for line in stored["LineItems"]:
        assert line["Description"] in html
    assert "receipt" not in html.lower()
    pdf = client.get(path(link.url) + "/pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")


# -- embed mode and mixed accounts ----------------------------------------------------------


def test_an_embedded_soap_link_opens_on_soap_whatever_the_site_says(
    tmp_path: Path, soap_sandbox: KashFlowSandbox
) -> None:
    minting = make_app(tmp_path, "minting", **soap_config(soap_sandbox, embed_credentials=True))
    # The serving site holds no credentials, and its account entry says nothing of the API.
    serving = make_app(
        tmp_path,
        "serving",
        **soap_config(soap_sandbox, embed_credentials=True, accounts={"acme": {}}),
    )
    with minting.test_request_context():
        link = KashFlowLinks().mint_customer("ACME01", status="unpaid")
    with minting.app_context():
        claims = KashFlowLinks().verify(link.token)
    assert claims.credentials is not None and claims.credentials.api == "soap"
    assert claims.credentials.memorable_word == ""
    soap_sandbox.reset_counters()
    response = serving.test_client().get(path(link.url))
    assert response.status_code == 200 and "1043" in response.get_data(as_text=True)
    assert set(calls_of(soap_sandbox)) == {"soap.GetCustomer", "soap.GetInvoicesForCustomer"}


def test_rest_and_soap_accounts_side_by_side(tmp_path: Path, soap_sandbox: KashFlowSandbox) -> None:
    accounts = {
        "acme": soap_sandbox.account_config(),
        "legacy": soap_sandbox.account_config(api="soap"),
    }
    app = make_app(tmp_path, **soap_config(soap_sandbox, accounts=accounts, default_account="acme"))
    links = KashFlowLinks()
    with app.test_request_context():
        by_rest = links.mint_invoice(1043)
        by_soap = links.mint_invoice(1043, account="legacy")
    client = app.test_client()
    soap_sandbox.reset_counters()
    assert client.get(path(by_rest.url)).status_code == 200
    assert soap_sandbox.calls["invoices.get"] == 1 and soap_sandbox.calls["soap.GetInvoice"] == 0
    assert client.get(path(by_soap.url)).status_code == 200
    assert soap_sandbox.calls["soap.GetInvoice"] == 1 and soap_sandbox.calls["invoices.get"] == 1


def test_rest_embed_links_are_byte_for_byte_as_before() -> None:
    """The SOAP flag is a new bit: a REST link's payload is what the code before it packed, so
    every link minted before still verifies."""
    link_id = "abcdefghijklm"
    rest = Credentials("u@x.test", "pw", "pineapple")
    packed = pack_claims(Scope.for_invoice("acme", 1043), link_id, None, rest)
    legacy = (
        bytes([1, 0x10])  # version 1, "credentials" flag
        + base64.b32decode(link_id.upper() + "===")
        + b"\x04acme"
        + bytes([0x93, 0x08])  # 1043 as a varint
        + b"\x08u@x.test\x02pw\x09pineapple"
    )
    assert packed == legacy
    soap = Credentials("u@x.test", "pw", api="soap")
    soap_packed = pack_claims(Scope.for_invoice("acme", 1043), link_id, None, soap)
    assert soap_packed[1] == 0x30 and soap_packed.endswith(b"\x08u@x.test\x02pw")
    now = datetime.now(timezone.utc)
    assert unpack_claims(soap_packed, now).credentials == soap
    assert unpack_claims(packed, now).credentials == rest
    # The SOAP bit without credentials is no payload this code writes.
    with pytest.raises(ValueError):
        unpack_claims(bytes([1, 0x20]) + soap_packed[2:], now)


def test_embed_link_lengths() -> None:
    codec = TokenCodec([Fernet.generate_key()], [b"k" * 48])
    scope = Scope.for_invoice("acme", 987654)
    user, password = "accounts@harbourlane.example", "a-long-password-1234"
    rest, _ = codec.mint(scope, credentials=Credentials(user, password, "pineapple"))
    soap, _ = codec.mint(scope, credentials=Credentials(user, password, api="soap"))
    assert len(rest) == len(soap) == 218  # as docs/configuration.rst says


# -- start-up checks -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("account", "message"),
    [
        ({"api": "soap", "username": "u", "password": "Secret-PW-9", "memorable_word": "pineapple"},
         "SOAP API, which has no memorable word"),
        ({"api": "soap", "username": "u"}, "missing password"),
        ({"api": "SOAP", "username": "u", "password": "Secret-PW-9"}, "api must be 'rest'"),
        ({"username": "u", "password": "Secret-PW-9"}, "missing memorable_word"),
    ],
)  # fmt: skip
def test_account_api_mistakes_are_refused_at_start_up(
    tmp_path: Path, account: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        make_app(tmp_path, accounts={"acme": account})
    assert info.value.key == "KASHFLOW_LINKS_ACCOUNTS" and message in str(info.value)
    assert "Secret-PW-9" not in str(info.value) and "pineapple" not in str(info.value)


def test_soap_url_is_checked_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        make_app(tmp_path, soap_url="securedwebapp.com/api/service.asmx")
    assert info.value.key == "KASHFLOW_LINKS_SOAP_URL"
    app = make_app(tmp_path, "default")
    assert app.config["KASHFLOW_LINKS_SOAP_URL"] == "https://securedwebapp.com/api/service.asmx"


# -- flask kashflow-links check --------------------------------------------------------------


def check(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["kashflow-links", "check", *args])
    return result.exit_code, result.stdout + result.stderr


def test_check_ok(tmp_path: Path, soap_sandbox: KashFlowSandbox) -> None:
    app = make_app(tmp_path, **soap_config(soap_sandbox))
    soap_sandbox.reset_counters()
    code, out = check(app)
    assert code == 0, out
    assert "accepted the username and password over SOAP" in out
    assert "invoice PDFs download from the PermaLink" in out
    assert "statements and payment receipts" in out and out.rstrip().endswith("OK")
    assert sum(v for k, v in soap_sandbox.calls.items() if k.startswith("soap.")) == 1
    assert soap_sandbox.password not in out


@pytest.mark.parametrize(
    ("fault", "quoted", "likely"),
    [
        ("password mode", "Incorrect username or password", "Password mode"),
        ("ip", "is not in the access list", "IP access list"),
        ("disabled", "not enabled", "Enable SOAP API"),
    ],
)
def test_check_quotes_kashflow_and_names_the_causes(
    tmp_path: Path, soap_sandbox: KashFlowSandbox, fault: str, quoted: str, likely: str
) -> None:
    app = make_app(tmp_path, **soap_config(soap_sandbox))
    if fault == "password mode":
        soap_sandbox.set_soap_password_mode("separate")
    elif fault == "ip":
        soap_sandbox.set_soap_ip_blocked()
    else:
        soap_sandbox.set_soap_enabled(False)
    code, out = check(app)
    assert code == 1 and quoted in out
    likely_line = next(line for line in out.splitlines() if "Likely cause" in line)
    assert likely in likely_line
    for cause in ("Separate API password", "AutoAuthIP", "Enable SOAP API"):
        assert cause in out  # every cause is named, with its fix
    assert "logged in" not in out and soap_sandbox.password not in out
    assert soap_sandbox.soap_password not in out
    # The refusal paused the account, as the portal's would: check says so, --force tries.
    soap_sandbox.reset_counters()
    code, out = check(app)
    assert code == 1 and "paused" in out and "--force" in out
    assert calls_of(soap_sandbox) == {}
    soap_sandbox.clear_faults()
    soap_sandbox.set_soap_password_mode("login")
    code, out = check(app, "--force")
    assert code == 0, out
    assert check(app)[0] == 0  # the pause was lifted


def test_check_explains_an_unreachable_soap_service(
    tmp_path: Path, soap_sandbox: KashFlowSandbox
) -> None:
    url = f"http://127.0.0.1:{free_port()}/api/service.asmx"
    code, out = check(make_app(tmp_path, **soap_config(soap_sandbox, soap_url=url)))
    assert code == 1 and "cannot reach KashFlow's SOAP service" in out
    assert "KASHFLOW_LINKS_SOAP_URL" in out


def test_check_warns_when_pdfs_want_a_session(
    tmp_path: Path, soap_sandbox: KashFlowSandbox
) -> None:
    soap_sandbox.set_public_documents(False)
    code, out = check(make_app(tmp_path, **soap_config(soap_sandbox)))
    assert code == 0, out
    assert "warning:" in out and "did not download" in out and "session" in out


def test_config_shows_each_accounts_api(tmp_path: Path, soap_sandbox: KashFlowSandbox) -> None:
    accounts = {
        "acme": soap_sandbox.account_config(),
        "legacy": soap_sandbox.account_config(api="soap"),
    }
    app = make_app(tmp_path, **soap_config(soap_sandbox, accounts=accounts, default_account="acme"))
    result = app.test_cli_runner().invoke(args=["kashflow-links", "config"])
    assert "accounts:         acme (rest), legacy (soap)" in result.output
    assert f"SOAP URL:         {soap_sandbox.soap_url}" in result.output
    assert soap_sandbox.password not in result.output


# -- single flight and the pause, seen from the pages ----------------------------------------


def test_concurrent_cold_requests_make_one_soap_call(
    tmp_path: Path, soap_sandbox: KashFlowSandbox
) -> None:
    soap_sandbox.set_latency(0.3, "soap.GetInvoice")
    app = make_app(tmp_path, **soap_config(soap_sandbox))
    with app.test_request_context():
        link = KashFlowLinks().mint_invoice(1043)
    barrier = threading.Barrier(16)

    def work(_: int) -> None:
        barrier.wait()
        assert app.test_client().get(path(link.url)).status_code == 200

    assert not run_in_threads(work, 16)
    assert calls_of(soap_sandbox) == {"soap.GetInvoice": 1}


def test_a_refused_password_is_asked_once_while_pages_come_from_the_cache(
    tmp_path: Path, soap_sandbox: KashFlowSandbox, age_cache: t.Callable[..., None]
) -> None:
    app = make_app(tmp_path, **soap_config(soap_sandbox))
    with app.test_request_context():
        link = KashFlowLinks().mint_invoice(1043)
    client = app.test_client()
    assert client.get(path(link.url)).status_code == 200
    age_cache(app)
    soap_sandbox.set_soap_password_mode("separate")  # the configured password is now refused
    soap_sandbox.reset_counters()
    for _ in range(10):
        page = client.get(path(link.url))
        assert page.status_code == 200 and "as of" in page.get_data(as_text=True)
    with app.test_request_context():
        cold = KashFlowLinks().mint_invoice(1004)
    assert client.get(path(cold.url)).status_code == 503  # nothing cached: unavailable
    assert calls_of(soap_sandbox) == {"soap.GetInvoice": 1}  # asked once, then paused
