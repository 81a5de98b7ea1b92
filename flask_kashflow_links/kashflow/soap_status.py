"""What KashFlow's SOAP ``Status NO`` answers mean, and what an operator should do about them.

KashFlow reports failures as ``Status`` ``NO`` with a human-readable ``StatusDetail`` inside an
HTTP 200 answer. Only two texts are known from working clients: "Incorrect username or
password" (a wrong user, a wrong password, or the wrong password *mode*) and "The IP address of
<ip> is not in the access list". The texts for "SOAP not enabled" and for a record that does not
exist are unconfirmed, so they are recognised by their likely words, and anything else is read
as a failure that may pass (never as "not found", which would hide an outage behind a 404, and
never as a refused password, which would withdraw embed-mode links).
"""

from __future__ import annotations

import re

#: A refusal of the credentials themselves (a wrong user, password or password mode). The
#: value names a kind of refusal; it is no password.
PASSWORD = "password"  # noqa: S105  # nosec B105
#: A refusal of this server's address (Restrict Access to specific IP addresses).
IP = "ip"
#: The SOAP API is not switched on for the account.
DISABLED = "disabled"

_KINDS = (
    (IP, re.compile(r"\bIP address\b|\baccess list\b", re.IGNORECASE)),
    (
        DISABLED,
        re.compile(
            r"\bnot (?:been )?enabled\b|\bdisabled\b|\benable (?:the )?SOAP\b|\bAPI access\b",
            re.IGNORECASE,
        ),
    ),
    (
        PASSWORD,
        re.compile(
            r"\bpassword\b|\busername\b|\buser name\b|\blog ?in\b|\bauthenticat",
            re.IGNORECASE,
        ),
    ),
)
_NOT_FOUND = re.compile(
    r"\bno (?:such )?(?:invoice|customer|record|payment)s?\b|\bthere (?:is|are) no\b|"
    r"\bnot found\b|\bdoes not exist\b|\bcould not (?:be )?f(?:ou)?nd\b|"
    r"\b(?:cannot|can't|unable to) find\b",
    re.IGNORECASE,
)

#: Each refusal's likely causes, with the fix for each, for ``flask kashflow-links check``.
CAUSES = {
    PASSWORD: (
        "Password mode: KashFlow's Apps > API Settings offers 'Use login password' or "
        "'Separate API password'. With a separate API password set, the web login password is "
        "refused (and the other way round). Configure the password the account is set to use.",
        "Username: use the KashFlow login username shown in Apps > API Settings (usually the "
        "sign-in email address).",
    ),
    IP: (
        "IP access list: 'Restrict Access to specific IP addresses' is on in Apps > API "
        "Settings and this server's outgoing address is not listed. Add it (every server that "
        "serves the portal or runs its commands), or turn the restriction off. KashFlow's "
        "AutoAuthIP (enable AutoAuth in API Settings for a key) adds a caller's address for "
        "applications that cannot know it in advance.",
    ),
    DISABLED: (
        "SOAP API switched off: tick 'Enable SOAP API' in KashFlow under Apps > API Settings.",
    ),
}


def refusal_kind(detail: str) -> str | None:
    """:data:`PASSWORD`, :data:`IP` or :data:`DISABLED` when *detail* refuses the caller;
    ``None`` for anything else."""
    for kind, pattern in _KINDS:
        if pattern.search(detail):
            return kind
    return None


def is_not_found(detail: str) -> bool:
    """Whether *detail* says the record asked for does not exist."""
    return bool(_NOT_FOUND.search(detail)) and refusal_kind(detail) is None


def advice(detail: str) -> tuple[str, ...]:
    """What to tell an operator about a refusal: KashFlow's words, then the causes with the
    fix for each (those *detail* points at first, then the others that can give the same
    answer: KashFlow's texts for them are not all known)."""
    kind = refusal_kind(detail)
    said = (
        f'KashFlow refused the SOAP call: "{detail}".'
        if detail
        else "KashFlow refused the SOAP call without saying why."
    )
    likely = CAUSES[kind] if kind else ()
    others = [cause for k in (PASSWORD, IP, DISABLED) if k != kind for cause in CAUSES[k]]
    return (
        said,
        *(f"Likely cause: {cause}" for cause in likely),
        *(f"Other possible cause: {cause}" for cause in others),
    )


__all__ = ["CAUSES", "DISABLED", "IP", "PASSWORD", "advice", "is_not_found", "refusal_kind"]
