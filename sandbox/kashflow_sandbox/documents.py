"""The sandbox's documents: invoice, packing slip, payment receipt and customer statement PDFs.

Each function returns ``(pdf bytes, file name)`` for a stored record. The PDFs are real,
plain, one-page documents (see :mod:`.pdf`), so code that streams, stores or parses them meets
a valid file. They read the stored (fullest) records, whatever shape the API serves.
"""

from __future__ import annotations

import re
import typing as t
from datetime import date
from datetime import timedelta
from decimal import Decimal

from .pdf import Line
from .pdf import max_lines
from .pdf import render_pdf
from .values import COMPANY_ADDRESS
from .values import COMPANY_NAME
from .values import JSONDict
from .values import parse_kf_date

_ZERO_DECIMAL_CURRENCIES = frozenset({"JPY"})


def invoice_pdf(invoice: JSONDict, *, packing_slip: bool = False) -> tuple[bytes, str]:
    """The invoice (or credit note) document, or its packing slip (quantities and
    descriptions only)."""
    cur = invoice.get("Currency") or {}
    number = invoice["Number"]
    kind = "Credit note" if invoice.get("Type") == "CreditNote" else "Invoice"
    title = f"{'Packing slip' if packing_slip else kind} {number}"
    lines = [
        *_letterhead(title.upper() if not packing_slip else title),
        Line(f"{kind} number: {number}"),
        Line(f"Customer: {invoice.get('CustomerName')} ({invoice.get('CustomerCode')})"),
        Line(f"Issued: {_display_date(invoice.get('IssuedDate'))}"),
        Line(f"Due: {_display_date(invoice.get('DueDate'))}"),
    ]
    if invoice.get("CustomerReference"):
        lines.append(Line(f"Your reference: {invoice['CustomerReference']}"))
    lines += [
        Line(""),
        Line("Qty      Description" + ("" if packing_slip else " / Amount"), bold=True),
    ]
    for item in invoice.get("LineItems") or ():
        quantity, rate = item["Quantity"], item["Rate"]
        text = f"{quantity.normalize():f}  x  {item.get('Description') or item.get('ProductName')}"
        if not packing_slip:
            text += f"  @ {amount_text(rate, cur)}  = {amount_text(quantity * rate, cur)}"
        lines.append(Line(text))
    if not packing_slip:
        lines += [
            Line(""),
            Line(f"Net: {amount_text(invoice['NetAmount'], cur)}"),
            Line(f"VAT: {amount_text(invoice['VATAmount'], cur)}"),
            Line(f"Total: {amount_text(invoice['GrossAmount'], cur)}", bold=True),
            Line(f"Paid: {amount_text(invoice['TotalPaidAmount'], cur)}"),
            Line(f"Amount due: {amount_text(invoice['DueAmount'], cur)}", bold=True),
            Line(f"Status: {invoice.get('Status')}"),
        ]
    created = parse_kf_date(invoice["IssuedDate"])
    prefix = "PackingSlip" if packing_slip else kind.replace(" n", "N")
    return render_pdf(title, lines, created=created), f"{prefix}-{number}.pdf"


def receipt_pdf(invoice: JSONDict, payment: JSONDict) -> tuple[bytes, str]:
    """The receipt for one payment line of *invoice*."""
    cur = invoice.get("Currency") or {}
    lines = [
        *_letterhead("Payment receipt"),
        Line(f"Receipt for payment {payment.get('Id')}"),
        Line(f"Invoice number: {invoice['Number']}"),
        Line(f"Customer: {invoice.get('CustomerName')} ({invoice.get('CustomerCode')})"),
        Line(f"Date: {_display_date(payment.get('Date'))}"),
        Line(f"Amount paid: {amount_text(payment['Amount'], cur)}", bold=True),
        Line(f"Method: {payment.get('Note') or payment.get('Method')}"),
        Line(""),
        Line(f"Invoice total: {amount_text(invoice['GrossAmount'], cur)}"),
        Line(f"Still due: {amount_text(invoice['DueAmount'], cur)}"),
    ]
    created = parse_kf_date(payment["Date"])
    title = f"Payment receipt - invoice {invoice['Number']}"
    return render_pdf(title, lines, created=created), f"Receipt-{payment.get('Id')}.pdf"


