"""The rendered-page cache: a warm page is sent, not rendered; nothing is shared that differs.

What a request still does on a cached page (revocation, "last opened", signals) is checked
here as well as what it no longer does (render): the cache's own counters say which.
"""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
from flask import Flask

from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links import signals
from flask_kashflow_links.testing import KashFlowSandbox

from .helpers import captured
from .helpers import host_app
from .helpers import make_app
from .helpers import mint
from .helpers import path
from .helpers import portal_config
from .helpers import stats_of


def hits_and_misses(app: Flask) -> tuple[int, int]:
    """The rendered-page cache's counters so far (``stats()["pages"]``)."""
    pages = stats_of(app)["pages"]
    return pages["hits"], pages["misses"]


def text(response: t.Any) -> str:
    assert response.status_code == 200, response.status_code
    return t.cast(str, response.get_data(as_text=True))


def test_a_warm_page_is_rendered_once_and_sent_after(portal: Flask) -> None:
    client = portal.test_client()
    invoice, customer = mint(portal), mint(portal, "customer", code="BIGCO01")
    first = [text(client.get(path(link))) for link in (invoice, customer)]
    assert hits_and_misses(portal) == (0, 2)
    again = [text(client.get(path(link))) for link in (invoice, customer)]
    assert again == first
    assert hits_and_misses(portal) == (2, 2)


def test_nothing_is_shared_between_links_tabs_or_pages(portal: Flask) -> None:
    client = portal.test_client()
    one, other = mint(portal, "customer", code="BIGCO01"), mint(portal, "customer", code="BIGCO01")
    unpaid = mint(portal, "customer", code="BIGCO01", status="unpaid")
    pages = {
        "one": text(client.get(path(one))),
        "other link, same scope": text(client.get(path(other))),
        "unpaid link": text(client.get(path(unpaid))),
        "paid tab": text(client.get(path(one) + "?status=paid")),
        "page 2": text(client.get(path(one) + "?page=2")),
        "invoice from the list": text(client.get(path(one) + "/1100")),
    }
    assert len(set(pages.values())) == len(pages)
    # Each page carries its own link's URLs only.
    assert one.token not in pages["other link, same scope"]
    assert other.token in pages["other link, same scope"]
    assert stats_of(portal)["pages"]["misses"] == len(pages)


def test_revocation_last_opened_and_signals_stay_per_request(portal: Flask) -> None:
    client = portal.test_client()
    link = mint(portal)
    assert client.head(path(link)).status_code == 200  # rendered and kept; records nothing

    def last_opened() -> t.Any:
        (record,) = [r for r in KashFlowLinks().active_links() if r.link_id == link.link_id]
        return record.last_opened_at

    assert last_opened() is None
    with captured(signals.invoice_viewed) as viewed, captured(signals.link_opened) as opened:
        text(client.get(path(link)))
    assert stats_of(portal)["pages"]["hits"] == 1
    assert len(viewed) == 1 and len(opened) == 1
    assert last_opened() is not None
    KashFlowLinks().revoke(link.link_id)
    assert client.get(path(link)).status_code == 410


def test_a_page_past_the_end_is_404_and_not_kept(portal: Flask) -> None:
    client = portal.test_client()
    link = mint(portal, "customer")
    for _ in range(2):
        assert client.get(path(link) + "?page=9").status_code == 404
    assert stats_of(portal)["pages"]["hits"] == 0


def test_new_data_renders_anew(tmp_path: Path, age_cache: t.Callable[..., None]) -> None:
    with KashFlowSandbox() as sandbox:
        app = make_app(tmp_path, **portal_config(sandbox))
        with app.app_context():
            link = mint(app)
            client = app.test_client()
            assert "PO-CHANGED" not in text(client.get(path(link)))
            sandbox.update_invoice(1043, CustomerReference="PO-CHANGED")
            age_cache(app)
            assert "PO-CHANGED" in text(client.get(path(link)))


def test_a_new_day_renders_anew_with_the_same_data(
    tmp_path: Path, sandbox: KashFlowSandbox, clock: t.Any
) -> None:
    app = make_app(tmp_path, **portal_config(sandbox, cache_timeout=3 * 24 * 3600))
    with app.app_context():
        link = mint(app)
        client = app.test_client()
        before = text(client.get(path(link)))
        clock.tick(24 * 3600)  # tomorrow: the data is still fresh, but one more day overdue
        after = text(client.get(path(link)))
        assert sandbox.calls["invoices.get"] == 1
        assert stats_of(app)["pages"]["misses"] == 2 and before != after


def test_templates_reloaded_by_jinja_are_never_kept(portal: Flask) -> None:
    portal.jinja_env.auto_reload = True  # Flask's debug mode or TEMPLATES_AUTO_RELOAD
    client = portal.test_client()
    link = mint(portal)
    for _ in range(3):
        text(client.get(path(link)))
    assert hits_and_misses(portal) == (0, 0)


@pytest.mark.parametrize("layout", ["kashflow_links/base.html", "visitor_layout.html"])
def test_cached_pages_are_the_bytes_a_render_gives(
    tmp_path: Path, sandbox: KashFlowSandbox, layout: str
) -> None:
    app = host_app(tmp_path, sandbox, KASHFLOW_LINKS_BASE_TEMPLATE=layout)
    client = app.test_client()
    with app.test_request_context():
        links = [KashFlowLinks().mint_invoice(1043), KashFlowLinks().mint_customer("BIGCO01")]
    for link in links:
        url = path(link)
        cached = [text(client.get(url, headers={"X-Visitor": "Alice"})) for _ in range(2)]
        app.jinja_env.auto_reload = True
        rendered = text(client.get(url, headers={"X-Visitor": "Alice"}))
        app.jinja_env.auto_reload = False
        assert cached == [rendered, rendered]


def test_a_host_layout_is_rendered_per_visitor_around_the_kept_portal_part(
    tmp_path: Path, sandbox: KashFlowSandbox
) -> None:
    app = host_app(tmp_path, sandbox, KASHFLOW_LINKS_BASE_TEMPLATE="visitor_layout.html")
    client = app.test_client()
    with app.test_request_context():
        url = path(KashFlowLinks().mint_invoice(1043))
    alice = text(client.get(url, headers={"X-Visitor": "Alice"}))
    bob = text(client.get(url, headers={"X-Visitor": "Bob"}))
    assert "Hello Alice" in alice and "Hello Bob" in bob and "Alice" not in bob
    assert "Invoice 1043" in alice and "Invoice 1043" in bob
    assert hits_and_misses(app) == (1, 1)  # the portal's part, rendered once
