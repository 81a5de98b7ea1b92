"""``flask kashflow-links ...``: mint, list and revoke links, make keys, check the account.

The commands act on the application's portal through :class:`Parts`, the per-app object the
extension keeps in ``app.extensions["kashflow_links"]``. What ``check`` and ``config`` say is
written for an operator and never holds a secret: no password, memorable word (only which of
its letters were asked for), session token or document link.
"""

from __future__ import annotations

import contextlib
import importlib
import re
import secrets
import sys
import textwrap
import time
import typing as t
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from functools import update_wrapper

import click
from cryptography.fernet import Fernet
from flask import current_app
from flask.cli import ScriptInfo

from .cache import REDIS_CACHE_FIX
from .cache import REDIS_EXTRA
from .cache import Reach
from .cache import SafeCache
from .cache import apis_named
from .cache import cache_reach
from .config import EXTENSION_KEY
from .config import AccountRegistry
from .config import Settings
from .config import prefix_warning
from .config import redact_url
from .exceptions import ConfigurationError
from .exceptions import KashFlowAccountLocked
from .exceptions import KashFlowAuthError
from .exceptions import KashFlowBadResponse
from .exceptions import KashFlowError
from .exceptions import KashFlowLinksError
from .exceptions import KashFlowLoginsPaused
from .exceptions import KashFlowNotFound
from .exceptions import KashFlowPasswordExpired
from .exceptions import KashFlowUnavailable
from .exceptions import StoreUnavailable
from .fetch import Fetcher
from .fetch.owing import OWING
from .fetch.prefetch import Prefetcher
from .formatting import Formatter
from .kashflow.backend import Backend
from .kashflow.backend import Connection
from .kashflow.backend import Login
from .kashflow.models import Currency
from .kashflow.models import customer_key
from .links.claims import MAX_LIFETIME
from .links.claims import STATUSES
from .links.claims import TOO_LONG
from .links.claims import InvoiceScope
from .links.link import Link
from .links.link import has_url_base
from .links.service import LinkService
from .links.store import REDIS_STORE_FIX
from .links.store import described
from .links.store import in_memory_warning
from .links.store import left_behind
from .links.store import open_store
from .links.store import same_store
from .links.store import url_problem
from .links.store.base import LinkRecord
from .sending import REMIND_STATUSES
from .sending import Sent
from .staff_api import StaffAPI

F = t.TypeVar("F", bound=t.Callable[..., t.Any])
T = t.TypeVar("T")


class Parts(t.Protocol):
    """What the commands read of an application's portal: the per-app object the extension
    keeps in ``app.extensions["kashflow_links"]`` (the extension holds it to this protocol)."""

    @property
    def extension(self) -> StaffAPI:
        """The staff API of the app's :class:`~flask_kashflow_links.KashFlowLinks`."""

    @property
    def settings(self) -> Settings:
        """The validated configuration."""

    @property
    def accounts(self) -> AccountRegistry:
        """The KashFlow accounts."""

    @property
    def links(self) -> LinkService:
        """The link service (its store holds the register)."""

    @property
    def fetcher(self) -> Fetcher:
        """KashFlow through the cache."""

    @property
    def prefetcher(self) -> Prefetcher:
        """A new link's first page, fetched ahead of the client."""

    @property
    def shared(self) -> SafeCache:
        """The shared cache."""


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
    if seconds > MAX_LIFETIME.total_seconds():  # before timedelta() overflows
        raise ValueError(f"{text!r} is too long: {TOO_LONG}")
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
_SEND_HELP = "Email the link to the customer's addresses on file once it is minted."
_TO_HELP = "Email it to this address instead (repeat for several); implies --send."


def with_app(f: F) -> F:
    """Flask's ``with_appcontext``, except that a :class:`~.ConfigurationError` raised while
    the app loads (``init_app`` in the app's factory) is printed first and short, as
    ``Error: KASHFLOW_LINKS_...: the fix``, with exit status 1 instead of a traceback."""

    @click.pass_context
    def decorator(ctx: click.Context, /, *args: t.Any, **kwargs: t.Any) -> t.Any:
        if not current_app:
            try:
                app = ctx.ensure_object(ScriptInfo).load_app()
            except ConfigurationError as e:
                raise click.ClickException(
                    f"{e}\n(The application did not start: KashFlowLinks.init_app refused its "
                    "configuration.)"
                ) from None
            ctx.with_resource(app.app_context())
        return ctx.invoke(f, *args, **kwargs)

    return t.cast(F, update_wrapper(decorator, f))


