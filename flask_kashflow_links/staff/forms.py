"""The staff pages' forms: form tokens, the origin check, and what each field may hold.

**Form tokens** are bound to the visitor: a random value kept in Flask's signed session cookie,
handed out signed with itsdangerous (Flask's ``SECRET_KEY``, with ``SECRET_KEY_FALLBACKS``,
under a salt of its own) and good for :data:`FORM_TOKEN_MAX_AGE`. A token made for one session
is worthless in another, and signing out (the host clearing its session) voids every form
token of the session.

**The origin check** asks the browser where a POST came from. Staff POSTs withdraw and send
clients' links, so they need positive evidence: ``Sec-Fetch-Site: same-origin`` (every current
browser sends it), else an ``Origin`` naming this host. The portal's renewal form is laxer (it
also admits a request with neither, for old browsers: its form token is bound to one expired
link); staff use their own, current browsers.
"""

from __future__ import annotations

import hmac
import secrets
import typing as t
from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app
from flask import request
from flask import session
from itsdangerous import BadData
from itsdangerous import URLSafeTimedSerializer

from ..fetch import owing
from ..links.claims import STATUSES
from ..sending import REMIND_STATUSES

#: Where the visitor's random value lives in the session.
SESSION_KEY = "_kashflow_links_staff"
#: The salt of form tokens: a value signed for any other purpose is not a form token.
SALT = "flask-kashflow-links.staff-form"
#: How long a page's forms stay good: a working day.
FORM_TOKEN_MAX_AGE = 8 * 3600

#: The expiry choices of a minted link (field value -> lifetime; ``None``: never).
EXPIRY: dict[str, timedelta | None] = {
    "never": None,
    "30": timedelta(days=30),
    "90": timedelta(days=90),
    "365": timedelta(days=365),
}
#: The reminder periods: a customer reminded more recently than this is skipped.
PERIODS: dict[str, timedelta] = {
    "7": timedelta(days=7),
    "14": timedelta(days=14),
    "30": timedelta(days=30),
}
#: What a customer list may be filtered by (``""``: every customer).
OWING = ("", *owing.OWING)

#: Invoice numbers are positive and fit the link format.
_MAX_NUMBER = 2**31 - 1
#: Longer than any KashFlow customer code (and than a link's 255 bytes).
_MAX_CODE = 255


class FormError(ValueError):
    """A field holds something the form does not offer; the message says what to do."""


def _serializer() -> URLSafeTimedSerializer:
    app = current_app
    # itsdangerous signs with the last key and accepts any: Flask's own order for the session.
    keys = [*(app.config.get("SECRET_KEY_FALLBACKS") or ()), app.secret_key]
    return URLSafeTimedSerializer(keys, salt=SALT)


def form_token() -> str:
    """A form token for the current visitor (their random value is made on first use)."""
    nonce = session.get(SESSION_KEY)
    if not isinstance(nonce, str):
        nonce = secrets.token_urlsafe(24)
        session[SESSION_KEY] = nonce
    return _serializer().dumps(nonce)


def form_token_is_valid(value: str | None) -> bool:
    """Whether *value* is a form token of the current visitor's, made within
    :data:`FORM_TOKEN_MAX_AGE`."""
    nonce = session.get(SESSION_KEY)
    if not value or not isinstance(nonce, str):
        return False
    try:
        sent = _serializer().loads(value, max_age=FORM_TOKEN_MAX_AGE)
    except BadData:
        return False
    return isinstance(sent, str) and hmac.compare_digest(sent, nonce)


def same_origin() -> bool:
    """Whether the browser says this POST came from this site's own pages."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site == "same-origin"
    origin = request.headers.get("Origin")
    if not origin or origin == "null":
        return False
    try:
        return urlsplit(origin).netloc == request.host
    except ValueError:  # not a URL, so not this site
        return False


# -- fields --------------------------------------------------------------------------------------


def choice(value: str | None, choices: t.Collection[str], what: str) -> str:
    """*value* if it is one of *choices*, else :class:`FormError` naming *what*."""
    if value not in choices:
        raise FormError(f"Choose {what} from the list.")
    return t.cast(str, value)


def expiry(value: str | None) -> timedelta | None:
    """The lifetime a link form asks for."""
    return EXPIRY[choice(value, EXPIRY, "when the link expires")]


def link_status(value: str | None) -> str:
    """Which invoices a customer link opens."""
    return choice(value, STATUSES, "which invoices the link opens")


def remind_status(value: str | None) -> str:
    """Whom a reminder run is for."""
    return choice(value, REMIND_STATUSES, "whom to remind")


def period(value: str | None) -> timedelta:
    """How often a customer may be reminded."""
    return PERIODS[choice(value, PERIODS, "how often a customer may be reminded")]


def invoice_number(value: str | None) -> int:
    """An invoice number typed by staff."""
    text = (value or "").strip()
    if not text.isascii() or not text.isdigit() or not 0 < int(text) <= _MAX_NUMBER:
        raise FormError("Enter an invoice number in digits, such as 1043.")
    return int(text)


def customer_codes(values: list[str]) -> list[str]:
    """The customer codes a "send these" form carries."""
    codes = [v.strip() for v in values]
    if not codes or any(not c or len(c) > _MAX_CODE for c in codes):
        raise FormError("No customers to remind: show who would be reminded first.")
    return codes
