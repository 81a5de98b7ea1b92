"""Who owes what: the business's view of its customers and their invoices, through the cache.

The account's invoices still owed come in one cached list (:meth:`Fetcher.owing_invoices`:
REST's unpaid and overdue lists, SOAP's ``GetInvoices_Unpaid`` and ``GetInvoices_Overdue``),
and each is judged as the portal judges it: overdue by its due date, whatever its label says
(labels can lag), credit notes never owed, what is owed taken from the invoice's own data. The
customers' names and addresses come from the customer list where the API sorts it by balance
(REST), else one cached customer at a time, only for the customers listed (SOAP). A warm
repeat asks KashFlow nothing.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import partial

from ..config import Account
from ..exceptions import KashFlowNotFound
from ..kashflow.http import run_together
from ..kashflow.models import OVERDUE
from ..kashflow.models import Customer
from ..kashflow.models import Invoice
from ..kashflow.models import customer_key
from ..kashflow.models import same_customer
from . import Fetcher

#: What ``owing=`` may ask for: customers with anything outstanding, or with an invoice past
#: its due date (``None``: every customer).
OWING = ("unpaid", "overdue")
#: What ``status=`` may ask for of a customer's invoices (the portal's statuses).
STATUSES = ("all", "unpaid", "overdue", "paid")


@dataclass(frozen=True)
class CustomerSummary:
    """A customer and what they owe, as the portal computes it (the same amounts its pages
    show)."""

    #: The KashFlow customer code.
    code: str
    #: The customer's name in KashFlow (its display name where it has one).
    name: str
    #: Where a link may be emailed: the addresses on file that accept email (REST contacts
    #: with ``ReceiveEmails`` not false, the primary one first; SOAP's ``Email`` split on
    #: ``;`` and ``,``), less the account's ``no_mail``.
    emails: tuple[str, ...]
    #: What is still owed on the unpaid and overdue invoices, in :attr:`currency`.
    owed: Decimal
    #: The part of it on invoices past their due date.
    overdue: Decimal
    #: The ISO code of the currency of the amounts (``""`` when KashFlow names none).
    currency: str
    #: How many invoices are owed (unpaid, overdue included; credit notes never).
    unpaid_count: int
    #: How many of them are past their due date.
    overdue_count: int
    #: The earliest due date among the invoices owed, or ``None``.
    oldest_due: date | None
    #: Amounts owed in other currencies than :attr:`currency` (rare: a customer is usually
    #: invoiced in one).
    owed_elsewhere: dict[str, Decimal] = dataclasses.field(default_factory=dict)
    #: True when what is owed on some invoice could not be known, so its gross was counted.
    estimated: bool = False
    #: The invoices owed (unpaid and overdue), oldest due first.
    invoices: tuple[Invoice, ...] = ()

    def days_overdue(self, today: date) -> int:
        """How many days the oldest overdue invoice is past its due date (0 when none is)."""
        if not self.overdue_count or self.oldest_due is None:
            return 0
        return max((today - self.oldest_due).days, 0)


def choice(value: str | None, choices: tuple[str | None, ...], name: str) -> None:
    """Refuse *value* unless it is one of *choices* (or ``None`` where that is allowed)."""
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; use one of {', '.join(map(str, choices))}")


def customer_summaries(
    fetcher: Fetcher, account: Account, *, owing: str | None, today: date
) -> list[CustomerSummary]:
    """The customers of *account* and what each owes, the most overdue first, then the most
    owed: every customer (*owing* ``None``), those with anything outstanding (``"unpaid"``)
    or those with an invoice past its due date (``"overdue"``).

    :raises ValueError: an unknown *owing*.
    :raises KashFlowError: KashFlow could not be asked and nothing cached answers.
    """
    choice(owing, (None, *OWING), "owing")
    owed: dict[str, list[Invoice]] = {}
    for invoice in fetcher.owing_invoices(account).value:
        if invoice.is_unpaid and invoice.customer_code:
            owed.setdefault(customer_key(invoice.customer_code), []).append(invoice)
    if owing == "overdue":
        owed = {k: v for k, v in owed.items() if any(i.is_overdue(today) for i in v)}
    customers = _customers(fetcher, account, owed, everyone=owing is None)
    if owing is not None:
        customers = {k: v for k, v in customers.items() if k in owed}
    found = [
        _summary(account, key, customer, owed.get(key, []), today)
        for key, customer in customers.items()
    ]
    found.sort(key=lambda s: _largest_first(s, owed.get(customer_key(s.code), []), today))
    return found


def customer_invoices(
    fetcher: Fetcher, account: Account, code: str, *, status: str, today: date
) -> list[Invoice]:
    """The invoices of customer *code* with *status* (``all``, ``unpaid``, ``overdue``,
    ``paid``), newest first, as the portal shows them: an unpaid invoice past its due date is
    ``Overdue`` whatever its label said.

    :raises ValueError: an unknown *status*.
    :raises KashFlowNotFound: KashFlow has no customer *code*.
    """
    choice(status, STATUSES, "status")
    # The server's filter is a hint: each invoice's own customer decides.
    mine = [
        invoice
        for invoice in fetcher.customer_invoices(account, code).value
        if same_customer(invoice.customer_code, code)
    ]
    if not mine:
        # REST lists nothing for a code it does not know, where SOAP says there is no such
        # customer: the customer record (cached) tells "no invoices" from "no customer".
        fetcher.customer(account, code)
    found = []
    for invoice in mine:
        if invoice.is_overdue(today) and invoice.status != OVERDUE:
            invoice = dataclasses.replace(invoice, status=OVERDUE)
        if invoice.has_status(status, today):
            found.append(invoice)
    found.sort(key=lambda i: (i.issued or date.min, i.number), reverse=True)
    return found


def _largest_first(
    summary: CustomerSummary, invoices: list[Invoice], today: date
) -> tuple[Decimal, Decimal, str]:
    """The order of the summaries: the most overdue, then the most owed, compared in the home
    currency where each invoice's exchange rate says (a yen is not a pound), then by code."""

    def home(invoice: Invoice) -> Decimal:
        amount = invoice.owed if invoice.owed is not None else invoice.gross or Decimal(0)
        rate = invoice.currency.exchange_rate
        return amount / rate if rate else amount

    overdue = sum((home(i) for i in invoices if i.is_overdue(today)), Decimal(0))
    owed = sum((home(i) for i in invoices), Decimal(0))
    return (-overdue, -owed, summary.code.casefold())


