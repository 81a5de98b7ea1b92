"""The paged lists, ``GET /v2/invoices`` and ``GET /v2/customers``: their query parameters,
filters, sort orders, paging and ``MetaData``.

KashFlow's (IIS) query parameter names are case-insensitive (``customerCode`` works), and
``sortby`` takes either a documented name or the Swagger's integer code. Values outside the
documented ones answer 400 ``InvalidParameter``, as KashFlow's validation does.
"""

from __future__ import annotations

import math
import re
import typing as t
from dataclasses import dataclass
from datetime import date
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlencode

from .values import JSONDict
from .values import parse_kf_date

#: ``sortby`` names and KashFlow's integer codes -> the invoice field sorted on.
SORT_FIELDS = {
    "number": "Number",
    "customerref": "CustomerReference",
    "customername": "CustomerName",
    "invoicedate": "IssuedDate",
    "paymentduedate": "DueDate",
    "grossamount": "GrossAmount",
    "netamount": "NetAmount",
    "status": "Status",
    "paymentpaiddate": "PaidDate",
    "dueamount": "DueAmount",
    "type": "Type",
    "vatamount": "VATAmount",
}
_SORT_CODES = {
    "0": "number",
    "1": "customerref",
    "2": "customername",
    "3": "invoicedate",
    "4": "paymentduedate",
    "5": "grossamount",
    "6": "netamount",
    "7": "status",
    "8": "paymentpaiddate",
    "9": "dueamount",
    "10": "type",
    "11": "vatamount",
}
#: Documented ``filterby`` values (``statusfilter``, the Swagger copy's name for the filter,
#: takes the same). Each status filter keeps invoices whose Status is exactly that value
#: ("Unpaid" does not include "Overdue", "Paid" does not include "Overpaid"): the real
#: semantics are undocumented, and exact matching is the choice that lets a client's test
#: notice when it needs to ask for two statuses.
STATUS_FILTERS = {"unpaid": "Unpaid", "overdue": "Overdue", "overpaid": "Overpaid", "paid": "Paid"}
DATE_FILTERS = ("thismonth", "lastmonth")
_PAGING = frozenset({"page", "perpage", "sortby", "order"})

#: Customer ``sortby`` names (KashFlow's customers page) and the Swagger's integer codes ->
#: the customer field sorted on.
CUSTOMER_SORT_FIELDS = {
    "code": "Code",
    "name": "Name",
    "totalpaidamount": "TotalPaidAmount",
    "outstandingbalance": "OutstandingBalance",
}
_CUSTOMER_SORT_CODES = {"0": "name", "1": "code", "3": "totalpaidamount", "4": "outstandingbalance"}
#: "Maximum allowed records per page is 100" (KashFlow's customers page); 10 by default.
CUSTOMERS_PER_PAGE, CUSTOMERS_MAX_PER_PAGE = 10, 100
#: The ``namestartswith`` value for names that do not start with a letter A-Z.
NON_ALPHA = "non-alpha"


class BadParameter(ValueError):
    """A query parameter KashFlow would refuse (the message is KashFlow's ``Message``)."""


