"""How a ``KASHFLOW_LINKS_*`` option is declared and parsed, and the checks on its keys.

:class:`~.config.Settings` declares every option once, as a typed field made by :func:`option`;
:func:`~.config.load_settings` walks the fields. The parsers here are small and reusable
(:func:`seconds`, :func:`whole`, :func:`url`, ...): each turns the raw ``app.config`` value into
the field's value or raises :class:`~.ConfigurationError` naming the key and the fix.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import itertools
import math
import typing as t
import zlib
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from cryptography.fernet import Fernet

from ..exceptions import ConfigurationError

if t.TYPE_CHECKING:  # pragma: no cover
    from flask import Flask

PREFIX = "KASHFLOW_LINKS_"
T = t.TypeVar("T")


@dataclass(frozen=True)
class Context:
    """What a parser may consult besides the value it parses."""

    app: Flask
    #: The whole ``app.config``, for options whose meaning depends on Flask's own keys.
    config: t.Mapping[str, t.Any]
    #: The full name of the key being parsed, e.g. ``"KASHFLOW_LINKS_CACHE_TIMEOUT"``.
    key: str

    def error(self, message: str) -> ConfigurationError:
        """A :class:`~.ConfigurationError` for the key being parsed."""
        return ConfigurationError(self.key, message)


#: Turns the raw ``app.config`` value into the setting, or raises ConfigurationError.
Parser = t.Callable[[t.Any, Context], T]


@dataclass(frozen=True)
class Option:
    """One row of the option table."""

    #: The key without :data:`PREFIX`, e.g. ``"CACHE_TIMEOUT"``.
    name: str
    #: The value written into ``app.config`` when the key is not set (and documented as such).
    default: t.Any
    parse: Parser[t.Any]
    #: One line for people; ``docs/configuration.rst`` must contain it under the key's entry.
    doc: str

    @property
    def key(self) -> str:
        """The full ``app.config`` key."""
        return PREFIX + self.name


_OPTION = "kashflow_links_option"


def option(name: str, default: object, parse: Parser[T], doc: str) -> T:
    """Declare the :class:`~.config.Settings` field filled from ``KASHFLOW_LINKS_<name>``.

    Typed as the parser's result, so mypy checks the parser against the field's annotation.
    """
    # The field has no dataclass default on purpose: load_settings always passes every value.
    return t.cast(T, dataclasses.field(metadata={_OPTION: Option(name, default, parse, doc)}))


def options_of(cls: type) -> list[tuple[str, Option]]:
    """``(attribute, option)`` for each field of the dataclass *cls* made by :func:`option`."""
    return [(f.name, f.metadata[_OPTION]) for f in dataclasses.fields(cls) if _OPTION in f.metadata]


def redact_url(url: str) -> str:
    """*url* with any password replaced by ``***`` (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


# -- reusable parsers --------------------------------------------------------------------------


def boolean(value: t.Any, ctx: Context) -> bool:
    """Any value, read for its truth."""
    return bool(value)


def whole(*, minimum: int) -> Parser[int]:
    """A whole number (not a bool), at least *minimum*."""

    def parse(value: t.Any, ctx: Context) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ctx.error(f"must be a whole number, at least {minimum}")
        return value

    return parse


def _as_seconds(value: t.Any) -> t.Any:
    """A timedelta as its seconds; anything else unchanged."""
    return value.total_seconds() if isinstance(value, timedelta) else value


def _is_number(value: t.Any) -> bool:
    # NaN and infinity would pass a comparison with a minimum but break every later use.
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def seconds(*, minimum: int = 0) -> Parser[int]:
    """Whole seconds, from a number or a :class:`~datetime.timedelta`, at least *minimum*."""

    def parse(value: t.Any, ctx: Context) -> int:
        value = _as_seconds(value)
        if not _is_number(value):
            raise ctx.error(f"must be a number of seconds, not {value!r}")
        if value < minimum:
            raise ctx.error(f"must be at least {minimum} seconds")
        return int(value)

    return parse


def text(what: str, *, empty: str | None = None) -> Parser[str]:
    """A string, described as *what* in the error; with *empty*, any falsy value means *empty*."""

    def parse(value: t.Any, ctx: Context) -> str:
        if empty is not None and not value:
            return empty
        if not isinstance(value, str):
            raise ctx.error(f"must be {what}")
        return value

    return parse


def optional(parse: Parser[T]) -> Parser[T | None]:
    """*parse*, except that ``None`` stays ``None``."""

    def parse_optional(value: t.Any, ctx: Context) -> T | None:
        return None if value is None else parse(value, ctx)

    return parse_optional


def url(invalid: str, *, no_credentials: str | None = None) -> Parser[str]:
    """An absolute ``http(s)`` URL, without its trailing slash.

    :param invalid: the error for anything else; ``{value!r}`` in it shows the value, with any
        password masked.
    :param no_credentials: if given, a user or password in the URL is refused, and this says
        where they belong instead.
    """

    def parse(value: t.Any, ctx: Context) -> str:
        parts = urlsplit(value) if isinstance(value, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            shown = redact_url(value) if isinstance(value, str) else value
            raise ctx.error(invalid.format(value=shown))
        if no_credentials and (parts.username or parts.password):
            raise ctx.error(f"must not contain credentials; use {no_credentials}")
        return t.cast(str, value).rstrip("/")

    return parse


# -- keys --------------------------------------------------------------------------------------
# Shorter signing keys are guessable: HMAC keys should carry at least a hash's worth of entropy.
MIN_KEY_BYTES = 32
# A key made by hand compresses, a random key does not: a key is refused when deflate shrinks
# one of its secrets (or the steps between their bytes) below this share of its size. Of
# 100,000 keys each from token_urlsafe(32), token_hex(32), token_bytes(32), token_hex(16) and
# Fernet.generate_key(), none was refused and none shrank below 0.875 (32 hex digits; the
# others stayed above 0.9). 32 hex digits come closest: of 2 million, one shrank to 27/32, and
# each byte further is about 11 times rarer, so below 24/32 about 1 in 10**10 (longer keys:
# far less). The hand-made keys of the tests shrink to 0.69 at most (16 random bytes twice),
# "changeme" * 4 + "!" to 0.42.
MAX_SHRINK = 0.75
#: Keys printed in this project's documentation: anyone can read them, so no site may use one.
PUBLISHED_KEYS = frozenset(
    {
        b"a-test-secret-key-that-is-long-enough-0123456789",  # once in docs/testing.rst
        b"XjmLSaSWuO_Afc5v59TJCStIMb3Sq40gAoJet3Isne8=",  # docs/cli.rst: generate-key's output
        b"cPPeA0iFMLf3_1w_qXggNEPv_VVzegxDEo-X2mgVkso",  # docs/cli.rst: generate-key --kind signing
        # Once the test and benchmark keys of this repository.
        b"test-secret-key-that-is-long-enough-0123456789",
        b"bench-secret-key-that-is-long-enough-0123456789",
    }
)

_NEW_SIGNING_KEY = "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
_RESEND = "re-mint and resend the links clients still need (active_links() lists them)"
_STANDARD_BASE64 = bytes.maketrans(b"-_", b"+/")


def secrets_of(key: bytes) -> set[bytes]:
    """The secrets *key* may stand for, to compare keys however they are written: its bytes,
    and what they decode to as base64 (url-safe or standard, with or without ``=``) or hex."""
    text = key.strip()
    unpadded = text.rstrip(b"=").translate(_STANDARD_BASE64)
    forms = {key, text}
    with contextlib.suppress(ValueError):  # binascii.Error and UnicodeDecodeError are ValueErrors
        forms.add(base64.b64decode(unpadded + b"=" * (-len(unpadded) % 4), validate=True))
    with contextlib.suppress(ValueError):
        forms.add(bytes.fromhex(text.decode("ascii")))
    return forms - {b""}


_PUBLISHED = frozenset(form for key in PUBLISHED_KEYS for form in secrets_of(key))


def _shrinks_to(data: bytes) -> float:
    # Deflate with fixed Huffman codes, so that only repetition shrinks a key: adaptive codes
    # would shrink any key written with few symbols, such as a long hex key. The steps from
    # byte to byte are deflated too (PNG's Sub filter): a ramp's steps repeat.
    steps = bytes((b - a) & 0xFF for a, b in itertools.pairwise(data))
    sizes = []
    for part in (data, steps):
        deflate = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_FIXED)
        sizes.append(len(deflate.compress(part) + deflate.flush()))
    return min(sizes) / len(data)


def weakness(key: bytes) -> str | None:
    """Why *key* is obviously not random (to follow its name in a message), or ``None``: one of
    its :func:`secrets_of` is in :data:`PUBLISHED_KEYS`, or compresses (:data:`MAX_SHRINK`)."""
    forms = secrets_of(key)
    if forms & _PUBLISHED:
        return "is an example key printed in the flask-kashflow-links documentation"
    share = min(map(_shrinks_to, forms))
    if share < MAX_SHRINK:
        return (
            f"is too regular to be random: it compresses to {share:.0%} of its size, and a "
            "random key does not compress"
        )
    return None


def _advice(key: str, *, current: bool) -> str:
    # No refused key can be kept in any list, so the advice says which links that retires.
    if not current:
        return (
            "It only opens links made with it in the past, so it cannot be replaced, only "
            f"dropped from {key}. That retires those links (they stop opening): {_RESEND}."
        )
    if key == PREFIX + "FERNET_KEYS":
        job, fix = "encrypts", "replace it with a new key (`flask kashflow-links generate-key`)"
    else:
        job, fix = "signs", f"replace it with a new key ({_NEW_SIGNING_KEY})"
    if key == "SECRET_KEY":
        fix += ", or leave SECRET_KEY to Flask and give links their own KASHFLOW_LINKS_SIGNING_KEYS"
    return (
        f"It {job} new links: {fix}. It cannot be kept as an older key either, so links made "
        f"with it stop opening: {_RESEND}."
    )


def signing_key_sources(config: t.Mapping[str, t.Any]) -> list[tuple[str, str, t.Any]]:
    """``(config key, name for messages, raw value)`` of each signing key, oldest first.

    From ``KASHFLOW_LINKS_SIGNING_KEYS`` if set, else Flask's ``SECRET_KEY_FALLBACKS`` followed
    by ``SECRET_KEY`` (Flask's own order); empty when neither is set.
    """
    own = config.get(PREFIX + "SIGNING_KEYS")
    if own is not None:
        return _entries(PREFIX + "SIGNING_KEYS", own)
    if not config.get("SECRET_KEY"):
        return []
    fallbacks = _entries("SECRET_KEY_FALLBACKS", config.get("SECRET_KEY_FALLBACKS") or [])
    return [*fallbacks, ("SECRET_KEY", "SECRET_KEY", config["SECRET_KEY"])]


def _entries(key: str, value: t.Any) -> list[tuple[str, str, t.Any]]:
    if isinstance(value, str | bytes):  # a single key
        return [(key, key, value)]
    return [(key, f"{key}[{i}]", item) for i, item in enumerate(value)]


def _utf8(value: t.Any) -> t.Any:
    # Keys may be given as text or bytes; anything else stays as it is, to be refused.
    return value.encode() if isinstance(value, str) else value


def signing_keys(value: t.Any, ctx: Context) -> tuple[bytes, ...]:
    """Parse ``KASHFLOW_LINKS_SIGNING_KEYS``; ``None`` means Flask's own keys.

    Short and weak keys are refused. Each problem is reported under the setting that holds the
    key (``SECRET_KEY``, ``SECRET_KEY_FALLBACKS`` or ``KASHFLOW_LINKS_SIGNING_KEYS``), naming
    the list entry.
    """
    if value is None and not ctx.config.get("SECRET_KEY"):
        # Reported under the key to set: the portal's own key list is optional.
        raise ConfigurationError(
            "SECRET_KEY",
            "is not set, and the portal signs links with it unless KASHFLOW_LINKS_SIGNING_KEYS "
            f"is set. Set SECRET_KEY to at least 32 random bytes, e.g. {_NEW_SIGNING_KEY}, or "
            "give links their own KASHFLOW_LINKS_SIGNING_KEYS.",
        )
    sources = signing_key_sources(ctx.config)
    if not sources:
        raise ctx.error("is empty; give at least one key (oldest first)")
    keys = []
    for position, (key, name, raw) in enumerate(sources, start=1):
        data = _utf8(raw)
        if not isinstance(data, bytes):
            raise ConfigurationError(key, f"{name} must be a string, not {type(raw).__name__}")
        if len(data) < MIN_KEY_BYTES:
            problem: str | None = f"is shorter than {MIN_KEY_BYTES} bytes, which is guessable"
        else:
            problem = weakness(data)
        if problem:
            advice = _advice(key, current=position == len(sources))
            raise ConfigurationError(key, f"{name} {problem}. {advice}")
        keys.append(data)
    return tuple(keys)


def _is_fernet_key(key: t.Any) -> bool:
    try:
        Fernet(key)
        base64.urlsafe_b64decode(key)  # Fernet also takes a key without its "=": this does not
    except (ValueError, TypeError):  # binascii.Error is a ValueError
        return False
    return True


def fernet_keys(value: t.Any, ctx: Context) -> tuple[bytes, ...]:
    """Parse ``KASHFLOW_LINKS_FERNET_KEYS`` (newest first), refusing invalid and weak keys.

    An empty list parses: whether that is allowed is decided with embed mode, in
    :func:`~.config.refuse_conflicting_settings`.
    """
    if isinstance(value, str | bytes):
        value = [value]
    keys = []
    for position, item in enumerate(value or (), start=1):
        data = _utf8(item)
        if not _is_fernet_key(data):
            # A hint for an error already found, so it may look at the raw signing keys itself.
            swapped = [n for _, n, key in signing_key_sources(ctx.config) if _is_fernet_key(key)]
            hint = (
                f" {swapped[0]} holds a valid Fernet key: did you swap them? The Fernet key "
                f"belongs here, and {swapped[0]} needs a key of its own ({_NEW_SIGNING_KEY})."
                if swapped
                else ""
            )
            raise ctx.error(
                f"key #{position} is not a valid Fernet key (32 url-safe base64-encoded bytes). "
                f"Generate one with `flask kashflow-links generate-key`.{hint}"
            )
        problem = weakness(data)
        if problem:
            raise ctx.error(f"key #{position} {problem}. {_advice(ctx.key, current=position == 1)}")
        keys.append(data)
    return tuple(keys)


def refuse_shared_secret(fernet: tuple[bytes, ...], config: t.Mapping[str, t.Any]) -> None:
    """Refuse a secret used as both a Fernet key and a signing key, in any of its
    :func:`secrets_of`.

    A Fernet key's secret is its 32 decoded bytes, and each 16-byte half is a key of its own
    (HMAC, then AES): a signing key equal to either half is refused too.

    :raises ConfigurationError: under ``KASHFLOW_LINKS_FERNET_KEYS``, naming both keys.
    """
    parts: dict[bytes, tuple[int, str]] = {}
    for position, key in enumerate(fernet, start=1):
        raw = base64.urlsafe_b64decode(key)
        parts.setdefault(raw, (position, "is the same secret as {}"))
        for half in (raw[:16], raw[16:]):
            parts.setdefault(half, (position, "has {} as one of its two 16-byte halves"))
    for _key, name, value in signing_key_sources(config):
        for form in secrets_of(_utf8(value)) & parts.keys():
            position, relation = parts[form]
            raise ConfigurationError(
                PREFIX + "FERNET_KEYS",
                f"key #{position} {relation.format(name)}. Links are encrypted with one secret "
                "and signed with another, so that one leaked secret cannot both read links and "
                "make new ones your site accepts. "
                + _advice(PREFIX + "FERNET_KEYS", current=position == 1),
            )