def _customers(
    fetcher: Fetcher, account: Account, owed: dict[str, list[Invoice]], *, everyone: bool
) -> dict[str, Customer | None]:
    """The customer records wanted, by key (``None`` for one KashFlow no longer has)."""
    backend = fetcher.backend_for(account)
    found: dict[str, Customer | None] = {}
    # SOAP's lists carry no balance, so who owes comes from the invoices, and each customer
    # listed is read on its own (GetCustomer): never every customer of the account for a few.
    if everyone or backend.customers_by_balance:
        for customer in fetcher.customer_list(account, owing_only=not everyone).value:
            found.setdefault(customer_key(customer.code), customer)
    # What the list did not give (SOAP's lists carry no balance; a balance may lag): one
    # cached customer at a time, a few at once.
    missing = [invoices[0].customer_code for key, invoices in owed.items() if key not in found]
    answers = run_together([partial(_customer_or_none, fetcher, account, c) for c in missing])
    for code, answer in zip(missing, answers, strict=True):
        found[customer_key(code)] = answer
    return found


def _customer_or_none(fetcher: Fetcher, account: Account, code: str) -> Customer | None:
    try:
        return fetcher.customer(account, code).value
    except KashFlowNotFound:
        return None


def _summary(
    account: Account,
    key: str,
    customer: Customer | None,
    invoices: list[Invoice],
    today: date,
) -> CustomerSummary:
    code = customer.code if customer else invoices[0].customer_code
    name = ""
    if customer is not None:
        name = customer.display_name or customer.name
    name = name or next((i.customer_name for i in invoices if i.customer_name), "") or code
    emails = tuple(account.recipients(customer)) if customer else ()
    counts = Counter(i.currency.code for i in invoices)
    currency = (customer.currency.code if customer else "") or (
        counts.most_common(1)[0][0] if counts else ""
    )
    owed = overdue = Decimal(0)
    elsewhere: dict[str, Decimal] = {}
    estimated = False
    for invoice in invoices:
        amount = invoice.owed
        if amount is None:  # not knowable here: the whole invoice, flagged
            amount, estimated = invoice.gross or Decimal(0), True
        if invoice.currency.code not in ("", currency):
            code_ = invoice.currency.code
            elsewhere[code_] = elsewhere.get(code_, Decimal(0)) + amount
            continue
        owed += amount
        if invoice.is_overdue(today):
            overdue += amount
    late = [i for i in invoices if i.is_overdue(today)]
    dues = [i.due for i in (late or invoices) if i.due is not None]
    return CustomerSummary(
        code=code,
        name=name,
        emails=emails,
        owed=owed,
        overdue=overdue,
        currency=currency,
        unpaid_count=len(invoices),
        overdue_count=len(late),
        oldest_due=min(dues, default=None),
        owed_elsewhere=elsewhere,
        estimated=estimated,
        invoices=tuple(sorted(invoices, key=lambda i: (i.due or date.max, i.number))),
    )
