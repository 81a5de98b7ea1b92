"""How stored records are presented on the wire: the list row, the invoice and the customer.

The store keeps each record in its fullest form. A *shape* decides which fields a response
carries, so the REST routes never change when the shape does.
"""

from __future__ import annotations

import typing as t

from .values import JSONDict

#: Detail-only fields KashFlow's list omits (see the documented list example).
_DETAIL_ONLY = frozenset({"Permalink", "PackingSlipPermalink", "ReminderLetters"})


def invoice_summary(invoice: t.Mapping[str, t.Any]) -> JSONDict:
    """The list form of *invoice*, as ``GET /v2/invoices`` returns it.

    KashFlow's list omits the document links and reminder letters and nulls out the
    collections (see the documented list example), so a client must call the detail endpoint
    for permalinks and line items.
    """
    summary = {key: value for key, value in invoice.items() if key not in _DETAIL_ONLY}
    summary["LineItems"] = None
    summary["PaymentLines"] = None
    summary["DeliveryAddress"] = None
    return summary


class Shape(t.Protocol):
    """Presents stored records as one reading of KashFlow's API."""

    name: str

    def invoice_row(self, invoice: JSONDict) -> JSONDict:
        """The row of ``GET /v2/invoices`` for *invoice*."""

    def invoice(self, invoice: JSONDict) -> JSONDict:
        """The body of ``GET /v2/invoices/{number}``."""

    def customer(self, customer: JSONDict) -> JSONDict:
        """The body of ``GET /v2/customers/{code}``."""


class SwaggerShape:
    """The fields of KashFlow's published Swagger, which the store holds as they are."""

    name = "swagger"

    def invoice_row(self, invoice: JSONDict) -> JSONDict:
        """The stored invoice without its detail-only fields."""
        return invoice_summary(invoice)

    def invoice(self, invoice: JSONDict) -> JSONDict:
        """The stored invoice itself."""
        return invoice

    def customer(self, customer: JSONDict) -> JSONDict:
        """The stored customer itself."""
        return customer


#: The shapes by name.
SHAPES: dict[str, Shape] = {"swagger": SwaggerShape()}


__all__ = ["SHAPES", "Shape", "SwaggerShape", "invoice_summary"]
