"""The staff page: mint a link for a client, see what is live, withdraw a link.

Behind a deliberately simple demo login (one shared password). A real site would use its own
authentication; the calls into the portal are the same.
"""

from __future__ import annotations

import functools
import hmac
import secrets
import typing as t
from datetime import timedelta
from urllib.parse import quote

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from werkzeug.wrappers import Response

from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links import Link

staff = Blueprint("staff", __name__, url_prefix="/staff")
links = KashFlowLinks()

EXPIRY_CHOICES = {
    "": None,
    "30": timedelta(days=30),
    "90": timedelta(days=90),
    "365": timedelta(days=365),
}


@staff.after_request
def _no_store(response: Response) -> Response:
    # Staff pages show live links (a freshly minted URL is a client's key): keep them out of
    # the browser's disk cache and any shared cache.
    response.headers["Cache-Control"] = "no-store"
    return response


def _csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return t.cast(str, session["csrf"])


def _check_csrf() -> None:
    sent = request.form.get("csrf", "")
    if not hmac.compare_digest(sent, session.get("csrf", "")):
        abort(400, "The form expired; reload the page and try again.")


def login_required(view: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
    @functools.wraps(view)
    def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
        if not session.get("staff"):
            return redirect(url_for("staff.login", next=request.path))
        return view(*args, **kwargs)

    return wrapper


@staff.route("/login", methods=["GET", "POST"])
def login() -> t.Any:
    error = None
    if request.method == "POST":
        _check_csrf()
        password = current_app.config["STAFF_PASSWORD"]
        if hmac.compare_digest(request.form.get("password", ""), password):
            session["staff"] = True
            return redirect(url_for("staff.index"))
        error = "That password is not right."
    return render_template("staff_login.html", error=error, csrf=_csrf_token())


@staff.route("/logout", methods=["POST"])
def logout() -> Response:
    _check_csrf()
    session.pop("staff", None)
    return redirect(url_for("home"))


@staff.route("/", methods=["GET"])
@login_required
def index(minted: dict[str, str] | None = None) -> str:
    customer = request.args.get("customer", "").strip() or None
    return render_template(
        "staff.html",
        live=links.active_links(customer=customer),
        customer=customer or "",
        minted=minted,
        csrf=_csrf_token(),
    )


@staff.route("/mint", methods=["POST"])
@login_required
def mint() -> Response | str:
    _check_csrf()
    kind = request.form.get("kind", "customer")
    expires_in = EXPIRY_CHOICES.get(request.form.get("expires", ""))
    try:
        if kind == "invoice":
            link: Link = links.mint_invoice(
                int(request.form.get("number", "")), expires_in=expires_in
            )
        else:
            code = request.form.get("code", "").strip()
            if not code:
                raise ValueError("Enter the client's KashFlow customer code.")
            link = links.mint_customer(
                code, status=request.form.get("status", "all"), expires_in=expires_in
            )
    except ValueError as e:
        flash(str(e) if "invalid literal" not in str(e) else "Enter an invoice number.")
        return redirect(url_for("staff.index"))
    # Shown once, in this response, for copying into an email. Not kept anywhere (not even
    # in the session cookie, which is signed but readable): the portal never stores tokens.
    subject = f"Your invoices from {current_app.config['KASHFLOW_LINKS_BRAND']['name']}"
    return index(
        minted={
            "url": link.url,
            "opens": link.scope.describe(),
            "link_id": link.link_id,
            "mailto": f"mailto:?subject={quote(subject)}&body={quote(link.url)}",
        }
    )


@staff.route("/revoke", methods=["POST"])
@login_required
def revoke() -> Response:
    _check_csrf()
    link_id = request.form.get("link_id", "")
    try:
        links.revoke(link_id)
        flash(f"Link {link_id} withdrawn. It stopped working everywhere at once.")
    except ValueError:
        flash("That is not a link id.")
    return redirect(url_for("staff.index"))


@staff.route("/revoke-customer", methods=["POST"])
@login_required
def revoke_customer() -> Response:
    _check_csrf()
    code = request.form.get("code", "").strip()
    if code:
        count = links.revoke_customer(code)
        flash(f"Every link for {code} minted until now is withdrawn ({count} listed).")
    return redirect(url_for("staff.index", customer=code))
