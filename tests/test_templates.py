"""Template overrides by path, and the portal inside the host site's own layout."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest

from flask_kashflow_links import ConfigurationError
from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links.testing import KashFlowSandbox

from .helpers import ACCOUNT
from .helpers import host_app


def test_an_app_template_at_the_same_path_wins(tmp_path: Path, sandbox: KashFlowSandbox) -> None:
    app = host_app(tmp_path, sandbox)
    links = KashFlowLinks()
    with app.test_request_context():
        link = links.mint_invoice(1043)
        links.revoke(link.link_id)
        page = app.test_client().get(link.url)
    assert page.status_code == 410
    assert "OVERRIDDEN withdrawn page for Harbour Lane" in page.get_data(as_text=True)
    # Pages that are not overridden still come from the package.
    with app.test_request_context():
        other = app.test_client().get(links.mint_invoice(1043).url)
    assert "Invoice 1043" in other.get_data(as_text=True)


def test_base_template_wraps_portal_pages_in_the_host_layout(
    tmp_path: Path, sandbox: KashFlowSandbox
) -> None:
    app = host_app(tmp_path, sandbox, KASHFLOW_LINKS_BASE_TEMPLATE="host_layout.html")
    with app.test_request_context():
        links = KashFlowLinks()
        pages = [
            app.test_client().get(links.mint_invoice(1043).url),
            app.test_client().get(links.mint_customer("ACME01").url),
            app.test_client().get("/invoices/not-a-token"),
        ]
    for page in pages:
        html = page.get_data(as_text=True)
        assert 'id="host-header"' in html and 'id="host-footer"' in html
        assert "| Harbour Lane</title>" in html
        assert "kfl-masthead" not in html  # the portal's own layout is not used
        assert "portal.css" in html  # its stylesheet comes along inside the content


def test_email_templates_can_be_overridden(tmp_path: Path, sandbox: KashFlowSandbox) -> None:
    sent: list[t.Any] = []
    app = host_app(tmp_path, sandbox, KASHFLOW_LINKS_MAIL=sent.append)
    with app.test_request_context():
        from flask_kashflow_links.mail import build_message

        link = KashFlowLinks().mint_customer("ACME01")
        message = build_message(
            "fresh_link",
            subject="Your link",
            recipients=["client@example.com"],
            sender="billing@example.com",
            brand=__import__("flask_kashflow_links").Brand(name="Harbour Lane"),
            link_url=link.url,
            scope=link.scope,
            customer_name="Acme",
            expires=None,
        )
    text = message.get_body(("plain",)).get_content()
    assert text.startswith("OVERRIDDEN plain text: http://portal.example.test/invoices/")
    html = message.get_body(("html",)).get_content()
    assert "View your invoices" in html  # the package's HTML part


def test_account_brand_overrides_site_brand(tmp_path: Path, sandbox: KashFlowSandbox) -> None:
    account = dict(
        sandbox.account_config(), brand={"name": "Acme Branch", "accent_colour": "#ffcc00"}
    )
    app = host_app(tmp_path, sandbox, KASHFLOW_LINKS_ACCOUNTS={"acme": account})
    with app.test_request_context():
        page = app.test_client().get(KashFlowLinks().mint_invoice(1043).url)
    html = page.get_data(as_text=True)
    assert "Acme Branch" in html
    # A light accent gets dark text on it (WCAG contrast), through the brand stylesheet.
    assert "/kashflow-links/brand/ffcc00-000000.css" in html
    assert ACCOUNT["password"] not in html


def test_error_pages_in_a_host_layout_are_rendered_per_request(
    tmp_path: Path, sandbox: KashFlowSandbox
) -> None:
    app = host_app(tmp_path, sandbox, KASHFLOW_LINKS_BASE_TEMPLATE="visitor_layout.html")
    client = app.test_client()
    first = client.get("/invoices/nope", headers={"X-Visitor": "Alice"}).get_data(as_text=True)
    second = client.get("/invoices/nope", headers={"X-Visitor": "Bob"}).get_data(as_text=True)
    assert "Hello Alice" in first and "Hello Bob" in second and "Alice" not in second


@pytest.mark.parametrize(
    ("template", "message"),
    [("no_such_layout.html", "not found"), ("blockless_layout.html", "block content")],
)
def test_a_bad_base_template_fails_at_start(
    tmp_path: Path, sandbox: KashFlowSandbox, template: str, message: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        host_app(tmp_path, sandbox, KASHFLOW_LINKS_BASE_TEMPLATE=template)
    assert info.value.key == "KASHFLOW_LINKS_BASE_TEMPLATE" and message in str(info.value)
