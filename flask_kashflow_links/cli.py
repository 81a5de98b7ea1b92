"""``flask kashflow-links ...``: mint, list and withdraw links, make keys, check the account."""

from __future__ import annotations

import importlib
import re
import secrets
import time
import typing as t
from datetime import datetime
from datetime import timedelta
from functools import update_wrapper

import click
from cryptography.fernet import Fernet
from flask import current_app
from flask.cli import ScriptInfo

from .cli_words import explain_login_failure
from .cli_words import print_connection
from .cli_words import say_sharing
from .exceptions import ConfigurationError
from .exceptions import KashFlowLinksError
from .exceptions import KashFlowLoginsPaused
from .exceptions import KashFlowNotFound
from .kashflow.backend import Login
from .links.claims import STATUSES
from .links.claims import LinkClaims
from .links.claims import Scope
from .links.link import Link
from .links.link import has_url_base
from .links.service import LinkService
from .startup import Reach
from .startup import cache_reach
from .startup import loading_for_command
from .state import State
from .state import get_state

F = t.TypeVar("F", bound=t.Callable[..., t.Any])

_DURATION_PART = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> timedelta:
    """Parse ``90d``, ``12h``, ``1w2d``, ``30m`` or ``45s`` into a timedelta.

    :raises ValueError: with an example of the accepted form.
    """
    compact = text.strip().lower().replace(" ", "")
    # Bounded before the pattern runs: a long run of digits would cost quadratic time.
    if not compact or len(compact) > 40 or _DURATION_PART.sub("", compact):
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
_ACCOUNT_HELP = "Account id (default: KASHFLOW_LINKS_DEFAULT_ACCOUNT, or the only account)."
_VERIFY_HELP = "Ask KashFlow first whether it exists; mint nothing if not (or if it cannot say)."


def with_app(f: F) -> F:
    """Flask's ``with_appcontext``, except that a :class:`~.ConfigurationError` raised while
    the app loads (``init_app`` in the app's factory) is printed first and short, as
    ``Error: KASHFLOW_LINKS_...: the fix``, with exit status 1 instead of a traceback."""

    @click.pass_context
    def decorator(ctx: click.Context, /, *args: t.Any, **kwargs: t.Any) -> t.Any:
        if not current_app:
            try:
                with loading_for_command():
                    app = ctx.ensure_object(ScriptInfo).load_app()
            except ConfigurationError as e:
                raise click.ClickException(
                    f"{e}\n(The application did not start: KashFlowLinks.init_app refused its "
                    "configuration.)"
                ) from None
            ctx.with_resource(app.app_context())
        return ctx.invoke(f, *args, **kwargs)

    return t.cast(F, update_wrapper(decorator, f))


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


def _require_url_base() -> None:
    """Refuse before minting when no absolute URL can be built: a bare link token on standard
    output would end up in ``URL=$(...)`` and in an email as if it were a link."""
    if not has_url_base(_state().settings.public_url):
        raise click.ClickException(
            "cannot print a link URL: nothing says where the portal is served. Set "
            "KASHFLOW_LINKS_PUBLIC_URL to the portal's address (e.g. "
            "'https://www.example.co.uk/billing', including any KASHFLOW_LINKS_URL_PREFIX), or "
            "Flask's SERVER_NAME. No link was minted."
        )


def _mint(scope: Scope, *, verify: bool, customer: str | None = None, **options: t.Any) -> None:
    """Mint a link to *scope* (asking KashFlow first with *verify*) and print it."""
    _require_url_base()
    state = _state()
    if verify:
        click.echo(f"Asking KashFlow for {scope.describe()} ...", err=True)
        customer = _guard(lambda: state.confirm(scope, customer=customer))
    held = _hold_prefetch()
    link = _guard(lambda: state.links.mint(scope, customer=customer, **options))
    _print_link(link, customer)
    _prefetch_now(held)


