"""The configuration: the ``KASHFLOW_LINKS_*`` keys, their defaults and validation, and the
accounts.

Every option is declared once, as a field of :class:`Settings`: its key, default, parser and a
line of documentation (see :mod:`~flask_kashflow_links.options`). :data:`DEFAULTS` and
:func:`load_settings` are derived from those fields, and a test holds ``docs/configuration.rst``
to them.

:func:`load_settings` reads ``app.config`` once, at :meth:`~KashFlowLinks.init_app`, and returns
a frozen :class:`Settings`. Every problem raises :class:`~.ConfigurationError` naming the key and
the fix, so a misconfigured site fails at start-up rather than on a client's first click.
"""

from __future__ import annotations

import copy
import os
import typing as t
import warnings
from dataclasses import dataclass
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo
from zoneinfo import ZoneInfoNotFoundError

from babel import Locale
from babel import UnknownLocaleError

from ..exceptions import ConfigurationError
from .accounts import BRAND_FIELDS as BRAND_FIELDS
from .accounts import Account as Account
from .accounts import AccountLoader as AccountLoader
from .accounts import AccountRegistry as AccountRegistry
from .accounts import Brand as Brand
from .options import PREFIX as PREFIX
from .options import Context
from .options import boolean
from .options import fernet_keys
from .options import option
from .options import optional
from .options import options_of
from .options import redact_url as redact_url
from .options import refuse_shared_secret
from .options import seconds
from .options import signing_keys
from .options import text
from .options import url
from .options import whole

if t.TYPE_CHECKING:  # pragma: no cover
    from flask import Flask

#: Where an application keeps the portal's per-app object: ``app.extensions[EXTENSION_KEY]``.
EXTENSION_KEY = "kashflow_links"
#: The portal's own page layout, used unless KASHFLOW_LINKS_BASE_TEMPLATE names the host's.
DEFAULT_BASE_TEMPLATE = "kashflow_links/base.html"
#: The cache's key prefix unless set. Apart from the Redis link store's ``kfl:rev:``: clearing
#: a Redis cache deletes every key that starts with its prefix.
DEFAULT_CACHE_PREFIX = "kfl:cache:"


@dataclass(frozen=True)
class MailSettings:
    """SMTP settings for fresh-link emails."""

    host: str = "localhost"
    port: int = 25
    username: str = ""
    password: str = ""
    #: STARTTLS: ``None`` (the default) when the server offers it, ``True`` always (refusing a
    #: server that does not offer it), ``False`` never (an explicit opt-out).
    use_tls: bool | None = None
    use_ssl: bool = False
    sender: str = ""
    timeout: float = 10.0

    def __repr__(self) -> str:
        return f"MailSettings(host={self.host!r}, port={self.port}, sender={self.sender!r})"


# -- parsers of one option each ------------------------------------------------------------------


def _accounts(value: t.Any, ctx: Context) -> t.Any:
    # Only the shape here: the extension turns it into an AccountRegistry, which checks entries.
    if value is None:
        return {}
    if not (callable(value) or isinstance(value, t.Mapping)):
        raise ctx.error("must be a dict of accounts or a callable account_id -> Account")
    return value


def _timeout(value: t.Any, ctx: Context) -> tuple[float, float]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = (value, value)
    if (
        not isinstance(value, tuple | list)
        or len(value) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in value)
    ):
        raise ctx.error("must be seconds or a (connect, read) pair of positive numbers; never None")
    return float(value[0]), float(value[1])


