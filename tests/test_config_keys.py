"""Key mistakes refused at start-up: one secret for both jobs, swapped, short, missing, weak."""

from __future__ import annotations

import base64
import secrets
import typing as t
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from flask import Flask

from flask_kashflow_links import ConfigurationError
from flask_kashflow_links.config import load_settings

ROOT = Path(__file__).resolve().parent.parent
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
        ({"SECRET_KEY": "too-short"}, "SECRET_KEY", "SECRET_KEY", "KASHFLOW_LINKS_SIGNING_KEYS"),
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
