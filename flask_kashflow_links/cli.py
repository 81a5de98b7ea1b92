"""``flask kashflow-links ...``: mint, list and withdraw links, make keys, check the account."""

from __future__ import annotations

import importlib
import re
import typing as t
from datetime import datetime
from datetime import timedelta

import click
from cryptography.fernet import Fernet
from flask import current_app
from flask.cli import with_appcontext

from .exceptions import KashFlowAccountLocked
from .exceptions import KashFlowAuthError
from .exceptions import KashFlowBadResponse
from .exceptions import KashFlowLinksError
from .exceptions import KashFlowLoginsPaused
from .exceptions import KashFlowPasswordExpired
from .exceptions import KashFlowUnavailable
from .exceptions import LinkURLError
from .kashflow.backend import Login
from .links.claims import STATUSES
from .links.claims import Scope
from .links.link import Link
from .links.service import LinkService
from .state import State
from .state import get_state

_DURATION_PART = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> timedelta:
    """Parse ``90d``, ``12h``, ``1w2d``, ``30m`` or ``45s`` into a timedelta.

    :raises ValueError: with an example of the accepted form.
    """
    compact = text.strip().lower().replace(" ", "")
    if not compact or _DURATION_PART.sub("", compact):
        raise ValueError(f"{text!r} is not a duration; use forms like 90d, 12h, 1w2d, 30m, 45s")
    seconds = sum(int(n) * _UNITS[unit] for n, unit in _DURATION_PART.findall(compact))
    if seconds < 1:
        raise ValueError("a duration must be at least one second")
    return timedelta(seconds=seconds)


def _duration_option(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> timedelta | None:
    """Click callback turning ``--expires-in 90d`` into a timedelta (or a usage error)."""
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as e:
        raise click.BadParameter(str(e), ctx=ctx, param=param) from None


_EXPIRES_HELP = "Lifetime such as 90d, 12h or 1w2d; permanent if omitted."


def _state() -> State:
    """The app's portal state, or a clean error if this app does not use the portal."""
    try:
        return get_state()
    except RuntimeError as e:
        raise click.ClickException(str(e)) from None


def _links() -> LinkService:
    return _state().links


def _when(value: datetime | None) -> str:
    if value is None:
        return "never"
    zone = _state().settings.timezone
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def _print_link(link: Link) -> None:
    try:
        click.echo(link.url)
    except LinkURLError as e:
        click.echo(link.token)
        click.echo(f"note: printed the link token only. {e}", err=True)
    click.echo(f"  link id: {link.link_id}", err=True)
    click.echo(f"  opens:   {link.scope.describe()} (account {link.scope.account})", err=True)
    click.echo(f"  expires: {_when(link.expires_at)}", err=True)


def _guard(action: t.Callable[[], t.Any]) -> t.Any:
    """Run *action*, turning expected errors into a clean message and exit status 1."""
    try:
        return action()
    except (ValueError, TypeError, KashFlowLinksError) as e:
        raise click.ClickException(str(e)) from None


class _Commands(click.Group):
    """The command group, with the sandbox command loaded only when it is asked for.

    Click's documented lazy-loading pattern: the sandbox is a test and demo server, so the
    portal's CLI does not load it (nor the sandbox its data) until someone runs it.
    """

    _lazy: t.ClassVar[dict[str, str]] = {"sandbox": "flask_kashflow_links._sandbox.command:sandbox"}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self._lazy])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self._lazy:
            module, _, name = self._lazy[cmd_name].partition(":")
            return t.cast(click.Command, getattr(importlib.import_module(module), name))
        return super().get_command(ctx, cmd_name)


@click.group("kashflow-links", cls=_Commands)
def cli_group() -> None:
    """Client invoice links for KashFlow: mint, list, withdraw, keys, account check."""


@cli_group.group("mint")
def mint_group() -> None:
    """Mint a link to one invoice or to a customer's invoices."""


@mint_group.command("invoice")
@click.argument("number", type=click.IntRange(min=1))
@click.option("--account", help="Account id (default: KASHFLOW_LINKS_DEFAULT_ACCOUNT).")
@click.option("--expires-in", callback=_duration_option, metavar="DURATION", help=_EXPIRES_HELP)
@click.option("--customer", help="The invoice's customer code, to list the link under it now.")
@with_appcontext
def mint_invoice(
    number: int, account: str | None, expires_in: timedelta | None, customer: str | None
) -> None:
    """Mint a link to invoice NUMBER and print its URL."""
    links = _links()
    link = _guard(
        lambda: links.mint(
            Scope.for_invoice(links.account_id(account), number),
            expires_in=expires_in,
            customer=customer,
        )
    )
    _print_link(link)


