"""The site's staff sign-in, in front of the staff pages the portal ships.

A deliberately simple demo login (one shared password). A real site would use its own
authentication (Flask-Login, say): only :func:`staff_only` changes, the door the shipped staff
pages ask before every request (``links.staff_blueprint(authorize=staff_only)``).
"""

from __future__ import annotations

import hmac
import secrets
import typing as t

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from werkzeug.wrappers import Response

sign_in = Blueprint("staff_login", __name__, url_prefix="/staff")

#: Where the shipped staff pages are mounted (app.py registers them there).
STAFF_PAGES = "kashflow_links_staff.customers"


def staff_only() -> bool | Response:
    """The staff pages' ``authorize``: signed-in staff pass; anyone else signs in first."""
    if session.get("staff") is True:
        return True
    return redirect(url_for("staff_login.login", next=request.path))


@sign_in.after_request
def _no_store(response: Response) -> Response:
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


@sign_in.route("/login", methods=["GET", "POST"])
def login() -> t.Any:
    error = None
    if request.method == "POST":
        _check_csrf()
        password = current_app.config["STAFF_PASSWORD"]
        if hmac.compare_digest(request.form.get("password", ""), password):
            session["staff"] = True
            wanted = request.args.get("next", "")
            # Only back to a staff page of this site: never to an address from the query.
            if not wanted.startswith("/staff/"):
                wanted = url_for(STAFF_PAGES)
            return redirect(wanted)
        error = "That password is not right."
    return render_template(
        "staff_login.html", error=error, csrf=_csrf_token(), signed_in=session.get("staff")
    )


@sign_in.route("/logout", methods=["POST"])
def logout() -> Response:
    _check_csrf()
    session.clear()  # the staff pages' form tokens end with the session
    return redirect(url_for("home"))
