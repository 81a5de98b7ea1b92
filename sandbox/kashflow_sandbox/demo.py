"""The sandbox's deterministic demo business, "Sandbox Trading Ltd".

Generated customers (``ACME01``, ``BIGCO01``, ``MULLER01``, ``LONG01``, ``ALUFUQ01``,
``SAKURA01``) with invoices 1001 upward of every status, next to KashFlow's documented
examples (:mod:`.demo_documented`) and the awkward cases (:mod:`.demo_cases`). Everything is
drawn from the store's seeded random generator in a fixed order, so a given ``seed`` and
``today`` always give the same data; dates are relative to ``today``.
"""

from __future__ import annotations

import random
import typing as t
from datetime import date
from datetime import timedelta
from decimal import ROUND_HALF_UP
from decimal import Decimal

from .data import SandboxData
from .demo_cases import add_case_customers
from .demo_documented import add_documented_customers
from .demo_documented import add_documented_invoices
from .records import address
from .records import contact
from .values import CENT
from .values import CURRENCIES
from .values import PAYMENT_METHODS
from .values import STATUSES
from .values import ZERO
from .values import DateStyle
from .values import JSONDict
from .values import currency
from .values import due_date
from .values import kf_date
from .values import money
from .values import parse_kf_date
from .values import to_decimal

#: (description, product code, product name, nominal code, GBP rate, quantity kind, VAT %)
_CATALOGUE: tuple[tuple[str, str, str, int, str, str, str], ...] = (
    ("Consultancy", "CONS", "Consultancy (per hour)", 4000, "85.00", "hours", "20"),
    ("Website hosting, monthly plan", "HOST-M", "Hosting", 4010, "25.00", "units", "20"),
    ("Domain name renewal (1 year)", "DOM-1Y", "Domain renewal", 4010, "14.99", "units", "20"),
    ("Stainless steel widgets, box of 100", "WID-100", "Widgets", 4020, "42.50", "units", "20"),
    ("Delivery", "DEL", "Delivery", 4900, "9.95", "one", "20"),
    ("Annual support retainer", "SUP-A", "Support", 4000, "450.00", "one", "20"),
    ("On-site training day", "TRN-D", "Training", 4000, "650.00", "days", "20"),
    ("Design work", "DES", "Design (per hour)", 4000, "60.00", "hours", "20"),
    ("Printed reference manual", "BOOK-1", "Manual", 4030, "19.50", "units", "0"),
)

_LONG_NAME = (
    "The Extraordinarily Long-Named Consolidated Amalgamated Widget, Sprocket, Flange and "
    "General Precision Engineering Supplies Company of Greater Manchester Limited"
)

#: Fixed invoice numbers of ACME01 (1043 is the one the docs and demos refer to).
ACME_NUMBERS = (1004, 1015, 1027, 1043, 1066, 1098, 1131, 1167, 1203, 1240, 1268, 1283)
#: How many generated invoices each other customer gets.
_OTHER_COUNTS = {
    "BIGCO01": 260,
    "MULLER01": 4,
    "LONG01": 2,
    "ALUFUQ01": 3,
    "SAKURA01": 3,
    "BALA01": 1,
}
_FIRST_GENERATED = 1001


def demo_business(*, today: date | None = None, seed: int = 7) -> SandboxData:
    """The demo business: the documented examples plus generated customers and invoices, the
    same for the same *today* and *seed*."""
    data = SandboxData(today=today, seed=seed)
    build_demo(data)
    return data


def build_demo(data: SandboxData) -> None:
    """Fill the empty store *data* with the demo business."""
    add_documented_customers(data)
    _add_generated_customers(data)
    with data.bulk_load():
        add_documented_invoices(data)
        _add_generated_invoices(data)
    # Last, so that adding cases never shifts the random draws of the data above.
    add_case_customers(data)