def _print_link(link: Link, customer: str | None = None) -> None:
    click.echo(link.url)
    click.echo(f"  link id: {link.link_id}", err=True)
    if customer and link.scope.is_invoice:
        click.echo(f"  listed under customer {customer}", err=True)
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

    # The sandbox is its own distribution (kashflow-sandbox), installed or not beside the portal.
    _lazy: t.ClassVar[dict[str, str]] = {"sandbox": "kashflow_sandbox.command:sandbox"}
    _install_hint: t.ClassVar[str] = (
        "The sandbox is not installed: pip install kashflow-sandbox "
        "(or pip install ./sandbox from a checkout of flask-kashflow-links)"
    )

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self._lazy])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self._lazy:
            module, _, name = self._lazy[cmd_name].partition(":")
            try:
                loaded = importlib.import_module(module)
            except ModuleNotFoundError as e:
                # Only the distribution itself missing: a dependency it lacks is its own error.
                if (e.name or "").partition(".")[0] != module.partition(".")[0]:
                    raise
                return self._not_installed(cmd_name)
            return t.cast(click.Command, getattr(loaded, name))
        return super().get_command(ctx, cmd_name)

    def _not_installed(self, cmd_name: str) -> click.Command:
        """A stand-in that says how to install the command, whatever it is given, and exits 1."""

        @click.pass_context
        def say(ctx: click.Context) -> None:
            click.echo(self._install_hint, err=True)
            ctx.exit(1)

        return click.Command(
            cmd_name,
            callback=say,
            help=self._install_hint,
            add_help_option=False,
            context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        )


@click.group("kashflow-links", cls=_Commands)
def cli_group() -> None:
    """Client invoice links for KashFlow: mint, list, withdraw, keys, account check."""


@cli_group.group("mint")
def mint_group() -> None:
    """Mint a link to one invoice or to a customer's invoices."""


@mint_group.command("invoice")
@click.argument("number", type=click.IntRange(min=1))
@click.option("--account", help=_ACCOUNT_HELP)
@click.option("--expires-in", callback=_duration_option, metavar="DURATION", help=_EXPIRES_HELP)
@click.option(
    "--customer",
    help="The invoice's customer code, to list the link under it now (--verify fills it in).",
)
@click.option("--verify", is_flag=True, help=_VERIFY_HELP)
@with_app
def mint_invoice(
    number: int,
    account: str | None,
    expires_in: timedelta | None,
    customer: str | None,
    verify: bool,
) -> None:
    """Mint a link to invoice NUMBER and print its URL."""
    links = _links()
    scope = _guard(lambda: Scope.for_invoice(links.account_id(account), number))
    _mint(scope, verify=verify, customer=customer, expires_in=expires_in)


@mint_group.command("customer")
@click.argument("code")
@click.option(
    "--status",
    type=click.Choice(STATUSES),
    default="all",
    show_default=True,
    help="Which invoices: unpaid means Unpaid and Overdue; paid means Paid and Overpaid.",
)
@click.option("--account", help=_ACCOUNT_HELP)
@click.option("--expires-in", callback=_duration_option, metavar="DURATION", help=_EXPIRES_HELP)
@click.option("--verify", is_flag=True, help=_VERIFY_HELP)
@with_app
def mint_customer(
    code: str, status: str, account: str | None, expires_in: timedelta | None, verify: bool
) -> None:
    """Mint a link to the invoices of customer CODE and print its URL."""
    links = _links()
    scope = _guard(lambda: Scope.for_customer(links.account_id(account), code, status))
    _mint(scope, verify=verify, expires_in=expires_in)


def _hold_prefetch() -> list[LinkClaims]:
    """Keep the prefetch of the link this command mints for :func:`_prefetch_now`: the process
    ends once the link is printed, which would cut background work short."""
    return click.get_current_context().with_resource(_state().prefetcher.held())


def _prefetch_now(held: list[LinkClaims]) -> None:
    """Fetch what the minted link's first page shows, in the foreground with a progress line,
    or say why not. Never fails the command: the link works either way."""
    state = _state()
    note = "  prefetch:"
    if not state.settings.prefetch:
        click.echo(f"{note} off (KASHFLOW_LINKS_PREFETCH); the first open fetches", err=True)
        return
    if cache_reach(state.safe_cache.backend) is Reach.PROCESS:
        click.echo(
            f"{note} skipped: this command's cache (SimpleCache) ends with it. With a shared "
            "cache (Redis) it would fetch the link's first page now.",
            err=True,
        )
        return
    for claims in held:
        click.echo(f"{note} fetching the link's first page from KashFlow ...", nl=False, err=True)
        started = time.monotonic()
        try:
            state.prefetcher.run_now(claims)
        except KashFlowNotFound:
            click.echo(
                " KashFlow has no such invoice or customer: the link shows 'not found'.", err=True
            )
        except KashFlowLinksError as e:
            click.echo(f" not fetched ({e}); the first open fetches it.", err=True)
        else:
            click.echo(f" done in {time.monotonic() - started:.1f} s.", err=True)