@mint_group.command("customer")
@click.argument("code")
@click.option(
    "--status",
    type=click.Choice(STATUSES),
    default="all",
    show_default=True,
    help="Which invoices: unpaid means Unpaid and Overdue; paid means Paid and Overpaid.",
)
@click.option("--account", help="Account id (default: KASHFLOW_LINKS_DEFAULT_ACCOUNT).")
@click.option("--expires-in", callback=_duration_option, metavar="DURATION", help=_EXPIRES_HELP)
@with_appcontext
def mint_customer(
    code: str, status: str, account: str | None, expires_in: timedelta | None
) -> None:
    """Mint a link to the invoices of customer CODE and print its URL."""
    links = _links()
    link = _guard(
        lambda: links.mint(
            Scope.for_customer(links.account_id(account), code, status), expires_in=expires_in
        )
    )
    _print_link(link)


@cli_group.command("list")
@click.option("--customer", help="Only links for this customer code.")
@click.option("--account", help="Only links of this account id.")
@with_appcontext
def list_links(customer: str | None, account: str | None) -> None:
    """List live links (not withdrawn, not expired). Tokens are never stored or shown."""
    records = _guard(lambda: _links().active_links(customer=customer, account=account))
    if not records:
        click.echo("No live links.")
        return
    click.echo(f"{'LINK ID':<14} {'OPENS':<40} {'MINTED':<22} {'EXPIRES':<22} LAST OPENED")
    for record in records:
        scope = record.scope.describe()
        if record.scope.is_invoice and record.customer:
            scope += f" ({record.customer})"
        click.echo(
            f"{record.link_id:<14} {scope[:40]:<40} {_when(record.minted_at):<22} "
            f"{_when(record.expires_at):<22} "
            f"{_when(record.last_opened_at) if record.last_opened_at else 'not yet'}"
        )


@cli_group.command("revoke")
@click.argument("token_or_link_id")
@with_appcontext
def revoke(token_or_link_id: str) -> None:
    """Withdraw one link, by its link id or its link token."""
    value = token_or_link_id.rstrip("/").rsplit("/", 1)[-1]  # a whole URL works too
    links = _links()
    link_id = _guard(lambda: links.link_id_of(value))
    known = _guard(lambda: links.revoke(link_id))
    note = "" if known else " (it was not in the register, but is withdrawn all the same)"
    click.echo(f"Withdrawn link {link_id}{note}.")


@cli_group.command("revoke-customer")
@click.argument("code")
@click.option("--account", help="Account id (default: KASHFLOW_LINKS_DEFAULT_ACCOUNT).")
@click.confirmation_option(prompt="Withdraw every link sent to this customer so far?")
@with_appcontext
def revoke_customer(code: str, account: str | None) -> None:
    """Withdraw every link for customer CODE minted until now, invoice links included."""
    count = _guard(lambda: _links().revoke_customer(code, account=account))
    click.echo(
        f"Withdrew every link for customer {code} minted until now "
        f"({count} in the register; invoice links not yet opened are caught on first open)."
    )


@cli_group.command("generate-key")
def generate_key() -> None:
    """Print a new Fernet key and how to rotate keys."""
    key = Fernet.generate_key().decode()
    click.echo(key)
    click.echo(
        "\nPut it FIRST in KASHFLOW_LINKS_FERNET_KEYS (newest first). To rotate, add the new\n"
        "key in front and keep the old ones after it: links already sent keep opening, new\n"
        "links use the new key. Remove an old key only to retire every link minted under it.\n"
        "Signing keys (KASHFLOW_LINKS_SIGNING_KEYS, or SECRET_KEY + SECRET_KEY_FALLBACKS) run\n"
        "the other way: oldest first, newest LAST.",
        err=True,
    )


