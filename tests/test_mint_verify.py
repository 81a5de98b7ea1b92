"""Minting that asks KashFlow first: ``mint ... --verify`` and ``verify=True`` (issue 14, 7 and 11)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from flask_kashflow_links import KashFlowError
from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links import KashFlowNotFound
from flask_kashflow_links.testing import KashFlowSandbox

from .helpers import KashFlowVariant
from .helpers import make_app
from .services import free_port

# REST and SOAP accounts alike: verifying goes through the fetch layer, whatever the API.
pytestmark = pytest.mark.usefixtures("variant")


def invoice_fetches(sandbox: KashFlowSandbox) -> int:
    return sandbox.calls["invoices.get"] + sandbox.calls["soap.GetInvoice"]


def customer_fetches(sandbox: KashFlowSandbox) -> int:
    return sandbox.calls["customers.get"] + sandbox.calls["soap.GetCustomer"]


def run(app: Flask, *args: str) -> tuple[int, str, str]:
    result = app.test_cli_runner().invoke(args=["kashflow-links", *args])
    return result.exit_code, result.stdout, result.stderr


def registered(app: Flask) -> list[str]:
    with app.app_context():
        return [record.scope.describe() for record in KashFlowLinks().active_links()]


@pytest.mark.parametrize(
    ("args", "missing"),
    [
        (["mint", "invoice", "999999", "--verify"], "KashFlow has no invoice 999999"),
        (["mint", "customer", "NOSUCH", "--verify"], "KashFlow has no customer NOSUCH"),
    ],
)
def test_verify_refuses_what_kashflow_does_not_have(
    portal: Flask, args: list[str], missing: str
) -> None:
    code, out, err = run(portal, *args)
    assert code == 1 and out == ""
    assert missing in err and "no link minted" in err
    assert "Traceback" not in err
    assert registered(portal) == []


def test_without_verify_nothing_is_asked(portal: Flask, sandbox: KashFlowSandbox) -> None:
    code, out, _ = run(portal, "mint", "invoice", "999999")
    assert code == 0 and out.startswith("http://portal.example.test/invoices/")
    assert sum(sandbox.calls.values()) == 0


def test_verify_fills_in_the_customer_and_warms_the_cache(
    portal: Flask, sandbox: KashFlowSandbox
) -> None:
    code, out, err = run(portal, "mint", "invoice", "1043", "--verify")
    assert code == 0, err
    assert "listed under customer ACME01" in err
    assert invoice_fetches(sandbox) == 1
    # Listed under its customer before anybody opened it (issue 14, point 11).
    code, listing, _ = run(portal, "list", "--customer", "ACME01")
    assert code == 0 and "invoice 1043 (ACME01)" in listing
    # The first opening is served from what --verify fetched.
    path = out.strip().split("portal.example.test", 1)[1]
    assert portal.test_client().get(path).status_code == 200
    assert invoice_fetches(sandbox) == 1


def test_verify_refuses_an_invoice_of_another_customer(portal: Flask) -> None:
    code, out, err = run(portal, "mint", "invoice", "1043", "--verify", "--customer", "TCUST01")
    assert code == 1 and out == ""
    assert "customer ACME01's, not TCUST01's" in err
    assert registered(portal) == []


def test_verify_with_kashflow_unreachable_mints_nothing(
    tmp_path: Path, sandbox: KashFlowSandbox, kashflow: KashFlowVariant
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    app = make_app(
        tmp_path,
        **kashflow.config(
            sandbox, api_base_url=f"{nowhere}/v2", soap_url=f"{nowhere}/api/service.asmx"
        ),
    )
    code, out, err = run(app, "mint", "customer", "ACME01", "--verify")
    assert code == 1 and out == ""
    assert "could not ask KashFlow" in err and "no link minted" in err
    assert registered(app) == []


def test_python_verify(portal: Flask, sandbox: KashFlowSandbox) -> None:
    links = KashFlowLinks()
    with pytest.raises(KashFlowNotFound, match="no invoice 999999"):
        links.mint_invoice(999999, verify=True)
    with pytest.raises(KashFlowNotFound, match="NOSUCH"):
        links.mint_customer("NOSUCH", verify=True)
    link = links.mint_invoice(1043, verify=True)
    assert [r.link_id for r in links.active_links(customer="ACME01")] == [link.link_id]
    links.mint_customer("ACME01", status="unpaid", verify=True)
    assert customer_fetches(sandbox) == 2  # NOSUCH, then ACME01


def test_python_verify_refuses_while_kashflow_fails(
    portal: Flask, sandbox: KashFlowSandbox
) -> None:
    sandbox.fail_next(10, 503)
    with pytest.raises(KashFlowError, match="could not ask KashFlow whether invoice 1043"):
        KashFlowLinks().mint_invoice(1043, verify=True)
    assert KashFlowLinks().active_links() == []
    assert sum(sandbox.calls.values()) >= 1  # it did ask
