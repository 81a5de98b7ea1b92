"""Findings of the adversarial review (issue #11): headers under the portal's paths, URLs and
senders from configuration only, and what the fresh-link form counts and refuses."""

from __future__ import annotations

import re
import typing as t
from email.message import EmailMessage
from pathlib import Path

import pytest
from flask import Flask

from flask_kashflow_links import ConfigurationError
from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links import Link
from flask_kashflow_links.portal.renew import RENEW_LIMIT_PER_ADDRESS
from flask_kashflow_links.testing import KashFlowSandbox

from .helpers import in_the_past
from .helpers import make_app
from .helpers import portal_config

PROTECTIVE = {"Referrer-Policy": "no-referrer", "Cache-Control": "private, no-store"}
HOST_404 = '<html><script src="https://analytics.example/t.js"></script><p>Not here</p></html>'


def expired_link(app: Flask, **request: t.Any) -> Link:
    with app.test_request_context(**request), in_the_past():
        return KashFlowLinks().mint_customer("ACME01", expires_in=60)


def form_token(app: Flask, url_path: str, **headers: str) -> str:
    page = app.test_client().get(url_path, headers=headers).get_data(as_text=True)
    match = re.search(r'name="form_token" value="([^"]+)"', page)
    assert match, "the expired page offers the button"
    return match.group(1)


# -- every response under the portal's paths carries the protective headers --------------------


def host_site(tmp_path: Path, sandbox: KashFlowSandbox, prefix: str | None) -> Flask:
    """A host site with its own pages and its own 404 and 405 pages (with a third-party
    script, as many sites have), and the portal mounted at *prefix*."""
    app = make_app(tmp_path, **portal_config(sandbox, url_prefix=prefix))

    @app.route("/about")
    def about() -> str:
        return "<p>About us</p>"

    @app.errorhandler(404)
    @app.errorhandler(405)
    def host_error(error: t.Any) -> tuple[str, int]:
        return HOST_404, error.code

    return app


@pytest.mark.parametrize("prefix", [None, "/billing"])
def test_host_pages_under_the_portals_paths_get_the_protective_headers(
    tmp_path: Path, sandbox: KashFlowSandbox, prefix: str | None
) -> None:
    app = host_site(tmp_path, sandbox, prefix)
    with app.test_request_context():
        token = KashFlowLinks().mint_invoice(1043).token
    base = prefix or ""
    client = app.test_client()
    answered_by_the_host = {
        "trailing slash": client.get(f"{base}/invoices/{token}/"),
        "unknown suffix": client.get(f"{base}/invoices/{token}/1043/pdf/x"),
        "POST to a page": client.post(f"{base}/invoices/{token}"),
        "upper case": client.get(f"{base}/INVOICES/{token}"),
        # (A path starting "//" would read as a host name: double the slash after a prefix.)
        "doubled slashes": client.get(
            f"{base}//invoices/{token}" if base else f"/invoices//{token}"
        ),
        "no token": client.get(f"{base}/invoices/"),
    }
    for name, response in answered_by_the_host.items():
        assert response.status_code in (404, 405, 308), name
        for header, value in PROTECTIVE.items():
            assert response.headers.get(header) == value, (name, header)
        if response.mimetype == "text/html":
            # No script of any origin runs, so none can read the URL and its link token.
            assert "default-src 'none'" in response.headers["Content-Security-Policy"], name
    portal_page = client.get(f"{base}/invoices/{token}")
    assert portal_page.status_code == 200 and portal_page.headers["Cache-Control"] == (
        "private, no-store"
    )


@pytest.mark.parametrize("prefix", [None, "/billing"])
def test_the_host_sites_own_pages_are_untouched(
    tmp_path: Path, sandbox: KashFlowSandbox, prefix: str | None
) -> None:
    app = host_site(tmp_path, sandbox, prefix)
    client = app.test_client()
    outside = [client.get("/about"), client.get("/nowhere"), client.get("/invoicesx/a")]
    if prefix:
        outside.append(client.get("/invoices/not-under-the-prefix"))
    for response in outside:
        assert "Referrer-Policy" not in response.headers, response.request.path
        assert "Content-Security-Policy" not in response.headers, response.request.path
        assert response.headers.get("Cache-Control") != "private, no-store"


# -- URLs and senders from configuration, never from the Host header ----------------------------


def test_public_url_wins_inside_a_request_whatever_the_host(tmp_path: Path) -> None:
    app = make_app(
        tmp_path,
        SERVER_NAME=None,
        url_prefix="/pay",
        public_url="https://billing.example.co.uk/pay",
    )
    with app.test_request_context("/staff/mint", base_url="http://evil.example"):
        link = KashFlowLinks().mint_invoice(1043)
    assert link.url == f"https://billing.example.co.uk/pay/invoices/{link.token}"