def _add_generated_customers(data: SandboxData) -> None:
    data.add_customer(
        {
            "Code": "ACME01",
            "Name": "Acme Trading Ltd",
            "Contacts": [
                contact(
                    "accounts@acme-trading.test",
                    "Priya Shah",
                    "Priya",
                    "Shah",
                    "0161 496 0123",
                    "Ms",
                )
            ],
            "Addresses": [
                address(
                    "Unit 4, Example Business Park",
                    "Salford",
                    "Greater Manchester",
                    "M50 9ZZ",
                    "GB",
                    "United Kingdom",
                )
            ],
            "PaymentTerms": {"Days": 30, "Type": "AfterIssuedDate"},
            "AutomaticCreditControlEnabled": True,
            "VATNumber": "GB 123 4567 89",
        }
    )
    data.add_customer(
        {
            "Code": "BIGCO01",
            "Name": "Bigco Holdings plc",
            "Contacts": [
                contact("ap@bigco-holdings.test", "Accounts Payable"),
                contact(
                    "tom.baker@bigco-holdings.test", "Tom Baker", "Tom", "Baker", "020 7946 0999"
                ),
            ],
            "Addresses": [
                address(
                    "Bigco House", "100 Example Way", "London", "EC1A 9ZZ", "GB", "United Kingdom"
                )
            ],
            "DeliveryAddresses": [
                address(
                    "Goods In, Bigco Warehouse",
                    "Dock Road",
                    "Tilbury",
                    "RM18 9ZZ",
                    "GB",
                    "United Kingdom",
                )
            ],
            "UseCustomDeliveryAddress": True,
            "PaymentTerms": {"Days": 30, "Type": "AfterMonthEnd"},
            "DefaultCustomerReference": "PO-",
        }
    )
    data.add_customer(
        {
            "Code": "MULLER01",
            "Name": "Müller & Söhne GmbH",
            "Contacts": [
                contact("buchhaltung@mueller-soehne.test", "Jürgen Müller", "Jürgen", "Müller")
            ],
            "Addresses": [address("Königstraße 12", "Stuttgart", None, "70173", "DE", "Germany")],
            # Prices such as "1.234,50 €": the symbol goes after the amount.
            "Currency": currency("EUR", DisplaySymbolOnRight=True),
            "PaymentTerms": {"Days": 14, "Type": "AfterIssuedDate"},
            "IsRegisteredOutsideEC": True,
            "VATNumber": "DE123456789",
        }
    )
    data.add_customer(
        {
            "Code": "LONG01",
            "Name": _LONG_NAME,
            "Contacts": [contact("ap@extraordinarily-long.example.org", "Accounts")],
            "Addresses": [
                address(
                    "The Very Long Building Name Industrial Estate, Unit 123456",
                    "Somewhere-on-the-Long-Road-near-Manchester",
                    "Greater Manchester",
                    "M1 9ZZ",
                    "GB",
                    "United Kingdom",
                )
            ],
        }
    )
    data.add_customer(
        {
            "Code": "ALUFUQ01",
            "Name": "شركة الأفق للتجارة العامة ذ.م.م",
            "Contacts": [contact("finance@alufuq.test", "خالد المنصوري", "خالد", "المنصوري")],
            "Addresses": [
                address(
                    "برج الأفق، شارع الشيخ زايد", "دبي", None, None, "AE", "United Arab Emirates"
                )
            ],
            "Currency": currency("USD"),
            "PaymentTerms": {"Days": 45, "Type": "AfterIssuedDate"},
            "IsRegisteredOutsideEC": True,
        }
    )
    data.add_customer(
        {
            "Code": "SAKURA01",
            "Name": "株式会社さくら商事",
            "Contacts": [contact("keiri@sakura-shoji.test", "山田 太郎", "太郎", "山田")],
            "Addresses": [address("丸の内1-1-1", "千代田区", "東京都", "100-0005", "JP", "Japan")],
            "Currency": currency("JPY"),
            "PaymentTerms": {"Days": 30, "Type": "AfterMonthEnd"},
            "IsRegisteredOutsideEC": True,
        }
    )


def _slot_codes(rng: random.Random) -> list[str]:
    """Which customer gets each generated invoice number, 1001 upward."""
    others = [code for code, count in _OTHER_COUNTS.items() for _ in range(count)]
    rng.shuffle(others)
    total = len(others) + len(ACME_NUMBERS)
    codes: list[str] = []
    for number in range(_FIRST_GENERATED, _FIRST_GENERATED + total):
        codes.append("ACME01" if number in ACME_NUMBERS else others.pop())
    return codes


def _pick_status(rng: random.Random, not_yet_due: bool) -> str:
    if not_yet_due:
        choices, weights = ("Unpaid", "Paid", "Overpaid", "NA"), (60, 25, 5, 10)
    else:
        choices, weights = ("Paid", "Overdue", "Overpaid", "NA"), (70, 20, 5, 5)
    return rng.choices(choices, weights)[0]