@cli_group.command("check")
@click.option("--account", help="Account id (default: KASHFLOW_LINKS_DEFAULT_ACCOUNT).")
@click.option("--force", is_flag=True, help="Try a login even while logins are paused.")
@with_appcontext
def check(account: str | None, force: bool) -> None:
    """Log in to KashFlow with the configured account and say plainly what is wrong."""
    state = _state()
    acct = _guard(lambda: state.accounts.get(account))
    if acct.credentials is None:
        raise click.ClickException(
            f"account {acct.id!r} has no credentials here (username, password and, for the "
            "REST API, the memorable word in KASHFLOW_LINKS_ACCOUNTS)"
        )
    backend = state.fetcher.backend_for(acct)
    login: Login = state.fetcher.login_for(acct)
    click.echo(f"Checking account {acct.id!r} at {backend.base_url} ...")
    try:
        connection = backend.check(login, force=force)
    except KashFlowLoginsPaused as e:
        raise click.ClickException(
            f"logins for account {acct.id!r} are paused until {_when(e.retry_at)} after KashFlow "
            "refused a login or locked the user. Fix the cause, then run check --force."
        ) from None
    except KashFlowLinksError as e:
        raise click.ClickException(_explain_login_failure(e)) from None
    company = connection.company_name
    if connection.signed_in:
        click.echo(f"  logged in{f' to {company}' if company else ''}")
    for warning in connection.warnings:
        click.echo(f"  warning: {warning}", err=True)
    total = connection.invoices
    seen = f"{total} invoices visible" if total is not None else "invoice list readable"
    if connection.signed_in and backend.api == "rest":  # SOAP has no session; its findings say
        click.echo(f"  {seen}; the session is shared by every worker through the cache")
    for finding in connection.findings:
        click.echo(f"  {finding}")
    if not connection.works:
        problems = "\n".join(f"  - {problem}" for problem in connection.problems)
        raise click.ClickException(f"this account does not work with the portal:\n{problems}")
    click.echo("OK")


def _explain_login_failure(error: Exception) -> str:
    """Plain words for an operator, from a failed login (never the secrets themselves)."""
    if isinstance(error, KashFlowUnavailable):
        return (
            f"cannot reach KashFlow ({error}). Check KASHFLOW_LINKS_API_BASE_URL, DNS, the "
            "firewall and any proxy; KashFlow may also be down."
        )
    if isinstance(error, KashFlowAccountLocked):
        return (
            "KashFlow says the user is locked after too many failed logins. Unlock it in "
            "KashFlow (or wait for the lock to lapse), correct the password or memorable word, "
            "then run check again."
        )
    if isinstance(error, KashFlowPasswordExpired):
        return (
            "KashFlow says the user's password has expired. Sign in to KashFlow on the web as "
            "that user, choose a new password, put it in KASHFLOW_LINKS_ACCOUNTS, then run "
            "check again."
        )
    if isinstance(error, KashFlowAuthError):
        if error.step == "session":
            return str(error)
        if error.status_code == 403:
            return (
                "API access refused. Enable the API in KashFlow under Apps > API Settings; if "
                "'Restrict Access' is on, allow this server's IP address. "
                f"(Details: {error})"
            )
        if error.step == "password":
            return (
                "wrong username or password. Use the KashFlow web login of the user (a "
                "separate SOAP 'API password' does not work with the REST API). "
                f"KashFlow said: {error}"
            )
        if error.step == "memorable_word":
            said = f"KashFlow said: {error}" if error.response is not None else str(error)
            return (
                "the password was accepted but the memorable word was not. KashFlow asks for "
                f"three of its letters; configure the whole word exactly. {said}"
            )
        return str(error)
    if isinstance(error, KashFlowBadResponse):
        return (
            f"KashFlow answered unexpectedly ({error}). Is KASHFLOW_LINKS_API_BASE_URL the REST "
            "v2 API (https://api.kashflow.com/v2)?"
        )
    return str(error)


@cli_group.command("config")
@with_appcontext
def show_config() -> None:
    """Show the portal's effective settings (without secrets)."""
    state = _state()
    settings = state.settings
    click.echo(f"API base URL:     {settings.api_base_url}")
    click.echo(f"SOAP URL:         {settings.soap_url}")
    apis = ", ".join(f"{i} ({state.accounts.get(i).api})" for i in state.accounts.known_ids)
    click.echo(f"accounts:         {apis or 'from a loader'}")
    click.echo(f"default account:  {state.accounts.default}")
    click.echo(f"embed mode:       {settings.embed_credentials}")
    click.echo(f"link store:       {state.links.store.location}")
    click.echo(f"cache type:       {settings.cache_config.get('CACHE_TYPE')}")
    click.echo(f"public URL:       {settings.public_url or current_app.config.get('SERVER_NAME')}")


__all__ = ["cli_group", "parse_duration"]