@dataclass(frozen=True)
class ListQuery:
    """A parsed ``GET /v2/invoices`` query."""

    page: int
    perpage: int
    sortby: str  # as the client wrote it, for the MetaData URLs
    sort_field: str
    descending: bool
    status_key: str
    customer_code: str
    #: Every parameter as sent (repeats kept), for the MetaData URLs.
    raw: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, args: t.Iterable[tuple[str, str]]) -> ListQuery:
        """Parse the query string's (name, value) pairs; :class:`BadParameter` if invalid."""
        raw = tuple(args)
        params = _params(raw)
        page, perpage, descending = _paging(params, default_perpage=50)
        sortby = params.get("sortby") or "Number"
        sort_key = _SORT_CODES.get(sortby.strip(), sortby.strip().lower())
        if sort_key not in SORT_FIELDS:
            raise BadParameter(f"sortby {sortby!r} is not supported.")
        # The documented name, or the Swagger copy's for the same filter and values.
        name = "filterby" if params.get("filterby") else "statusfilter"
        status_filter = (params.get(name) or "All").strip()
        status_key = status_filter.lower()
        if status_key not in ("all", *STATUS_FILTERS, *DATE_FILTERS):
            raise BadParameter(f"{name} {status_filter!r} is not supported.")
        return cls(
            page=page,
            perpage=perpage,
            sortby=sortby,
            sort_field=SORT_FIELDS[sort_key],
            descending=descending,
            status_key=status_key,
            customer_code=(params.get("customercode") or "").strip().upper(),
            raw=raw,
        )

    def select(
        self, invoices: t.Iterable[JSONDict], today: date, *, filters: bool
    ) -> list[JSONDict]:
        """The matching invoices in the asked order (all of them if not *filters*)."""
        rows = list(invoices)
        if filters:
            if self.customer_code:
                rows = [r for r in rows if str(r["CustomerCode"]).upper() == self.customer_code]
            rows = [r for r in rows if status_matches(r, self.status_key, today)]
        field = self.sort_field
        rows.sort(key=lambda r: (_sort_value(r.get(field), field), r["Number"]))
        if self.descending:
            rows.reverse()
        return rows

    def meta(self, rows: t.Sequence[JSONDict], base_url: str, perpage: int) -> JSONDict:
        """The ``MetaData`` object for *rows* served *perpage* at a time from *base_url*."""
        # Tests may plant malformed amounts to play a misbehaving KashFlow: skip them.
        total_amount = sum(
            (
                r["GrossAmount"]
                for r in rows
                if isinstance(r.get("GrossAmount"), Decimal) and r["GrossAmount"].is_finite()
            ),
            Decimal(0),
        )
        return {
            **page_links(self, len(rows), base_url, perpage),
            "TotalRecords": len(rows),
            "TotalAmount": total_amount,
            "InvoiceLimitReached": False,
        }


@dataclass(frozen=True)
class CustomerQuery:
    """A parsed ``GET /v2/customers`` query."""

    page: int
    perpage: int
    sortby: str  # as the client wrote it, for the MetaData URLs
    sort_field: str
    descending: bool
    #: ``namestartswith`` as given ("" for none; :data:`NON_ALPHA` for the rest).
    name_starts: str
    #: ``filterarchived=True``: leave archived customers out.
    hide_archived: bool
    #: Every parameter as sent (repeats kept), for the MetaData URLs.
    raw: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, args: t.Iterable[tuple[str, str]]) -> CustomerQuery:
        """Parse the query string's (name, value) pairs; :class:`BadParameter` if invalid."""
        raw = tuple(args)
        params = _params(raw)
        page, perpage, descending = _paging(params, default_perpage=CUSTOMERS_PER_PAGE)
        sortby = params.get("sortby") or "Code"
        sort_key = _CUSTOMER_SORT_CODES.get(sortby.strip(), sortby.strip().lower())
        if sort_key not in CUSTOMER_SORT_FIELDS:
            raise BadParameter(f"sortby {sortby!r} is not supported.")
        archived = (params.get("filterarchived") or "False").strip().lower()
        if archived not in ("true", "false"):
            raise BadParameter("filterarchived must be True or False.")
        return cls(
            page=page,
            perpage=perpage,
            sortby=sortby,
            sort_field=CUSTOMER_SORT_FIELDS[sort_key],
            descending=descending,
            name_starts=(params.get("namestartswith") or "").strip(),
            hide_archived=archived == "true",
            raw=raw,
        )

    def select(self, customers: t.Iterable[JSONDict], *, filters: bool) -> list[JSONDict]:
        """The matching customers in the asked order (all of them if not *filters*)."""
        rows = list(customers)
        if filters:
            if self.hide_archived:
                rows = [c for c in rows if not c.get("IsArchived")]
            if self.name_starts:
                rows = [c for c in rows if _name_starts(str(c.get("Name") or ""), self.name_starts)]
        field = self.sort_field
        rows.sort(key=lambda c: (_sort_value(c.get(field), field), str(c["Code"]).upper()))
        if self.descending:
            rows.reverse()
        return rows

    def meta(self, rows: t.Sequence[JSONDict], base_url: str, perpage: int) -> JSONDict:
        """The ``MetaData`` object for *rows* served *perpage* at a time from *base_url* (the
        documented customers example has no totals beyond ``TotalRecords``)."""
        return {**page_links(self, len(rows), base_url, perpage), "TotalRecords": len(rows)}


