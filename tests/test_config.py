"""The option table: defaults, parsing into Settings, and the reusable parsers."""

from __future__ import annotations

import dataclasses
import typing as t
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from flask import Flask

from flask_kashflow_links import ConfigurationError
from flask_kashflow_links.config import DEFAULTS
from flask_kashflow_links.config import PREFIX
from flask_kashflow_links.config import REMOVED_OPTIONS
from flask_kashflow_links.config import Settings
from flask_kashflow_links.config import load_settings
from flask_kashflow_links.config.options import options_of

from .helpers import SECRET_KEY


def config_app(tmp_path: Path, **config: t.Any) -> Flask:
    """An app with the two required settings; lower-case *config* keys get the prefix."""
    app = Flask("config", instance_path=str(tmp_path / "instance"))
    app.config.update(SECRET_KEY=SECRET_KEY, KASHFLOW_LINKS_FERNET_KEYS=[Fernet.generate_key()])
    for key, value in config.items():
        app.config[key if key.isupper() else PREFIX + key.upper()] = value
    return app


def test_every_settings_field_is_an_option_and_defaults_come_from_them() -> None:
    table = options_of(Settings)
    assert [name for name, _ in table] == [f.name for f in dataclasses.fields(Settings)]
    assert {opt.name: opt.default for _, opt in table} == DEFAULTS
    assert len({opt.name for _, opt in table}) == len(table)


def test_unset_keys_get_their_defaults_in_app_config_and_set_ones_stay(tmp_path: Path) -> None:
    app = config_app(tmp_path, page_size=50)
    load_settings(app)
    for name, default in DEFAULTS.items():
        if name not in ("PAGE_SIZE", "FERNET_KEYS"):
            assert app.config[PREFIX + name] == default, name
    assert app.config["KASHFLOW_LINKS_PAGE_SIZE"] == 50


def test_a_default_written_into_one_app_is_its_own_copy(tmp_path: Path) -> None:
    first = config_app(tmp_path)
    load_settings(first)
    first.config["KASHFLOW_LINKS_BRAND"]["name"] = "Edited in place"
    second = config_app(tmp_path)
    assert load_settings(second).brand.name != "Edited in place"
    assert DEFAULTS["BRAND"] == {}


def test_each_option_fills_its_attribute(tmp_path: Path) -> None:
    settings = load_settings(
        config_app(
            tmp_path,
            cache_timeout=timedelta(minutes=2),
            stale_timeout=timedelta(hours=1),
            api_timeout=7,
            cache={"CACHE_TYPE": "RedisCache"},
            public_url="https://shop.example/billing/",
            url_prefix="/billing",
            base_template="",
            locale="en_IE",
        )
    )
    assert settings.cache_timeout == 120
    assert settings.stale_timeout == 3600
    assert settings.api_timeout == (7.0, 7.0)
    assert settings.cache_config["CACHE_OPTIONS"] == {
        "socket_timeout": 0.5,
        "socket_connect_timeout": 0.5,
    }
    assert settings.public_url == "https://shop.example/billing"
    assert settings.base_template == "kashflow_links/base.html"
    assert settings.locale == "en_IE"
    assert settings.timezone.key == "Europe/London"
    assert settings.revocation_url.endswith("instance/kashflow_links.sqlite3")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("cache_timeout", True, "must be a number of seconds, not True"),
        ("cache_timeout", float("nan"), "must be a number of seconds, not nan"),
        ("cache_timeout", 0.5, "must be at least 1 seconds"),
        ("stale_timeout", timedelta(seconds=-1), "must be at least 0 seconds"),
        ("throttle_limit", True, "must be a whole number, at least 1"),
        ("throttle_limit", 0, "must be a whole number, at least 1"),
        ("page_size", 2.0, "must be a whole number, at least 1"),
        ("api_base_url", "ftp://kashflow.example", "must be an http(s) URL, not 'ftp://"),
        ("api_base_url", "https://u:p@api.example", "must not contain credentials"),
        ("public_url", "/billing", "must be an absolute URL such as https://"),
        ("default_account", 7, "must be an account id (a string)"),
        ("base_template", 7, "must be a template path"),
        ("content_security_policy", b"default-src 'none'", "must be a header value string"),
        ("accounts", ["acme"], "must be a dict of accounts or a callable"),
    ],
)
def test_reusable_parsers_name_the_key_and_the_problem(
    tmp_path: Path, name: str, value: t.Any, message: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_settings(config_app(tmp_path, **{name: value}))
    assert info.value.key == PREFIX + name.upper()
    assert message in str(info.value)


def test_a_bad_url_is_shown_without_its_password(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_settings(config_app(tmp_path, api_base_url="ftp://user:hunter2-secret@x.example/"))
    assert "hunter2-secret" not in str(info.value)
    assert "ftp://user:***@x.example/" in str(info.value)


@pytest.mark.parametrize("name", sorted(REMOVED_OPTIONS))
def test_a_removed_option_still_set_draws_one_deprecation_warning(
    tmp_path: Path, name: str
) -> None:
    app = config_app(tmp_path, **{name.lower(): 5})
    with pytest.warns(DeprecationWarning) as caught:
        settings = load_settings(app)
    [warning] = caught.list
    message = str(warning.message)
    assert message.startswith(f"KASHFLOW_LINKS_{name} is no longer read (")
    assert "remove it" in message and "\n" not in message
    assert not hasattr(settings, name.lower())  # not read: a constant now
