"""The staff blueprint's routes (under the ``url_prefix`` the host registers it with).

* ``GET /``: customers, what each owes, and their live links (``?q=`` searches, ``?owing=``
  filters)
* ``GET /customers/<code>``: one customer: invoices (``?status=``, ``?page=``), live links,
  the forms to mint, send and revoke
* ``POST /customers/<code>/mint``, ``/send``, ``/revoke``: mint a link (shown once, in the
  answer), email a live link to the addresses on file, revoke one link
* ``GET`` and ``POST /customers/<code>/revoke-all``: the confirmation, then revoking every link
* ``GET /reminders``: the form, and with ``?status=`` the dry run; ``POST /reminders``: remind
  exactly the customers the dry run showed

Before any route, ``authorize()`` (the host's) decides; then every POST must carry the
visitor's form token and come from this site (:mod:`.forms`). Every POST answers with the page
itself, never a redirect: a minted link's URL appears in that answer only, never in a URL, a
redirect, the session or a log line.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from dataclasses import field

from flask import Blueprint
from flask import Flask
from flask import Response
from flask import request
from flask import url_for
from flask.blueprints import BlueprintSetupState
from werkzeug.wrappers import Response as BaseResponse

from ..exceptions import KashFlowError
from ..exceptions import KashFlowNotFound
from ..exceptions import StoreUnavailable
from ..fetch.owing import CustomerSummary
from ..kashflow.models import Invoice
from ..kashflow.models import customer_key
from ..links.claims import CustomerScope
from ..links.link import Link
from ..links.store.base import LinkRecord
from ..mail import MailError
from ..staff_api import StaffAPI
from . import forms
from .pages import forbidden
from .pages import form_refused
from .pages import formatter
from .pages import problem
from .pages import protect
from .pages import render
from .parts import parts
from .presenters import STATUS_WORDS
from .presenters import LinkView
from .presenters import Presenter

#: The blueprint's name (its endpoints are ``kashflow_links_staff.<route>``).
NAME = "kashflow_links_staff"
#: Invoices per page of a customer's list.
PAGE_SIZE = 50
#: Methods that change nothing, so carry no form token.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: The invoice tabs of a customer's page.
TABS = ("all", "unpaid", "overdue", "paid")

KASHFLOW_DOWN = "KashFlow is not answering just now: try again in a few minutes."
#: What a page says when KashFlow could not say what a customer owes.
KASHFLOW_DOWN_NOTE = (
    KASHFLOW_DOWN + " What customers owe cannot be shown, and no link can be minted or sent; "
    "links can still be revoked."
)

NOT_LIVE = "Nothing {}: that is not a live link of this customer."

Authorize = t.Callable[[], t.Any]


def make_blueprint(authorize: Authorize) -> Blueprint:
    """The staff blueprint: every route asks *authorize* first (see
    :meth:`~flask_kashflow_links.KashFlowLinks.staff_blueprint`)."""
    if authorize is None or not callable(authorize):
        raise TypeError(
            "staff_blueprint() needs authorize=, a callable that says whether the current "
            "visitor is staff (True), is not (False: 403), or returns a response such as a "
            "redirect to your login page. The staff pages are never open to everyone."
        )
    blueprint = Blueprint(NAME, __name__, template_folder="../templates")
    blueprint.record_once(_check_app)

    @blueprint.before_request
    def admit() -> BaseResponse | None:
        """``authorize()`` first, on every route and method; then, for a POST, the origin and
        the form token."""
        verdict = authorize()
        if isinstance(verdict, BaseResponse):
            return verdict
        if verdict is False or verdict is None:
            return forbidden()
        if verdict is not True:
            # A truthy object is not a yes: Flask-Login's anonymous user is truthy.
            raise TypeError(
                "authorize() must return True, False or a response, not "
                f"{type(verdict).__name__} (e.g. lambda: current_user.is_authenticated)"
            )
        if request.method not in SAFE_METHODS and not (
            forms.same_origin() and forms.form_token_is_valid(request.form.get("form_token"))
        ):
            return form_refused()
        return None

    blueprint.after_request(protect)

    @blueprint.errorhandler(KashFlowError)
    def kashflow_down(error: KashFlowError) -> Response:
        """KashFlow failed where a page did not expect it: say so (nothing was changed)."""
        return problem(503, "KashFlow is not answering", "Nothing was changed. " + KASHFLOW_DOWN)

    @blueprint.errorhandler(StoreUnavailable)
    def store_down(error: StoreUnavailable) -> Response:
        return problem(
            503,
            "The link store is not answering",
            "Links cannot be listed, minted or revoked just now. Nothing was changed. Try "
            "again in a few minutes.",
        )

    @blueprint.route("/")
    def customers() -> Response:
        """The customers, what each owes and their live links."""
        return _customers()

    @blueprint.route("/customers/<code>")
    def customer(code: str) -> Response:
        """One customer: their invoices, live links and the forms."""
        tab = request.args.get("status", "all")
        page = request.args.get("page", "1")
        if tab not in TABS or not page.isdigit() or int(page) < 1:
            return problem(400, "No such page", "Choose a tab or a page from the list.")
        view = CustomerPage.load(code, tab=tab, page=int(page))
        return view.render()

    @blueprint.route("/customers/<code>/mint", methods=["POST"])
    def mint(code: str) -> Response:
        """Mint a link (KashFlow asked first) and show its URL, this once."""
        view = CustomerPage.load(code)
        if view.summary is None:
            refused = 503 if view.down else 404
            return view.render(error="No link minted. " + view.missing(), status=refused)
        try:
            kind = forms.choice(request.form.get("kind"), ("invoice", "customer"), "a link")
            expires_in = forms.expiry(request.form.get("expires"))
            if kind == "invoice":
                number = forms.invoice_number(request.form.get("number"))
                link = view.api.mint_invoice(
                    number, customer=view.code, expires_in=expires_in, verify=True
                )
            else:
                status = forms.link_status(request.form.get("status"))
                link = view.api.mint_customer(
                    view.code, status=status, expires_in=expires_in, verify=True
                )
        except (ValueError, KashFlowNotFound) as e:
            return view.render(error=_sentence(e), status=400)
        except KashFlowError:
            return view.render(error="No link minted. " + KASHFLOW_DOWN, status=503)
        return view.render(minted=_minted(link))

    @blueprint.route("/customers/<code>/send", methods=["POST"])
    def send(code: str) -> Response:
        """Email one of the customer's live links to their addresses on file."""
        view = CustomerPage.load(code)
        link_id = view.live_link(request.form.get("link_id"))
        if link_id is None:
            return view.render(error=NOT_LIVE.format("sent"), status=400)
        try:
            sent = view.api.send(link_id)
        except MailError as e:
            return view.render(error=f"Nothing sent: the mail server said {e}", status=502)
        except KashFlowError:
            return view.render(error="Nothing sent. " + KASHFLOW_DOWN, status=503)
        except ValueError as e:  # no address on file, no mail settings, link gone
            return view.render(error=_sentence(e), status=400)
        return view.render(notice=f"Sent link {sent.link_id} to {', '.join(sent.to)}.")

    @blueprint.route("/customers/<code>/revoke", methods=["POST"])
    def revoke(code: str) -> Response:
        """Revoke one of the customer's live links."""
        view = CustomerPage.load(code)
        link_id = view.live_link(request.form.get("link_id"))
        if link_id is None:
            return view.render(error=NOT_LIVE.format("revoked"), status=400)
        view.api.revoke(link_id)
        return view.render(notice=f"Revoked link {link_id}: it stopped working at once.")

    @blueprint.route("/customers/<code>/revoke-all")
    def confirm_revoke_all(code: str) -> Response:
        """Ask before revoking every link of the customer (changes nothing)."""
        view = CustomerPage.load(code, invoices=False)
        if view.unknown:
            return view.render()
        return render(
            "kashflow_links/staff/revoke_all.html",
            f"Revoke every link of {view.name}",
            code=view.code,
            name=view.name,
            links=view.link_views(),
        )

    @blueprint.route("/customers/<code>/revoke-all", methods=["POST"])
    def revoke_all(code: str) -> Response:
        """Revoke every link of the customer minted until now."""
        view = CustomerPage.load(code)
        if view.unknown:
            return view.render(error="Nothing revoked. " + view.missing(), status=404)
        count = view.api.revoke_customer(view.code)
        plural = "s" if count != 1 else ""
        return view.render(
            notice=f"Revoked every link of {view.code} minted until now ({count} live "
            f"link{plural}). Links you mint from now on work."
        )

    @blueprint.route("/reminders")
    def reminders() -> Response:
        """The reminders form; with ``?status=`` and ``?every=``, the dry run."""
        if "status" not in request.args:
            return _reminders_page(status="overdue", every="7")
        return _dry_run(request.args.get("status"), request.args.get("every"))

    @blueprint.route("/reminders", methods=["POST"])
    def send_reminders() -> Response:
        """Remind exactly the customers the dry run showed (``customer`` fields)."""
        status, every = request.form.get("status"), request.form.get("every")
        try:
            codes = forms.customer_codes(request.form.getlist("customer"))
            result = parts().extension.remind(
                status=forms.remind_status(status),
                every=forms.period(every),
                customers=codes,
            )
        except forms.FormError as e:
            return _reminders_page(status=status, every=every, error=str(e), code=400)
        except KashFlowError:
            return _reminders_page(
                status=status, every=every, error="Nothing sent. " + KASHFLOW_DOWN, code=503
            )
        present = Presenter(formatter()).reminder
        return _reminders_page(
            status=status,
            every=every,
            done=True,
            reminded=[present(r) for r in result.sent],
            skipped=[present(r) for r in result.skipped],
            failed=[present(r) for r in result.failed],
        )

    return blueprint


