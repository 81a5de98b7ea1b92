"""The scope matrix: every route x every link kind x an invoice inside and outside the scope.

Nothing outside a link's scope is ever shown or downloadable, whatever the URL, the query
string, or the list the server returned.
"""

from __future__ import annotations

import typing as t
from datetime import date

import pytest
from flask import Flask

from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links.testing import KashFlowSandbox

from .helpers import NUMBER_IN_PAGE
from .helpers import KashFlowVariant
from .helpers import internals
from .helpers import make_app

# Every test here runs against each way of meeting KashFlow (helpers.VARIANTS): REST as the
# Swagger copy describes it and as KashFlow's pages document it, and SOAP.
pytestmark = pytest.mark.usefixtures("variant")

KINDS = ["invoice", "all", "unpaid", "overdue", "paid"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, variant: str) -> t.Iterator[dict[str, t.Any]]:
    """One sandbox, one app, and a link of every kind (per variant: reads only)."""
    with KashFlowSandbox() as sandbox:
        config = KashFlowVariant(variant).config(sandbox)
        app = make_app(tmp_path_factory.mktemp("matrix"), **config)
        links = KashFlowLinks()
        with app.test_request_context():
            minted = {"invoice": links.mint_invoice(1043)}
            for status in ("all", "unpaid", "overdue", "paid"):
                minted[status] = links.mint_customer("ACME01", status=status)
        yield {"app": app, "sandbox": sandbox, "links": minted}


def expected_numbers(sandbox: KashFlowSandbox, kind: str) -> set[int]:
    if kind == "invoice":
        return {1043}
    statuses = {
        "all": {"Paid", "Overpaid", "Unpaid", "Overdue", "NA"},
        "unpaid": {"Unpaid", "Overdue"},
        "overdue": {"Overdue"},
        "paid": {"Paid", "Overpaid"},
    }[kind]
    return {
        n
        for n, inv in sandbox.invoices.items()
        if inv["CustomerCode"] == "ACME01" and inv["Status"] in statuses
    }


def outside_numbers(sandbox: KashFlowSandbox, kind: str) -> list[int]:
    """Invoices a link of *kind* must never show: another customer's, and (for status
    links) the same customer's with another status."""
    inside = expected_numbers(sandbox, kind)
    same_customer = sorted(
        n
        for n, inv in sandbox.invoices.items()
        if inv["CustomerCode"] == "ACME01" and n not in inside
    )
    other_customer = [n for n, inv in sandbox.invoices.items() if inv["CustomerCode"] == "BIGCO01"][
        :2
    ]
    return same_customer[:3] + other_customer


def get(world: dict[str, t.Any], url: str) -> t.Any:
    return world["app"].test_client().get(url)


@pytest.mark.parametrize("kind", KINDS)
def test_main_route_shows_exactly_the_scope(world: dict[str, t.Any], kind: str) -> None:
    sandbox, link = world["sandbox"], world["links"][kind]
    expected = expected_numbers(sandbox, kind)
    assert expected, "the demo data must have invoices for every scope"
    response = get(world, link.url)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    if kind == "invoice":
        assert "Invoice 1043" in html
        shown = {1043}
    else:
        shown = {int(n) for n in NUMBER_IN_PAGE.findall(html)}
    assert shown == expected
    for number in outside_numbers(sandbox, kind):
        assert f"Invoice {number}" not in html


@pytest.mark.parametrize("kind", KINDS)
def test_invoice_route_inside_the_scope(world: dict[str, t.Any], kind: str) -> None:
    link = world["links"][kind]
    for number in sorted(expected_numbers(world["sandbox"], kind))[:3]:
        page = get(world, f"{link.url}/{number}")
        assert page.status_code == 200, number
        assert f"Invoice {number}" in page.get_data(as_text=True)
        pdf = get(world, f"{link.url}/{number}/pdf")
        assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
        assert pdf.data.startswith(b"%PDF-")


@pytest.mark.parametrize("kind", KINDS)
def test_invoice_route_outside_the_scope_is_404(world: dict[str, t.Any], kind: str) -> None:
    link, sandbox = world["links"][kind], world["sandbox"]
    for number in outside_numbers(sandbox, kind):
        for suffix in ("", "/pdf"):
            response = get(world, f"{link.url}/{number}{suffix}")
            assert response.status_code == 404, (kind, number, suffix)
            body = response.get_data(as_text=True)
            assert response.mimetype == "text/html"
            assert str(sandbox.invoices[number]["GrossAmount"]) not in body
            assert sandbox.invoices[number]["CustomerName"] not in body


