"""The portal blueprint: ``/invoices/<token>`` and the pages under it."""

from __future__ import annotations

import logging

from flask import Blueprint
from flask import Response

from .access import check_link
from .exceptions import LinkExpired
from .exceptions import LinkInvalid
from .exceptions import LinkRevoked
from .exceptions import StoreUnavailable
from .extension import get_state

log = logging.getLogger(__name__)

blueprint = Blueprint(
    "kashflow_links",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/kashflow-links-static",
)


def _plain(status: int, text: str) -> Response:
    return Response(text + "\n", status=status, mimetype="text/plain")


@blueprint.route("/invoices/<token>")
def open_link(token: str) -> Response:
    """Open a link: for now, a plain page saying what it opens."""
    state = get_state()
    try:
        claims = check_link(state, token)
    except LinkInvalid:
        return _plain(404, "This link is not valid.")
    except LinkRevoked:
        return _plain(410, "This link has been withdrawn.")
    except LinkExpired:
        return _plain(410, "This link has expired.")
    except StoreUnavailable:
        log.error("link store unavailable; refusing links until it is back", exc_info=True)
        return _plain(503, "Temporarily unavailable. Please try again shortly.")
    return _plain(200, f"This link opens {claims.scope.describe()}.")


@blueprint.after_request
def _security_headers(response: Response) -> Response:
    # The URL is the credential: keep it out of referrers, shared caches and search engines.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


__all__ = ["blueprint"]