def _parts() -> Parts:
    """The app's portal, or a clean error if this app does not use the portal."""
    parts = current_app.extensions.get(EXTENSION_KEY)
    if parts is None:
        raise click.ClickException(
            "KashFlowLinks is not initialised on this app: call KashFlowLinks(app) or "
            "links.init_app(app) first."
        )
    return t.cast(Parts, parts)


def _links() -> StaffAPI:
    return _parts().extension


def _when(value: datetime | None) -> str:
    if value is None:
        return "never"
    zone = _parts().settings.timezone
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def _require_url_base() -> None:
    """Refuse before minting when no absolute URL can be built: a bare link token on standard
    output would end up in ``URL=$(...)`` and in an email as if it were a link."""
    if not has_url_base(_parts().settings.public_url):
        raise click.ClickException(
            "cannot print a link URL: nothing says where the portal is served. Set "
            "KASHFLOW_LINKS_PUBLIC_URL to the portal's address (e.g. "
            "'https://www.example.co.uk/billing', including any KASHFLOW_LINKS_URL_PREFIX), or "
            "Flask's SERVER_NAME. No link was minted."
        )


def _mint(
    mint: t.Callable[[], Link],
    *,
    verify: bool,
    what: str,
    send: bool = False,
    to: t.Sequence[str] = (),
) -> None:
    """Mint a link with *mint* (asking KashFlow first with *verify*) and print it, then
    fetch its first page in the foreground (this process ends once the link is printed); with
    *send*, email it too."""
    _require_url_base()
    if verify:
        click.echo(f"Asking KashFlow for {what} ...", err=True)
    link = _guard(mint)
    _print_link(link)
    if send:
        _print_sent(_guard(lambda: _links().send(link, to=to or None)))
    _prefetch_now(link)


def _print_sent(sent: Sent) -> None:
    click.echo(f"  sent to: {', '.join(sent.to)} ({_when(sent.sent_at)})", err=True)


def _print_link(link: Link) -> None:
    click.echo(link.url)
    click.echo(f"  link id: {link.link_id}", err=True)
    if isinstance(link.scope, InvoiceScope) and link.customer:
        click.echo(f"  listed under customer {link.customer}", err=True)
    click.echo(f"  opens:   {link.scope.describe()} (account {link.scope.account})", err=True)
    click.echo(f"  expires: {_when(link.expires_at)}", err=True)


def _guard(action: t.Callable[[], T]) -> T:
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
    """Client invoice links for KashFlow: mint, list, revoke, keys, account check."""


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
@click.option("--send", "send", is_flag=True, help=_SEND_HELP)
@click.option("--to", multiple=True, metavar="EMAIL", help=_TO_HELP)
@with_app
def mint_invoice(
    number: int,
    account: str | None,
    expires_in: timedelta | None,
    customer: str | None,
    verify: bool,
    send: bool,
    to: tuple[str, ...],
) -> None:
    """Mint a link to invoice NUMBER and print its URL."""
    links = _links()
    _mint(
        lambda: links.mint_invoice(
            number,
            account=account,
            expires_in=expires_in,
            customer=customer,
            verify=verify,
            prefetch=False,
        ),
        verify=verify,
        what=f"invoice {number}",
        send=send or bool(to),
        to=to,
    )


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
@click.option("--send", "send", is_flag=True, help=_SEND_HELP)
@click.option("--to", multiple=True, metavar="EMAIL", help=_TO_HELP)
@with_app
def mint_customer(
    code: str,
    status: str,
    account: str | None,
    expires_in: timedelta | None,
    verify: bool,
    send: bool,
    to: tuple[str, ...],
) -> None:
    """Mint a link to the invoices of customer CODE and print its URL."""
    links = _links()
    _mint(
        lambda: links.mint_customer(
            code,
            status=status,
            account=account,
            expires_in=expires_in,
            verify=verify,
            prefetch=False,
        ),
        verify=verify,
        what=f"{status} invoices of {code}",
        send=send or bool(to),
        to=to,
    )


