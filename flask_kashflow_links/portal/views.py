"""The pages a link opens: an invoice, a customer's list, and the PDFs.

Each view takes a :class:`~.guard.Visit` the guard admitted and answers with a response; every
piece of data comes from the guard, which decides what the link may show.
"""

from __future__ import annotations

import logging
import re
import typing as t
from datetime import date

from flask import Response
from flask import abort
from flask import request

from .. import signals
from ..cache import Memo
from ..exceptions import KashFlowBadResponse
from ..exceptions import KashFlowDenied
from ..exceptions import KashFlowNotFound
from ..exceptions import KashFlowUnavailable
from ..fetch import Fetched
from ..formatting import Formatter
from ..links.claims import CustomerScope
from ..links.claims import InvoiceScope
from .activity import LinkActivity
from .activity import notify
from .guard import Guard
from .guard import Visit
from .pages import Pages
from .presenters import TABS
from .presenters import customer_context
from .presenters import invoice_view
from .presenters import listing
from .presenters import pay_url

log = logging.getLogger(__name__)

_MAX_PAGE = 10_000
_PAGE_NUMBER = re.compile(r"[0-9]{1,5}")


class Views:
    """Renders what links open, from the guard's admitted visits.

    :param page_size: invoices per page of a customer's list.
    """

    def __init__(
        self,
        guard: Guard,
        pages: Pages,
        formatter: Formatter,
        activity: LinkActivity,
        *,
        page_size: int,
    ) -> None:
        self.guard = guard
        self.pages = pages
        self.formatter = formatter
        self.activity = activity
        self.page_size = page_size
        #: Formatted view models, per process, keyed by the data they were made from
        #: (formatting is most of what a page costs to render).
        self.models = Memo(1024)

    def _today(self) -> date:
        return self.formatter.today()

    def link(self, visit: Visit, base: str) -> Response:
        """An invoice link shows the invoice; a customer link the list. *base* is the link's
        own URL path (every URL on the page extends it)."""
        scope = visit.claims.scope
        if isinstance(scope, InvoiceScope):
            response = self.invoice(visit, base, scope.invoice)
        else:
            response = self.customer(visit, base, scope)
        notify(signals.link_opened, visit.claims)
        return response

    def invoice(self, visit: Visit, base: str, number: int) -> Response:
        """The invoice page."""
        fetched = self.guard.invoice(visit, number)
        invoice = fetched.value
        today = self._today()
        claims, brand = visit.claims, visit.account.brand
        from_list = not claims.scope.is_invoice
        # Made (or found) on every request: the page's title depends on it.
        view = self.models.get_or_make(
            ("invoice", fetched.key, fetched.fetched_at, today),
            lambda: invoice_view(self.formatter, invoice, today),
        )

        def context() -> dict[str, t.Any]:
            # The route shapes are fixed: /invoices/<token>[/<number>]/pdf.
            pdf_url = f"{base}/{number}/pdf" if from_list else f"{base}/pdf"
            return {
                "invoice": view,
                "pdf_url": pdf_url if view.has_pdf else None,
                "pay_url": pay_url(brand, invoice) if view.owes else None,
                "back_url": base if from_list else None,
                **self._as_of(fetched),
            }

        key = ("invoice", base, number, claims.scope, _version(fetched), today)
        response = self.pages.page(
            key, "kashflow_links/invoice.html", brand, f"{view.kind} {number}", context
        )
        notify(signals.invoice_viewed, claims, customer=invoice.customer_code, invoice=number)
        self.activity.record_open(claims)
        return response

    def customer(self, visit: Visit, base: str, scope: CustomerScope) -> Response:
        """A customer's invoices within the link's scope."""
        tab = request.args.get("status", scope.status)
        if tab not in dict(TABS[scope.status]):
            abort(self.pages.not_found())
        page_arg = request.args.get("page", "1")
        # ASCII digits only: str.isdigit() also admits "²", which int() refuses.
        if not _PAGE_NUMBER.fullmatch(page_arg) or not 1 <= int(page_arg) <= _MAX_PAGE:
            abort(self.pages.not_found())
        page = int(page_arg)
        fetched = self.guard.invoices(visit)
        today = self._today()

        def context() -> dict[str, t.Any]:
            rows = self.models.get_or_make(
                ("list", fetched.key, fetched.fetched_at, today, scope.customer, scope.status),
                lambda: listing(self.formatter, fetched.value, scope, today),
            )
            found = customer_context(
                rows,
                scope,
                base,
                tab=tab,
                page=page,
                page_size=self.page_size,
                statement=self.guard.offers_statement(visit),
            )
            if found is None:
                abort(self.pages.not_found())
            return {**self._as_of(fetched), **found}

        key = ("customer", base, scope, tab, page, _version(fetched), today)
        response = self.pages.page(
            key, "kashflow_links/customer.html", visit.account.brand, "Your invoices", context
        )
        self.activity.record_open(visit.claims)
        return response

    def _as_of(self, fetched: Fetched[t.Any]) -> dict[str, t.Any]:
        """The "as of" note's context: when data past its fresh window was fetched, and
        whether a fresh copy is on its way."""
        stale = fetched.stale
        return {
            "as_of": self.formatter.moment(fetched.as_of) if stale else None,
            "refreshing": stale and fetched.refreshing,
        }

    # -- PDFs ----------------------------------------------------------------------------------

    def link_pdf(self, visit: Visit) -> Response:
        """The invoice PDF of an invoice link; a statement PDF for an all-invoices link."""
        scope = visit.claims.scope
        if isinstance(scope, InvoiceScope):
            return self.invoice_pdf(visit, scope.invoice)
        link = self.guard.statement_link(visit)
        if link is None:
            abort(self.pages.not_found())
        data = self.document(visit, link)
        notify(signals.pdf_downloaded, visit.claims, document="statement")
        self.activity.record_open(visit.claims)
        return _pdf_response(data, f"statement-{_safe_name(scope.customer)}.pdf")

    def invoice_pdf(self, visit: Visit, number: int) -> Response:
        """The PDF of one invoice the link may show."""
        invoice = self.guard.invoice(visit, number).value
        if not invoice.permalink:
            abort(self.pages.not_found())
        data = self.document(visit, invoice.permalink)
        notify(
            signals.pdf_downloaded,
            visit.claims,
            customer=invoice.customer_code,
            invoice=number,
            document="invoice",
        )
        self.activity.record_open(visit.claims)
        return _pdf_response(data, f"invoice-{number}.pdf")

    def document(self, visit: Visit, link: str) -> bytes:
        """The PDF behind a KashFlow document link, or the "document unavailable" page
        (KashFlow sent a page instead of a PDF, refused the document, sent it elsewhere, or is
        down with no copy cached). The invoice itself still opens."""
        try:
            return self.guard.document(visit, link)
        except (KashFlowNotFound, KashFlowBadResponse, KashFlowDenied, KashFlowUnavailable) as e:
            log.warning("document of link %s unavailable: %s", visit.claims.link_id, e)
            back = request.path.removesuffix("/pdf")
            status = 404 if isinstance(e, KashFlowNotFound) else 503
            abort(self.pages.document_unavailable(visit.account.brand, back, status))


def _version(fetched: Fetched[t.Any]) -> tuple[str, float, bool, bool]:
    """What identifies a piece of data as shown: its cache key and fetch time, and whether it
    is stale or being refreshed (the page's "as of" note)."""
    return (fetched.key, fetched.fetched_at, fetched.stale, fetched.refreshing)


def _pdf_response(data: bytes, filename: str) -> Response:
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Content-Length"] = str(len(data))
    return response


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text)[:60] or "customer"
