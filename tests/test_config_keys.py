"""Key mistakes refused at start-up: one secret for both jobs, swapped, short, missing, weak."""

from __future__ import annotations

import base64
import os
import re
import secrets
import typing as t

import pytest
from cryptography.fernet import Fernet
from flask import Flask

from flask_kashflow_links import ConfigurationError
from flask_kashflow_links.config import load_settings

from .helpers import ROOT
from .helpers import SECRET_KEY

FERNET_KEY = Fernet.generate_key().decode()
GOOD = secrets.token_urlsafe(32)
OTHER = secrets.token_urlsafe(32)


def refusal(**config: t.Any) -> ConfigurationError:
    """The error load_settings raises for an app with a good key pair updated by *config*.

    TESTING is on: the checks must not relax for test suites, which should use real keys.
    """
    app = Flask("keys", instance_path="/nonexistent/instance")
    app.config.update(TESTING=True, SECRET_KEY=GOOD, KASHFLOW_LINKS_FERNET_KEYS=[FERNET_KEY])
    app.config.update(config)
    with pytest.raises(ConfigurationError) as info:
        load_settings(app)
    return info.value


def loads(**config: t.Any) -> None:
    app = Flask("keys", instance_path="/nonexistent/instance")
    app.config.update(SECRET_KEY=GOOD, KASHFLOW_LINKS_FERNET_KEYS=[FERNET_KEY])
    app.config.update(config)
    load_settings(app)


# -- 1. one secret used as both a signing key and a Fernet key -----------------------------------


@pytest.mark.parametrize(
    ("config", "position", "name"),
    [
        ({"SECRET_KEY": FERNET_KEY}, 1, "SECRET_KEY"),
        (
            {"KASHFLOW_LINKS_SIGNING_KEYS": [FERNET_KEY.encode()]},
            1,
            "KASHFLOW_LINKS_SIGNING_KEYS[0]",
        ),
        (
            {
                "SECRET_KEY_FALLBACKS": [OTHER, FERNET_KEY],
                "KASHFLOW_LINKS_FERNET_KEYS": [Fernet.generate_key(), FERNET_KEY.encode()],
            },
            2,
            "SECRET_KEY_FALLBACKS[1]",
        ),
        # The other way round: the signing key's own bytes, base64-encoded into the Fernet key.
        (
            {
                "SECRET_KEY": base64.urlsafe_b64decode(FERNET_KEY),
                "KASHFLOW_LINKS_FERNET_KEYS": FERNET_KEY,
            },
            1,
            "SECRET_KEY",
        ),
    ],
    ids=["secret-key", "signing-keys-as-bytes", "a-fallback-and-an-old-fernet-key", "raw-bytes"],
)
def test_one_secret_as_both_signing_and_fernet_key_is_refused(
    config: dict[str, t.Any], position: int, name: str
) -> None:
    error = refusal(**config)
    assert error.key == "KASHFLOW_LINKS_FERNET_KEYS"
    assert f"key #{position} is the same secret as {name}." in str(error)
    assert "re-mint and resend the links clients still need" in str(error)


def _fernet_key_not_standard_base64() -> str:
    """A new Fernet key with a ``-`` or ``_``: written in standard base64 it changes."""
    while True:
        key = Fernet.generate_key().decode()
        if "-" in key or "_" in key:
            return key


REWRITTEN = _fernet_key_not_standard_base64()
REWRITTEN_RAW = base64.urlsafe_b64decode(REWRITTEN)