def _prefetch_now(link: Link) -> None:
    """Fetch what the minted link's first page shows, in the foreground with a progress line,
    or say why not. Never fails the command: the link works either way."""
    parts = _parts()
    note = "  prefetch:"
    if not parts.settings.prefetch:
        click.echo(f"{note} off (KASHFLOW_LINKS_PREFETCH); the first open fetches", err=True)
        return
    if cache_reach(parts.shared.backend) is Reach.PROCESS:
        click.echo(
            f"{note} skipped: this command's cache (SimpleCache) ends with it. With a shared "
            "cache (Redis) it would fetch the link's first page now.",
            err=True,
        )
        return
    click.echo(f"{note} fetching the link's first page from KashFlow ...", nl=False, err=True)
    started = time.monotonic()
    scope = link.scope
    try:
        account = parts.accounts.get(scope.account)
        if isinstance(scope, InvoiceScope):
            parts.prefetcher.run_now(account, invoice=scope.invoice)
        else:
            parts.prefetcher.run_now(account, customer=scope.customer)
    except KashFlowNotFound:
        click.echo(
            " KashFlow has no such invoice or customer: the link shows 'not found'.", err=True
        )
    except (KashFlowLinksError, LookupError, ValueError) as e:
        click.echo(f" not fetched ({e}); the first open fetches it.", err=True)
    else:
        click.echo(f" done in {time.monotonic() - started:.1f} s.", err=True)


@cli_group.command("list")
@click.option("--customer", help="Only links for this customer code.")
@click.option("--account", help="Only links of this account id.")
@with_app
def list_links(customer: str | None, account: str | None) -> None:
    """List live links (not revoked, not expired). Tokens are never stored or shown."""
    records = _guard(lambda: _links().active_links(customer=customer, account=account))
    if not records:
        click.echo("No live links.")
        return
    click.echo(
        f"{'LINK ID':<14} {'OPENS':<40} {'MINTED':<22} {'EXPIRES':<22} {'LAST SENT':<22} "
        "OPENED BY THE CLIENT"
    )
    for record in records:
        scope = record.scope.describe()
        if record.scope.is_invoice and record.customer:
            scope += f" ({record.customer})"
        click.echo(
            f"{record.link_id:<14} {scope[:40]:<40} {_when(record.minted_at):<22} "
            f"{_when(record.expires_at):<22} "
            f"{_when(record.last_sent_at) if record.last_sent_at else 'not sent':<22} "
            f"{_opened(record)}"
        )


def _opened(record: LinkRecord) -> str:
    """When the client last opened the link, or that only a mail scanner checked it (see
    :attr:`~.links.store.base.LinkRecord.opened_by_client`)."""
    if record.last_opened_at is not None:
        return _when(record.last_opened_at)
    if record.last_checked_at is not None:
        return "only checked by a mail scanner"
    return "not yet"


@cli_group.command("send")
@click.argument("link")
@click.option(
    "--to",
    multiple=True,
    metavar="EMAIL",
    help="Send to this address instead of the customer's on file (repeat for several).",
)
@with_app
def send_link(link: str, to: tuple[str, ...]) -> None:
    """Email the live link LINK (its link id, token or URL) to its customer's addresses on
    file, and record the send."""
    sent = _guard(lambda: _links().send(link, to=to or None))
    click.echo(f"Sent link {sent.link_id} to {', '.join(sent.to)}.")


@cli_group.command("customers")
@click.option(
    "--owing",
    type=click.Choice(OWING),
    help="Only customers with anything unpaid, or with an overdue invoice.",
)
@click.option("--account", help=_ACCOUNT_HELP)
@with_app
def list_customers(owing: str | None, account: str | None) -> None:
    """List the customers and what each owes, the most overdue first."""
    summaries = _guard(lambda: _links().customers(owing=owing, account=account))
    if not summaries:
        click.echo("No customers owe money." if owing else "No customers.")
        return
    money = Formatter(_parts().settings.locale, _parts().settings.timezone).money
    click.echo(
        f"{'CODE':<12} {'NAME':<28} {'OWED':>14} {'OVERDUE':>14} {'INVOICES':>8} "
        f"{'OLDEST DUE':<12} EMAIL"
    )
    for s in summaries:
        currency = Currency(code=s.currency)
        oldest = s.oldest_due.isoformat() if s.oldest_due else "-"
        click.echo(
            f"{s.code[:12]:<12} {s.name[:28]:<28} {money(s.owed, currency):>14} "
            f"{money(s.overdue, currency):>14} {s.unpaid_count:>8} {oldest:<12} "
            f"{', '.join(s.emails) if s.emails else 'no address on file'}"
        )


