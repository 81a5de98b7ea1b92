"""Serve the KashFlow sandbox in the foreground until Ctrl-C, printing settings to paste.

One command, three ways to run it:

* ``python -m kashflow_sandbox`` (needs nothing else);
* ``python -m flask_kashflow_links.testing`` and ``flask kashflow-links sandbox``, with the
  portal installed beside it (its CLI loads this command on demand, so the portal itself
  never imports the sandbox).

It prints the sandbox's URL, then the REST settings two ways: environment lines for the
application factory the documentation uses (which reads ``KASHFLOW_API_BASE_URL``,
``KASHFLOW_USERNAME``, ``KASHFLOW_PASSWORD`` and ``KASHFLOW_MEMORABLE_WORD``), and a config
snippet with the account id ``main``; then a SOAP block: the user, the password the SOAP
password mode accepts, environment lines for the quick start's SOAP factory (which reads
``KASHFLOW_SOAP_URL``, ``KASHFLOW_USERNAME`` and ``KASHFLOW_PASSWORD``), and a config snippet
for an account with ``"api": "soap"``. The credentials printed are the sandbox's own demo
credentials (or those given on the command line), never a real KashFlow account's.
"""

from __future__ import annotations

import contextlib
import shlex
import threading
from datetime import date
from datetime import datetime

import click

from .server import KashFlowSandbox
from .shapes import SHAPES
from .soap.api import PASSWORD_MODES

#: The account id the documentation uses.
ACCOUNT_ID = "main"
_DEFAULTS = KashFlowSandbox.__init__.__kwdefaults__ or {}


def settings_to_paste(sandbox: KashFlowSandbox) -> str:
    """The settings that point the portal at *sandbox*: for a REST account, environment lines
    for the documented factory and the same as a config snippet; then for a SOAP account."""
    return f"{rest_settings(sandbox)}\n{soap_settings(sandbox)}"


def _exports(env: dict[str, str]) -> str:
    """Shell ``export`` lines for *env*, quoted for the shell."""
    return "\n".join(f"export {name}={shlex.quote(value)}" for name, value in env.items())


def rest_settings(sandbox: KashFlowSandbox) -> str:
    """Environment lines for the documented factory, and the same as a config snippet."""
    account = sandbox.account_config()
    exports = _exports(
        {
            "KASHFLOW_API_BASE_URL": sandbox.url,
            "KASHFLOW_USERNAME": account["username"],
            "KASHFLOW_PASSWORD": account["password"],
            "KASHFLOW_MEMORABLE_WORD": account["memorable_word"],
        }
    )
    return (
        "For the application factory of the quick start, in your shell:\n\n"
        f"{exports}\n\n"
        "or in your Flask config:\n\n"
        f"KASHFLOW_LINKS_API_BASE_URL = {sandbox.url!r}\n"
        f'KASHFLOW_LINKS_SOAP_URL = {sandbox.soap_url!r}  # for accounts with "api": "soap"\n'
        f"KASHFLOW_LINKS_ACCOUNTS = {{{ACCOUNT_ID!r}: {account!r}}}\n"
    )


def soap_settings(sandbox: KashFlowSandbox) -> str:
    """The user, the password SOAP accepts, environment lines for the documented SOAP factory
    and a config snippet for a SOAP account (which has no memorable word: SOAP sends the user
    name and password with every call)."""
    account = sandbox.account_config(api="soap")
    # Which password works depends on the account's SOAP password mode, as in KashFlow's
    # API Settings; say which, since "Incorrect username or password" is all a client hears.
    if sandbox.soap_password_mode == "separate":  # noqa: S105 - a mode's name, not a password
        mode = 'password mode "separate": the login password is refused'
    else:
        mode = 'password mode "login": the login password; the separate one is refused'
    exports = _exports(
        {
            "KASHFLOW_SOAP_URL": sandbox.soap_url,
            "KASHFLOW_USERNAME": account["username"],
            "KASHFLOW_PASSWORD": account["password"],
        }
    )
    return (
        "For an account on KashFlow's SOAP API (no memorable word):\n\n"
        f"SOAP user: {account['username']}\n"
        f"SOAP API password: {account['password']}  ({mode})\n\n"
        "For the quick start's SOAP factory, in your shell:\n\n"
        f"{exports}\n\n"
        "or in your Flask config:\n\n"
        f"KASHFLOW_LINKS_SOAP_URL = {sandbox.soap_url!r}\n"
        f"KASHFLOW_LINKS_ACCOUNTS = {{{ACCOUNT_ID!r}: {account!r}}}\n"
    )


