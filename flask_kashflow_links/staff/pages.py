"""Rendering the staff pages: the configured layout, the problem pages, the headers.

Staff pages are rendered like the portal's, in the configured layout
(``KASHFLOW_LINKS_BASE_TEMPLATE``, else the portal's own ``kashflow_links/base.html``) with the
same ``kfl`` context, and wear the site's brand. Nothing of them is kept: they show live data
and per-visitor form tokens.
"""

from __future__ import annotations

import typing as t

from flask import Response
from flask import render_template
from flask import url_for

from ..formatting import Formatter
from ..formatting import brand_colours
from .forms import form_token
from .parts import parts

#: The headers of every staff response: the pages show live link URLs (a client's key) and
#: change what clients can open, so they are kept out of every cache, referrer, search engine
#: and frame.
STAFF_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
#: Only framing is forbidden: the host's layout may carry its own scripts and styles (a host
#: policy set later wins).
FRAME_POLICY = "frame-ancestors 'none'"


def protect(response: Response) -> Response:
    """Add :data:`STAFF_HEADERS` (and a policy forbidding frames) to *response*."""
    response.headers.update(STAFF_HEADERS)
    response.headers.setdefault("Content-Security-Policy", FRAME_POLICY)
    return response


def formatter() -> Formatter:
    """Money and dates in the application's locale and time zone."""
    settings = parts().settings
    return Formatter(settings.locale, settings.timezone)


def render(template: str, title: str, *, status: int = 200, **context: t.Any) -> Response:
    """Render a staff page in the configured layout, with the page context ``kfl``, the
    site's ``brand`` and ``form_token()``, the visitor's form token (made on first call, so
    a page without forms sets no session cookie)."""
    settings = parts().settings
    brand = settings.brand
    static = "kashflow_links.static"  # the portal's own static files, always registered
    kfl = {
        "brand": brand,
        "title": title,
        "base_template": settings.base_template,
        "stylesheet_url": url_for(static, filename="kashflow_links/portal.css"),
        "staff_stylesheet_url": url_for(static, filename="kashflow_links/staff.css"),
        "brand_css_url": url_for("kashflow_links.brand_css", colours=brand_colours(brand)),
        "lang": settings.locale.split("_")[0],
        "fragment": None,
    }
    token: list[str] = []

    def page_form_token() -> str:
        if not token:
            token.append(form_token())
        return token[0]

    html = render_template(template, kfl=kfl, brand=brand, form_token=page_form_token, **context)
    return Response(html, status=status, mimetype="text/html")


def problem(status: int, heading: str, message: str, **context: t.Any) -> Response:
    """A page saying what went wrong and what to do (``kashflow_links/staff/problem.html``)."""
    return render(
        "kashflow_links/staff/problem.html",
        heading,
        status=status,
        heading=heading,
        message=message,
        **context,
    )


def forbidden() -> Response:
    """403: ``authorize`` said no."""
    return problem(
        403,
        "You can't open this page",
        "These pages are for the business's staff. Sign in with a staff account and try again.",
        nav=False,
    )


def form_refused() -> Response:
    """400: the form token or the request's origin was not right."""
    return problem(
        400,
        "This form has expired",
        "Nothing was changed. The form was too old, or was sent from another site. Go back, "
        "reload the page and try again.",
    )