@pytest.mark.parametrize(
    "written",
    [
        REWRITTEN.rstrip("="),
        base64.b64encode(REWRITTEN_RAW).decode(),
        base64.b64encode(REWRITTEN_RAW).decode().rstrip("="),
        REWRITTEN_RAW.hex(),
        REWRITTEN_RAW.hex().upper(),
    ],
    ids=["without-padding", "standard-base64", "standard-base64-unpadded", "hex", "upper-hex"],
)
@pytest.mark.parametrize(
    ("place", "name"),
    [
        (lambda key: {"SECRET_KEY": key}, "SECRET_KEY"),
        (lambda key: {"SECRET_KEY_FALLBACKS": [key, OTHER]}, "SECRET_KEY_FALLBACKS[0]"),
        (lambda key: {"SECRET_KEY_FALLBACKS": [OTHER, key]}, "SECRET_KEY_FALLBACKS[1]"),
        (
            lambda key: {"KASHFLOW_LINKS_SIGNING_KEYS": [key, OTHER]},
            "KASHFLOW_LINKS_SIGNING_KEYS[0]",
        ),
        (
            lambda key: {"KASHFLOW_LINKS_SIGNING_KEYS": [OTHER, key]},
            "KASHFLOW_LINKS_SIGNING_KEYS[1]",
        ),
    ],
    ids=[
        "secret-key",
        "first-fallback",
        "second-fallback",
        "first-signing-key",
        "last-signing-key",
    ],
)
@pytest.mark.parametrize("position", [1, 2])
def test_a_fernet_key_rewritten_as_a_signing_key_is_refused(
    written: str, place: t.Callable[[str], dict[str, t.Any]], name: str, position: int
) -> None:
    # The same 32 bytes in another encoding are the same secret (security review, "Low").
    fernet = [REWRITTEN] if position == 1 else [Fernet.generate_key().decode(), REWRITTEN]
    error = refusal(**place(written), KASHFLOW_LINKS_FERNET_KEYS=fernet)
    assert error.key == "KASHFLOW_LINKS_FERNET_KEYS"
    assert f"key #{position} is the same secret as {name}." in str(error)
    assert "re-mint and resend the links clients still need" in str(error)


@pytest.mark.parametrize("half", [slice(0, 16), slice(16, 32)], ids=["signing-half", "aes-half"])
def test_a_signing_key_equal_to_half_a_fernet_key_is_refused(half: slice) -> None:
    # A Fernet key is an HMAC key and an AES key, 16 bytes each: a signing key that leaks one
    # of them gives away half of the Fernet key too. As hex, 16 bytes pass the length check.
    error = refusal(SECRET_KEY=REWRITTEN_RAW[half].hex(), KASHFLOW_LINKS_FERNET_KEYS=[REWRITTEN])
    assert error.key == "KASHFLOW_LINKS_FERNET_KEYS"
    assert "key #1 has SECRET_KEY as one of its two 16-byte halves." in str(error)


# -- 2. keys swapped ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "name"),
    [
        ({"SECRET_KEY": FERNET_KEY}, "SECRET_KEY"),
        ({"KASHFLOW_LINKS_SIGNING_KEYS": [OTHER, FERNET_KEY]}, "KASHFLOW_LINKS_SIGNING_KEYS[1]"),
    ],
)
def test_a_fernet_key_given_as_signing_key_with_a_bad_fernet_key_hints_at_a_swap(
    config: dict[str, t.Any], name: str
) -> None:
    error = refusal(**config, KASHFLOW_LINKS_FERNET_KEYS=[GOOD])
    assert error.key == "KASHFLOW_LINKS_FERNET_KEYS"
    assert "key #1 is not a valid Fernet key" in str(error)
    assert f"{name} holds a valid Fernet key: did you swap them?" in str(error)


def test_no_swap_hint_when_no_signing_key_is_a_fernet_key() -> None:
    error = refusal(KASHFLOW_LINKS_FERNET_KEYS=[GOOD])
    assert "key #1 is not a valid Fernet key" in str(error)
    assert "swap" not in str(error)


# -- 3. a short signing key, named exactly, with advice that fits it ----------------------------