def _check_app(state: BlueprintSetupState) -> None:
    """At registration: the extension must be initialised on the app (its templates, static
    files and parts), and the app must have a secret key (the session holds the visitor's
    form token value)."""
    app = t.cast(Flask, state.app)
    with app.app_context():
        parts()
    if not app.secret_key:
        raise RuntimeError(
            "the staff pages need Flask's SECRET_KEY: their form tokens are bound to the "
            "visitor through the signed session cookie. Set SECRET_KEY."
        )


def _sentence(error: Exception) -> str:
    text = str(error).strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else text + "."


def _minted(link: Link) -> dict[str, str]:
    """What the page shows of a link just minted: its URL this once, for copying."""
    scope = link.scope
    opens = (
        STATUS_WORDS[scope.status]
        if isinstance(scope, CustomerScope)
        else f"Invoice {scope.invoice}"
    )
    return {
        "url": link.url,
        "link_id": link.link_id,
        "opens": opens,
        "expires": formatter().until(link.expires_at) if link.expires_at else "Never",
    }


# -- the customers ---------------------------------------------------------------------------------


def _customers() -> Response:
    api = parts().extension
    query = request.args.get("q", "").strip()
    owing = request.args.get("owing", "")
    if owing not in forms.OWING:
        return problem(400, "No such list", "Choose which customers to show from the list.")
    present = Presenter(formatter())
    records = api.active_links()
    by_customer: dict[str, list[LinkRecord]] = {}
    for record in records:
        if record.customer:
            by_customer.setdefault(customer_key(record.customer), []).append(record)
    status = 200
    note = None
    try:
        summaries: list[CustomerSummary] | None = api.customers(owing=owing or None)
    except KashFlowError:
        summaries, status, note = None, 503, KASHFLOW_DOWN_NOTE
    if summaries is not None:
        rows = [present.customer(s, by_customer.get(customer_key(s.code), ())) for s in summaries]
    else:  # the customers the register knows, with their links
        codes = {customer_key(r.customer): r.customer for r in records if r.customer}
        rows = [present.unknown_customer(c, by_customer[k]) for k, c in sorted(codes.items())]
    if query:
        wanted = query.casefold()
        rows = [r for r in rows if wanted in r.code.casefold() or wanted in r.name.casefold()]
    return render(
        "kashflow_links/staff/customers.html",
        "Customers",
        status=status,
        rows=rows,
        query=query,
        owing=owing,
        note=note,
        unlisted=sum(1 for r in records if not r.customer),
    )