@cli_group.command("remind")
@click.option(
    "--status",
    type=click.Choice(REMIND_STATUSES),
    default="overdue",
    show_default=True,
    help="Remind customers with an overdue invoice, or with anything unpaid.",
)
@click.option(
    "--every",
    callback=_duration_option,
    default="7d",
    show_default=True,
    metavar="DURATION",
    help="Skip customers reminded more recently than this (by any host).",
)
@click.option(
    "--customer",
    "customers",
    multiple=True,
    metavar="CODE",
    help="Only this customer (repeat for several).",
)
@click.option("--account", help=_ACCOUNT_HELP)
@click.option("--dry-run", is_flag=True, help="Say who would get what; mint and send nothing.")
@with_app
def remind(
    status: str,
    every: timedelta,
    customers: tuple[str, ...],
    account: str | None,
    dry_run: bool,
) -> None:
    """Email each customer who owes money a reminder with their lasting link.

    Customers reminded within --every, or without an address, are skipped. Exits with status
    1 if any reminder could not be sent; a rerun sends only those.
    """
    links = _links()
    settings = _parts().settings
    formatter = Formatter(settings.locale, settings.timezone)
    with contextlib.ExitStack() as stack:
        bar: t.Any = None
        if not dry_run and sys.stderr.isatty():
            # A progress bar on a terminal: who owes is asked first (then cached) for its length:
            # one step per customer owing, or per customer asked for.
            owing = _asking_kashflow(lambda: links.customers(owing=status, account=account))
            length = len({customer_key(c) for c in customers}) if customers else len(owing)
            bar = stack.enter_context(
                click.progressbar(length=length, label="Reminding", file=sys.stderr)
            )
        result = _asking_kashflow(
            lambda: links.remind(
                status=status,
                every=every,
                customers=customers or None,
                account=account,
                dry_run=dry_run,
                progress=(lambda _: bar.update(1)) if bar is not None else None,
            )
        )
    verb = "would remind" if dry_run else "reminded"
    for reminder in result.sent:
        amount = formatter.money(
            reminder.overdue or reminder.owed, Currency(code=reminder.currency)
        )
        late = f", {formatter.days(reminder.days_overdue)} overdue" if reminder.days_overdue else ""
        link = "a new link" if reminder.new_link else f"link {reminder.link_id}"
        click.echo(
            f"{verb} {reminder.customer} ({reminder.name}): {amount}{late}, "
            f"{link}, to {', '.join(reminder.emails)}"
        )
    for reminder in result.skipped:
        click.echo(f"skipped {reminder.customer}: {reminder.reason}")
    for reminder in result.failed:
        click.echo(f"FAILED {reminder.customer}: {reminder.reason}", err=True)
    click.echo(
        f"{len(result.sent)} {verb}, {len(result.skipped)} skipped, {len(result.failed)} failed"
        + (" (dry run: nothing minted or sent)" if dry_run else "")
    )
    if result.failed:
        raise SystemExit(1)


def _asking_kashflow(action: t.Callable[[], T]) -> T:
    """:func:`_guard` for a reminder run, which asks KashFlow who owes money before it mints
    or sends anything: that failing is said plainly."""

    def ask() -> T:
        try:
            return action()
        except KashFlowError as e:
            raise click.ClickException(
                f"could not ask KashFlow who owes money ({e}); nothing was minted or sent. Run "
                "it again when KashFlow answers (`flask kashflow-links check` says what is "
                "wrong)."
            ) from None

    return _guard(ask)


@cli_group.command("revoke")
@click.argument("token_or_link_id")
@with_app
def revoke(token_or_link_id: str) -> None:
    """Revoke one link, by its link id, its link token or its URL."""
    links = _links()
    link_id = _guard(lambda: links.link_id_of(token_or_link_id))
    known = _guard(lambda: links.revoke(link_id))
    note = "" if known else " (it was not in the register, but is revoked all the same)"
    click.echo(f"Revoked link {link_id}{note}.")


@cli_group.command("revoke-customer")
@click.argument("code")
@click.option("--account", help=_ACCOUNT_HELP)
@click.confirmation_option(prompt="Revoke every link sent to this customer so far?")
@with_app
def revoke_customer(code: str, account: str | None) -> None:
    """Revoke every link for customer CODE minted until now, invoice links included."""
    count = _guard(lambda: _links().revoke_customer(code, account=account))
    click.echo(
        f"Revoked every link for customer {code} minted until now "
        f"({count} in the register; invoice links not yet opened are caught on first open)."
    )