def _line_items(rng: random.Random, code: str, target: str) -> list[JSONDict]:
    cur = str(currency_code_of(code))
    if target == "NA":
        return [
            {
                "Description": "Warranty replacement, no charge",
                "ProductCode": "WAR",
                "ProductName": "Warranty",
                "NominalCode": 4000,
                "Quantity": Decimal(1),
                "Rate": Decimal(0),
                "VATLevel": Decimal(20 if cur == "GBP" else 0),
            }
        ]
    count = rng.choices((1, 2, 3, 4, 5, 6), (30, 25, 20, 12, 8, 5))[0]
    lines: list[JSONDict] = []
    for item in rng.sample(_CATALOGUE, count):
        description, product_code, product_name, nominal, gbp, kind, vat = item
        rate = Decimal(gbp)
        if cur == "JPY":
            rate = (rate * 190).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        elif cur != "GBP":
            rate = money(rate * to_decimal(CURRENCIES[cur]["ExchangeRate"]))
        if kind == "hours":
            quantity = Decimal(rng.choice(("1", "1.5", "2", "2.5", "3", "4", "6", "7.5", "8")))
            # Keep line totals in whole pence: half hours only at even-penny rates.
            if (rate * 100) % 2:
                quantity = quantity.to_integral_value(rounding=ROUND_HALF_UP)
        elif kind == "units":
            quantity = Decimal(rng.randint(1, 10))
        elif kind == "days":
            quantity = Decimal(rng.randint(1, 3))
        else:
            quantity = Decimal(1)
        lines.append(
            {
                "Description": description,
                "ProductCode": product_code,
                "ProductName": product_name,
                "NominalCode": nominal,
                "Quantity": quantity,
                "Rate": rate,
                # Exports outside the UK are zero-rated.
                "VATLevel": Decimal(vat if cur == "GBP" else 0),
            }
        )
    return lines


_DEMO_CURRENCY = {
    "BIGCO01": "GBP",
    "ACME01": "GBP",
    "LONG01": "GBP",
    "MULLER01": "EUR",
    "BALA01": "EUR",
    "ALUFUQ01": "USD",
    "SAKURA01": "JPY",
}


def currency_code_of(code: str) -> str:
    """The currency of a generated demo customer."""
    return _DEMO_CURRENCY.get(code, "GBP")


def _gross_of(lines: list[JSONDict]) -> Decimal:
    return sum(
        (
            line["Quantity"] * line["Rate"]
            + money(line["Quantity"] * line["Rate"] * line["VATLevel"] / 100)
            for line in lines
        ),
        ZERO,
    )


def _payments(
    rng: random.Random,
    target: str,
    gross: Decimal,
    issued: date,
    due: date,
    today: date,
    style: DateStyle,
    code: str,
) -> list[JSONDict]:
    def on(day: date) -> str:
        return kf_date(min(max(day, issued), today), style)

    def payment(amount: Decimal, day: date) -> JSONDict:
        method, note = rng.choice(PAYMENT_METHODS)
        return {"Amount": amount, "Date": on(day), "Method": method, "Note": note}

    whole = Decimal(1) if currency_code_of(code) == "JPY" else CENT
    terms = max((due - issued).days, 1)
    if target in ("Paid", "Overpaid"):
        first_day = issued + timedelta(days=rng.randint(1, terms + 15))
        if rng.random() < 0.3:
            part = (gross * Decimal(rng.randint(30, 70)) / 100).quantize(whole)
            second_day = first_day + timedelta(days=rng.randint(1, 20))
            lines = [payment(part, first_day), payment(gross - part, second_day)]
        else:
            lines = [payment(gross, first_day)]
        if target == "Overpaid":
            extra = Decimal(rng.choice(("0.50", "5.00", "10.00", "25.00")))
            if whole == 1:
                extra = extra * 100
            extra_day = parse_kf_date(lines[-1]["Date"]) + timedelta(days=rng.randint(0, 10))
            lines.append(payment(extra, extra_day) | {"Note": "Paid twice in error"})
        return lines
    if target in ("Unpaid", "Overdue") and rng.random() < 0.35:
        part = (gross * Decimal(rng.randint(20, 60)) / 100).quantize(whole)
        return [payment(part, issued + timedelta(days=rng.randint(1, terms)))]
    return []