@pytest.mark.parametrize("kind", KINDS)
def test_pdf_route(world: dict[str, t.Any], kind: str, kashflow: KashFlowVariant) -> None:
    response = get(world, f"{world['links'][kind].url}/pdf")
    statements = not kashflow.soap  # the SOAP API has no statements
    if kind == "invoice" or (kind == "all" and statements):
        # The invoice's own PDF; a statement only for a link to all of a customer's invoices.
        assert response.status_code == 200 and response.data.startswith(b"%PDF-")
        expected = "invoice-1043.pdf" if kind == "invoice" else "statement-ACME01.pdf"
        assert expected in response.headers["Content-Disposition"]
    else:
        assert response.status_code == 404


@pytest.mark.parametrize(
    ("kind", "tab", "status"),
    [
        ("all", "all", 200),
        ("all", "unpaid", 200),
        ("all", "overdue", 200),
        ("all", "paid", 200),
        ("unpaid", "unpaid", 200),
        ("unpaid", "overdue", 200),
        ("unpaid", "paid", 404),
        ("unpaid", "all", 404),
        ("overdue", "unpaid", 404),
        ("overdue", "paid", 404),
        ("paid", "unpaid", 404),
        ("paid", "all", 404),
        ("all", "outstanding", 404),
        ("all", "<script>", 404),
    ],
)
def test_status_tabs_stay_within_the_scope(
    world: dict[str, t.Any], kind: str, tab: str, status: int
) -> None:
    response = get(world, f"{world['links'][kind].url}?status={tab}")
    assert response.status_code == status
    if status == 200:
        shown = {int(n) for n in NUMBER_IN_PAGE.findall(response.get_data(as_text=True))}
        assert shown <= expected_numbers(world["sandbox"], kind)
        assert shown <= expected_numbers(world["sandbox"], tab if tab != "all" else kind)


@pytest.mark.parametrize("page", ["0", "-1", "abc", "99", "1.5", "9" * 30])
def test_bad_page_numbers_are_404(world: dict[str, t.Any], page: str) -> None:
    assert get(world, f"{world['links']['all'].url}?page={page}").status_code == 404


@pytest.mark.parametrize(
    "path", ["/99999999999999999999999", "/-1", "/1043abc", "/0", "/1043/pdf/x"]
)
def test_odd_paths_are_404(world: dict[str, t.Any], path: str) -> None:
    assert get(world, f"{world['links']['all'].url}{path}").status_code == 404


def test_an_invoice_link_cannot_reach_other_invoices(world: dict[str, t.Any]) -> None:
    link = world["links"]["invoice"]
    assert get(world, f"{link.url}/1043").status_code == 200
    for number in (1004, 1, 1044, 1283):
        assert get(world, f"{link.url}/{number}").status_code == 404
        assert get(world, f"{link.url}/{number}/pdf").status_code == 404


def test_renew_of_a_live_link_changes_nothing(world: dict[str, t.Any]) -> None:
    link = world["links"]["unpaid"]
    response = world["app"].test_client().post(f"{link.url}/renew")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(link.url.split("portal.example.test")[1])


def test_scope_holds_when_the_server_ignores_filters(
    tmp_path: t.Any, sandbox: KashFlowSandbox, kashflow: KashFlowVariant
) -> None:
    sandbox.ignore_filters()
    app = make_app(tmp_path, **kashflow.config(sandbox))
    with app.test_request_context():
        link = KashFlowLinks().mint_customer("ACME01", status="unpaid")
    html = app.test_client().get(link.url).get_data(as_text=True)
    shown = {int(n) for n in NUMBER_IN_PAGE.findall(html)}
    assert shown == expected_numbers(sandbox, "unpaid")


def test_an_invoice_moved_to_another_customer_leaves_the_scope(
    tmp_path: t.Any,
    sandbox: KashFlowSandbox,
    age_cache: t.Callable[..., None],
    kashflow: KashFlowVariant,
) -> None:
    app = make_app(tmp_path, **kashflow.config(sandbox, cache_timeout=1))
    number = 1283
    with app.test_request_context():
        link = KashFlowLinks().mint_customer("ACME01")
    client = app.test_client()
    assert client.get(f"{link.url}/{number}").status_code == 200
    original = sandbox.invoices[number]["CustomerCode"]
    sandbox.update_invoice(number, CustomerCode="BIGCO01")
    try:
        with app.app_context():
            fetcher = internals().fetcher
            age_cache(app, seconds=fetcher.fresh + fetcher.stale + 1)  # nothing cached is usable
        assert client.get(f"{link.url}/{number}").status_code == 404
    finally:
        sandbox.update_invoice(number, CustomerCode=original)