@dataclass
class CustomerPage:
    """One customer's page: what KashFlow says of them (when it answers) and their live links,
    loaded before any action so that a KashFlow failure changes nothing."""

    api: StaffAPI
    code: str
    present: Presenter
    summary: CustomerSummary | None
    links: list[LinkRecord]
    tab: str = "all"
    page: int = 1
    #: Invoices by tab, when KashFlow answered.
    invoices: dict[str, list[Invoice]] = field(default_factory=dict)
    #: Whether KashFlow could not be asked.
    down: bool = False

    @classmethod
    def load(
        cls, code: str, *, tab: str = "all", page: int = 1, invoices: bool = True
    ) -> CustomerPage:
        """What KashFlow says of customer *code* (and, with *invoices*, their invoices by
        tab), and their live links; a KashFlow failure is remembered, not raised."""
        api = parts().extension
        present = Presenter(formatter())
        summary = None
        down = False
        found: dict[str, list[Invoice]] = {}
        try:
            key = customer_key(code)
            summary = next((s for s in api.customers() if customer_key(s.code) == key), None)
            if summary is not None and invoices:
                found = {status: api.invoices(summary.code, status=status) for status in TABS}
        except KashFlowError:
            down = True
        code = summary.code if summary is not None else code
        links = api.active_links(customer=code)
        return cls(api, code, present, summary, links, tab, page, found, down)

    @property
    def name(self) -> str:
        return self.summary.name if self.summary is not None else self.code

    @property
    def unknown(self) -> bool:
        """KashFlow says there is no such customer and the register has no link of theirs."""
        return self.summary is None and not self.down and not self.links

    def missing(self) -> str:
        """Why the page shows no balance or invoices."""
        if self.down:
            return KASHFLOW_DOWN_NOTE
        return f"KashFlow has no customer {self.code}."

    def live_link(self, value: str | None) -> str | None:
        """*value* if it is the id of one of the customer's live links."""
        ids = {r.link_id for r in self.links}
        return value if value in ids else None

    def link_views(self) -> list[LinkView]:
        return [self.present.link(r) for r in self.links]

    def render(
        self,
        *,
        status: int | None = None,
        minted: dict[str, str] | None = None,
        notice: str | None = None,
        error: str | None = None,
    ) -> Response:
        """The customer's page, with what an action did (*notice*, *minted*) or why not
        (*error*); a 404 page for a customer nobody knows."""
        # An action may have changed the links: read them again.
        self.links = self.api.active_links(customer=self.code)
        if self.unknown and not (minted or notice or error):
            return problem(404, "No such customer", self.missing())
        today = self.present.formatter.today()
        rows = self.invoices.get(self.tab, [])
        pages = max(1, -(-len(rows) // PAGE_SIZE))
        page = min(self.page, pages)

        def tab_url(tab: str, page_number: int = 1) -> str:
            args: dict[str, t.Any] = {"status": tab} if tab != "all" else {}
            if page_number > 1:
                args["page"] = str(page_number)
            return url_for(f"{NAME}.customer", code=self.code, **args)

        return render(
            "kashflow_links/staff/customer.html",
            self.name,
            status=status or (503 if self.down else 200),
            code=self.code,
            customer=(self.present.customer(self.summary, self.links) if self.summary else None),
            note=self.missing() if self.summary is None else None,
            tabs=[
                {
                    "label": label,
                    "url": tab_url(key),
                    "current": key == self.tab,
                    "count": len(self.invoices.get(key, [])),
                }
                for key, label in zip(TABS, ("All", "Unpaid", "Overdue", "Paid"), strict=True)
            ]
            if self.invoices
            else [],
            invoices=[
                self.present.invoice(i, today)
                for i in rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
            ],
            tab=self.tab,
            page=page,
            pages=pages,
            prev_url=tab_url(self.tab, page - 1) if page > 1 else None,
            next_url=tab_url(self.tab, page + 1) if page < pages else None,
            links=self.link_views(),
            minted=minted,
            notice=notice,
            error=error,
        )


# -- reminders -------------------------------------------------------------------------------------


def _dry_run(status: str | None, every: str | None) -> Response:
    try:
        plan = parts().extension.remind(
            status=forms.remind_status(status), every=forms.period(every), dry_run=True
        )
    except forms.FormError as e:
        return _reminders_page(status=status, every=every, error=str(e), code=400)
    except KashFlowError:
        return _reminders_page(status=status, every=every, error=KASHFLOW_DOWN, code=503)
    present = Presenter(formatter()).reminder
    return _reminders_page(
        status=status,
        every=every,
        planned=True,
        reminded=[present(r) for r in plan.sent],
        skipped=[present(r) for r in plan.skipped],
    )


def _reminders_page(
    *, status: str | None, every: str | None, code: int = 200, **context: t.Any
) -> Response:
    context.setdefault("reminded", [])
    context.setdefault("skipped", [])
    context.setdefault("failed", [])
    return render(
        "kashflow_links/staff/reminders.html",
        "Reminders",
        status=code,
        chosen_status=status if status in ("overdue", "unpaid") else "overdue",
        chosen_every=every if every in forms.PERIODS else "7",
        periods=forms.PERIODS,
        **context,
    )