def _reminders(due: date, today: date) -> list[JSONDict]:
    letters: list[JSONDict] = []
    for number, after in enumerate((7, 21, 35), start=1):
        sent = due + timedelta(days=after)
        if sent > today:
            break
        letters.append({"IsSent": True, "Number": number, "SentDate": kf_date(sent, "plain")})
    if not letters:
        letters.append({"IsSent": True, "Number": 1, "SentDate": kf_date(today, "plain")})
    return letters


def _add_generated_invoices(data: SandboxData) -> None:
    rng = data.rng
    today = data.today
    codes = _slot_codes(rng)
    count = len(codes)
    first_day = today - timedelta(days=720)

    plans: list[dict[str, t.Any]] = []
    for index, code in enumerate(codes):
        number = _FIRST_GENERATED + index
        issued = first_day + timedelta(days=index * 716 // (count - 1))
        customer = data.customers[code]
        due = due_date(issued, customer["PaymentTerms"])
        plans.append(
            {
                "number": number,
                "code": code,
                "issued": issued,
                "due": due,
                "target": _pick_status(rng, due >= today),
            }
        )

    # Guarantees the docs and tests rely on, fixed after the random draw so that the rest of
    # the data does not shift when these rules change.
    by_number = {plan["number"]: plan for plan in plans}
    by_number[1043]["target"] = "Overdue"
    by_number[ACME_NUMBERS[-1]]["target"] = "Unpaid"
    for code, needed in (
        ("BIGCO01", STATUSES),
        ("ACME01", ("Paid", "Unpaid", "Overdue", "Overpaid")),
        ("MULLER01", ("Paid", "Overdue")),
    ):
        mine = [plan for plan in plans if plan["code"] == code]
        for status in needed:
            if any(plan["target"] == status for plan in mine):
                continue
            if status == "Unpaid":
                candidates = [p for p in reversed(mine) if p["due"] >= today]
            elif status == "Overdue":
                candidates = [p for p in mine if p["due"] < today and p["target"] == "Paid"]
            else:
                candidates = [p for p in mine if p["target"] == "Paid"]
            candidates = [p for p in candidates if p["number"] not in (1043, ACME_NUMBERS[-1])]
            if candidates:
                candidates[0]["target"] = status
    for plan in plans:
        if plan["code"] == "BALA01":
            # Matches the documented TotalPaidAmount of 120.87 and AverageDaysToPay of 5.
            plan["target"] = "Paid-BALA"

    for plan in plans:
        number, code, issued, due = plan["number"], plan["code"], plan["issued"], plan["due"]
        target: str = plan["target"]
        # Both date forms appear: every third invoice has no UTC offset.
        style: DateStyle = "plain" if number % 3 == 0 else "offset"
        if target == "Paid-BALA":
            lines: list[JSONDict] = [
                {"Description": "Translation services", "Rate": Decimal("120.87"), "VATLevel": 0}
            ]
            payments = [
                {
                    "Amount": Decimal("120.87"),
                    "Date": kf_date(min(issued + timedelta(days=5), today), style),
                }
            ]
            target = "Paid"
        else:
            lines = _line_items(rng, code, target)
            gross = _gross_of(lines)
            payments = _payments(rng, target, gross, issued, due, today, style, code)
        reference = ""
        if code == "BIGCO01":
            reference = f"PO-{40000 + number * 7 % 10000:05d}"
        elif code == "ACME01" and number % 2:
            reference = f"ACME/{issued.year}/{number % 1000:03d}"
        data.add_invoice(
            {
                "Number": number,
                "CustomerCode": code,
                "IssuedDate": kf_date(issued, style),
                "DueDate": kf_date(due, style),
                "CustomerReference": reference,
                "EmailCount": rng.randint(1, 3) if target != "NA" else 0,
                "LineItems": lines,
                "PaymentLines": payments,
                "ReminderLetters": _reminders(due, today) if target == "Overdue" else [],
                "UseCustomDeliveryAddress": bool(
                    data.customers[code].get("UseCustomDeliveryAddress")
                ),
            }
        )


__all__ = ["ACME_NUMBERS", "build_demo", "currency_code_of", "demo_business"]