def _day(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD, e.g. 2026-03-03", ctx=ctx, param=param) from None


def _word(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if len(value) < 3:
        raise click.BadParameter("the memorable word needs at least 3 characters", ctx, param)
    return value


@click.command("sandbox")
@click.option("--host", default=_DEFAULTS["host"], show_default=True)
@click.option(
    "--port",
    default=8765,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="0 picks a free port.",
)
@click.option("--username", default=_DEFAULTS["username"], show_default=True)
@click.option("--password", default=_DEFAULTS["password"], show_default=True)
@click.option(
    "--memorable-word", default=_DEFAULTS["memorable_word"], show_default=True, callback=_word
)
@click.option(
    "--today",
    metavar="YYYY-MM-DD",
    callback=_day,
    help="The date the demo data is relative to.  [default: today]",
)
@click.option(
    "--seed",
    default=_DEFAULTS["seed"],
    show_default=True,
    type=int,
    help="Seed of the demo data and of the memorable-word letters asked for.",
)
@click.option("--no-demo-data", is_flag=True, help="Start with no customers or invoices.")
@click.option(
    "--extra-customers",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    metavar="N",
    help="Add N generated customers who owe money (EXTRA0001 upward), for benchmarks.",
)
@click.option(
    "--shape",
    type=click.Choice(list(SHAPES)),
    default=_DEFAULTS["shape"],
    show_default=True,
    help="The fields served: the Swagger copy's, or exactly KashFlow's documented examples'.",
)
@click.option(
    "--soap-password-mode",
    type=click.Choice(PASSWORD_MODES),
    default=_DEFAULTS["soap_password_mode"],
    show_default=True,
    help="Which password SOAP calls must carry: the login password, or only the separate API "
    f"password ({_DEFAULTS['soap_password']!r}).",
)
@click.option(
    "--public-documents/--private-documents",
    default=_DEFAULTS["public_documents"],
    show_default=True,
    help="Serve document permalinks (invoice PDFs) without a session token, as a SOAP client "
    "needs.",
)
def sandbox(
    host: str,
    port: int,
    username: str,
    password: str,
    memorable_word: str,
    today: date | None,
    seed: int,
    no_demo_data: bool,
    extra_customers: int,
    shape: str,
    soap_password_mode: str,
    public_documents: bool,
) -> None:
    """Serve the KashFlow sandbox (a local KashFlow API with demo data) until Ctrl-C, and print
    the settings that point the portal at it."""
    server = KashFlowSandbox(
        host=host,
        port=port,
        username=username,
        password=password,
        memorable_word=memorable_word,
        today=today,
        seed=seed,
        demo_data=not no_demo_data,
        extra_customers=extra_customers,
        shape=shape,
        soap_password_mode=soap_password_mode,
        public_documents=public_documents,
    )
    with server:
        shown = "" if server.shape == "swagger" else f" ({server.shape} shape)"
        click.echo(f"KashFlow sandbox API: {server.url}  (user {server.username}){shown}")
        if server.shape != "swagger":
            click.echo(f"Fields: exactly KashFlow's {server.shape} examples")
        if server.public_documents:
            click.echo("Documents: permalinks served without a session token")
        click.echo(f"Counters: {server.origin}/_sandbox/stats   Ctrl-C stops it\n")
        click.echo(settings_to_paste(server))
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
        click.echo("stopped")


def main(prog_name: str) -> None:
    """Run :func:`sandbox` as the program *prog_name* (``python -m ...``)."""
    sandbox.main(prog_name=prog_name)


__all__ = ["ACCOUNT_ID", "main", "rest_settings", "sandbox", "settings_to_paste", "soap_settings"]