@pytest.mark.parametrize(
    ("config", "key", "name", "advice"),
    [
        (
            {"SECRET_KEY": "too-short"},
            "SECRET_KEY",
            "SECRET_KEY",
            "or leave SECRET_KEY to Flask and give links their own KASHFLOW_LINKS_SIGNING_KEYS",
        ),
        (
            {"SECRET_KEY_FALLBACKS": [OTHER, "old-and-short"]},
            "SECRET_KEY_FALLBACKS",
            "SECRET_KEY_FALLBACKS[1]",
            "only dropped from SECRET_KEY_FALLBACKS. That retires those links",
        ),
        (
            {"KASHFLOW_LINKS_SIGNING_KEYS": ["old-and-short", OTHER]},
            "KASHFLOW_LINKS_SIGNING_KEYS",
            "KASHFLOW_LINKS_SIGNING_KEYS[0]",
            "only dropped from KASHFLOW_LINKS_SIGNING_KEYS. That retires those links",
        ),
        (
            {"KASHFLOW_LINKS_SIGNING_KEYS": [OTHER, "new-and-short"]},
            "KASHFLOW_LINKS_SIGNING_KEYS",
            "KASHFLOW_LINKS_SIGNING_KEYS[1]",
            "It signs new links: replace it",
        ),
    ],
    ids=["secret-key", "a-fallback", "an-older-signing-key", "the-newest-signing-key"],
)
def test_a_short_signing_key_is_named_with_advice_that_fits_it(
    config: dict[str, t.Any], key: str, name: str, advice: str
) -> None:
    error = refusal(**config)
    assert error.key == key
    assert f"{key}: {name} is shorter than 32 bytes" in str(error)
    assert advice in str(error)
    # The advice that went round in circles: a short key is refused as a fallback too.
    assert "keep the old key in SECRET_KEY_FALLBACKS" not in str(error)
    assert "stop opening" in str(error)


# -- 4. no SECRET_KEY at all --------------------------------------------------------------------


@pytest.mark.parametrize("secret", [None, ""])
def test_a_missing_secret_key_is_reported_under_secret_key(secret: str | None) -> None:
    error = refusal(SECRET_KEY=secret)
    assert error.key == "SECRET_KEY"
    assert str(error).startswith("SECRET_KEY: is not set")
    assert "secrets.token_urlsafe(32)" in str(error)
    assert "KASHFLOW_LINKS_SIGNING_KEYS" in str(error)


# -- 5. weak keys -------------------------------------------------------------------------------

DOCS_TESTING_KEY = "a-test-secret-key-that-is-long-enough-0123456789"  # once in docs/testing.rst


REGULAR = "is too regular to be random: it compresses to"
RAMP = bytes(range(32))


def assert_refused_as_any_signing_key(secret: str | bytes, problem: str) -> None:
    """*secret* is refused for *problem* wherever a signing key goes, named with its place."""
    for config, name in [
        ({"SECRET_KEY": secret}, "SECRET_KEY"),
        ({"SECRET_KEY_FALLBACKS": [secret]}, "SECRET_KEY_FALLBACKS[0]"),
        ({"KASHFLOW_LINKS_SIGNING_KEYS": [secret, OTHER]}, "KASHFLOW_LINKS_SIGNING_KEYS[0]"),
        ({"KASHFLOW_LINKS_SIGNING_KEYS": [OTHER, secret]}, "KASHFLOW_LINKS_SIGNING_KEYS[1]"),
    ]:
        error = refusal(**config)
        assert str(error).startswith(f"{error.key}: {name} "), secret
        assert problem in str(error), secret
        assert "stop opening" in str(error)


def assert_refused_as_any_fernet_key(raw: bytes, problem: str) -> None:
    """The Fernet key made of *raw* is refused for *problem*, first in the list or not."""
    weak = base64.urlsafe_b64encode(raw).decode()
    for keys, position in [([weak], 1), ([FERNET_KEY, weak], 2)]:
        error = refusal(KASHFLOW_LINKS_FERNET_KEYS=keys)
        assert str(error).startswith(f"KASHFLOW_LINKS_FERNET_KEYS: key #{position} "), raw
        assert problem in str(error), raw


@pytest.mark.parametrize(
    "secret",
    [
        "a" * 32,
        "ab" * 20,
        "passwordpasswordpasswordpassword",
        "0123456789abcdef" * 2,
        "correct-horse-" * 3,
        "secret" * 6,
    ],
)
def test_a_weak_signing_key_is_refused_even_when_testing(secret: str) -> None:
    assert_refused_as_any_signing_key(secret, REGULAR)


def test_an_example_key_from_the_docs_is_refused_as_a_signing_key() -> None:
    problem = "is an example key printed in the flask-kashflow-links documentation"
    assert_refused_as_any_signing_key(DOCS_TESTING_KEY, problem)


