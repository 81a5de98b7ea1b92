"""The pages a link opens: an invoice, a customer's list, and the PDFs.

Each function takes a :class:`~.guard.Visit` the guard admitted and answers with a response;
what is shown is decided by the guard (:meth:`~.guard.Guard.invoice`) and the link's scope.
"""

from __future__ import annotations

import logging
import re
import typing as t
from datetime import date

from flask import Response
from flask import request

from .. import signals
from ..exceptions import KashFlowBadResponse
from ..exceptions import KashFlowDenied
from ..exceptions import KashFlowNotFound
from ..exceptions import KashFlowUnavailable
from ..fetch import Fetched
from ..fetch import Fetcher
from ..kashflow.models import same_customer
from .activity import LinkActivity
from .activity import notify
from .guard import Guard
from .guard import Refused
from .guard import Visit
from .pages import Pages
from .presenters import TABS
from .presenters import Formatter
from .presenters import ViewCache
from .presenters import customer_context
from .presenters import listing
from .presenters import offers_statement
from .presenters import pay_url

log = logging.getLogger(__name__)

_MAX_PAGE = 10_000
_PAGE_NUMBER = re.compile(r"[0-9]{1,5}")


class Views:
    """Renders what links open, from the guard's admitted visits."""

    def __init__(
        self,
        guard: Guard,
        fetcher: Fetcher,
        pages: Pages,
        formatter: Formatter,
        activity: LinkActivity,
        *,
        page_size: int,
    ) -> None:
        self.guard = guard
        self.fetcher = fetcher
        self.pages = pages
        self.formatter = formatter
        self.activity = activity
        self.page_size = page_size
        #: Formatted view models, per process, keyed by the data they were made from.
        self.cache = ViewCache()

    def _today(self) -> date:
        return self.formatter.today()

    def link(self, visit: Visit, base: str) -> Response:
        """An invoice link shows the invoice; a customer link the list. *base* is the link's
        own URL path (every URL on the page extends it)."""
        claims = visit.claims
        if claims.scope.is_invoice:
            response = self.invoice(visit, base, t.cast(int, claims.scope.invoice))
        else:
            response = self.customer(visit, base)
        notify(signals.link_opened, claims)
        return response

    def invoice(self, visit: Visit, base: str, number: int) -> Response:
        """The invoice page."""
        fetched = self.guard.invoice(visit, number)
        invoice = fetched.value
        today = self._today()
        claims, brand = visit.claims, visit.account.brand
        from_list = not claims.scope.is_invoice
        # Made (or found) on every request: the page's title depends on it.
        view = self.cache.get_or_make(
            ("invoice", fetched.key, fetched.fetched_at, today),
            lambda: self.formatter.invoice_view(invoice, today),
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

    def customer(self, visit: Visit, base: str) -> Response:
        """A customer's invoices within the link's scope."""
        scope = visit.claims.scope
        tab = request.args.get("status", scope.status)
        if tab not in dict(TABS[scope.status]):
            raise Refused(self.pages.not_found())
        page_arg = request.args.get("page", "1")
        # ASCII digits only: str.isdigit() also admits "²", which int() refuses.
        if not _PAGE_NUMBER.fullmatch(page_arg) or not 1 <= int(page_arg) <= _MAX_PAGE:
            raise Refused(self.pages.not_found())
        page = int(page_arg)
        fetched = self.fetcher.customer_invoices(visit.account, t.cast(str, scope.customer))
        today = self._today()

        def context() -> dict[str, t.Any]:
            rows = self.cache.get_or_make(
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
                statement=offers_statement(scope, self.fetcher.has_statements(visit.account)),
            )
            if found is None:
                raise Refused(self.pages.not_found())
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
        claims, account = visit.claims, visit.account
        scope = claims.scope
        if scope.is_invoice:
            return self.invoice_pdf(visit, t.cast(int, scope.invoice))
        if not offers_statement(scope, self.fetcher.has_statements(account)):
            raise Refused(self.pages.not_found())
        customer = self.fetcher.customer(account, t.cast(str, scope.customer)).value
        link = self.fetcher.statement_link(account, customer)
        if not same_customer(customer.code, t.cast(str, scope.customer)) or link is None:
            raise Refused(self.pages.not_found())
        data = self.document(visit, link)
        notify(signals.pdf_downloaded, claims, document="statement")
        self.activity.record_open(claims)
        return _pdf_response(data, f"statement-{_safe_name(customer.code)}.pdf")

    def invoice_pdf(self, visit: Visit, number: int) -> Response:
        """The PDF of one invoice the link may show."""
        invoice = self.guard.invoice(visit, number).value
        if not invoice.permalink:
            raise Refused(self.pages.not_found())
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
        """The PDF behind a KashFlow document link, or :class:`Refused` with the "document
        unavailable" page (KashFlow sent a page instead of a PDF, refused the document, sent
        it elsewhere, or is down with no copy cached). The invoice itself still opens."""
        try:
            return self.fetcher.document(visit.account, link).value
        except (KashFlowNotFound, KashFlowBadResponse, KashFlowDenied, KashFlowUnavailable) as e:
            log.warning("document of link %s unavailable: %s", visit.claims.link_id, e)
            back = request.path.removesuffix("/pdf")
            status = 404 if isinstance(e, KashFlowNotFound) else 503
            page = self.pages.document_unavailable(visit.account.brand, back, status)
            raise Refused(page) from None


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


__all__ = ["Views"]