def test_a_paid_invoice_leaves_an_unpaid_link(
    tmp_path: t.Any, sandbox: KashFlowSandbox, kashflow: KashFlowVariant
) -> None:
    number = 1283  # Unpaid in the demo data
    app = make_app(tmp_path, **kashflow.config(sandbox))
    with app.test_request_context():
        link = KashFlowLinks().mint_customer("ACME01", status="unpaid")
    assert app.test_client().get(f"{link.url}/{number}").status_code == 200
    saved = sandbox.invoices[number]
    gross = saved["GrossAmount"]
    sandbox.update_invoice(
        number, PaymentLines=[{"Amount": gross, "Date": f"{date.today():%Y-%m-%d} 12:00:00"}]
    )
    try:
        fresh = make_app(tmp_path, "fresh", **kashflow.config(sandbox))
        assert fresh.test_client().get(f"{link.url}/{number}").status_code == 404
    finally:
        sandbox.update_invoice(number, PaymentLines=[])


def test_revoke_customer_withdraws_an_invoice_link_once_its_invoice_is_fetched(
    portal: Flask,
) -> None:
    links = KashFlowLinks()
    with portal.test_request_context():
        link = links.mint_invoice(1043)  # the register does not know its customer yet
        other = links.mint_invoice(1005)  # BIGCO01's
    client = portal.test_client()
    links.revoke_customer("ACME01")
    assert client.get(link.url).status_code == 410
    assert client.get(f"{link.url}/pdf").status_code == 410
    assert client.get(other.url).status_code == 200


def test_customer_codes_compare_as_kashflow_compares_them(
    portal: Flask, sandbox: KashFlowSandbox, kashflow: KashFlowVariant
) -> None:
    links, client = KashFlowLinks(), portal.test_client()
    with portal.test_request_context():
        link = links.mint_customer("tcust01")  # KashFlow's customer TCUST01
    own = {n for n, inv in sandbox.invoices.items() if inv["CustomerCode"] == "TCUST01"}
    other = {n for n, inv in sandbox.invoices.items() if inv["CustomerCode"] == "TCUST02"}
    assert own and other
    shown = {int(n) for n in NUMBER_IN_PAGE.findall(client.get(link.url).get_data(as_text=True))}
    assert shown == own  # exactly TCUST01's: nothing widens
    for number in own:
        assert client.get(f"{link.url}/{number}").status_code == 200
    for number in other:
        assert client.get(f"{link.url}/{number}").status_code == 404
    statement = client.get(f"{link.url}/pdf")
    if not kashflow.soap:  # the SOAP API has no statements
        assert statement.status_code == 200 and statement.data.startswith(b"%PDF-")
    links.revoke_customer("TCUST01")
    assert client.get(link.url).status_code == 410


def test_out_of_scope_numbers_cost_no_kashflow_calls(
    portal: Flask, sandbox: KashFlowSandbox, kashflow: KashFlowVariant
) -> None:
    """Security #11 finding 2: a valid customer link cannot spend the account's KashFlow
    calls (or fill the cache with other customers' invoices) by asking for other numbers."""
    with portal.test_request_context():
        link = KashFlowLinks().mint_customer("ACME01", status="unpaid")
    client = portal.test_client()
    assert client.get(link.url).status_code == 200
    sandbox.reset_counters()
    others = [n for n, inv in sandbox.invoices.items() if inv["CustomerCode"] != "ACME01"][:80]
    paid = [
        n
        for n, inv in sandbox.invoices.items()
        if inv["CustomerCode"] == "ACME01" and inv["Status"] == "Paid"
    ]
    missing = range(900_000, 900_000 + 100 - len(others) - len(paid))
    asked = [*others, *paid, *missing]
    assert len(asked) == 100
    for number in asked:
        assert client.get(f"{link.url}/{number}").status_code == 404, number
        assert client.get(f"{link.url}/{number}/pdf").status_code == 404, number
    assert sum(sandbox.calls.values()) == 0  # decided from the cached list alone
    assert client.get(f"{link.url}/1043").status_code == 200  # its own invoices still open
    detail = "soap.GetInvoice" if kashflow.soap else "invoices.get"
    assert sandbox.calls[detail] == 1


def test_an_invoice_whose_customer_cannot_be_established_is_refused(
    tmp_path: t.Any, kashflow: KashFlowVariant
) -> None:
    with KashFlowSandbox() as sandbox:
        app = make_app(tmp_path, **kashflow.config(sandbox))
        with app.test_request_context():
            link = KashFlowLinks().mint_invoice(1043)
        # Neither the detail nor its list row names a customer (the documented detail never
        # does): the link's revoke_customer cut-off cannot be checked, so it is refused.
        sandbox.invoices[1043]["CustomerCode"] = ""
        response = app.test_client().get(link.url)
        assert response.status_code == 503
        assert "Invoice 1043" not in response.get_data(as_text=True)
