"""Branding in a real browser: the portal wears the host site's font and the brand's colour
reaches its links and buttons (issue 14, point 10)."""

from __future__ import annotations

import typing as t
from collections.abc import Iterator

import pytest
from flask import Flask
from flask import Response

from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links.testing import KashFlowSandbox

from .browser import chromium
from .browser import live_server
from .helpers import host_app

pytestmark = pytest.mark.browser

SIENNA = "rgb(160, 82, 45)"  # "#a0522d", a brown that reads on white as it is
HOST_FONT = "Georgia, serif"


def contrast(page: t.Any, foreground: str, background: str) -> float:
    return t.cast(
        float,
        page.evaluate(
            """([fg, bg]) => {
              const lum = (c) => {
                const [r, g, b] = c.match(/\\d+/g).slice(0, 3).map((v) => {
                  v = v / 255;
                  return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
                });
                return 0.2126 * r + 0.7152 * g + 0.0722 * b;
              };
              const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
              return (a + 0.05) / (b + 0.05);
            }""",
            [foreground, background],
        ),
    )


def style(page: t.Any, selector: str, prop: str) -> str:
    return t.cast(
        str,
        page.evaluate(
            "([s, p]) => getComputedStyle(document.querySelector(s))[p]", [selector, prop]
        ),
    )


@pytest.fixture(scope="module")
def invoice_url(
    sandbox_server: KashFlowSandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    app: Flask = host_app(
        tmp_path_factory.mktemp("branding"),
        sandbox_server,
        SERVER_NAME=None,
        KASHFLOW_LINKS_BASE_TEMPLATE="branded_layout.html",
        KASHFLOW_LINKS_BRAND={"name": "Harbour Lane", "accent_colour": "#a0522d"},
    )
    app.add_url_rule(
        "/site.css",
        "site_css",
        lambda: Response(f"body {{ font-family: {HOST_FONT}; }}", mimetype="text/css"),
    )
    with live_server(app) as server, app.test_request_context(base_url=server.url):
        yield KashFlowLinks().mint_invoice(1043).url


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_host_font_and_the_brand_colour_reach_the_portal(invoice_url: str, scheme: str) -> None:
    with chromium() as browser:
        page = browser.new_page(color_scheme=t.cast(t.Any, scheme))
        assert page.goto(invoice_url).status == 200  # type: ignore[union-attr]
        assert style(page, ".kfl", "fontFamily") == HOST_FONT
        pdf = ".kfl-actions a.kfl-button:not(.kfl-button--primary)"
        assert page.inner_text(pdf).startswith("Download PDF")
        card = style(page, ".kfl-card", "backgroundColor")
        colour = style(page, pdf, "color")
        assert style(page, pdf, "borderTopColor") in (SIENNA, colour)
        assert contrast(page, colour, card) >= 4.5
        if scheme == "light":
            # The brand's own colour, since it reads on white: not the default blue.
            assert colour == SIENNA
        else:
            # A lighter shade of it that reads on the dark card: still brown, not blue.
            red, green, blue = (int(v) for v in colour[4:-1].split(","))
            assert red > green > blue
