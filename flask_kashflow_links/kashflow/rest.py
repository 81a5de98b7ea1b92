"""KashFlow's REST API v2 as a :class:`~.backend.Backend`: lists, paging, documents, statements.

Lists are read in the ``Data``/``MetaData`` envelope with ``perpage=100`` sorted by ``Number``.
Anything the server sends is checked rather than trusted: page sizes, filters and URLs in
``MetaData`` may differ from what was asked, and a document link is only ever fetched from the
configured API host. Logging in and the ``KfToken`` header are :mod:`.rest_http`'s job.

KashFlow's official invoice detail example has no ``CustomerCode``; its list rows do. So a
detail that names no customer is placed from its own list row: the account's invoice list,
sorted by ``Number``, is searched page by page (a guess from the numbers seen, alternating with
bisection, so a handful of pages even for a large account).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import time
import typing as t
from functools import partial
from urllib.parse import quote
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

import requests

from ..exceptions import KashFlowAuthError
from ..exceptions import KashFlowBadResponse
from ..exceptions import KashFlowDenied
from ..exceptions import KashFlowError
from ..exceptions import KashFlowNotFound
from .backend import Connection
from .backend import Login
from .http import CALLS_AT_ONCE
from .http import PROBE_MAX_BYTES
from .http import HttpOptions
from .http import follow_redirects
from .http import origin
from .http import pdf_body
from .http import run_together
from .models import UNPAID
from .models import Customer
from .models import Invoice
from .models import customer_key
from .models import same_customer
from .parsing import as_mapping
from .parsing import parse_int
from .rest_http import KfTokenAuth
from .rest_http import RestSessions
from .rest_http import RestTransport
from .rest_probe import Probe
from .session import LOGIN_COOLDOWN
from .session import SessionTokens

log = logging.getLogger(__name__)

T = t.TypeVar("T")

#: Page size asked for when listing (servers may return fewer per page).
PER_PAGE = 100
#: A bound on pages followed, so a server that never says "last page" cannot loop us.
MAX_PAGES = 1000
#: A list's parameters: full pages, sorted by number (the portal's order, and the one the
#: account's list is searched in).
SORTED_BY_NUMBER = {"perpage": PER_PAGE, "sortby": "Number", "order": "Asc"}
#: Pages of one list asked for at once, after the first.
PAGE_CONCURRENCY = CALLS_AT_ONCE
#: KashFlow's list filter values for the portal's statuses (the ``filterby`` parameter).
STATUS_FILTERS = {"unpaid": "Unpaid", "overdue": "Overdue", "paid": "Paid"}
#: Details read, at most, to learn what is owed on list rows that cannot say (see
#: :meth:`RestBackend.list_invoices`).
MAX_DETAILS_PER_LIST = 25
#: Pages looked at, at most, to find one invoice's row (bisection covers 2**10 pages).
MAX_PROBES = 12
#: One page of the list: its rows and ``MetaData.TotalRecords`` (``None`` when not sent).
_InvoicesAndTotal = tuple[list[Invoice], "int | None"]


class RestBackend:
    """Talks to one KashFlow REST v2 API (``base_url``) for any number of accounts.

    :param base_url: e.g. ``https://api.kashflow.com/v2``.
    :param tokens: where session tokens, login locks and cool-downs are kept.
    :param timeout: ``(connect, read)`` seconds for every call.
    :param retries: retries for connection errors, 429, 502, 503, 504 and SQL timeouts.
    :param backoff: base of the exponential backoff, in seconds.
    :param max_retry_after: the longest ``Retry-After`` honoured, in seconds.
    :param login_cooldown: seconds without logins after a refused login or ``AccountLocked``.
    """

    api = "rest"
    #: KashFlow's REST API has customer statements.
    statements = True
    #: Its customer list sorts by what each customer owes.
    customers_by_balance = True

    def __init__(
        self,
        base_url: str,
        *,
        tokens: SessionTokens,
        timeout: tuple[float, float] = (3.05, 10.0),
        retries: int | None = None,
        backoff: float | None = None,
        max_retry_after: float | None = None,
        login_cooldown: float = LOGIN_COOLDOWN,
        sleep: t.Callable[[float], None] = time.sleep,
    ) -> None:
        options = HttpOptions.of(timeout, retries, backoff, max_retry_after)
        self.transport = RestTransport(base_url, options, sleep=sleep)
        self.base_url = self.transport.base_url
        self.stats = self.transport.stats
        self.sessions = RestSessions(self.transport, tokens, login_cooldown=login_cooldown)

    @property
    def timeout(self) -> tuple[float, float]:
        """``(connect, read)`` seconds for every call."""
        return self.transport.timeout

    @property
    def max_call_seconds(self) -> float:
        """The longest one call may take, retries included."""
        connect, read = self.transport.timeout
        return (connect + read) * (self.transport.retries + 1)

    # -- authorised calls ----------------------------------------------------------------------

    def _get(
        self,
        login: Login,
        url: str,
        *,
        params: dict[str, t.Any] | None = None,
        stream: bool = False,
        accept: str | None = None,
    ) -> requests.Response:
        """GET with the account's session token; one fresh login after a refused one, at most."""
        headers = {"Accept": accept} if accept else None
        return self.transport.send(
            "GET",
            url,
            params=params,
            headers=headers,
            stream=stream,
            auth=KfTokenAuth(self.sessions, login),
        )

    def get_invoice(self, login: Login, number: int) -> Invoice:
        """The full invoice *number*, with its customer code.

        KashFlow's official detail example names no customer (``CustomerCode`` is only in the
        Swagger copy); such a detail is placed from its own row of the invoice list, which
        carries the code. When no row is found the code stays empty, and no link can see it.

        :raises KashFlowNotFound: KashFlow has no such invoice.
        :raises KashFlowBadResponse: the answer is not that invoice.
        """
        invoice = self._detail(login, number)
        if not invoice.customer_code:
            invoice = self._placed(login, invoice)
        return invoice

    def _detail(self, login: Login, number: int) -> Invoice:
        """``GET /invoices/{number}`` as KashFlow sends it.

        What a missing invoice returns is not documented: a 404, a 400 with an error body
        (other than the transient SQL timeout) and a 200 whose body is ``null`` all mean
        "not found".
        """
        what = f"invoice {number}"
        url = self.transport.url(f"/invoices/{int(number)}")
        response = self._get(login, url)
        if response.status_code not in (200, 201):
            raise self.transport.error(response, what, by_number=True)
        data = self.transport.json(response, what)
        if data is None:
            raise KashFlowNotFound(f"KashFlow has no {what} (it answered null)")
        invoice = Invoice.from_api(data, detailed=True)
        if invoice is None:
            raise KashFlowBadResponse(f"KashFlow's answer for {what} is not an invoice")
        if invoice.number != number:
            raise KashFlowBadResponse(f"asked KashFlow for {what}, got invoice {invoice.number}")
        return invoice

    def _placed(self, login: Login, invoice: Invoice) -> Invoice:
        """*invoice* with the customer code of its list row, when the row is found and is the
        same invoice (same ``CustomerId`` when both say)."""
        row = _locate(lambda page: self._page(login, page), invoice.number, max_pages=MAX_PAGES)
        if row is None or not row.customer_code:
            log.warning("invoice %s names no customer and is not in the list", invoice.number)
            return invoice
        ids = (invoice.customer_id, row.customer_id)
        if None not in ids and ids[0] != ids[1]:
            log.warning("invoice %s: the detail and its list row disagree", invoice.number)
            return invoice
        return dataclasses.replace(invoice, customer_code=row.customer_code)

    def _page(self, login: Login, page: int) -> _InvoicesAndTotal:
        """One page of the account's invoice list sorted by number, and its total count."""
        params = {**SORTED_BY_NUMBER, "page": page}
        listed = self._list_page(login, self.transport.url("/invoices"), params, "the list")
        found = [i for i in (Invoice.from_api(row) for row in listed.rows) if i is not None]
        return found, parse_int(listed.meta.get("TotalRecords"))

    def list_invoices(
        self, login: Login, *, customer: str | None = None, status: str | None = None
    ) -> list[Invoice]:
        """Every invoice (summaries) of *customer* (of the account, if ``None``), optionally
        asking KashFlow to filter by *status*, following pages to the end. Sorted by number.

        The server's filtering is a hint, not a guarantee: callers must check each invoice's
        ``CustomerCode`` and ``Status`` themselves.
        """
        params: dict[str, t.Any] = dict(SORTED_BY_NUMBER)
        if customer is not None:
            params["customercode"] = customer
        if status is not None and status != "all":
            params["filterby"] = STATUS_FILTERS[status]
        what = f"the invoices of {customer}" if customer else "the invoice list"
        found = self._read_all(login, "/invoices", params, what, _invoice_row)
        return self._with_amounts_due(login, sorted(found, key=lambda row: row.number))

    def list_owing(self, login: Login) -> list[Invoice]:
        """Every invoice of the account still owed: KashFlow's ``Unpaid`` list, then its
        ``Overdue`` list, each row re-checked; sorted by number.

        Two lists, because KashFlow's ``filterby`` may keep each status apart (what ``Unpaid``
        holds is not documented). When the first list holds anything but ``Unpaid`` rows, the
        server's filter is broader than that (or ignored), and the second is not asked for.
        """
        unpaid = self.list_invoices(login, status="unpaid")
        found = {row.number: row for row in unpaid}
        if all(row.status == UNPAID for row in unpaid):
            for row in self.list_invoices(login, status="overdue"):
                found.setdefault(row.number, row)
        return [found[n] for n in sorted(found) if found[n].is_unpaid]

    def list_customers(self, login: Login, *, owing_only: bool = False) -> list[Customer]:
        """The account's customers, read from ``/customers`` sorted by ``OutstandingBalance``,
        largest first. With *owing_only*, reading stops after the page where the balances, so
        far in that order, reach nothing owed; a server that ignores the order or sends no
        balances is read to the end."""

        def enough(customers: list[Customer]) -> bool:
            balances = [c.outstanding_balance for c in customers]
            known = [b for b in balances if b is not None]
            return (
                owing_only
                and bool(known)
                and len(known) == len(balances)
                and all(a >= b for a, b in itertools.pairwise(known))
                and known[-1] <= 0
            )

        params = {"perpage": PER_PAGE, "sortby": "OutstandingBalance", "order": "Desc"}
        return self._read_all(
            login, "/customers", params, "the customer list", _customer_row, enough=enough
        )

    def _read_all(
        self,
        login: Login,
        path: str,
        params: dict[str, t.Any],
        what: str,
        read: t.Callable[[t.Any], tuple[t.Hashable, T] | None],
        *,
        enough: t.Callable[[list[T]], bool] | None = None,
    ) -> list[T]:
        """Every row of a paged list, in the order sent, read by *read* into ``(key, row)``
        (``None`` skips a row; a key seen before is a repeat). Stops early once *enough* says
        so of the rows read.

        Page 1 comes first; when it says how many rows there are, the remaining pages are
        fetched side by side, :data:`PAGE_CONCURRENCY` at a time; any page still missing then
        follows one after another, as when the server gives no count.
        """
        url = self.transport.url(path)
        found: dict[t.Hashable, T] = {}

        def page_of(number: int) -> _Page:
            return self._list_page(login, url, {**params, "page": number}, what)

        def done() -> bool:
            return enough is not None and enough(list(found.values()))

        first = page_of(1)
        more = _collect(first, found, read) and not done()
        page = 1
        total = parse_int(first.meta.get("TotalRecords"))
        if total is not None and first.rows:
            # KashFlow said how many: ask for the other pages together, a few at a time (a
            # server ignoring "page" costs one such round, not one call per page it claims).
            # The page size is what the server sent: it may cap perpage below what was asked.
            last = min(MAX_PAGES, -(-total // len(first.rows)))
            while more and page < last:
                numbers = range(page + 1, min(last, page + PAGE_CONCURRENCY) + 1)
                calls = [partial(page_of, n) for n in numbers]
                answers = run_together(calls, limit=PAGE_CONCURRENCY)
                more = all([_collect(answer, found, read) for answer in answers]) and not done()
                page = numbers[-1]
        while more:
            if page >= MAX_PAGES:
                raise KashFlowBadResponse(f"KashFlow kept paging {what} past {MAX_PAGES} pages")
            page += 1
            more = _collect(page_of(page), found, read) and not done()
        return list(found.values())

    def _with_amounts_due(self, login: Login, rows: list[Invoice]) -> list[Invoice]:
        """*rows*, with what is owed on each unpaid one taken from its detail when the row
        cannot say: no ``DueAmount`` (KashFlow's documented rows have none) and a
        ``TotalPaidAmount`` in the home currency that is not the invoice's. Part-paid
        invoices in another currency are rare, so at most :data:`MAX_DETAILS_PER_LIST`."""
        unknown = [i for i, row in enumerate(rows) if row.is_unpaid and row.due_amount is None]

        def detail_of(row: Invoice) -> Invoice | None:
            try:
                return self._detail(login, row.number)
            except (KashFlowNotFound, KashFlowBadResponse, KashFlowDenied) as e:
                log.warning("what is owed on invoice %s is unknown: %s", row.number, e)
                return None

        # Independent of each other: asked for together, PAGE_CONCURRENCY at a time.
        indexes = unknown[:MAX_DETAILS_PER_LIST]
        calls = [partial(detail_of, rows[index]) for index in indexes]
        details = run_together(calls, limit=PAGE_CONCURRENCY)
        for index, detail in zip(indexes, details, strict=True):
            if detail is not None:
                rows[index] = dataclasses.replace(
                    rows[index], due_amount=detail.due_amount, payments=detail.payments
                )
        return rows

    def _list_page(self, login: Login, url: str, params: dict[str, t.Any], what: str) -> _Page:
        """One page of a list: its rows and ``MetaData``."""
        # Pages are numbered by us: MetaData URLs are never followed, so a misbehaving
        # server cannot send the session token to another host.
        response = self._get(login, url, params=params)
        data = self.transport.json(response, what)
        rows, meta = _envelope(data, what)
        return _Page(rows, meta, bare=isinstance(data, list))

    def get_customer(self, login: Login, code: str) -> Customer:
        """The customer *code*.

        :raises KashFlowNotFound: KashFlow has no such customer.
        """
        what = f"customer {code}"
        url = self.transport.url(f"/customers/{quote(code, safe='')}")
        data = self.transport.json(self._get(login, url), what)
        customer = Customer.from_api(data)
        if customer is None or not same_customer(customer.code, code):
            raise KashFlowBadResponse(f"KashFlow's answer for {what} is not that customer")
        return customer

    def document_url(self, permalink: str) -> str:
        """The absolute URL of a KashFlow document permalink, on the API host only.

        Permalinks are API-relative (``/v2/documents/invoice/<guid>``; some samples lack the
        leading slash). An absolute permalink is accepted only for the configured API host,
        because fetching it sends the account's session token.
        """
        base = urlsplit(self.base_url)
        link = urlsplit(permalink.strip())
        if (link.scheme or link.netloc) and (link.scheme, link.netloc) != (
            base.scheme,
            base.netloc,
        ):
            raise KashFlowBadResponse("a document link points outside the KashFlow API")
        path = "/" + link.path.lstrip("/")
        base_path = base.path.rstrip("/")
        if path.startswith("/v2/") and base_path.endswith("/v2"):
            path = base_path[: -len("/v2")] + path
        elif not path.startswith(base_path + "/"):
            path = base_path + path
        segments = path.split("/")
        if ".." in segments or "." in segments or "documents" not in segments:
            raise KashFlowBadResponse("a document link is not a KashFlow document path")
        return urlunsplit((base.scheme, base.netloc, path, link.query, ""))

    def get_document(self, login: Login, permalink: str, *, max_bytes: int) -> bytes:
        """The PDF behind a document permalink, fetched with the account's session token.

        Asks for ``application/pdf`` and follows redirects that stay on the API host.

        :raises KashFlowBadResponse: not a PDF (an HTML page, say), a redirect to another
            host, truncated, or larger than *max_bytes*.
        :raises KashFlowDenied: KashFlow refused this document to the session.
        """
        response = self._document_response(login, self.document_url(permalink))
        if response.status_code != 200:
            with response:  # closed once the error has read KashFlow's error body
                raise self.transport.error(response, "document")
        return pdf_body(
            response, max_bytes=max_bytes, deadline=time.monotonic() + sum(self.timeout)
        )

    def _document_response(self, login: Login, url: str) -> requests.Response:
        """The (streamed) answer for a document, after the redirects that stay on the API
        host. A redirect elsewhere is refused: the session token never leaves that host."""
        return follow_redirects(
            partial(self._get, login, stream=True, accept="application/pdf"),
            url,
            checked=self._on_api_host,
        )

    def _on_api_host(self, url: str) -> str:
        """*url*, if it has the configured API's scheme, host and port.

        :raises KashFlowBadResponse: it has not (and the log says where it pointed).
        """
        if origin(url) != origin(self.base_url):
            log.warning(
                "KashFlow redirected a document to %s, not the API host %s: not followed, "
                "so that the session token stays with KashFlow",
                urlsplit(url).netloc or "an address without a host",
                urlsplit(self.base_url).netloc,
            )
            raise KashFlowBadResponse("KashFlow redirected a document to another host")
        return url

    def statement_link(self, customer: Customer) -> str | None:
        """The customer's statement of all invoices (``filterby=All`` ignores dates)."""
        if not customer.key:
            return None
        return f"/v2/documents/customerstatement/{quote(customer.key, safe='')}?filterby=All"

    # -- the connection check ------------------------------------------------------------------

    def connect(self, login: Login, *, force: bool = False) -> Connection:
        """Log in afresh (a refused login pauses logins, as the portal's would), count the
        account's invoices, then probe which shape its answers have (:mod:`.rest_probe`:
        reads only).

        :raises KashFlowAccountLocked: logins are paused (unless *force*) or the user is locked.
        :raises KashFlowAuthError: the login was refused, or the session was refused for calls
            (an IP restriction is likely).
        """
        tokens, namespace = self.sessions.tokens, login.namespace
        if not force:
            self.sessions.raise_if_paused(login)
        try:
            result = self.sessions.login(login.credentials)
        except KashFlowAuthError:
            # Like the portal: a refused login pauses logins, so retries cannot lock the user.
            tokens.start_cooldown(namespace, self.sessions.login_cooldown)
            raise
        tokens.store(namespace, result.session_token)
        tokens.clear_cooldown(namespace)
        warnings = []
        if result.has_temporary_password:
            warnings.append("the user has a temporary password; change it in KashFlow")
        if result.subscription_expired:
            warnings.append("KashFlow says the subscription has expired")
        try:
            params = {"page": 1, "perpage": PER_PAGE, "sortby": "Number", "order": "Desc"}
            response = self._get(login, self.transport.url("/invoices"), params=params)
            data = self.transport.json(response, "the invoice list")
            rows, meta = _envelope(data, "the invoice list")
        except (KashFlowAuthError, KashFlowDenied) as e:
            raise KashFlowAuthError(
                "logged in, but KashFlow refused the session for API calls: an IP restriction "
                "is likely (or the user may not read invoices). Allow this server's address "
                f"in Apps > API Settings > Restrict Access. ({e})",
                step="session",
                error_code=e.error_code,
            ) from None
        except KashFlowError as e:
            raise type(e)(f"logged in, but listing invoices failed: {e}") from None
        report = Probe(
            lambda url, **kwargs: self._get(login, url, **kwargs),
            self.transport.url,
            lambda link: self.get_document(login, link, max_bytes=PROBE_MAX_BYTES),
            self.document_url,
        ).run(rows, meta if isinstance(data, dict) and data.get("MetaData") else None)
        return Connection(
            company_name=result.company_name,
            invoices=parse_int(meta.get("TotalRecords")),
            warnings=tuple(warnings),
            findings=tuple(report.findings),
            problems=tuple(report.problems),
            memorable_word_positions=result.memorable_word_positions,
        )


class _Page(t.NamedTuple):
    """One page of a list as KashFlow sent it."""

    rows: list[t.Any]
    meta: t.Mapping[str, t.Any]
    #: A bare array instead of the ``Data``/``MetaData`` envelope (it cannot page).
    bare: bool


def _collect(
    page: _Page,
    found: dict[t.Hashable, T],
    read: t.Callable[[t.Any], tuple[t.Hashable, T] | None],
) -> bool:
    """Add *page*'s rows to *found*; whether another page may follow."""
    new = 0
    for raw in page.rows:
        row = read(raw)
        if row is not None and row[0] not in found:
            found[row[0]] = row[1]
            new += 1
    if not page.rows or new == 0 or page.bare:
        return False  # the end, or a server ignoring "page" and repeating itself
    total = parse_int(page.meta.get("TotalRecords"))
    if total is not None:
        # The count decides: a page may be shorter than asked, or NextPageUrl wrong.
        return len(found) < total
    return not ("NextPageUrl" in page.meta and not page.meta["NextPageUrl"])


def _invoice_row(raw: t.Any) -> tuple[t.Hashable, Invoice] | None:
    invoice = Invoice.from_api(raw)
    return None if invoice is None else (invoice.number, invoice)


def _customer_row(raw: t.Any) -> tuple[t.Hashable, Customer] | None:
    customer = Customer.from_api(raw)
    return None if customer is None else (customer_key(customer.code), customer)


def _envelope(data: t.Any, what: str) -> tuple[list[t.Any], t.Mapping[str, t.Any]]:
    """The rows and the ``MetaData`` of a list answer (``MetaData`` may be missing or null).

    :raises KashFlowBadResponse: the answer has no ``Data`` list.
    """
    if isinstance(data, list):  # a bare array: tolerate, but it cannot page
        return data, {}
    if isinstance(data, dict) and isinstance(data.get("Data"), list):
        return data["Data"], as_mapping(data.get("MetaData"))
    raise KashFlowBadResponse(f"KashFlow's answer for {what} has no Data list")


def _locate(
    fetch_page: t.Callable[[int], _InvoicesAndTotal], number: int, *, max_pages: int
) -> Invoice | None:
    """The row of invoice *number* in a list sorted by number, ascending, read one page at a
    time with *fetch_page* (pages 1 to *max_pages*); ``None`` if it is not listed (or not
    found in :data:`MAX_PROBES` pages, on a server whose pages are not what they claim)."""
    low, high = 1, max_pages
    size = 0
    page = 1
    for probe in range(MAX_PROBES):
        rows, total = fetch_page(page)
        for row in rows:
            if row.number == number:
                return row
        guess: int | None = None
        if not rows:
            high = page - 1
        else:
            if not size:
                size = len(rows)
                if total is not None:
                    high = min(high, max(1, -(-total // size)))
            first, last = min(r.number for r in rows), max(r.number for r in rows)
            if first < number < last:
                return None  # within this page's numbers, yet not listed
            if number < first:
                high = page - 1
                guess = page - -(-(first - number) // size)
            else:
                low = page + 1
                guess = page + -(-(number - last) // size)
        if low > high:
            return None
        if guess is None or probe % 2:
            # Every other probe bisects: numbers with gaps cannot make the search linear.
            guess = (low + high) // 2
        page = min(max(guess, low), high)
    return None
