"""The portal blueprint's routes (under the blueprint's ``url_prefix``).

* ``GET /invoices/<token>``: an invoice link shows the invoice; a customer link the list
* ``GET /invoices/<token>/<number>``: one invoice inside a customer link's scope
* ``GET /invoices/<token>/pdf`` and ``/invoices/<token>/<number>/pdf``: the PDF, streamed
* ``POST /invoices/<token>/renew``: email a fresh link for an expired one

Routes only: each one enters the :class:`~.guard.Guard` with its link token, then hands the
admitted visit to :mod:`.views` or :mod:`.renew`.
"""

from __future__ import annotations

import logging

from flask import Blueprint
from flask import Response
from flask import abort
from flask import url_for

from ..redaction import RedactLinkTokens
from .guard import Guard
from .pages import Pages
from .pages import brand_stylesheet
from .renew import Renewal
from .views import Views

log = logging.getLogger(__name__)
# The error handler logs tracebacks, whose exception messages may quote the URL.
log.addFilter(RedactLinkTokens())


def make_blueprint(guard: Guard, views: Views, renewal: Renewal, pages: Pages) -> Blueprint:
    """The blueprint of one application's portal, whose routes use these parts."""
    blueprint = Blueprint(
        "kashflow_links",
        __name__,
        # Templates and static files stay at the package's top level (their documented paths).
        template_folder="../templates",
        static_folder="../static",
        static_url_path="/kashflow-links-static",
    )

    @blueprint.route("/invoices/<token>")
    def open_link(token: str) -> Response:
        """An invoice link shows the invoice; a customer link shows the list."""
        with guard.visiting(token) as visit:
            return views.link(visit, url_for("kashflow_links.open_link", token=token))

    @blueprint.route("/invoices/<token>/<int:number>")
    def open_invoice(token: str, number: int) -> Response:
        """One invoice inside a customer link's scope (404 outside it)."""
        with guard.visiting(token) as visit:
            base = url_for("kashflow_links.open_link", token=token)
            return views.invoice(visit, base, number)

    @blueprint.route("/invoices/<token>/pdf")
    def link_pdf(token: str) -> Response:
        """The invoice PDF of an invoice link; a statement PDF for an all-invoices link."""
        with guard.visiting(token) as visit:
            return views.link_pdf(visit)

    @blueprint.route("/invoices/<token>/<int:number>/pdf")
    def invoice_pdf(token: str, number: int) -> Response:
        """The PDF of one invoice inside a customer link's scope."""
        with guard.visiting(token) as visit:
            return views.invoice_pdf(visit, number)

    @blueprint.route("/invoices/<token>/renew", methods=["POST"])
    def renew(token: str) -> Response:
        """Email a fresh link for an expired one (see :mod:`.renew`)."""
        with guard.visiting(token, allow_expired=True) as visit:
            return renewal.handle(visit, token)

    @blueprint.route("/kashflow-links/brand/<colours>.css")
    def brand_css(colours: str) -> Response:
        """The accent colours as a tiny stylesheet (no inline styles, so the CSP stays
        strict)."""
        css = brand_stylesheet(colours)
        if css is None:
            abort(404)
        return Response(css, mimetype="text/css")

    @blueprint.errorhandler(500)
    def server_error(error: Exception) -> Response:
        # A bug must still give the client a page with the business's contacts, not a
        # traceback.
        original = getattr(error, "original_exception", None) or error
        log.error("portal error", exc_info=original)
        return pages.server_error()

    return blueprint
