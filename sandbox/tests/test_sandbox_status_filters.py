"""``GET /v2/invoices`` status filters: the documented ``filterby`` and the Swagger copy's
``statusfilter``, the same values, the same rows; ``ignore_filters`` ignores both."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qsl
from urllib.parse import urlsplit

import pytest

from kashflow_sandbox import KashFlowSandbox
from sandbox_client import TODAY
from sandbox_client import Api

#: The documented values, and which invoices each keeps.
VALUES = ("All", "Unpaid", "Overdue", "Overpaid", "Paid", "ThisMonth", "LastMonth")


def numbers(api: Api, **params: str) -> list[int]:
    """Every invoice number the filtered list gives, page after page."""
    found: list[int] = []
    url: str | None = "/invoices"
    query: dict[str, str] | None = {**params, "perpage": "100"}
    while url:
        body = api.get(url, params=query).json()
        found += [row["Number"] for row in body["Data"]]
        url, query = body["MetaData"]["NextPageUrl"], None
    return found


def expected(sb: KashFlowSandbox, value: str) -> list[int]:
    last_month = TODAY.replace(day=1) - timedelta(days=1)

    def keeps(invoice: dict[str, object]) -> bool:
        issued = str(invoice["IssuedDate"])[:7]
        if value == "All":
            return True
        if value == "ThisMonth":
            return issued == TODAY.isoformat()[:7]
        if value == "LastMonth":
            return issued == last_month.isoformat()[:7]
        return invoice["Status"] == value

    return sorted(n for n, i in sb.invoices.items() if keeps(i))


@pytest.mark.parametrize("value", VALUES)
def test_filterby_and_statusfilter_keep_the_same_invoices(
    api: Api, sb: KashFlowSandbox, value: str
) -> None:
    wanted = expected(sb, value)
    assert wanted, value  # the demo data has some of each
    assert numbers(api, filterby=value) == wanted
    assert numbers(api, statusfilter=value) == wanted
    # Values and names are case-insensitive.
    assert numbers(api, StatusFilter=value.upper()) == wanted


def test_the_filter_travels_in_the_metadata_urls(api: Api) -> None:
    meta = api.get("/invoices", params={"statusfilter": "Paid", "perpage": 10}).json()["MetaData"]
    assert dict(parse_qsl(urlsplit(meta["NextPageUrl"]).query))["statusfilter"] == "Paid"
    assert "filterby" not in meta["NextPageUrl"]


def test_with_a_customer(api: Api, sb: KashFlowSandbox) -> None:
    overdue = numbers(api, customercode="ACME01", statusfilter="Overdue")
    assert 1043 in overdue
    assert overdue == numbers(api, customercode="ACME01", filterby="Overdue")
    assert {sb.invoices[n]["Status"] for n in overdue} == {"Overdue"}


@pytest.mark.parametrize("name", ["filterby", "statusfilter"])
def test_an_unknown_value_is_400_naming_the_parameter(api: Api, name: str) -> None:
    refused = api.get("/invoices", params={name: "Outstanding"})
    assert refused.status_code == 400
    assert refused.json() == {
        "Error": "InvalidParameter",
        "Message": f"{name} 'Outstanding' is not supported.",
    }


@pytest.mark.parametrize("name", ["filterby", "statusfilter"])
def test_ignore_filters_ignores_both(api: Api, sb: KashFlowSandbox, name: str) -> None:
    sb.ignore_filters()
    assert numbers(api, **{name: "Paid"}) == sorted(sb.invoices)
