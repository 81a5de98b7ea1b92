"""The portal against KashFlow's undocumented or awkward answers, in each shape: a 401 that is
not an expired session, documents behind redirects or as web pages, the three ways a missing
invoice comes back, ``PasswordExpired``, ``MetaData: null``, and refused embed-mode
credentials during an outage."""

from __future__ import annotations

import logging
import typing as t
from pathlib import Path

import pytest
from flask import Flask

from flask_kashflow_links import Credentials
from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links import Link
from flask_kashflow_links.fetch import NOT_FOUND_SECONDS
from flask_kashflow_links.testing import KashFlowSandbox

from .helpers import REST_VARIANTS
from .helpers import Clock
from .helpers import KashFlowVariant
from .helpers import make_app

# REST's own answers, against both shapes of them (the SOAP API has its own tests).
pytestmark = [
    pytest.mark.usefixtures("variant"),
    pytest.mark.parametrize("variant", REST_VARIANTS, indirect=True, scope="module"),
]

DOCUMENT_UNAVAILABLE = "This document is not available"


def mint(app: Flask, number: int = 1043, **kwargs: t.Any) -> Link:
    with app.test_request_context():
        return KashFlowLinks().mint_invoice(number, **kwargs)


def text(response: t.Any) -> str:
    return t.cast(str, response.get_data(as_text=True))


# -- a 401 that is not about the session --------------------------------------------------------


def test_another_401_refuses_one_document_and_keeps_the_session(
    portal: Flask, sandbox: KashFlowSandbox
) -> None:
    client = portal.test_client()
    link = mint(portal)
    assert client.get(link.url).status_code == 200
    sandbox.other_401_next(5)  # documents: "Authorization has been denied for this request."
    pdf = client.get(link.url + "/pdf")
    assert pdf.status_code == 503 and DOCUMENT_UNAVAILABLE in text(pdf)
    # The shared session was kept and no login pause started: the next page that needs
    # KashFlow works, without a login.
    assert client.get(mint(portal, 1004).url).status_code == 200
    assert sandbox.calls["sessiontoken.post"] == 1 and sandbox.logins == 1


def test_another_401_on_one_endpoint_leaves_other_pages_alone(
    portal: Flask, sandbox: KashFlowSandbox
) -> None:
    client = portal.test_client()
    sandbox.other_401_next(1, "invoices.get", error="AccessDenied", message="Role may not view.")
    assert client.get(mint(portal).url).status_code == 503
    with portal.test_request_context():
        customer = KashFlowLinks().mint_customer("ACME01")
    assert client.get(customer.url).status_code == 200
    assert client.get(mint(portal, 1004).url).status_code == 200
    assert sandbox.logins == 1


# -- documents ------------------------------------------------------------------------------------


def test_documents_follow_redirects_on_the_api_host(
    portal: Flask, sandbox: KashFlowSandbox
) -> None:
    sandbox.redirect_documents("same")
    pdf = portal.test_client().get(mint(portal).url + "/pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")
    assert sandbox.calls["documents.download"] == 1


