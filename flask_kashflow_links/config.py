"""Defaults and validation of the ``KASHFLOW_LINKS_*`` keys.

:func:`load_settings` reads ``app.config`` once, at :meth:`~KashFlowLinks.init_app`, and returns
a frozen :class:`Settings`. Every problem raises :class:`~.ConfigurationError` naming the key and
the fix, so a misconfigured site fails at start-up rather than on a client's first click.
"""

from __future__ import annotations

import os
import typing as t
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo
from zoneinfo import ZoneInfoNotFoundError

from babel import Locale
from babel import UnknownLocaleError
from cryptography.fernet import Fernet

from .accounts import Brand
from .exceptions import ConfigurationError

if t.TYPE_CHECKING:  # pragma: no cover
    from flask import Flask

PREFIX = "KASHFLOW_LINKS_"
#: The portal's own page layout, used unless KASHFLOW_LINKS_BASE_TEMPLATE names the host's.
DEFAULT_BASE_TEMPLATE = "kashflow_links/base.html"

#: Default values, without the prefix. Documented key by key in ``docs/configuration.rst``.
DEFAULTS: dict[str, t.Any] = {
    #: Fernet keys, NEWEST FIRST (MultiFernet order). Required.
    "FERNET_KEYS": None,
    #: itsdangerous keys, OLDEST FIRST, NEWEST LAST. None: [*SECRET_KEY_FALLBACKS, SECRET_KEY].
    "SIGNING_KEYS": None,
    #: {"acme": {"username", "password", "memorable_word", "brand"}} or a loader callable.
    "ACCOUNTS": {},
    #: Account used when ``account=`` is not given (the only account, if there is one).
    "DEFAULT_ACCOUNT": None,
    #: Carry the account's credentials encrypted inside each link.
    "EMBED_CREDENTIALS": False,
    #: KashFlow REST API base URL.
    "API_BASE_URL": "https://api.kashflow.com/v2",
    #: (connect, read) timeout in seconds for every KashFlow call.
    "API_TIMEOUT": (3.05, 10.0),
    #: Retries for transient failures (connection errors, 502/503/504, 429, SQL timeouts).
    "API_RETRIES": 2,
    #: Base of the exponential backoff between retries, in seconds.
    "API_BACKOFF": 0.25,
    #: Longest Retry-After (seconds) honoured within one page load.
    "API_MAX_RETRY_AFTER": 3.0,
    #: Seconds without logins after AccountLocked or a refused login.
    "LOGIN_COOLDOWN": 900,
    #: flask-caching config for the portal's private cache, e.g. {"CACHE_TYPE": "RedisCache", ...}.
    "CACHE": None,
    #: Seconds data fetched from KashFlow counts as fresh.
    "CACHE_TIMEOUT": 300,
    #: Further seconds stale data may be shown (with its "as of" time) while KashFlow fails.
    "STALE_TIMEOUT": 2 * 24 * 3600,
    #: PDFs larger than this many bytes are streamed but not cached.
    "PDF_CACHE_MAX_BYTES": 2 * 1024 * 1024,
    #: PDFs larger than this are refused (a KashFlow invoice PDF is tens of kilobytes).
    "PDF_MAX_BYTES": 20 * 1024 * 1024,
    #: sqlite:///path or redis://host:port/db. None: SQLite in the app's instance folder.
    "REVOCATION_URL": None,
    #: The host site's layout template that portal pages extend.
    "BASE_TEMPLATE": None,
    #: Name, logo, accent colour and contacts; see accounts.BRAND_FIELDS.
    "BRAND": {},
    #: Babel locale for money and dates.
    "LOCALE": "en_GB",
    #: Time zone for "today" (overdue days) and times shown to clients.
    "TIMEZONE": "Europe/London",
    #: SMTP settings dict for fresh links, or a callable send(EmailMessage).
    "MAIL": None,
    #: External base URL of the portal for links minted outside a request.
    "PUBLIC_URL": None,
    #: Where the blueprint is mounted, e.g. "/billing".
    "URL_PREFIX": None,
    #: Invoices per page on a customer's list.
    "PAGE_SIZE": 20,
    #: Bad-token attempts allowed per client address per window, then 429.
    "THROTTLE_LIMIT": 30,
    #: The throttle window, in seconds.
    "THROTTLE_WINDOW": 300,
    #: Fresh-link emails allowed per link per day.
    "RENEW_LIMIT_PER_LINK": 3,
    #: Fresh-link requests allowed per client address per hour.
    "RENEW_LIMIT_PER_ADDRESS": 10,
    #: Record "last opened" on GET (at most once per this many seconds per link). 0 disables.
    "LAST_OPENED_INTERVAL": 60,
    #: Content-Security-Policy for portal pages; None for the strict built-in policy.
    "CONTENT_SECURITY_POLICY": None,
    #: Remove link tokens from werkzeug's and gunicorn's access logs.
    "REDACT_ACCESS_LOGS": True,
}


