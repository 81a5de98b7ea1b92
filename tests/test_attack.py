"""Scope escalation attempts through every route and parameter, and request forgery."""

from __future__ import annotations

import re
import typing as t
from pathlib import Path

import pytest
from flask import Flask

from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links.testing import KashFlowSandbox

from .helpers import NUMBER_IN_PAGE
from .helpers import in_the_past
from .helpers import make_app
from .helpers import path
from .helpers import portal_config


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[dict[str, t.Any]]:
    with KashFlowSandbox() as sandbox:
        app = make_app(tmp_path_factory.mktemp("attack"), **portal_config(sandbox))
        with app.test_request_context():
            links = KashFlowLinks()
            yield {
                "app": app,
                "sandbox": sandbox,
                "unpaid": links.mint_customer("ACME01", status="unpaid"),
                "invoice": links.mint_invoice(1043),
                "paid": links.mint_customer("ACME01", status="paid"),
            }


def numbers_shown(html: str) -> set[int]:
    return {int(n) for n in NUMBER_IN_PAGE.findall(html)}


def acme(sandbox: KashFlowSandbox, *statuses: str) -> set[int]:
    return {
        n
        for n, inv in sandbox.invoices.items()
        if inv["CustomerCode"] == "ACME01" and inv["Status"] in statuses
    }


OTHER_CUSTOMER = 1005  # BIGCO01's


@pytest.mark.parametrize(
    "suffix",
    [
        f"/..%2F{OTHER_CUSTOMER}",
        f"/%2E%2E/{OTHER_CUSTOMER}",
        f"/1043%2F..%2F{OTHER_CUSTOMER}",
        f"/{OTHER_CUSTOMER}%00",
        f"/0{OTHER_CUSTOMER}",
        f"/+{OTHER_CUSTOMER}",
        f"/{OTHER_CUSTOMER}.0",
        "/%31%30%30%35",  # "1005", percent-encoded
        f"/{OTHER_CUSTOMER}/../1043",
        "/pdf/../1005/pdf",
    ],
)
def test_path_tricks_never_reach_another_customers_invoice(
    world: dict[str, t.Any], suffix: str
) -> None:
    response = world["app"].test_client().get(path(world["unpaid"]) + suffix)
    body = response.get_data(as_text=True)
    assert response.status_code in (404, 308)
    assert "BIGCO" not in body and "Bigco" not in body


@pytest.mark.parametrize(
    "query",
    [
        "status=unpaid&status=paid",
        "status=paid&status=unpaid",
        "customer=BIGCO01",
        "customercode=BIGCO01",
        "invoice=1005",
        "account=other",
        "status=all",
        "status=PAID",
        "status=paid%00",
        "page=1&page=99",
    ],
)
def test_query_strings_never_widen_the_scope(world: dict[str, t.Any], query: str) -> None:
    response = world["app"].test_client().get(f"{path(world['unpaid'])}?{query}")
    if response.status_code == 200:
        shown = numbers_shown(response.get_data(as_text=True))
        assert shown <= acme(world["sandbox"], "Unpaid", "Overdue")
    else:
        assert response.status_code == 404


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "POST"])
def test_other_methods_change_nothing(world: dict[str, t.Any], method: str) -> None:
    client = world["app"].test_client()
    for suffix in ("", "/1043", "/pdf", "/1043/pdf"):
        assert client.open(path(world["invoice"]) + suffix, method=method).status_code == 405
    with world["app"].app_context():
        assert world["invoice"].link_id in {r.link_id for r in KashFlowLinks().active_links()}


def test_a_paid_link_never_shows_unpaid_invoices_by_number(world: dict[str, t.Any]) -> None:
    client = world["app"].test_client()
    for number in acme(world["sandbox"], "Unpaid", "Overdue"):
        assert client.get(f"{path(world['paid'])}/{number}").status_code == 404
        assert client.get(f"{path(world['paid'])}/{number}/pdf").status_code == 404


def test_a_form_token_works_only_for_its_own_link(tmp_path: Path, sandbox: KashFlowSandbox) -> None:
    sent: list[t.Any] = []
    app = make_app(tmp_path, **portal_config(sandbox, mail=sent.append))
    with app.test_request_context(), in_the_past():
        a = KashFlowLinks().mint_customer("ACME01", expires_in=60)
        b = KashFlowLinks().mint_customer("BIGCO01", expires_in=60)
    client = app.test_client()
    page = client.get(path(a)).get_data(as_text=True)
    token_for_a = re.search(r'name="form_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    response = client.post(
        path(b) + "/renew",
        data={"form_token": token_for_a},
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 400 and sent == []


def test_a_forged_host_header_cannot_redirect_the_emailed_link(
    tmp_path: Path, sandbox: KashFlowSandbox
) -> None:
    sent: list[t.Any] = []
    app = make_app(
        tmp_path,
        SERVER_NAME=None,  # so nothing but the fix stands between the Host header and the URL
        **portal_config(sandbox, mail=sent.append, public_url="https://billing.example.co.uk"),
    )
    with app.test_request_context(), in_the_past():
        link = KashFlowLinks().mint_customer("ACME01", expires_in=60)
    client = app.test_client()
    evil = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    own = "/invoices/" + link.token
    page = client.get(own, headers=evil).get_data(as_text=True)
    token = re.search(r'name="form_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    response = client.post(
        own + "/renew",
        data={"form_token": token},
        headers={**evil, "Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    body = sent[0].get_body(("plain",)).get_content()
    assert "https://billing.example.co.uk/invoices/" in body
    assert "evil.example" not in body


def test_renewing_never_widens_the_scope(tmp_path: Path, sandbox: KashFlowSandbox) -> None:
    sent: list[t.Any] = []
    app = make_app(tmp_path, **portal_config(sandbox, mail=sent.append))
    with app.test_request_context(), in_the_past():
        link = KashFlowLinks().mint_customer("ACME01", status="overdue", expires_in=60)
    client = app.test_client()
    page = client.get(path(link)).get_data(as_text=True)
    token = re.search(r'name="form_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    client.post(
        path(link) + "/renew",
        data={
            "form_token": token,
            "status": "all",
            "customer": "BIGCO01",
            "email": "x@evil.example",
        },
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    url = re.search(
        r"http://portal\.example\.test/invoices/\S+", sent[0].get_body(("plain",)).get_content()
    ).group(0)  # type: ignore[union-attr]
    with app.app_context():
        claims = KashFlowLinks().verify(url.rsplit("/", 1)[1])
    assert claims.scope == link.scope


def test_the_sandbox_app_rejects_an_expired_link_on_every_route(world: dict[str, t.Any]) -> None:
    app: Flask = world["app"]
    with app.test_request_context(), in_the_past():
        link = KashFlowLinks().mint_invoice(1043, expires_in=60)
    client = app.test_client()
    for suffix in ("", "/1043", "/pdf", "/1043/pdf"):
        response = client.get(path(link) + suffix)
        assert response.status_code == 410
        assert "Invoice 1043</h1>" not in response.get_data(as_text=True)