def test_documents_redirected_to_another_host_are_refused_and_logged(
    portal: Flask, sandbox: KashFlowSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox.redirect_documents("other")
    with caplog.at_level(logging.WARNING):
        pdf = portal.test_client().get(mint(portal).url + "/pdf")
    assert pdf.status_code == 503 and DOCUMENT_UNAVAILABLE in text(pdf)
    assert sandbox.calls["documents.download"] == 0  # the token never went to the other host
    assert any("not followed" in r.getMessage() for r in caplog.records)


def test_a_web_page_instead_of_a_pdf_is_document_unavailable(
    portal: Flask, sandbox: KashFlowSandbox
) -> None:
    client = portal.test_client()
    link = mint(portal)
    sandbox.html_documents_next(1)
    pdf = client.get(link.url + "/pdf")
    assert pdf.status_code == 503 and DOCUMENT_UNAVAILABLE in text(pdf)
    assert "Retry-After" in pdf.headers
    assert link.url.split("/invoices/")[1] in text(pdf)  # the way back to the invoice
    assert client.get(link.url).status_code == 200  # the invoice itself still opens


# -- a missing invoice ------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", ["404", "400", "null"])
def test_a_missing_invoice_is_not_found(
    portal: Flask, sandbox: KashFlowSandbox, answer: str
) -> None:
    sandbox.set_missing_invoice_answer(answer)
    client = portal.test_client()
    assert client.get(mint(portal, 999_999).url).status_code == 404
    calls = sandbox.calls["invoices.get"]
    assert client.get(mint(portal, 999_999).url).status_code == 404
    assert sandbox.calls["invoices.get"] == calls  # "not found" is remembered for a while


@pytest.mark.parametrize("answer", ["404", "400", "null"])
def test_an_invoice_kashflow_says_is_gone_is_not_served_stale(
    tmp_path: Path,
    age_cache: t.Callable[..., None],
    clock: Clock,
    answer: str,
    kashflow: KashFlowVariant,
) -> None:
    with KashFlowSandbox() as sandbox:
        app = make_app(tmp_path, **kashflow.config(sandbox))
        number = sandbox.add_invoice({"CustomerCode": "ACME01", "GrossAmount": "50.00"})["Number"]
        link = mint(app, number)
        client = app.test_client()
        assert client.get(link.url).status_code == 200
        sandbox.remove_invoice(number)
        sandbox.set_missing_invoice_answer(answer)
        age_cache(app)  # past the fresh window: KashFlow is asked again
        assert client.get(link.url).status_code == 404
        clock.tick(NOT_FOUND_SECONDS + 1)  # not found is remembered briefly, then asked again
        calls = sandbox.calls["invoices.get"]
        assert client.get(link.url).status_code == 404
        assert sandbox.calls["invoices.get"] == calls + 1


# -- logins ---------------------------------------------------------------------------------------------


def test_password_expired_is_a_503_even_for_embedded_links(
    tmp_path: Path, sandbox: KashFlowSandbox, kashflow: KashFlowVariant
) -> None:
    app = make_app(
        tmp_path, **kashflow.config(sandbox, embed_credentials=True, accounts={"acme": {}})
    )
    creds = Credentials(sandbox.username, sandbox.password, sandbox.memorable_word)
    link = mint(app, credentials=creds)
    sandbox.password_expired_next(3)
    response = app.test_client().get(link.url)
    # Not "withdrawn": the credentials are right, and work again once the password is renewed.
    assert response.status_code == 503 and "Retry-After" in response.headers


def test_password_expired_for_the_sites_account(portal: Flask, sandbox: KashFlowSandbox) -> None:
    sandbox.password_expired_next(3)
    response = portal.test_client().get(mint(portal).url)
    assert response.status_code == 503 and "try again" in text(response)


def test_refused_embedded_credentials_get_no_stale_data_during_an_outage(
    tmp_path: Path, age_cache: t.Callable[..., None], clock: Clock, kashflow: KashFlowVariant
) -> None:
    with KashFlowSandbox() as sandbox:
        app = make_app(
            tmp_path, **kashflow.config(sandbox, embed_credentials=True, accounts={"acme": {}})
        )
        creds = Credentials(sandbox.username, sandbox.password, sandbox.memorable_word)
        link = mint(app, credentials=creds)
        client = app.test_client()
        assert client.get(link.url).status_code == 200
        sandbox.password = "a brand new password"  # withdraws every link carrying the old one
        sandbox.expire_sessions()
        age_cache(app)
        assert client.get(link.url).status_code == 410
        # A day on, the pause on these credentials is over while their data is still inside
        # the stale window, and KashFlow is down: the outage must not bring the link back.
        age_cache(app, seconds=86400 + 60)
        sandbox.fail_next(20, 503)
        response = client.get(link.url)
        assert response.status_code == 410
        assert "Invoice 1043" not in text(response)


# -- lists ------------------------------------------------------------------------------------------------


def test_null_metadata_on_a_list(portal: Flask, sandbox: KashFlowSandbox) -> None:
    sandbox.null_metadata_next(1)
    with portal.test_request_context():
        link = KashFlowLinks().mint_customer("BIGCO01")
    page = portal.test_client().get(link.url)
    assert page.status_code == 200 and "Page 1 of 13" in text(page)
