"""The words of ``flask kashflow-links check`` (and ``config``): what a connection check found,
what the processes share, and why a login failed, in plain words for an operator.

Never a secret: no password, memorable word (only which of its letters were asked for),
session token or document link.
"""

from __future__ import annotations

import textwrap
import typing as t

import click

from .exceptions import KashFlowAccountLocked
from .exceptions import KashFlowAuthError
from .exceptions import KashFlowBadResponse
from .exceptions import KashFlowNotFound
from .exceptions import KashFlowPasswordExpired
from .exceptions import KashFlowUnavailable
from .kashflow.backend import Backend
from .kashflow.backend import Connection
from .startup import describe
from .startup import sharing
from .state import State


def print_connection(connection: Connection, word_length: int) -> None:
    """What a connection check found; *word_length* tells "every letter" from "some"."""
    company = connection.company_name
    if connection.signed_in:
        click.echo(f"  logged in{f' to {company}' if company else ''}")
    for warning in connection.warnings:
        click.echo(f"  warning: {warning}", err=True)
    if connection.signed_in and connection.invoices is not None:
        click.echo(f"  {connection.invoices} invoices visible")
    positions = connection.memorable_word_positions
    if positions:
        say(f"memorable word: {confirmed_letters(positions, word_length)}", "  ")
    for finding in connection.findings:
        click.echo(f"  {finding}")


def say(text: str, indent: str = "") -> None:
    """Echo *text* wrapped to 100 columns, continued lines indented a little further."""
    click.echo(
        textwrap.fill(
            text,
            100,
            initial_indent=indent,
            subsequent_indent=indent + "  ",
            break_long_words=False,
            break_on_hyphens=False,
        )
    )


def say_sharing(state: State, indent: str = "") -> None:
    """What the cache and the link store share, and what that means (see :mod:`.startup`)."""
    for line in describe(sharing(state)):
        if line.startswith("    "):  # a line to paste: never wrapped
            click.echo(indent + line)
        else:
            say(line.strip(), indent + ("  " if line.startswith("  ") else ""))


def confirmed_letters(positions: t.Sequence[int], word_length: int) -> str:
    """Which letters of the memorable word a login proved right (never the letters)."""
    if set(positions) >= set(range(1, word_length + 1)):
        return "every letter confirmed"
    numbers = [str(p) for p in sorted(positions)]
    listed = ", ".join(numbers[:-1]) + f" and {numbers[-1]}" if len(numbers) > 1 else numbers[0]
    return (
        f"letters {listed} confirmed (KashFlow asked for those); the others are unchecked. "
        "A login asks for other letters, so a word wrong in one of them passes this check "
        "and fails a later login: compare the configured word with KashFlow's letter by letter."
    )


#: Plain words for a failed login, first match wins: each takes the error and the backend
#: and answers ``None`` when the error is not its case. Add a case by adding a function.
LoginExplainer = t.Callable[[Exception, Backend], "str | None"]


def _unreachable(error: Exception, backend: Backend) -> str | None:
    if not isinstance(error, KashFlowUnavailable):
        return None
    return (
        f"cannot reach KashFlow ({error}). Check KASHFLOW_LINKS_API_BASE_URL, DNS, the "
        "firewall and any proxy; KashFlow may also be down."
    )


def _locked(error: Exception, backend: Backend) -> str | None:
    if not isinstance(error, KashFlowAccountLocked):
        return None
    return (
        "KashFlow says the user is locked after too many failed logins. Unlock it in "
        "KashFlow (or wait for the lock to lapse), correct the password or memorable word, "
        "then run check again."
    )


def _password_expired(error: Exception, backend: Backend) -> str | None:
    if not isinstance(error, KashFlowPasswordExpired):
        return None
    return (
        "KashFlow says the user's password has expired. Sign in to KashFlow on the web as "
        "that user, choose a new password, put it in KASHFLOW_LINKS_ACCOUNTS, then run "
        "check again."
    )


def _refused(error: Exception, backend: Backend) -> str | None:
    if not isinstance(error, KashFlowAuthError):
        return None
    if error.step == "session":
        return str(error)
    if error.status_code == 403:
        return (
            "API access refused. Enable the API in KashFlow under Apps > API Settings; if "
            f"'Restrict Access' is on, allow this server's IP address. (Details: {error})"
        )
    if error.step == "password":
        return (
            "wrong username or password. Use the KashFlow web login of the user (a separate "
            f"SOAP 'API password' does not work with the REST API). KashFlow said: {error}"
        )
    if error.step == "memorable_word":
        said = f"KashFlow said: {error}" if error.response is not None else str(error)
        return (
            "the password was accepted but the memorable word was not. KashFlow asks for "
            f"three of its letters; configure the whole word exactly. {said}"
        )
    return str(error)


def _wrong_address(error: Exception, backend: Backend) -> str | None:
    """A login answered "not found", or not in KashFlow's shape: the base URL is suspect."""
    if not isinstance(error, KashFlowNotFound | KashFlowBadResponse) or backend.api != "rest":
        return None
    url = backend.base_url
    hint = "It should be the base of KashFlow's REST API v2, https://api.kashflow.com/v2"
    if not url.endswith("/v2"):
        hint += f": it lacks the /v2 at the end (try {url}/v2)"
    return f"KASHFLOW_LINKS_API_BASE_URL {url} looks wrong: {error}. {hint}."


LOGIN_EXPLAINERS: list[LoginExplainer] = [
    _unreachable,
    _locked,
    _password_expired,
    _refused,
    _wrong_address,
]


def explain_login_failure(error: Exception, backend: Backend) -> str:
    """Plain words for an operator, from a failed login (never the secrets themselves)."""
    for explain in LOGIN_EXPLAINERS:
        words = explain(error, backend)
        if words is not None:
            return words
    return str(error)


__all__ = [
    "LOGIN_EXPLAINERS",
    "LoginExplainer",
    "confirmed_letters",
    "explain_login_failure",
    "print_connection",
    "say",
    "say_sharing",
]