@dataclass(frozen=True)
class MailSettings:
    """SMTP settings for fresh-link emails."""

    host: str = "localhost"
    port: int = 25
    username: str = ""
    password: str = ""
    use_tls: bool = False
    use_ssl: bool = False
    sender: str = ""
    timeout: float = 10.0

    def __repr__(self) -> str:
        return f"MailSettings(host={self.host!r}, port={self.port}, sender={self.sender!r})"


@dataclass(frozen=True)
class Settings:
    """The validated configuration of one application."""

    fernet_keys: tuple[bytes, ...]
    signing_keys: tuple[bytes, ...]
    accounts: t.Any  # dict or loader; turned into an AccountRegistry by the extension
    default_account: str | None
    embed_credentials: bool
    api_base_url: str
    api_timeout: tuple[float, float]
    api_retries: int
    api_backoff: float
    api_max_retry_after: float
    login_cooldown: int
    cache_config: dict[str, t.Any]
    cache_timeout: int
    stale_timeout: int
    pdf_cache_max_bytes: int
    pdf_max_bytes: int
    revocation_url: str
    base_template: str
    brand: Brand
    locale: str
    timezone: ZoneInfo
    mail: MailSettings | t.Callable[[t.Any], t.Any] | None
    public_url: str | None
    url_prefix: str | None
    page_size: int
    throttle_limit: int
    throttle_window: int
    renew_limit_per_link: int
    renew_limit_per_address: int
    last_opened_interval: int
    content_security_policy: str | None
    redact_access_logs: bool

    def __repr__(self) -> str:  # keys and credentials never appear in reprs or logs
        return (
            f"Settings(api_base_url={self.api_base_url!r}, revocation_url="
            f"{redact_url(self.revocation_url)!r}, default_account={self.default_account!r})"
        )