def statement_pdf(
    customer: JSONDict, invoices: t.Iterable[JSONDict], params: t.Mapping[str, str], today: date
) -> tuple[bytes, str]:
    """*customer*'s statement for the documented query parameters (lower-cased names).

    Documented: no dates -> the last 3 months; ``filterby=All`` ignores the dates;
    ``excludepaid=true`` leaves paid invoices out. ``ValueError`` for a malformed date.
    """
    start = _yyyymmdd(params.get("startdate")) or today - timedelta(days=91)
    end = _yyyymmdd(params.get("enddate")) or today
    all_dates = (params.get("filterby") or "").lower() == "all"
    exclude_paid = (params.get("excludepaid") or "").lower() == "true"
    rows = []
    for invoice in invoices:
        issued = parse_kf_date(invoice["IssuedDate"])
        if not all_dates and not start <= issued <= end:
            continue
        if exclude_paid and invoice["Status"] in ("Paid", "Overpaid", "NA"):
            continue
        rows.append(invoice)
    cur = customer.get("Currency") or {}
    period = "all dates" if all_dates else f"{start.isoformat()} to {end.isoformat()}"
    lines = [
        *_letterhead("Statement"),
        Line(f"Customer: {customer.get('Name')} ({customer['Code']})"),
        Line(f"Period: {period}"),
        Line(f"Date: {today.isoformat()}"),
        Line(""),
        Line("Invoice   Issued       Due          Status     Total        Due", bold=True),
    ]
    room = max_lines() - len(lines) - 4
    for invoice in rows[:room]:
        lines.append(
            Line(
                f"{invoice['Number']:<9} {invoice['IssuedDate'][:10]}   "
                f"{invoice['DueDate'][:10]}   {invoice['Status']:<10} "
                f"{amount_text(invoice['GrossAmount'], cur):<12} "
                f"{amount_text(invoice['DueAmount'], cur)}"
            )
        )
    if len(rows) > room:
        lines.append(Line(f"... and {len(rows) - room} more invoices"))
    outstanding = sum(
        (i["DueAmount"] for i in rows if i["Status"] in ("Unpaid", "Overdue")), Decimal(0)
    )
    lines += [Line(""), Line(f"Outstanding: {amount_text(outstanding, cur)}", bold=True)]
    title = f"Statement - {customer.get('Name')}"
    return render_pdf(title, lines, created=today), f"Statement-{customer['Code']}.pdf"


def amount_text(value: Decimal, cur: t.Mapping[str, t.Any]) -> str:
    """*value* with its currency symbol on the side the currency asks for."""
    places = 0 if cur.get("Code") in _ZERO_DECIMAL_CURRENCIES else 2
    text = f"{value:,.{places}f}"
    symbol = str(cur.get("Symbol") or cur.get("Code") or "")
    return f"{text} {symbol}" if cur.get("DisplaySymbolOnRight") else f"{symbol}{text}"


def _letterhead(title: str) -> list[Line]:
    return [
        Line(COMPANY_NAME, 18, True),
        Line(", ".join(COMPANY_ADDRESS[1:]), 9),
        Line(""),
        Line(title, 14, True),
    ]


def _display_date(value: str | None) -> str:
    return value[:10] if value else "-"


def _yyyymmdd(text: str | None) -> date | None:
    if not text:
        return None
    if not re.fullmatch(r"[0-9]{8}", text.strip()):
        raise ValueError(f"dates must be yyyymmdd, not {text!r}")
    value = text.strip()
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise ValueError(f"not a date: {text!r}") from None


__all__ = ["amount_text", "invoice_pdf", "receipt_pdf", "statement_pdf"]