def _cache_config(value: t.Any, ctx: Context) -> dict[str, t.Any]:
    if value is None:
        value = {}
    if not isinstance(value, t.Mapping):
        raise ctx.error('must be a flask-caching config dict, e.g. {"CACHE_TYPE": ...}')
    bad = [k for k in value if not str(k).startswith("CACHE_")]
    if bad:
        raise ctx.error(f"flask-caching keys start with CACHE_, not {bad[0]!r}")
    merged = {
        "CACHE_TYPE": "SimpleCache",
        "CACHE_THRESHOLD": 5000,
        "CACHE_KEY_PREFIX": DEFAULT_CACHE_PREFIX,
        "CACHE_DEFAULT_TIMEOUT": 0,
        **value,
    }
    kind = str(merged["CACHE_TYPE"]).lower()
    if kind in ("null", "nullcache", "flask_caching.backends.nullcache"):
        raise ctx.error(
            "NullCache would make every page call KashFlow; use SimpleCache or RedisCache"
        )
    if "redis" in kind:
        # A dead Redis must cost a page milliseconds, not the client library's defaults.
        options = dict(merged.get("CACHE_OPTIONS") or {})
        options.setdefault("socket_timeout", 0.5)
        options.setdefault("socket_connect_timeout", 0.5)
        merged["CACHE_OPTIONS"] = options
    return merged


#: The default link store's file, in the application's instance folder.
DEFAULT_STORE_FILE = "kashflow_links.sqlite3"


def _revocation_url(value: t.Any, ctx: Context) -> str:
    if value is None:
        return "sqlite:///" + os.path.join(ctx.app.instance_path, DEFAULT_STORE_FILE)
    if not isinstance(value, str):
        raise ctx.error(f"must be a sqlite:/// or redis:// URL, not {value!r}")
    scheme = urlsplit(value).scheme
    if scheme not in ("sqlite", "redis", "rediss", "unix"):
        raise ctx.error(
            f"unsupported scheme {scheme!r} in {redact_url(value)!r}; use sqlite:///path/to/file "
            "or redis://host:6379/0"
        )
    if scheme == "sqlite" and not value.startswith("sqlite:///"):
        raise ctx.error("write SQLite URLs as sqlite:///relative or sqlite:////absolute")
    return value


def _brand(value: t.Any, ctx: Context) -> Brand:
    try:
        return Brand().merged(value or {})
    except ValueError as e:
        raise ctx.error(str(e)) from None


def _locale(value: t.Any, ctx: Context) -> str:
    try:
        Locale.parse(value)
    except (UnknownLocaleError, ValueError, TypeError):
        raise ctx.error(f"unknown locale {value!r}; use a Babel locale such as 'en_GB'") from None
    return str(value)


def _timezone(value: t.Any, ctx: Context) -> ZoneInfo:
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ctx.error("unknown time zone; use an IANA name such as 'Europe/London'") from None


Mail = MailSettings | t.Callable[[t.Any], t.Any] | None


def _mail(value: t.Any, ctx: Context) -> Mail:
    if value is None or callable(value):
        return t.cast(Mail, value)
    if not isinstance(value, t.Mapping):
        raise ctx.error("must be a dict of SMTP settings or a callable send(message)")
    known = set(MailSettings.__dataclass_fields__)
    unknown = set(value) - known
    if unknown:
        raise ctx.error(
            f"unknown setting(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}"
        )
    mail = MailSettings(**value)
    if not isinstance(mail.host, str) or not mail.host:
        raise ctx.error("host must be the SMTP server's name, e.g. 'smtp.example.com'")
    if isinstance(mail.port, bool) or not isinstance(mail.port, int) or not 0 < mail.port < 65536:
        raise ctx.error(f"port must be a number from 1 to 65535, not {mail.port!r}")
    if not isinstance(mail.timeout, int | float) or mail.timeout <= 0:
        raise ctx.error("timeout must be a positive number of seconds")
    if not isinstance(mail.sender, str) or not mail.sender or "@" not in mail.sender:
        raise ctx.error("needs a sender address, e.g. 'Acme <billing@acme.test>'")
    if mail.use_tls not in (None, True, False) or mail.use_ssl not in (True, False):
        raise ctx.error("use_tls is None (when offered), True or False; use_ssl True or False")
    if mail.use_tls and mail.use_ssl:
        raise ctx.error("use_tls (STARTTLS) and use_ssl are exclusive; pick one")
    return mail


def _url_prefix(value: t.Any, ctx: Context) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        raise ctx.error("must start with '/', e.g. '/billing'")
    return value


