"""Many generated customers who owe money, for benchmarks of "who owes what".

The demo business has 15 customers; a list of who owes what across a real account has
hundreds. :func:`add_extra_customers` adds as many as asked, each with invoices of which at
least one is overdue and one is not yet due (some part-paid), and perhaps a paid one, so that
every extra customer has an outstanding balance. The draws come from a generator of their own,
seeded from the store's seed and the count, so the same arguments give the same customers,
and the demo business before them is untouched.
"""

from __future__ import annotations

import random
import typing as t
from datetime import timedelta
from decimal import Decimal

from .records import address
from .records import contact
from .values import kf_date
from .values import money

if t.TYPE_CHECKING:  # pragma: no cover
    from .data import SandboxData

#: Codes of the extra customers: ``EXTRA0001`` upward.
PREFIX = "EXTRA"
_FIRST = ("Harbour", "Northgate", "Willow", "Granite", "Kingfisher", "Meadow", "Copper", "Ashby")
_SECOND = ("Joinery", "Bakery", "Print", "Motors", "Surveys", "Textiles", "Gardens", "Logistics")


def add_extra_customers(data: SandboxData, count: int, invoices_each: int = 4) -> list[str]:
    """Add *count* generated customers to *data*, each with *invoices_each* invoices (at least
    2): one overdue, one not yet due, then a mix of paid, unpaid and overdue ones; about a
    third of those owed are part-paid. Returns the new codes, ``EXTRA0001`` upward (after any
    extra customers already there)."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"count must be a whole number >= 0, not {count!r}")
    if isinstance(invoices_each, bool) or not isinstance(invoices_each, int) or invoices_each < 2:
        raise ValueError(f"invoices_each must be a whole number >= 2, not {invoices_each!r}")
    # A generator of their own: the store's (which draws GUIDs) keeps its sequence for
    # whatever is added later, and the same seed and count give the same customers.
    rng = random.Random(f"{PREFIX}-{data.seed}-{count}-{invoices_each}")  # noqa: S311  # nosec B311
    taken = {code.upper() for code in data.customers}
    codes: list[str] = []
    index = 0
    while len(codes) < count:
        index += 1
        code = f"{PREFIX}{index:04d}"
        if code not in taken:
            codes.append(code)
    today = data.today
    number = max([1000, *data.invoices]) + 1
    for code in codes:
        serial = code[len(PREFIX) :]
        name = f"{rng.choice(_FIRST)} {rng.choice(_SECOND)} {serial} Ltd"
        data.add_customer(
            {
                "Code": code,
                "Name": name,
                "Contacts": [contact(f"accounts@extra-{serial}.test", "Accounts")],
                "Addresses": [
                    address(f"{serial} Example Road", "Testington", None, "TE1 1ST", "GB", "UK")
                ],
                "PaymentTerms": {"Days": 30, "Type": "AfterIssuedDate"},
            }
        )
    with data.bulk_load():
        for code in codes:
            kinds = ["overdue", "unpaid"] + [
                rng.choice(("paid", "paid", "unpaid", "overdue")) for _ in range(invoices_each - 2)
            ]
            for kind in kinds:
                # Due 30 days after issue: overdue ones were issued 31 to 200 days ago.
                age = rng.randint(31, 200) if kind == "overdue" else rng.randint(0, 29)
                if kind == "paid":
                    age = rng.randint(0, 200)
                issued = today - timedelta(days=age)
                net = money(Decimal(rng.randint(5000, 250000)) / 100)
                gross = net + money(net / 5)
                paid = gross if kind == "paid" else Decimal(0)
                if kind != "paid" and rng.random() < 0.3:
                    paid = money(gross * Decimal(rng.randint(20, 60)) / 100)
                payments = [{"Amount": paid, "Date": kf_date(issued)}] if paid else []
                data.add_invoice(
                    {
                        "Number": number,
                        "CustomerCode": code,
                        "IssuedDate": kf_date(issued),
                        "LineItems": [
                            {"Description": "Goods and services", "Rate": net, "VATLevel": 20}
                        ],
                        "PaymentLines": payments,
                    }
                )
                number += 1
    return codes
