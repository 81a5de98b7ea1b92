"""The conformance probe of ``flask kashflow-links check``: which shape this account answers in.

KashFlow's official REST pages and the Swagger copy disagree about several fields the portal
reads (``DueAmount``, ``CustomerCode`` on the detail, the currency of ``TotalPaidAmount``,
``Type``, ``IsPaymentCreditNote``, ``ReceiveEmails``), and neither says what a missing invoice
or a document returns. After the login, :class:`Probe` reads a little of the real account
(one customer, one of its invoices as a list row and as a detail, that invoice's PDF, a payment
line if there is one, and an invoice number that does not exist) and says, one line each, what
it found and what the portal does about it. It only reads, and it reports no secret: no token,
no document link, no customer data beyond a customer code and an invoice number.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal
from urllib.parse import quote

import requests

from ..exceptions import KashFlowDenied
from ..exceptions import KashFlowError
from .models import Currency
from .models import Invoice
from .models import customer_key
from .parsing import as_list
from .parsing import as_mapping
from .parsing import loads
from .parsing import parse_amount
from .parsing import parse_text
from .rest_http import error_of

#: An invoice number no account is expected to have (the probe's "not found" question).
ABSENT_NUMBER = 999_999_999
#: List-row fields the portal reads, with what it does without them (the first tells the
#: Swagger copy's rows from the documented ones).
ROW_FIELDS = {
    "DueAmount": "what is owed is worked out from the payment lines",
    "Type": "credit notes are recognised by their negative amounts",
}
#: Detail fields the portal reads, with what it does without them (the first tells the
#: Swagger copy's detail from the documented one).
DETAIL_FIELDS = {
    "CustomerCode": "each invoice is placed through its list row, a few list reads more",
    "DueAmount": "what is owed is gross minus the payment lines",
}

#: An authorised GET of an absolute URL (keyword arguments: params, stream, accept).
Get = t.Callable[..., requests.Response]


@dataclass
class Report:
    """What the probe learnt: facts, and problems that stop the portal working."""

    findings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    #: "documented" or "swagger" per field that tells them apart.
    readings: set[str] = field(default_factory=set)


class Probe:
    """Reads a little of one account through *get* and reports on it.

    :param get: an authorised GET of an absolute URL (the account's session token).
    :param url: the absolute URL of an API path such as ``/invoices``.
    :param document: the checked download of a document link (what the portal does).
    :param document_url: the absolute URL of a document link.
    """

    def __init__(
        self,
        get: Get,
        url: t.Callable[[str], str],
        document: t.Callable[[str], bytes],
        document_url: t.Callable[[str], str],
    ) -> None:
        self.get = get
        self.url = url
        self.document = document
        self.document_url = document_url
        self.report = Report()

    def run(self, rows: list[t.Any], meta: t.Mapping[str, t.Any] | None) -> Report:
        """Probe, starting from the first page of the invoice list (*rows* as sent, *meta* the
        ``MetaData`` object or ``None`` when it was missing or null)."""
        report = self.report
        if meta is None:
            report.findings.append("list MetaData: null; the portal reads pages until an empty one")
        rows = [r for r in rows if isinstance(r, dict)]
        if not rows:
            report.findings.append("the account lists no invoices: nothing more to probe")
            return self.verdict()
        self.list_rows(rows)
        row = _pick(rows)
        code = parse_text(row.get("CustomerCode"), limit=255)
        if code:
            self.customer(code)
        self.detail(row)
        self.missing_invoice()
        return self.verdict()

    # -- what is read ----------------------------------------------------------------------------

    def list_rows(self, rows: list[dict[str, t.Any]]) -> None:
        """The fields of the list rows."""
        report = self.report
        if not all(parse_text(r.get("CustomerCode")) for r in rows):
            report.problems.append(
                "some invoice list rows name no CustomerCode: the portal cannot tell whose "
                "invoices they are, so customer links would not show them"
            )
        self._fields("list rows", rows[0], ROW_FIELDS)

    def customer(self, code: str) -> None:
        """The customer's fields: its key (statements) and its contacts' opt-outs."""
        report = self.report
        data = self._json(f"/customers/{quote(code, safe='')}", "a customer")
        if data is None:
            return
        if customer_key(parse_text(data.get("Code"), limit=255)) != customer_key(code):
            report.problems.append(f"customer {code} came back as another customer")
            return
        statement = "present (statements offered)" if data.get("Key") else "missing (no statements)"
        contacts = [c for c in as_list(data.get("Contacts")) if isinstance(c, dict)]
        if not contacts:
            opt_out = "no contacts to look at"
        elif all("ReceiveEmails" in c for c in contacts):
            opt_out = "ReceiveEmails present (opted-out contacts get no fresh links)"
        else:
            opt_out = "ReceiveEmails missing (every contact with an address gets fresh links)"
        report.findings.append(f"customer {code}: Key {statement}; contacts: {opt_out}")

    def detail(self, row: dict[str, t.Any]) -> None:
        """One invoice's detail against its row, its payment lines and its PDF."""
        report = self.report
        summary = Invoice.from_api(row)
        if summary is None:
            report.problems.append("an invoice list row has no usable Number")
            return
        number = summary.number
        data = self._json(f"/invoices/{number}", f"invoice {number}")
        if data is None:
            return
        invoice = Invoice.from_api(data, detailed=True)
        if invoice is None or invoice.number != number:
            report.problems.append(f"asking for invoice {number} gave another answer")
            return
        self._fields(f"invoice {number} detail", data, DETAIL_FIELDS)
        self.payments(invoice, data)
        if invoice.permalink:
            self.pdf(invoice.permalink)
        else:
            report.problems.append(f"invoice {number} has no Permalink: no PDF can be offered")

    def payments(self, invoice: Invoice, data: t.Mapping[str, t.Any]) -> None:
        """A payment line's fields, and the currency ``TotalPaidAmount`` is in."""
        report = self.report
        lines = [p for p in as_list(data.get("PaymentLines")) if isinstance(p, dict)]
        if lines:
            flag = "IsPaymentCreditNote" in lines[0]
            report.findings.append(
                "payment lines: "
                + (
                    "IsPaymentCreditNote present (credit notes shown as credits)"
                    if flag
                    else "IsPaymentCreditNote missing (credit allocations shown as payments)"
                )
            )
            if flag:
                report.readings.add("swagger")
        paid = _paid_currency(invoice, data)
        if paid in _READINGS:
            report.readings.add(_READINGS[paid])
        report.findings.append(f"TotalPaidAmount: {paid}")

    def pdf(self, permalink: str) -> None:
        """What the invoice's document link answers, and whether the portal can use it."""
        report = self.report
        try:
            first = self.get(self.document_url(permalink), stream=True, accept="application/pdf")
            status, kind = first.status_code, first.headers.get("Content-Type", "")
            moved = first.is_redirect
            first.close()
        except KashFlowError as e:
            report.problems.append(f"the invoice PDF could not be read: {e}")
            return
        try:
            size = len(self.document(permalink))
        except KashFlowDenied as e:
            report.problems.append(
                f"invoice PDFs are refused to this user: {e}. Clients would see 'document "
                "unavailable'; let the user read documents in KashFlow."
            )
            return
        except KashFlowError as e:
            report.problems.append(
                f"the invoice PDF is unusable ({e}); clients would see 'document unavailable'"
            )
            return
        if moved:
            how = f"HTTP {status}, a redirect on the API host (followed)"
        else:
            how = f"HTTP {status}, {kind.split(';')[0] or 'no Content-Type'}"
        report.findings.append(f"document: {how}; a PDF of {size} bytes")

    def missing_invoice(self) -> None:
        """What an invoice number that does not exist returns (KashFlow does not say)."""
        try:
            response = self.get(self.url(f"/invoices/{ABSENT_NUMBER}"))
        except KashFlowError as e:
            self.report.findings.append(f"an unknown invoice number: {e}")
            return
        status = response.status_code
        if status == 200 and response.content.strip() == b"null":
            answer = "HTTP 200 with null"
        elif status == 200:
            self.report.findings.append(f"invoice {ABSENT_NUMBER} exists: not-found not probed")
            return
        else:
            code = error_of(response)[0]
            answer = f"HTTP {status}" + (f" ({code})" if code else "")
        self.report.findings.append(f"an unknown invoice number answers {answer}: not found")

    # -- helpers ---------------------------------------------------------------------------------

    def verdict(self) -> Report:
        """The report, with which reading of KashFlow's API the account follows."""
        report = self.report
        readings = report.readings
        if readings == {"documented"}:
            shape = "KashFlow's documented examples"
        elif readings == {"swagger"}:
            shape = "the Swagger copy"
        elif readings:
            shape = "a mix of the documented examples and the Swagger copy"
        else:
            shape = "not told apart by what was read"
        report.findings.insert(0, f"shape: {shape}")
        if not report.problems:
            report.findings.append("verdict: this account works with the portal")
        return report

    def _fields(self, what: str, data: t.Mapping[str, t.Any], fields: dict[str, str]) -> None:
        present = [name for name in fields if name in data]
        missing = [f"{name} missing ({fields[name]})" for name in fields if name not in data]
        self.report.readings.add("swagger" if next(iter(fields)) in data else "documented")
        parts = ([", ".join(present) + " present"] if present else []) + missing
        self.report.findings.append(f"{what}: " + "; ".join(parts))

    def _json(self, path: str, what: str) -> t.Mapping[str, t.Any] | None:
        try:
            response = self.get(self.url(path))
            if response.status_code != 200:
                code, message = error_of(response)
                raise KashFlowError(f"HTTP {response.status_code} {code} {message}".strip())
            data = loads(response.content)
        except (KashFlowError, ValueError) as e:
            self.report.problems.append(f"reading {what} failed: {e}")
            return None
        if not isinstance(data, dict):
            self.report.problems.append(f"{what} is not a JSON object")
            return None
        return data


def _pick(rows: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    """The row that teaches most: part-paid in another currency, else paid something, else
    the first one with a customer code."""

    def score(row: dict[str, t.Any]) -> tuple[bool, bool, bool]:
        paid = parse_amount(row.get("TotalPaidAmount")) or Decimal(0)
        foreign = not Currency.from_api(row.get("Currency")).one_to_one
        return (bool(parse_text(row.get("CustomerCode"))), paid > 0 and foreign, paid > 0)

    return max(rows, key=score)


_IN_INVOICE_CURRENCY = "in the invoice's currency (the Swagger reading); payment lines are used"
_IN_HOME_CURRENCY = "in the home currency (as KashFlow documents); payment lines are used"
_READINGS = {_IN_INVOICE_CURRENCY: "swagger", _IN_HOME_CURRENCY: "documented"}


def _paid_currency(invoice: Invoice, data: t.Mapping[str, t.Any]) -> str:
    """In which currency ``TotalPaidAmount`` is, as far as this invoice can tell."""
    total = parse_amount(data.get("TotalPaidAmount"))
    lines = sum(
        (parse_amount(as_mapping(p).get("Amount")) or Decimal(0))
        for p in as_list(data.get("PaymentLines"))
    )
    if total is None:
        return "missing (the payment lines are used)"
    if not lines or invoice.currency.one_to_one:
        return "cannot tell from this invoice (nothing paid, or in the home currency)"
    return _IN_INVOICE_CURRENCY if total == lines else _IN_HOME_CURRENCY