#: The first segment of every link's route (``portal/routes.py``: ``/invoices/<token>``).
LINK_ROUTES = "/invoices"


def prefix_warning(prefix: str | None) -> str | None:
    """What to say about a URL prefix that already ends in ``/invoices``, or ``None``.

    The link routes begin with ``/invoices``, so the prefix ``/account/invoices`` serves
    ``/account/invoices/invoices/<token>``. It is accepted (a site may want that path), and
    said at start-up and by ``check`` and ``config``, with the prefix that was likely meant.
    """
    if not prefix:
        return None
    trimmed = prefix.rstrip("/")
    if not trimmed.lower().endswith(LINK_ROUTES):
        return None
    meant = trimmed[: -len(LINK_ROUTES)]
    fix = f"KASHFLOW_LINKS_URL_PREFIX = {meant!r}" if meant else "no KASHFLOW_LINKS_URL_PREFIX"
    return (
        f"KASHFLOW_LINKS_URL_PREFIX {prefix!r} already ends in {LINK_ROUTES}, where the "
        f"portal's routes begin, so links open at {trimmed}{LINK_ROUTES}/<token>. For links at "
        f"{trimmed}/<token>, set {fix} (and KASHFLOW_LINKS_PUBLIC_URL to match)."
    )


# -- the option table ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """The validated configuration of one application: one field per ``KASHFLOW_LINKS_*`` key.

    Each field's :func:`~.options.option` names the key, its default, its parser and a line of
    documentation; ``docs/configuration.rst`` documents each key at length.
    """

    # One row per option: key, default, parser, then its line of documentation.
    # fmt: off

    fernet_keys: tuple[bytes, ...] = option(
        "FERNET_KEYS", None, fernet_keys,
        "The Fernet keys that encrypt what a link opens, newest first.",
    )
    signing_keys: tuple[bytes, ...] = option(
        "SIGNING_KEYS", None, signing_keys,
        "The itsdangerous keys that sign links, oldest first, newest last.",
    )
    # A dict or a loader; the extension turns it into an AccountRegistry.
    accounts: t.Any = option(
        "ACCOUNTS", {}, _accounts,
        "The KashFlow accounts the portal reads from, as a dict of account id to account, or a "
        "callable that returns an account for an id.",
    )
    default_account: str | None = option(
        "DEFAULT_ACCOUNT", None, optional(text("an account id (a string)")),
        "The account used when account= (or --account) is not given.",
    )
    embed_credentials: bool = option(
        "EMBED_CREDENTIALS", False, boolean,
        "Mint links that carry the account's KashFlow credentials (username, password, the "
        "memorable word for REST, and which API) inside them, encrypted with the Fernet key.",
    )
    api_base_url: str = option(
        "API_BASE_URL", "https://api.kashflow.com/v2",
        url("must be an http(s) URL, not {value!r}", no_credentials="KASHFLOW_LINKS_ACCOUNTS"),
        "The base URL of the KashFlow REST API v2.",
    )
    soap_url: str = option(
        "SOAP_URL", "https://securedwebapp.com/api/service.asmx",
        url("must be an http(s) URL, not {value!r}", no_credentials="KASHFLOW_LINKS_ACCOUNTS"),
        "The address of KashFlow's SOAP API, for accounts whose api is soap.",
    )
    api_timeout: tuple[float, float] = option(
        "API_TIMEOUT", (3.05, 10.0), _timeout,
        "The (connect, read) timeout in seconds of every call to KashFlow.",
    )
    cache_config: dict[str, t.Any] = option(
        "CACHE", None, _cache_config,
        "A flask-caching configuration dict for the portal's private cache.",
    )
    cache_timeout: int = option(
        "CACHE_TIMEOUT", 300, seconds(minimum=1),
        "Seconds data fetched from KashFlow counts as fresh.",
    )
    stale_timeout: int = option(
        "STALE_TIMEOUT", 2 * 24 * 3600, seconds(),
        'Further seconds that data past its fresh time is kept, and shown with an "as of" note, '
        "while KashFlow fails.",
    )
    stale_while_revalidate: int = option(
        "STALE_WHILE_REVALIDATE", 24 * 3600, seconds(),
        'Further seconds that data past its fresh time is shown at once, with an "as of" note, '
        "while a fresh copy is fetched in the background; 0 turns it off.",
    )
    prefetch: bool = option(
        "PREFETCH", True, boolean,
        "Minting a link fetches what its first page shows in the background, so the client's "
        "first open does not wait for KashFlow.",
    )
    revocation_url: str = option(
        "REVOCATION_URL", None, _revocation_url,
        "Where revoked links and the register of minted links are kept.",
    )
    base_template: str = option(
        "BASE_TEMPLATE", None, text("a template path", empty=DEFAULT_BASE_TEMPLATE),
        "The template portal pages extend, so they wear your site's header, footer and "
        "navigation.",
    )
    brand: Brand = option(
        "BRAND", {}, _brand,
        "The business as clients see it: name, logo, accent colour, contact details, payment "
        "instructions.",
    )
    locale: str = option(
        "LOCALE", "en_GB", _locale,
        "The Babel locale for money and dates.",
    )
    timezone: ZoneInfo = option(
        "TIMEZONE", "Europe/London", _timezone,
        'The time zone that decides "today" (and so how many days an invoice is overdue) and '
        "in which times are shown.",
    )
    mail: Mail = option(
        "MAIL", None, _mail,
        'How the portal sends mail: "Email me a fresh link", links sent by staff, reminders.',
    )
    public_url: str | None = option(
        "PUBLIC_URL", None,
        optional(url("must be an absolute URL such as https://www.example.co.uk/billing")),
        "The external base URL of the portal, used for every link's URL when set.",
    )
    url_prefix: str | None = option(
        "URL_PREFIX", None, optional(_url_prefix),
        "Where the portal's blueprint is mounted.",
    )
    page_size: int = option(
        "PAGE_SIZE", 20, whole(minimum=1),
        "Invoices per page in a customer's list.",
    )
    throttle_limit: int = option(
        "THROTTLE_LIMIT", 30, whole(minimum=1),
        "Bad link-token attempts allowed per client address within five minutes.",
    )
    content_security_policy: str | None = option(
        "CONTENT_SECURITY_POLICY", None, optional(text("a header value string")),
        "The Content-Security-Policy header of portal pages; None for the built-in policy.",
    )
    redact_access_logs: bool = option(
        "REDACT_ACCESS_LOGS", True, boolean,
        "Remove link tokens from the access logs of werkzeug, gunicorn, waitress and uvicorn.",
    )

    # fmt: on

    def __repr__(self) -> str:  # keys and credentials never appear in reprs or logs
        return (
            f"Settings(api_base_url={self.api_base_url!r}, revocation_url="
            f"{redact_url(self.revocation_url)!r}, default_account={self.default_account!r})"
        )


#: Options that are no longer read, and what the portal does instead. A site that still sets
#: one gets a deprecation warning (for one release), not an error.
REMOVED_OPTIONS = {
    "API_RETRIES": "failed calls that may pass are retried twice",
    "API_BACKOFF": "retries back off from a quarter of a second",
    "API_MAX_RETRY_AFTER": "a Retry-After beyond 3 seconds is cut short",
    "LOGIN_COOLDOWN": "logins pause for 15 minutes after KashFlow refused one",
    "PDF_CACHE_MAX_BYTES": "PDFs up to 2 MiB are cached",
    "PDF_MAX_BYTES": "PDFs over 20 MiB are refused",
    "THROTTLE_WINDOW": "bad link tokens are counted in windows of five minutes",
    "RENEW_LIMIT_PER_LINK": "an expired link gets three fresh links a day",
    "RENEW_LIMIT_PER_ADDRESS": "an address may ask for ten fresh links an hour",
    "LAST_OPENED_INTERVAL": '"last opened" is recorded at most once a minute per link',
}

#: Default values, without the prefix, from the table above.
DEFAULTS: dict[str, t.Any] = {opt.name: opt.default for _, opt in options_of(Settings)}


def load_settings(app: Flask) -> Settings:
    """Validate ``app.config`` and return the frozen settings.

    Keys not set are first given their defaults in ``app.config`` (with :meth:`dict.setdefault`),
    so ``app.config`` shows what is in force.

    :raises ConfigurationError: naming the key and the fix.
    """
    config = app.config
    for name, instead in REMOVED_OPTIONS.items():
        if PREFIX + name in config:
            warnings.warn(
                f"{PREFIX}{name} is no longer read ({instead}); remove it from the configuration.",
                DeprecationWarning,
                stacklevel=3,
            )
    values = {}
    for attribute, opt in options_of(Settings):
        # A copy, so that editing one app's dict cannot change another app's default.
        raw = config.setdefault(opt.key, copy.deepcopy(opt.default))
        values[attribute] = opt.parse(raw, Context(app, config, opt.key))
    settings = Settings(**values)
    refuse_conflicting_settings(settings, config)
    return settings


def refuse_conflicting_settings(settings: Settings, config: t.Mapping[str, t.Any]) -> None:
    """The checks that involve more than one option, once each option has parsed.

    :raises ConfigurationError: naming the key to change.
    """
    fernet_key = PREFIX + "FERNET_KEYS"
    if not settings.fernet_keys and settings.embed_credentials:
        raise ConfigurationError(
            fernet_key,
            "embed mode (KASHFLOW_LINKS_EMBED_CREDENTIALS) puts KashFlow credentials inside links, "
            "encrypted with these keys: set at least one. Generate one with "
            "`flask kashflow-links generate-key`.",
        )
    if not settings.fernet_keys:
        raise ConfigurationError(
            fernet_key,
            "no Fernet key configured. Generate one with `flask kashflow-links generate-key` "
            'and set KASHFLOW_LINKS_FERNET_KEYS = ["<key>"] (newest first).',
        )

    refuse_shared_secret(settings.fernet_keys, config)

    if settings.mail is not None and not (settings.public_url or config.get("SERVER_NAME")):
        raise ConfigurationError(
            PREFIX + "PUBLIC_URL",
            "links are emailed (KASHFLOW_LINKS_MAIL is set), so their address must come from "
            "configuration, never from a request, whose host, scheme and port anyone can "
            "write (TRUSTED_HOSTS vets the host only, and a '.domain' entry admits any name "
            "under it). Set KASHFLOW_LINKS_PUBLIC_URL (e.g. "
            "'https://www.example.co.uk/billing'), or Flask's SERVER_NAME (with "
            "PREFERRED_URL_SCHEME).",
        )

    prefix, public_url = settings.url_prefix, settings.public_url
    if prefix and public_url:
        public_path = urlsplit(public_url).path.rstrip("/")
        if not public_path.endswith(prefix.rstrip("/")):
            raise ConfigurationError(
                PREFIX + "PUBLIC_URL",
                f"{public_url!r} does not end with the portal's URL prefix {prefix!r}, so "
                "links minted outside a request would not open. Include the prefix, e.g. "
                f"'https://www.example.co.uk{prefix}'.",
            )


def accounts_of(settings: Settings) -> AccountRegistry:
    """The accounts of *settings*.

    :raises ConfigurationError: an unknown default account, or a bad account.
    """
    try:
        return AccountRegistry(
            settings.accounts,
            base_brand=settings.brand,
            default=settings.default_account,
            need_credentials=not settings.embed_credentials,
        )
    except KeyError as e:
        raise ConfigurationError(
            PREFIX + "DEFAULT_ACCOUNT",
            f"{e.args[0]}; set it to one of the keys of KASHFLOW_LINKS_ACCOUNTS",
        ) from None
    except ValueError as e:
        raise ConfigurationError(PREFIX + "ACCOUNTS", str(e)) from None