@cli_group.group("store")
def store_group() -> None:
    """The link store: revocations, cut-offs and the register of minted links."""


def _store_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A link store's URL, checked before anything is opened (a bad one exits with status 2)."""
    problem = None if value is None else url_problem(value)
    if problem is not None:
        raise click.BadParameter(problem, ctx, param)
    return value


@store_group.command("copy")
@click.option(
    "--to",
    "to_url",
    metavar="URL",
    callback=_store_url,
    help="Copy the configured store into the store at URL (sqlite:///... or redis://...).",
)
@click.option(
    "--from",
    "from_url",
    metavar="URL",
    callback=_store_url,
    help="Copy the store at URL into the configured store.",
)
@with_app
def store_copy(to_url: str | None, from_url: str | None) -> None:
    """Copy every link record, revocation and customer cut-off (and every send and reminder
    time) between the configured store (KASHFLOW_LINKS_REVOCATION_URL) and the store at URL.

    Idempotent: rerun it as often as you like. A copy never removes or weakens anything: a
    link withdrawn in either store stays withdrawn, a cut-off or reminder time only moves
    later, and no link is registered twice. Before moving a site to another store, copy with
    --to; if the site already runs on the new one, copy the old one in with --from.
    """
    if (to_url is None) == (from_url is None):
        raise click.UsageError(
            "give either --to URL or --from URL (the other side is the configured store)"
        )
    configured = _parts().links.store
    other_url = t.cast(str, to_url or from_url)
    if same_store(configured, other_url):
        raise click.ClickException(f"{redact_url(other_url)} is the configured store itself")
    try:
        # The source is only read: a SQLite file must exist, and is neither created nor upgraded.
        other = open_store(other_url, read_only=from_url is not None)
        other.ping()
    except StoreUnavailable as e:
        raise click.ClickException(f"{e}; nothing copied") from None
    source, destination = (configured, other) if to_url else (other, configured)
    try:
        click.echo(f"Copying {source.location} to {destination.location} ...")
        contents = source.contents()
        click.echo(f"  read:    {described(contents.counts())}")
        merged = destination.merge(contents)
    except StoreUnavailable as e:
        raise click.ClickException(f"{e}; run the copy again once the store answers") from None
    finally:
        other.close()
    changed = merged.counts()
    if any(changed.values()):
        click.echo(f"  copied:  {described(changed)}")
    else:
        click.echo(f"  copied:  nothing new ({destination.location} already held all of it)")
    click.echo(
        f"Done: every link withdrawn in {source.location} is withdrawn in "
        f"{destination.location} too."
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
@click.option(
    "--force", is_flag=True, help="Ask KashFlow even while calls are paused after a refusal."
)
@with_app
def check(account: str | None, force: bool) -> None:
    """Try the configured account on KashFlow (a REST login, or a SOAP call) and say plainly
    what is wrong."""
    parts = _parts()
    acct = _guard(lambda: parts.accounts.get(account))
    if acct.credentials is None:
        raise click.ClickException(
            f"account {acct.id!r} has no credentials here (username, password and, for the "
            "REST API, the memorable word in KASHFLOW_LINKS_ACCOUNTS)"
        )
    backend = parts.fetcher.backend_for(acct)
    login: Login = parts.fetcher.login_for(acct)
    click.echo(f"Checking account {acct.id!r} at {backend.base_url} ...")
    say_sharing(parts, indent="  ")
    say_warnings(parts, indent="  ")
    try:
        connection = backend.connect(login, force=force)
    except KashFlowLoginsPaused as e:
        raise click.ClickException(_paused(acct.id, backend.api, e.retry_at)) from None
    except KashFlowLinksError as e:
        raise click.ClickException(explain_login_failure(e, backend)) from None
    print_connection(connection, len(login.credentials.memorable_word), api=backend.api)
    if not connection.works:
        problems = "\n".join(f"  - {problem}" for problem in connection.problems)
        raise click.ClickException(f"this account does not work with the portal:\n{problems}")
    click.echo("OK")


@cli_group.command("config")
@with_app
def show_config() -> None:
    """Show the portal's effective settings (without secrets), and what its processes share."""
    parts = _parts()
    settings = parts.settings
    click.echo(f"API base URL:     {settings.api_base_url}")
    click.echo(f"SOAP URL:         {settings.soap_url}")
    apis = ", ".join(f"{i} ({parts.accounts.get(i).api})" for i in parts.accounts.known_ids)
    click.echo(f"accounts:         {apis or 'from a loader'}")
    click.echo(f"default account:  {parts.accounts.default}")
    click.echo(f"embed mode:       {settings.embed_credentials}")
    click.echo(f"public URL:       {settings.public_url or current_app.config.get('SERVER_NAME')}")
    prefix = (settings.url_prefix or "").rstrip("/")
    shown = settings.url_prefix or "none"
    click.echo(f"URL prefix:       {shown} (links: {prefix}/invoices/<token>)")
    say_sharing(parts)
    say_warnings(parts)


# -- what check and config say ---------------------------------------------------------------------


def _paused(account_id: str, api: str, retry_at: datetime | None) -> str:
    """Why ``check`` asked KashFlow nothing, in the words of the account's API."""
    until = _when(retry_at)
    if api == "soap":
        return (
            f"SOAP calls for account {account_id!r} are paused until {until} after KashFlow "
            "refused the password, this server's address or SOAP access. Fix the cause, then "
            "run check --force."
        )
    return (
        f"logins for account {account_id!r} are paused until {until} after KashFlow refused a "
        "login or locked the user. Fix the cause, then run check --force."
    )


def print_connection(connection: Connection, word_length: int, *, api: str = "rest") -> None:
    """What a connection check found; *word_length* tells "every letter" from "some". A SOAP
    account has no login to report: its findings say that KashFlow accepted the call."""
    company = connection.company_name
    if connection.signed_in and api == "rest":
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


def say(text: str, indent: str = "", *, err: bool = False) -> None:
    """Echo *text* wrapped to 100 columns, continued lines indented a little further (to
    standard error with *err*)."""
    click.echo(
        textwrap.fill(
            text,
            100,
            initial_indent=indent,
            subsequent_indent=indent + "  ",
            break_long_words=False,
            break_on_hyphens=False,
        ),
        err=err,
    )


def say_warnings(parts: Parts, indent: str = "") -> None:
    """What the start-up notes say about the configuration besides sharing, on standard
    error: the commands say it, the web processes log it when they first serve."""
    for warning in configuration_warnings(parts):
        text, *to_paste = warning.split("\n")
        say(f"warning: {text}", indent, err=True)
        for line in to_paste:  # a command to paste: never wrapped
            click.echo(indent + line, err=True)


def configuration_warnings(parts: Parts) -> list[str]:
    """The configuration's warnings: a URL prefix that doubles ``/invoices``, and an empty
    store beside a default store with links left in the instance folder."""
    found = [
        prefix_warning(parts.settings.url_prefix),
        left_behind(parts.links.store, current_app.instance_path),
    ]
    return [warning for warning in found if warning is not None]


def say_sharing(parts: Parts, indent: str = "") -> None:
    """What the cache and the link store share, and what that means."""
    for line in describe(sharing(parts)):
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


def explain_login_failure(error: Exception, backend: Backend) -> str:
    """Plain words for an operator, from a failed login (never the secrets themselves)."""
    if isinstance(error, KashFlowUnavailable):
        setting = (
            "KASHFLOW_LINKS_SOAP_URL" if backend.api == "soap" else "KASHFLOW_LINKS_API_BASE_URL"
        )
        return (
            f"cannot reach KashFlow ({error}). Check {setting}, DNS, the firewall and any "
            "proxy; KashFlow may also be down."
        )
    if isinstance(error, KashFlowAccountLocked):
        secrets_of = "password" if backend.api == "soap" else "password or memorable word"
        return (
            "KashFlow says the user is locked after too many refusals. Unlock it in KashFlow "
            f"(or wait for the lock to lapse), correct the {secrets_of}, then run check again."
        )
    if isinstance(error, KashFlowPasswordExpired):
        return (
            "KashFlow says the user's password has expired. Sign in to KashFlow on the web as "
            "that user, choose a new password, put it in KASHFLOW_LINKS_ACCOUNTS, then run "
            "check again."
        )
    if isinstance(error, KashFlowAuthError):
        return _refused(error)
    if isinstance(error, KashFlowNotFound | KashFlowBadResponse) and backend.api == "rest":
        # A login answered "not found", or not in KashFlow's shape: the base URL is suspect.
        url = backend.base_url
        hint = "It should be the base of KashFlow's REST API v2, https://api.kashflow.com/v2"
        if not url.endswith("/v2"):
            hint += f": it lacks the /v2 at the end (try {url}/v2)"
        return f"KASHFLOW_LINKS_API_BASE_URL {url} looks wrong: {error}. {hint}."
    return str(error)


def _refused(error: KashFlowAuthError) -> str:
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


# -- what the processes share ----------------------------------------------------------------------


@dataclass(frozen=True)
class Sharing:
    """What the portal's cache and link store are, and how far each reaches."""

    #: The cache backend's class name, e.g. ``"SimpleCache"``.
    cache_kind: str
    cache: Reach
    #: Where the store lives (redacted), e.g. ``"sqlite:////srv/instance/links.sqlite3"``.
    store_location: str
    store: Reach
    #: The KashFlow APIs of the accounts (``"rest"``, ``"soap"``): what the cache shares
    #: differs (a REST login's session token and pause; only a SOAP refusal's pause).
    apis: frozenset[str] = frozenset({"rest"})


def sharing(parts: Parts) -> Sharing:
    """What the app's cache and link store share, and with whom."""
    backend = parts.shared.backend
    store = parts.links.store
    return Sharing(
        cache_kind=type(backend).__name__,
        cache=cache_reach(backend),
        store_location=store.location,
        store=store.reach,
        apis=parts.accounts.apis,
    )


# What the cache shares between processes, by the accounts' APIs (see apis_named): a REST
# login's session token and its pause after a refusal; for SOAP, which has no session, only
# the pause after KashFlow refuses the password.
_SHARED = {
    "rest": {
        Reach.EVERYWHERE: "the web workers reuse the KashFlow session token a login leaves "
        "here, and every process honours a login pause",
        Reach.HOST: "the processes of this host share the KashFlow session token and the login "
        "pause; other hosts log in on their own. For several hosts",
        Reach.PROCESS: "so this command's KashFlow session ends with it, each web worker logs "
        "in on its own and keeps its own login pause (this command cannot see it, nor they "
        "this command's), and a mistyped password costs one failed login per process. For "
        "several workers or hosts",
    },
    "soap": {
        Reach.EVERYWHERE: "every process honours the pause after KashFlow refuses the SOAP "
        "password (SOAP has no session to share)",
        Reach.HOST: "the processes of this host share the pause after KashFlow refuses the "
        "SOAP password; other hosts keep their own. For several hosts",
        Reach.PROCESS: "so each web worker keeps its own pause after KashFlow refuses the SOAP "
        "password (this command cannot see it, nor they this command's), and a mistyped "
        "password costs one refused SOAP call per process. For several workers or hosts",
    },
    "both": {
        Reach.EVERYWHERE: "the web workers reuse the session token a REST login leaves here, "
        "and every process honours the pause after KashFlow refuses a password",
        Reach.HOST: "the processes of this host share the REST session token and the pause "
        "after a refused password; other hosts log in and pause on their own. For several "
        "hosts",
        Reach.PROCESS: "so this command's REST session ends with it, each web worker logs in "
        "on its own and keeps its own pause after a refused password (this command cannot "
        "see it, nor they this command's), and a mistyped password costs one failed login or "
        "refused SOAP call per process. For several workers or hosts",
    },
}


def describe(found: Sharing) -> list[str]:
    """A few lines for ``check`` and ``config``: the real state, and what it means.

    Each fact is followed by what it means, indented by two spaces, and a fix to paste,
    indented by four.
    """
    lines = [f"cache: {found.cache_kind}, {found.cache.value}"]
    words = _SHARED[apis_named(found.apis)]
    if found.cache is Reach.EVERYWHERE:
        lines.append("  " + words[Reach.EVERYWHERE])
    else:
        reach = Reach.HOST if found.cache is Reach.HOST else Reach.PROCESS
        lines.append(f"  {words[reach]} ({REDIS_EXTRA}):")
        lines.append(f"    {REDIS_CACHE_FIX}")
    lines.append(f"link store: {found.store_location}, {found.store.value}")
    if found.store is Reach.HOST:
        lines.append(
            "  a revocation takes effect at once for every worker of this host; other hosts "
            "need a shared store:"
        )
        lines.append(f"    {REDIS_STORE_FIX}")
    elif found.store is Reach.PROCESS:
        lines.append("  " + in_memory_warning(found.store_location))
    return lines
