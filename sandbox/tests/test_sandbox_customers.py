"""``GET /v2/customers``: KashFlow's paged customer list, with each customer's outstanding
balance (for "who owes what"), over real HTTP."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import parse_qsl
from urllib.parse import urlsplit

import pytest
import requests

from kashflow_sandbox import KashFlowSandbox
from sandbox_client import TIMEOUT
from sandbox_client import TODAY
from sandbox_client import Api
from sandbox_client import decimal_json


def owed(sb: KashFlowSandbox, code: str) -> Decimal:
    """What *code* still owes, from its invoices: the amounts due on the unpaid and overdue."""
    return sum(
        (
            i["DueAmount"]
            for i in sb.invoices.values()
            if i["CustomerCode"] == code and i["Status"] in ("Unpaid", "Overdue")
        ),
        Decimal(0),
    )


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def test_the_first_page_by_default(api: Api, sb: KashFlowSandbox) -> None:
    response = api.get("/customers")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert list(body) == ["Data", "MetaData"]
    codes = sorted(sb.customers)
    # perpage 10 and Code ascending unless asked otherwise.
    assert [c["Code"] for c in body["Data"]] == codes[:10]
    meta = body["MetaData"]
    assert meta["TotalRecords"] == len(codes) == 15
    assert meta["PreviousPageUrl"] is None
    assert meta["FirstPageUrl"] == f"{sb.url}/customers?page=1&perpage=10&sortby=Code&order=Asc"
    assert meta["LastPageUrl"] == f"{sb.url}/customers?page=2&perpage=10&sortby=Code&order=Asc"
    assert meta["NextPageUrl"] == meta["LastPageUrl"]
    second = api.get(meta["NextPageUrl"]).json()
    assert [c["Code"] for c in second["Data"]] == codes[10:]
    assert second["MetaData"]["NextPageUrl"] is None
    assert second["MetaData"]["PreviousPageUrl"] == meta["FirstPageUrl"]
    assert sb.calls["customers.list"] == 2 and sb.calls["customers.get"] == 0


def test_each_row_is_the_customer_as_its_own_route_gives_it(api: Api, sb: KashFlowSandbox) -> None:
    for shape in ("swagger", "documented"):
        sb.set_shape(shape)
        rows = api.get("/customers", params={"perpage": 100}).json()["Data"]
        assert len(rows) == len(sb.customers)
        for row in rows:
            assert row == api.get(f"/customers/{row['Code']}").json(), (shape, row["Code"])
    # The documented shape is the documented detail's (its currency's DisplayOnRight).
    assert "DisplayOnRight" in rows[0]["Currency"] and "Id" not in rows[0]["Currency"]


def test_outstanding_balance_is_what_is_still_owed(api: Api, sb: KashFlowSandbox) -> None:
    rows = decimal_json(api.get("/customers", params={"perpage": 100}))["Data"]
    balances = {row["Code"]: row["OutstandingBalance"] for row in rows}
    assert balances == {code: owed(sb, code) for code in sb.customers}
    assert balances["ACME01"] > 0 and balances["LONG01"] == 0
    # 1043 is ACME01's overdue invoice: paying it lowers the balance by what was due.
    due = sb.invoices[1043]["DueAmount"]
    before = balances["ACME01"]
    payments = [*sb.invoices[1043]["PaymentLines"], {"Amount": due, "Date": TODAY}]
    sb.update_invoice(1043, PaymentLines=payments)
    try:
        after = decimal_json(api.get("/customers", params={"namestartswith": "Acme"}))["Data"]
        assert [row["OutstandingBalance"] for row in after] == [before - due]
    finally:
        sb.update_invoice(1043, PaymentLines=payments[:-1])
    assert sb.invoices[1043]["Status"] == "Overdue"


def test_sorted_by_outstanding_balance_name_or_code(api: Api, sb: KashFlowSandbox) -> None:
    most = decimal_json(
        api.get("/customers", params={"sortby": "OutstandingBalance", "order": "Desc"})
    )
    balances = [row["OutstandingBalance"] for row in most["Data"]]
    assert balances == sorted(balances, reverse=True)
    assert most["Data"][0]["Code"] == max(sb.customers, key=lambda code: owed(sb, code))
    assert query_of(most["MetaData"]["NextPageUrl"]) == {
        "page": "2",
        "perpage": "10",
        "sortby": "OutstandingBalance",
        "order": "Desc",
    }
    # The Swagger's integer codes work too (4 is OutstandingBalance), and names ignore case.
    by_code = decimal_json(api.get("/customers", params={"SortBy": "4", "perpage": 100}))
    balances = [row["OutstandingBalance"] for row in by_code["Data"]]
    assert balances == sorted(balances)
    names = [r["Name"] for r in api.get("/customers", params={"sortby": "name"}).json()["Data"]]
    assert names == sorted((c["Name"] for c in sb.customers.values()), key=str.casefold)[:10]
    codes = api.get("/customers", params={"sortby": "Code", "order": "desc"}).json()["Data"]
    assert [c["Code"] for c in codes] == sorted(sb.customers, reverse=True)[:10]


@pytest.mark.parametrize(
    "params",
    [
        {"page": "0"},
        {"perpage": "0"},
        {"perpage": "ten"},
        {"sortby": "InvoiceDate"},
        {"order": "up"},
        {"filterarchived": "maybe"},
    ],
)
def test_bad_parameters_are_400(api: Api, params: dict[str, str]) -> None:
    response = api.get("/customers", params=params)
    assert response.status_code == 400
    assert response.json()["Error"] == "InvalidParameter"


def test_at_most_100_a_page_and_the_max_perpage_switch(api: Api, sb: KashFlowSandbox) -> None:
    big = api.get("/customers", params={"perpage": 500}).json()
    assert len(big["Data"]) == 15
    assert query_of(big["MetaData"]["FirstPageUrl"])["perpage"] == "100"
    sb.set_max_perpage(4)
    capped = api.get("/customers", params={"perpage": 50}).json()
    assert len(capped["Data"]) == 4
    assert query_of(capped["MetaData"]["LastPageUrl"]) == {
        "page": "4",
        "perpage": "4",
        "sortby": "Code",
        "order": "Asc",
    }


def test_name_filters_and_ignore_filters(api: Api, sb: KashFlowSandbox) -> None:
    acme = api.get("/customers", params={"namestartswith": "acme"}).json()
    assert [c["Code"] for c in acme["Data"]] == ["ACME01"]
    assert query_of(acme["MetaData"]["FirstPageUrl"])["namestartswith"] == "acme"
    # "non-alpha": names starting with a digit, a sign or a foreign letter.
    foreign = api.get("/customers", params={"namestartswith": "non-alpha"}).json()["Data"]
    assert {c["Code"] for c in foreign} == {"ALUFUQ01", "SAKURA01", "PDRI91"}
    sb.ignore_filters()
    everyone = api.get("/customers", params={"namestartswith": "acme"}).json()
    assert everyone["MetaData"]["TotalRecords"] == len(sb.customers)


def test_archived_customers_are_left_out_on_request() -> None:
    with KashFlowSandbox(today=TODAY, demo_data=False) as sb:
        sb.add_customer({"Code": "OLD01", "Name": "Old Customer Ltd", "IsArchived": True})
        sb.add_customer({"Code": "NEW01", "Name": "New Customer Ltd"})
        api = Api(sb)
        try:
            both = api.get("/customers").json()["Data"]
            assert [c["Code"] for c in both] == ["NEW01", "OLD01"]  # default: False
            for value, codes in (("True", ["NEW01"]), ("false", ["NEW01", "OLD01"])):
                shown = api.get("/customers", params={"filterarchived": value}).json()["Data"]
                assert [c["Code"] for c in shown] == codes
        finally:
            api.close()


def test_faults_reach_the_list(api: Api, sb: KashFlowSandbox) -> None:
    sb.fail_next(1, 503, endpoint="customers.list")
    assert api.get("/customers/ACME01").status_code == 200  # the detail is not the list
    failed = api.get("/customers")
    assert failed.status_code == 503 and failed.json()["Error"] == "ServiceUnavailable"
    sb.fail_next(2, 500, endpoint="customers")  # the prefix: list and detail
    assert api.get("/customers").status_code == 500
    assert api.get("/customers/ACME01").status_code == 500
    sb.null_metadata_next(1, endpoint="customers.list")
    body = api.get("/customers").json()
    assert body["MetaData"] is None and len(body["Data"]) == 10
    sb.malformed_next(1, endpoint="customers.list")
    cut = api.get("/customers")
    assert cut.status_code == 200
    with pytest.raises(ValueError):
        cut.json()
    assert sb.calls["customers.list"] == 4


def test_latency_on_the_list() -> None:
    waited: list[float] = []
    with KashFlowSandbox(today=TODAY, sleep=waited.append) as sb:
        sb.set_latency(2.5, "customers.list")
        api = Api(sb)
        try:
            assert api.get("/customers/ACME01").status_code == 200
            assert waited == []
            assert api.get("/customers").status_code == 200
            assert waited == [2.5]
        finally:
            api.close()


def test_the_list_needs_a_session(sb: KashFlowSandbox) -> None:
    refused = requests.get(f"{sb.url}/customers", timeout=TIMEOUT)
    assert refused.status_code == 401
    assert refused.json()["Error"] == "InvalidSessionToken"