class _Paged(t.Protocol):
    """What :func:`page_links` reads of a parsed list query."""

    @property
    def page(self) -> int: ...
    @property
    def sortby(self) -> str: ...
    @property
    def descending(self) -> bool: ...
    @property
    def raw(self) -> tuple[tuple[str, str], ...]: ...


def page_links(query: _Paged, total: int, base_url: str, perpage: int) -> dict[str, str | None]:
    """``FirstPageUrl``, ``LastPageUrl``, ``NextPageUrl`` and ``PreviousPageUrl`` for *total*
    rows served *perpage* at a time: the paging parameters as served, then the others as
    sent."""
    last_page = max(1, math.ceil(total / perpage))

    def page_url(number: int) -> str:
        pairs: list[tuple[str, str]] = [
            ("page", str(number)),
            ("perpage", str(perpage)),
            ("sortby", query.sortby),
            ("order", "Desc" if query.descending else "Asc"),
        ]
        pairs += [(k, v) for k, v in query.raw if k.lower() not in _PAGING]
        return f"{base_url}?{urlencode(pairs)}"

    return {
        "FirstPageUrl": page_url(1),
        "LastPageUrl": page_url(last_page),
        "NextPageUrl": page_url(query.page + 1) if query.page < last_page else None,
        "PreviousPageUrl": page_url(query.page - 1) if query.page > 1 else None,
    }


def _params(raw: t.Iterable[tuple[str, str]]) -> dict[str, str]:
    """The first value of each parameter (as in werkzeug's MultiDict), by lower-case name."""
    first: dict[str, str] = {}
    for key, value in raw:
        first.setdefault(key.lower(), value)
    return first


def _paging(params: t.Mapping[str, str], *, default_perpage: int) -> tuple[int, int, bool]:
    """``(page, perpage, descending)`` from *params*; :class:`BadParameter` if invalid."""
    page = _positive_int(params.get("page") or "1")
    if page is None:
        raise BadParameter("page must be a whole number of at least 1.")
    perpage = _positive_int(params.get("perpage") or str(default_perpage))
    if perpage is None:
        raise BadParameter("perpage must be a whole number of at least 1.")
    order = (params.get("order") or "Asc").strip().lower()
    if order not in ("asc", "desc"):
        raise BadParameter("order must be Asc or Desc.")
    return page, perpage, order == "desc"


def _name_starts(name: str, start: str) -> bool:
    """Whether *name* passes ``namestartswith`` *start* (case-insensitive; "non-alpha": a name
    starting with anything but the letters A to Z)."""
    if start.lower() == NON_ALPHA:
        return not (name[:1].isascii() and name[:1].isalpha())
    return name.casefold().startswith(start.casefold())


def status_matches(invoice: JSONDict, status_key: str, today: date) -> bool:
    """Whether *invoice* passes the ``filterby`` value *status_key* (lower case)."""
    if status_key == "all":
        return True
    if status_key in STATUS_FILTERS:
        return bool(invoice.get("Status") == STATUS_FILTERS[status_key])
    issued = parse_kf_date(invoice["IssuedDate"])
    month = today.replace(day=1)
    if status_key == "lastmonth":
        month = (month - timedelta(days=1)).replace(day=1)
    return (issued.year, issued.month) == (month.year, month.month)


def _positive_int(text: str) -> int | None:
    text = text.strip()
    if not re.fullmatch(r"[0-9]{1,9}", text) or int(text) < 1:
        return None
    return int(text)


def _sort_value(value: t.Any, field: str) -> tuple[int, t.Any]:
    # Nulls first (as SQL Server sorts them), then by type-appropriate value.
    if value is None:
        return (0, "")
    if field in ("IssuedDate", "DueDate", "PaidDate"):
        return (1, str(value)[:19])
    if isinstance(value, str):
        return (1, value.casefold())
    return (1, value)


__all__ = [
    "CUSTOMERS_MAX_PER_PAGE",
    "CUSTOMERS_PER_PAGE",
    "CUSTOMER_SORT_FIELDS",
    "DATE_FILTERS",
    "NON_ALPHA",
    "SORT_FIELDS",
    "STATUS_FILTERS",
    "BadParameter",
    "CustomerQuery",
    "ListQuery",
    "page_links",
]
