"""Hostile data from KashFlow renders inert, and the page still works.

HTML and script in descriptions, names and notes; template syntax; right-to-left overrides;
huge amounts; missing and wrongly typed fields.
"""

from __future__ import annotations

import typing as t
from decimal import Decimal

import pytest

from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links.testing import KashFlowSandbox

from .helpers import make_app
from .helpers import portal_config

SCRIPT = "<script>alert('kfl')</script>"
IMG = '<img src=x onerror="alert(1)">'
RTL = "\u202eexe.fdp\u202c Invoice"
ARABIC = "شركة الاختبار للتجارة"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[dict[str, t.Any]]:
    with KashFlowSandbox(demo_data=False) as sandbox:
        sandbox.add_customer(
            {
                "Code": "EVIL01",
                "Name": f"{SCRIPT} Ltd",
                "DisplayName": f"{IMG}{ARABIC}",
                "Contacts": [{"Email": "evil@example.com", "Name": SCRIPT}],
                "Currency": {"Code": "GBP", "Symbol": "<b>£</b>", "Name": SCRIPT},
            }
        )
        base = sandbox.add_invoice(
            {
                "Number": 7001,
                "CustomerCode": "EVIL01",
                "CustomerReference": "{{ 7*7 }} {% raw %}",
                "LineItems": [
                    {
                        "Description": SCRIPT,
                        "Quantity": 1,
                        "Rate": Decimal("10.00"),
                        "VATAmount": 0,
                    },
                    {
                        "Description": IMG + RTL,
                        "Quantity": 2,
                        "Rate": Decimal("5.00"),
                        "VATAmount": 0,
                    },
                    {"Description": ARABIC, "Quantity": 1, "Rate": Decimal("1.00"), "VATAmount": 0},
                ],
                "PaymentLines": [
                    {"Amount": Decimal("1.00"), "Date": "2026-01-01 12:00:00", "Note": IMG}
                ],
            }
        )
        huge = sandbox.add_invoice({"Number": 7002, "CustomerCode": "EVIL01"})
        bare = sandbox.add_invoice({"Number": 7003, "CustomerCode": "EVIL01"})
        typed = sandbox.add_invoice({"Number": 7004, "CustomerCode": "EVIL01"})
        # Then corrupt fields the way a misbehaving server would, bypassing the sandbox's
        # consistency rules (after the last add, which recomputes customer totals).
        huge.update(
            {
                "GrossAmount": Decimal("1e20"),
                "NetAmount": Decimal("99999999999999999999"),
                "VATAmount": "lots",
                "DueAmount": Decimal("-1e22"),
                "Status": "<b>Unpaid</b>",
            }
        )
        for field in (
            "IssuedDate",
            "DueDate",
            "Currency",
            "LineItems",
            "PaymentLines",
            "Address",
            "NetAmount",
            "VATAmount",
            "GrossAmount",
            "Status",
            "CustomerName",
        ):
            bare.pop(field, None)
        typed.update(
            {
                "LineItems": "nope",
                "PaymentLines": {"x": 1},
                "Currency": [1, 2],
                "Address": "1 Street",
                "IssuedDate": 20260101,
                "DueDate": "soon",
            }
        )
        sandbox.invoices[7001]["Permalink"] = "https://evil.example/v2/documents/invoice/x"
        app = make_app(tmp_path_factory.mktemp("hostile"), **portal_config(sandbox))
        links = KashFlowLinks()
        with app.test_request_context():
            minted = {n: links.mint_invoice(n) for n in (7001, 7002, 7003, 7004)}
            minted["list"] = links.mint_customer("EVIL01")
        yield {"app": app, "links": minted, "base": base}


def page(hostile: dict[str, t.Any], key: t.Any) -> tuple[int, str]:
    response = hostile["app"].test_client().get(hostile["links"][key].url)
    return response.status_code, response.get_data(as_text=True)


@pytest.mark.parametrize("key", [7001, 7002, 7003, 7004, "list"])
def test_pages_render_and_nothing_executes(hostile: dict[str, t.Any], key: t.Any) -> None:
    status, html = page(hostile, key)
    assert status == 200
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "<b>" not in html
    assert 'onerror="alert' not in html


def test_markup_is_shown_as_text(hostile: dict[str, t.Any]) -> None:
    _, html = page(hostile, 7001)
    assert "&lt;script&gt;alert(&#39;kfl&#39;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html


def test_template_syntax_is_not_evaluated(hostile: dict[str, t.Any]) -> None:
    _, html = page(hostile, 7001)
    assert "{{ 7*7 }} {% raw %}" in html
    assert ">49<" not in html


def test_right_to_left_text_is_isolated(hostile: dict[str, t.Any]) -> None:
    _, html = page(hostile, 7001)
    # Names and descriptions sit in dir="auto" / <bdi> so an override cannot reorder the page.
    assert ARABIC in html
    assert html.count("<bdi>") >= 1 and 'dir="auto"' in html
    index = html.index("\u202eexe.fdp")
    assert 'dir="auto"' in html[max(0, index - 200) : index]


def test_huge_and_malformed_amounts_show_a_dash(hostile: dict[str, t.Any]) -> None:
    status, html = page(hostile, 7002)
    assert status == 200
    assert "\u2014" in html  # the dash for an amount that cannot be shown
    assert "100,000,000,000,000,000,000" not in html and "99,999,999,999,999,999,999" not in html
    assert "Status unavailable" in html  # "<b>Unpaid</b>" is not a status


def test_missing_fields_still_give_a_page(hostile: dict[str, t.Any]) -> None:
    status, html = page(hostile, 7003)
    assert status == 200 and "Invoice 7003" in html
    status, html = page(hostile, 7004)
    assert status == 200 and "Invoice 7004" in html


def test_a_pdf_link_pointing_elsewhere_is_never_fetched(hostile: dict[str, t.Any]) -> None:
    response = hostile["app"].test_client().get(hostile["links"][7001].url + "/pdf")
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    assert "evil.example" not in response.get_data(as_text=True)


def test_the_customer_list_copes(hostile: dict[str, t.Any]) -> None:
    status, html = page(hostile, "list")
    assert status == 200
    for number in (7001, 7002, 7003, 7004):
        assert f"Invoice {number}" in html
