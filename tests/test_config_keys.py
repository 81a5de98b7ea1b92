"""Key mistakes refused at start-up: one secret for both jobs, swapped, short, missing, weak."""

from __future__ import annotations

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


# -- 4. no SECRET_KEY at all --------------------------------------------------------------------


@pytest.mark.parametrize("secret", [None, ""])
def test_a_missing_secret_key_is_reported_under_secret_key(secret: str | None) -> None:
    error = refusal(SECRET_KEY=secret)
    assert error.key == "SECRET_KEY"
    assert str(error).startswith("SECRET_KEY: is not set")
    assert "secrets.token_urlsafe(32)" in str(error)
    assert "KASHFLOW_LINKS_SIGNING_KEYS" in str(error)