def redact_url(url: str) -> str:
    """*url* with any password replaced by ``***`` (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


def _key(name: str) -> str:
    return PREFIX + name


def _seconds(config: t.Mapping[str, t.Any], name: str, *, minimum: int = 0) -> int:
    value = config[_key(name)]
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(_key(name), f"must be a number of seconds, not {value!r}")
    if value < minimum:
        raise ConfigurationError(_key(name), f"must be at least {minimum} seconds")
    return int(value)


def _int(config: t.Mapping[str, t.Any], name: str, *, minimum: int) -> int:
    value = config[_key(name)]
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigurationError(_key(name), f"must be a whole number, at least {minimum}")
    return value


def _fernet_keys(config: t.Mapping[str, t.Any], *, embed: bool) -> tuple[bytes, ...]:
    key = _key("FERNET_KEYS")
    raw = config[key]
    if isinstance(raw, str | bytes):
        raw = [raw]
    if not raw and embed:
        raise ConfigurationError(
            key,
            "embed mode (KASHFLOW_LINKS_EMBED_CREDENTIALS) puts KashFlow credentials inside links, "
            "encrypted with these keys: set at least one. Generate one with "
            "`flask kashflow-links generate-key`.",
        )
    if not raw:
        raise ConfigurationError(
            key,
            "no Fernet key configured. Generate one with `flask kashflow-links generate-key` "
            'and set KASHFLOW_LINKS_FERNET_KEYS = ["<key>"] (newest first).',
        )
    keys = []
    for position, value in enumerate(raw, start=1):
        data = value.encode() if isinstance(value, str) else value
        try:
            Fernet(data)
        except (ValueError, TypeError):
            raise ConfigurationError(
                key,
                f"key #{position} is not a valid Fernet key (32 url-safe base64-encoded bytes). "
                "Generate one with `flask kashflow-links generate-key`.",
            ) from None
        keys.append(data)
    return tuple(keys)


def _signing_keys(config: t.Mapping[str, t.Any]) -> tuple[bytes, ...]:
    key = _key("SIGNING_KEYS")
    raw = config[key]
    source = key
    if raw is None:
        secret = config.get("SECRET_KEY")
        if not secret:
            raise ConfigurationError(
                key,
                "no signing key: set Flask's SECRET_KEY (at least 32 random bytes, e.g. "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`) or "
                "KASHFLOW_LINKS_SIGNING_KEYS.",
            )
        # Flask's own order: fallbacks (oldest first), then the current key last.
        raw = [*(config.get("SECRET_KEY_FALLBACKS") or []), secret]
        source = "SECRET_KEY"
    elif isinstance(raw, str | bytes):
        raw = [raw]
    if not raw:
        raise ConfigurationError(key, "is empty; give at least one key (oldest first)")
    keys = []
    for value in raw:
        data = value.encode() if isinstance(value, str) else value
        if not isinstance(data, bytes) or len(data) < 32:
            raise ConfigurationError(
                source,
                "a key used to sign links is shorter than 32 bytes, which is guessable. Use "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'` and keep the old "
                "key in SECRET_KEY_FALLBACKS (or first in KASHFLOW_LINKS_SIGNING_KEYS) so links "
                "already sent keep working.",
            )
        keys.append(data)
    return tuple(keys)


def _api_base_url(config: t.Mapping[str, t.Any]) -> str:
    key = _key("API_BASE_URL")
    url = config[key]
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(key, f"must be an http(s) URL, not {url!r}")
    if parts.username or parts.password:
        raise ConfigurationError(key, "must not contain credentials; use KASHFLOW_LINKS_ACCOUNTS")
    return t.cast(str, url).rstrip("/")


def _timeout(config: t.Mapping[str, t.Any]) -> tuple[float, float]:
    key = _key("API_TIMEOUT")
    value = config[key]
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = (value, value)
    if (
        not isinstance(value, tuple | list)
        or len(value) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in value)
    ):
        raise ConfigurationError(
            key, "must be seconds or a (connect, read) pair of positive numbers; never None"
        )
    return float(value[0]), float(value[1])


def _cache_config(config: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    key = _key("CACHE")
    value = config[key]
    if value is None:
        value = {}
    if not isinstance(value, t.Mapping):
        raise ConfigurationError(
            key, 'must be a flask-caching config dict, e.g. {"CACHE_TYPE": ...}'
        )
    bad = [k for k in value if not str(k).startswith("CACHE_")]
    if bad:
        raise ConfigurationError(key, f"flask-caching keys start with CACHE_, not {bad[0]!r}")
    merged = {
        "CACHE_TYPE": "SimpleCache",
        "CACHE_THRESHOLD": 5000,
        "CACHE_KEY_PREFIX": "kfl:",
        "CACHE_DEFAULT_TIMEOUT": 0,
        **value,
    }
    if str(merged["CACHE_TYPE"]).lower() in (
        "null",
        "nullcache",
        "flask_caching.backends.nullcache",
    ):
        raise ConfigurationError(
            key, "NullCache would make every page call KashFlow; use SimpleCache or RedisCache"
        )
    if "redis" in str(merged["CACHE_TYPE"]).lower():
        # A dead Redis must cost a page milliseconds, not the client library's defaults.
        options = dict(merged.get("CACHE_OPTIONS") or {})
        options.setdefault("socket_timeout", 0.5)
        options.setdefault("socket_connect_timeout", 0.5)
        merged["CACHE_OPTIONS"] = options
    return merged


def _revocation_url(app: Flask, config: t.Mapping[str, t.Any]) -> str:
    key = _key("REVOCATION_URL")
    url = config[key]
    if url is None:
        return "sqlite:///" + os.path.join(app.instance_path, "kashflow_links.sqlite3")
    if not isinstance(url, str):
        raise ConfigurationError(key, f"must be a sqlite:/// or redis:// URL, not {url!r}")
    scheme = urlsplit(url).scheme
    if scheme not in ("sqlite", "redis", "rediss", "unix"):
        raise ConfigurationError(
            key,
            f"unsupported scheme {scheme!r} in {redact_url(url)!r}; use sqlite:///path/to/file "
            "or redis://host:6379/0",
        )
    if scheme == "sqlite" and not url.startswith("sqlite:///"):
        raise ConfigurationError(
            key, "write SQLite URLs as sqlite:///relative or sqlite:////absolute"
        )
    return url


def _mail(config: t.Mapping[str, t.Any]) -> MailSettings | t.Callable[[t.Any], t.Any] | None:
    key = _key("MAIL")
    value = config[key]
    if value is None or callable(value):
        return t.cast("t.Callable[[t.Any], t.Any] | None", value)
    if not isinstance(value, t.Mapping):
        raise ConfigurationError(key, "must be a dict of SMTP settings or a callable send(message)")
    known = set(MailSettings.__dataclass_fields__)
    unknown = set(value) - known
    if unknown:
        raise ConfigurationError(
            key,
            f"unknown setting(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}",
        )
    try:
        mail = MailSettings(**value)
    except TypeError as e:  # pragma: no cover - guarded by the unknown check
        raise ConfigurationError(key, str(e)) from None
    if not isinstance(mail.host, str) or not mail.host:
        raise ConfigurationError(
            key, "host must be the SMTP server's name, e.g. 'smtp.example.com'"
        )
    if isinstance(mail.port, bool) or not isinstance(mail.port, int) or not 0 < mail.port < 65536:
        raise ConfigurationError(key, f"port must be a number from 1 to 65535, not {mail.port!r}")
    if not isinstance(mail.timeout, int | float) or mail.timeout <= 0:
        raise ConfigurationError(key, "timeout must be a positive number of seconds")
    if not isinstance(mail.sender, str) or not mail.sender or "@" not in mail.sender:
        raise ConfigurationError(key, "needs a sender address, e.g. 'Acme <billing@acme.test>'")
    if mail.use_tls and mail.use_ssl:
        raise ConfigurationError(key, "use_tls (STARTTLS) and use_ssl are exclusive; pick one")
    return mail


def load_settings(app: Flask) -> Settings:
    """Validate ``app.config`` and return the frozen settings.

    :raises ConfigurationError: naming the key and the fix.
    """
    config = app.config
    for name, value in DEFAULTS.items():
        config.setdefault(_key(name), value)

    embed = bool(config[_key("EMBED_CREDENTIALS")])
    fernet_keys = _fernet_keys(config, embed=embed)
    signing_keys = _signing_keys(config)

    accounts = config[_key("ACCOUNTS")]
    if accounts is None:
        accounts = {}
    if not (callable(accounts) or isinstance(accounts, t.Mapping)):
        raise ConfigurationError(
            _key("ACCOUNTS"), "must be a dict of accounts or a callable account_id -> Account"
        )
    default_account = config[_key("DEFAULT_ACCOUNT")]
    if default_account is not None and not isinstance(default_account, str):
        raise ConfigurationError(_key("DEFAULT_ACCOUNT"), "must be an account id (a string)")

    try:
        brand = Brand().merged(config[_key("BRAND")] or {})
    except ValueError as e:
        raise ConfigurationError(_key("BRAND"), str(e)) from None

    locale = config[_key("LOCALE")]
    try:
        Locale.parse(locale)
    except (UnknownLocaleError, ValueError, TypeError):
        raise ConfigurationError(
            _key("LOCALE"), f"unknown locale {locale!r}; use a Babel locale such as 'en_GB'"
        ) from None
    try:
        zone = ZoneInfo(config[_key("TIMEZONE")])
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ConfigurationError(
            _key("TIMEZONE"), "unknown time zone; use an IANA name such as 'Europe/London'"
        ) from None

    public_url = config[_key("PUBLIC_URL")]
    if public_url is not None:
        parts = urlsplit(public_url) if isinstance(public_url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError(
                _key("PUBLIC_URL"),
                "must be an absolute URL such as https://www.example.co.uk/billing",
            )
        public_url = public_url.rstrip("/")

    mail = _mail(config)
    if mail is not None and not (
        public_url or config.get("SERVER_NAME") or config.get("TRUSTED_HOSTS")
    ):
        raise ConfigurationError(
            _key("PUBLIC_URL"),
            "fresh links are emailed (KASHFLOW_LINKS_MAIL is set), so their address must not "
            "come from a request's Host header, which anyone can forge. Set "
            "KASHFLOW_LINKS_PUBLIC_URL (e.g. 'https://www.example.co.uk/billing'), or Flask's "
            "SERVER_NAME or TRUSTED_HOSTS.",
        )

    url_prefix = config[_key("URL_PREFIX")]
    if url_prefix is not None and (
        not isinstance(url_prefix, str) or not url_prefix.startswith("/")
    ):
        raise ConfigurationError(_key("URL_PREFIX"), "must start with '/', e.g. '/billing'")

    if url_prefix and public_url:
        public_path = urlsplit(public_url).path.rstrip("/")
        if not public_path.endswith(url_prefix.rstrip("/")):
            raise ConfigurationError(
                _key("PUBLIC_URL"),
                f"{public_url!r} does not end with the portal's URL prefix {url_prefix!r}, so "
                "links minted outside a request would not open. Include the prefix, e.g. "
                f"'https://www.example.co.uk{url_prefix}'.",
            )

    base_template = config[_key("BASE_TEMPLATE")] or DEFAULT_BASE_TEMPLATE
    if not isinstance(base_template, str):
        raise ConfigurationError(_key("BASE_TEMPLATE"), "must be a template path")

    csp = config[_key("CONTENT_SECURITY_POLICY")]
    if csp is not None and not isinstance(csp, str):
        raise ConfigurationError(_key("CONTENT_SECURITY_POLICY"), "must be a header value string")

    cache_timeout = _seconds(config, "CACHE_TIMEOUT", minimum=1)
    return Settings(
        fernet_keys=fernet_keys,
        signing_keys=signing_keys,
        accounts=accounts,
        default_account=default_account,
        embed_credentials=embed,
        api_base_url=_api_base_url(config),
        api_timeout=_timeout(config),
        api_retries=_int(config, "API_RETRIES", minimum=0),
        api_backoff=float(_seconds_float(config, "API_BACKOFF")),
        api_max_retry_after=float(_seconds_float(config, "API_MAX_RETRY_AFTER")),
        login_cooldown=_seconds(config, "LOGIN_COOLDOWN", minimum=1),
        cache_config=_cache_config(config),
        cache_timeout=cache_timeout,
        stale_timeout=_seconds(config, "STALE_TIMEOUT"),
        pdf_cache_max_bytes=_int(config, "PDF_CACHE_MAX_BYTES", minimum=0),
        pdf_max_bytes=_int(config, "PDF_MAX_BYTES", minimum=1024),
        revocation_url=_revocation_url(app, config),
        base_template=base_template,
        brand=brand,
        locale=str(locale),
        timezone=zone,
        mail=mail,
        public_url=public_url,
        url_prefix=url_prefix,
        page_size=_int(config, "PAGE_SIZE", minimum=1),
        throttle_limit=_int(config, "THROTTLE_LIMIT", minimum=1),
        throttle_window=_seconds(config, "THROTTLE_WINDOW", minimum=1),
        renew_limit_per_link=_int(config, "RENEW_LIMIT_PER_LINK", minimum=1),
        renew_limit_per_address=_int(config, "RENEW_LIMIT_PER_ADDRESS", minimum=1),
        last_opened_interval=_seconds(config, "LAST_OPENED_INTERVAL"),
        content_security_policy=csp,
        redact_access_logs=bool(config[_key("REDACT_ACCESS_LOGS")]),
    )


def _seconds_float(config: t.Mapping[str, t.Any], name: str) -> float:
    value = config[_key(name)]
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigurationError(
            _key(name), f"must be a non-negative number of seconds, not {value!r}"
        )
    return float(value)


__all__ = ["DEFAULTS", "PREFIX", "MailSettings", "Settings", "load_settings", "redact_url"]