@cli_group.command("list")
@click.option("--customer", help="Only links for this customer code.")
@click.option("--account", help="Only links of this account id.")
@with_app
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
@with_app
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
@click.option("--account", help=_ACCOUNT_HELP)
@click.confirmation_option(prompt="Withdraw every link sent to this customer so far?")
@with_app
def revoke_customer(code: str, account: str | None) -> None:
    """Withdraw every link for customer CODE minted until now, invoice links included."""
    count = _guard(lambda: _links().revoke_customer(code, account=account))
    click.echo(
        f"Withdrew every link for customer {code} minted until now "
        f"({count} in the register; invoice links not yet opened are caught on first open)."
    )


_KEY_ADVICE = {
    "fernet": (
        "\nPut it FIRST in KASHFLOW_LINKS_FERNET_KEYS (newest first). To rotate, add the new\n"
        "key in front and keep the old ones after it: links already sent keep opening, new\n"
        "links use the new key. Remove an old key only to retire every link minted under it.\n"
        "Signing keys (KASHFLOW_LINKS_SIGNING_KEYS, or SECRET_KEY + SECRET_KEY_FALLBACKS) run\n"
        "the other way: oldest first, newest LAST."
    ),
    "signing": (
        "\nUse it as SECRET_KEY, or put it LAST in KASHFLOW_LINKS_SIGNING_KEYS (oldest first,\n"
        "newest last). To rotate SECRET_KEY, move the old one to SECRET_KEY_FALLBACKS. Never\n"
        "use a Fernet key as a signing key: the portal refuses one secret in both roles.\n"
        "Fernet keys (KASHFLOW_LINKS_FERNET_KEYS) run the other way: newest FIRST."
    ),
}


@cli_group.command("generate-key")
@click.option(
    "--kind",
    type=click.Choice(sorted(_KEY_ADVICE)),
    default="fernet",
    show_default=True,
    help="fernet: encrypts what links open (KASHFLOW_LINKS_FERNET_KEYS); signing: signs them "
    "(SECRET_KEY or KASHFLOW_LINKS_SIGNING_KEYS).",
)
def generate_key(kind: str) -> None:
    """Print a new key (a Fernet key unless --kind signing) and how to rotate keys."""
    key = Fernet.generate_key().decode() if kind == "fernet" else secrets.token_urlsafe(32)
    click.echo(key)
    click.echo(_KEY_ADVICE[kind], err=True)


@cli_group.command("check")
@click.option("--account", help=_ACCOUNT_HELP)
@click.option("--force", is_flag=True, help="Try a login even while logins are paused.")
@with_app
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
    say_sharing(state, indent="  ")
    try:
        connection = backend.check(login, force=force)
    except KashFlowLoginsPaused as e:
        raise click.ClickException(
            f"logins for account {acct.id!r} are paused until {_when(e.retry_at)} after KashFlow "
            "refused a login or locked the user. Fix the cause, then run check --force."
        ) from None
    except KashFlowLinksError as e:
        raise click.ClickException(explain_login_failure(e, backend)) from None
    print_connection(connection, len(login.credentials.memorable_word))
    if not connection.works:
        problems = "\n".join(f"  - {problem}" for problem in connection.problems)
        raise click.ClickException(f"this account does not work with the portal:\n{problems}")
    click.echo("OK")


@cli_group.command("config")
@with_app
def show_config() -> None:
    """Show the portal's effective settings (without secrets), and what its processes share."""
    state = _state()
    settings = state.settings
    click.echo(f"API base URL:     {settings.api_base_url}")
    click.echo(f"SOAP URL:         {settings.soap_url}")
    apis = ", ".join(f"{i} ({state.accounts.get(i).api})" for i in state.accounts.known_ids)
    click.echo(f"accounts:         {apis or 'from a loader'}")
    click.echo(f"default account:  {state.accounts.default}")
    click.echo(f"embed mode:       {settings.embed_credentials}")
    click.echo(f"public URL:       {settings.public_url or current_app.config.get('SERVER_NAME')}")
    say_sharing(state)


__all__ = ["cli_group", "parse_duration"]
