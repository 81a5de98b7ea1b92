"""What the pages show: invoices turned into formatted, client-friendly view models.

Money, dates and statuses are worded by :class:`~flask_kashflow_links.formatting.Formatter`.
Formatting is the costly part of a warm page, so view models are cached per process with the
data they were made from (the fetch layer's key and fetch time, and today's date).
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from urllib.parse import quote
from urllib.parse import urlencode

from ..config import Brand
from ..formatting import Formatter
from ..formatting import StatusView
from ..kashflow.models import Invoice
from ..links.claims import CustomerScope
from ..links.claims import in_scope


@dataclass(frozen=True, slots=True)
class LineView:
    description: str
    quantity: str
    rate: str
    vat: str
    total: str


@dataclass(frozen=True, slots=True)
class PaymentView:
    date: str
    amount: str
    note: str
    #: A credit note set against the invoice, not money received.
    credit: bool = False


@dataclass(frozen=True, slots=True)
class InvoiceView:
    """Everything the invoice page shows, formatted."""

    number: int
    #: "Invoice" or "Credit note".
    kind: str
    reference: str
    customer_name: str
    issued: str
    due: str
    status: StatusView
    address: tuple[str, ...]
    lines: tuple[LineView, ...]
    net: str
    vat: str
    gross: str
    paid: str
    #: Credit notes set against the invoice, formatted; empty when there are none.
    credited: str
    due_amount: str
    owes: bool
    payments: tuple[PaymentView, ...]
    currency: str
    has_pdf: bool


@dataclass(frozen=True, slots=True)
class RowView:
    """One invoice in a customer's list."""

    number: int
    #: "Invoice" or "Credit note".
    kind: str
    issued: str
    due: str
    status: StatusView
    gross: str
    due_amount: str
    #: Newest first: issue date, then number.
    sort_key: tuple[date, int]


def invoice_view(formatter: Formatter, invoice: Invoice, today: date) -> InvoiceView:
    """The invoice page's view model."""
    money = formatter.money
    cur = invoice.currency
    lines = tuple(
        LineView(
            description=line.description or line.product_name,
            quantity=formatter.number(line.quantity),
            rate=money(line.rate, cur),
            vat=money(line.vat_amount, cur),
            total=money(line.net, cur),
        )
        for line in invoice.line_items
    )
    address: tuple[str, ...] = ()
    if invoice.address is not None:
        parts = (*invoice.address.lines, invoice.address.post_code, invoice.address.country)
        address = tuple(part for part in parts if part)
    owes = bool(invoice.is_unpaid and invoice.due_amount and invoice.due_amount > 0)
    credited = invoice.amount_credited
    return InvoiceView(
        number=invoice.number,
        kind="Credit note" if invoice.is_credit_note else "Invoice",
        reference=invoice.customer_reference,
        customer_name=invoice.customer_name,
        issued=formatter.long_date(invoice.issued),
        due=formatter.long_date(invoice.due),
        status=formatter.status(invoice, today),
        address=address,
        lines=lines,
        net=money(invoice.net, cur),
        vat=money(invoice.vat, cur),
        gross=money(invoice.gross, cur),
        paid=money(invoice.amount_paid, cur),
        credited=money(credited, cur) if credited else "",
        due_amount=money(invoice.due_amount, cur),
        owes=owes,
        payments=tuple(
            PaymentView(formatter.long_date(p.date), money(p.amount, cur), p.note, p.is_credit)
            for p in invoice.payments
        ),
        currency=cur.code,
        has_pdf=bool(invoice.permalink),
    )


def row_view(formatter: Formatter, invoice: Invoice, today: date) -> RowView:
    """One row of a customer's list."""
    return RowView(
        number=invoice.number,
        kind="Credit note" if invoice.is_credit_note else "Invoice",
        issued=formatter.short_date(invoice.issued),
        due=formatter.short_date(invoice.due),
        status=formatter.status(invoice, today),
        gross=formatter.money(invoice.gross, invoice.currency),
        due_amount=formatter.money(invoice.due_amount, invoice.currency)
        if invoice.is_unpaid
        else formatter.money(Decimal(0), invoice.currency),
        sort_key=(invoice.issued or date.min, invoice.number),
    )


#: The status tabs a customer link may show, by the link's own status filter.
TABS: dict[str, tuple[tuple[str, str], ...]] = {
    "all": (("all", "All"), ("unpaid", "Unpaid"), ("overdue", "Overdue"), ("paid", "Paid")),
    "unpaid": (("unpaid", "Unpaid"), ("overdue", "Overdue")),
    "overdue": (("overdue", "Overdue"),),
    "paid": (("paid", "Paid"),),
}


def pay_url(brand: Brand, invoice: Invoice) -> str | None:
    """The brand's online-payment URL for *invoice*, or ``None`` if it has none."""
    if not brand.pay_url:
        return None
    amount = str(invoice.due_amount) if invoice.due_amount is not None else ""
    return brand.pay_url.replace("{number}", str(invoice.number)).replace("{amount}", quote(amount))


def listing(
    formatter: Formatter,
    invoices: t.Sequence[Invoice],
    scope: CustomerScope,
    today: date,
) -> dict[str, t.Any]:
    """The formatted, scope-checked list of a customer link, newest first, per status tab
    (cached with the data it was made from)."""
    visible = [i for i in invoices if in_scope(scope, i, today)]
    ordered: list[tuple[RowView, Invoice]] = sorted(
        ((row_view(formatter, i, today), i) for i in visible),
        key=lambda pair: pair[0].sort_key,
        reverse=True,
    )
    return {
        "rows": {
            key: [row for row, invoice in ordered if invoice.has_status(key, today)]
            for key, _ in TABS["all"]
        },
        "balances": formatter.balances(visible),
        "customer_name": next((i.customer_name for i in visible if i.customer_name), ""),
    }


def customer_context(
    listing: dict[str, t.Any],
    scope: CustomerScope,
    base: str,
    *,
    tab: str,
    page: int,
    page_size: int,
    statement: bool,
) -> dict[str, t.Any] | None:
    """What ``customer.html`` is given for one tab and page of a cached listing (``as_of``
    aside), or ``None`` for a page past the end. *base* is the link's own URL path;
    *statement* whether the link offers a statement PDF."""
    tabs = TABS[scope.status]
    rows = listing["rows"][tab]
    pages = max(1, -(-len(rows) // page_size))
    if page > pages:
        return None

    def tab_url(status: str, page_number: int = 1) -> str:
        args = {}
        if status != scope.status:
            args["status"] = status
        if page_number > 1:
            args["page"] = str(page_number)
        return f"{base}?{urlencode(args)}" if args else base

    return {
        "customer_name": listing["customer_name"] or scope.customer,
        "balances": listing["balances"],
        "tabs": [
            {
                "label": label,
                "url": tab_url(key),
                "current": key == tab,
                "count": len(listing["rows"][key]),
            }
            for key, label in tabs
        ]
        if len(tabs) > 1
        else [],
        "tab": tab,
        "rows": rows[(page - 1) * page_size : page * page_size],
        "total": len(rows),
        "page": page,
        "pages": pages,
        "prev_url": tab_url(tab, page - 1) if page > 1 else None,
        "next_url": tab_url(tab, page + 1) if page < pages else None,
        "invoice_url": lambda number: f"{base}/{number}",
        "statement_url": f"{base}/pdf" if statement else None,
    }