@pytest.mark.parametrize(
    "secret",
    ["changeme" * 4 + "!", "abc" * 11, "Tr0ub4dor&3" * 3 + "xyz", "password1" * 4 + "?!"],
)
def test_a_short_word_repeated_with_a_trailing_character_is_refused(secret: str) -> None:
    # The tail hid the repetition from a check that wanted the run repeated to the very end.
    assert_refused_as_any_signing_key(secret, REGULAR)


@pytest.mark.parametrize(
    "secret",
    [
        RAMP,
        RAMP.hex(),
        base64.urlsafe_b64encode(RAMP),
        bytes(range(255, 191, -2)),
        "0123456789abcdefghijklmnopqrstuv",
        "abcdefghijklmnopqrstuvwxyzABCDEF",
    ],
    ids=["bytes", "hex", "base64", "down-by-2", "digits-and-letters", "alphabet"],
)
def test_a_byte_ramp_is_refused_as_a_signing_key(secret: str | bytes) -> None:
    # 32 different values, none repeated, yet made by hand: the steps between them repeat.
    assert_refused_as_any_signing_key(secret, REGULAR)


@pytest.mark.parametrize(
    "raw",
    [RAMP, bytes(range(255, 223, -1)), bytes(range(7, 7 + 3 * 32, 3))],
    ids=["up", "down", "by-3"],
)
def test_a_byte_ramp_is_refused_as_a_fernet_key(raw: bytes) -> None:
    assert_refused_as_any_fernet_key(raw, REGULAR)


@pytest.mark.parametrize(
    "raw",
    [
        bytes(32),
        b"\x00\xff" * 16,
        bytes(range(8)) * 4,
        os.urandom(16) * 2,
        b"changeme" * 3 + os.urandom(8),
    ],
    ids=["all-zero", "two-values", "counting-to-8", "half-repeated", "a-word-and-a-tail"],
)
def test_a_weak_fernet_key_is_refused_even_when_testing(raw: bytes) -> None:
    assert_refused_as_any_fernet_key(raw, REGULAR)


def test_keys_printed_in_the_docs_are_refused() -> None:
    pages = [*ROOT.joinpath("docs").glob("*.rst"), ROOT / "README.md"]
    text = "\n".join(page.read_text(encoding="utf-8") for page in pages)
    fernet_shaped = set(re.findall(r"(?<![\w-])[A-Za-z0-9_-]{43}=(?![\w-])", text))
    assigned = set(re.findall(r"SECRET_KEY\"?\s*[:=]\s*[\"'](?!\$\()([^\"']+)[\"']", text))
    assert fernet_shaped, "the generate-key output in docs/cli.rst should be found"
    for key in fernet_shaped:
        assert "documentation" in str(refusal(KASHFLOW_LINKS_FERNET_KEYS=[key])), key
        assert "documentation" in str(refusal(SECRET_KEY=key)), key
    for key in assigned | {DOCS_TESTING_KEY}:
        assert refusal(SECRET_KEY=key).key == "SECRET_KEY", key


def test_generated_keys_always_pass() -> None:
    # The rules must let through what the docs tell people to run, and its common cousins; 32
    # hex digits come closest to a refusal, about 1 in 10**10 (measurements at MAX_SHRINK).
    signing: list[str | bytes] = [secrets.token_urlsafe(32) for _ in range(10_000)]
    signing += [secrets.token_hex(32) for _ in range(2_000)]
    signing += [secrets.token_bytes(32) for _ in range(2_000)]
    signing += [secrets.token_hex(16) for _ in range(10_000)]
    # Long keys in a small alphabet: deflate's adaptive codes would shrink these by half.
    signing += [secrets.token_hex(64) for _ in range(1_000)]
    fernet = [Fernet.generate_key() for _ in range(10_000)]
    loads(KASHFLOW_LINKS_SIGNING_KEYS=signing, KASHFLOW_LINKS_FERNET_KEYS=fernet)
    loads(SECRET_KEY=SECRET_KEY)  # the test suite's own key