@pytest.mark.parametrize(
    ("config", "host", "domain"),
    [
        ({"public_url": "https://billing.example.co.uk"}, "evil.example", "billing.example.co.uk"),
        ({"SERVER_NAME": "portal.example.test:8443"}, "evil.example", "portal.example.test"),
    ],
    ids=["public url", "server name"],
)
def test_fresh_link_sender_and_message_id_come_from_configuration(
    tmp_path: Path, sandbox: KashFlowSandbox, config: dict[str, t.Any], host: str, domain: str
) -> None:
    """A mail callable and a brand without an email address: the From address and the
    Message-ID's domain are the site's configured host, never the request's."""
    sent: list[EmailMessage] = []
    settings = {"SERVER_NAME": None, **config}
    app = make_app(
        tmp_path,
        **portal_config(sandbox, mail=sent.append, brand={"name": "Acme Accounts", "email": ""}),
        **settings,
    )
    link = expired_link(app, base_url=f"http://{host}")
    own = "/invoices/" + link.token
    headers = {"Host": host, "X-Forwarded-Host": host}
    response = app.test_client().post(
        own + "/renew",
        data={"form_token": form_token(app, own, **headers)},
        headers={**headers, "Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    message = sent[0]
    assert message["From"] == f"Acme Accounts <no-reply@{domain}>"
    assert message["Message-ID"].endswith(f"@{domain}>")


def test_mail_without_a_configured_address_is_refused_at_start_up(
    tmp_path: Path, sandbox: KashFlowSandbox
) -> None:
    """TRUSTED_HOSTS alone vets a request's host, not its scheme or port, and a '.domain'
    entry admits any name under it: an emailed link built from a request could send the
    customer to http://host:31337/ or to another host. Mail needs the address configured."""
    with pytest.raises(ConfigurationError) as refused:
        make_app(
            tmp_path,
            **portal_config(sandbox, mail=[].append),
            SERVER_NAME=None,
            TRUSTED_HOSTS=[".acme.example"],
        )
    assert refused.value.key == "KASHFLOW_LINKS_PUBLIC_URL"
    assert "TRUSTED_HOSTS" in str(refused.value) and "SERVER_NAME" in str(refused.value)


@pytest.mark.parametrize(
    "config",
    [{"public_url": "https://billing.example.co.uk/pay", "url_prefix": "/pay"}, {}],
    ids=["public url", "server name"],
)
def test_the_emailed_fresh_link_takes_nothing_from_the_request(
    tmp_path: Path, sandbox: KashFlowSandbox, config: dict[str, t.Any]
) -> None:
    """Asked for from http://attacker.example.test:31337, the fresh link still points at the
    configured site: scheme, host and port from configuration."""
    sent: list[EmailMessage] = []
    app = make_app(tmp_path, **portal_config(sandbox, mail=sent.append, **config))
    base = "http://attacker.example.test:31337"
    link = expired_link(app, base_url=base)
    own = link.url.split(link.token)[0].split("://", 1)[1].split("/", 1)[1]
    own = "/" + own + link.token
    headers = {"Host": "attacker.example.test:31337"}
    response = app.test_client().post(
        own + "/renew",
        base_url=base,
        data={"form_token": form_token(app, own, **headers)},
        headers={**headers, "Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    body = sent[0].get_body(("plain",)).get_content()
    expected = config.get("public_url", "http://portal.example.test")
    assert f"{expected}/invoices/" in body
    assert "attacker" not in body and "31337" not in body


# -- the fresh-link form -------------------------------------------------------------------------


def test_bogus_renewals_never_use_up_an_addresses_budget(
    tmp_path: Path, sandbox: KashFlowSandbox
) -> None:
    """Behind a shared address (an office, a mobile carrier), POSTs with links that are not
    genuine must not spend the fresh-link budget of the real clients there."""
    sent: list[EmailMessage] = []
    app = make_app(tmp_path, **portal_config(sandbox, mail=sent.append))
    client = app.test_client()
    genuine = expired_link(app)
    forged = genuine.token[:-4] + ("AAAA" if not genuine.token.endswith("AAAA") else "BBBB")
    # As many as an address may send in an hour: one more, counted, would be refused.
    bogus = [f"not-a-link-{i}" for i in range(6)] + [forged] * (RENEW_LIMIT_PER_ADDRESS - 6)
    for token in bogus:
        response = client.post(
            f"/invoices/{token}/renew",
            data={"form_token": "x"},
            headers={"Sec-Fetch-Site": "same-origin"},
        )
        assert response.status_code == 404
    own = "/invoices/" + genuine.token
    response = client.post(
        own + "/renew",
        data={"form_token": form_token(app, own)},
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 200 and len(sent) == 1
