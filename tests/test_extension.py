"""init_app: validation messages, the factory pattern, two apps, minting API and link URLs."""

from __future__ import annotations

import typing as t
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from flask import Flask

from flask_kashflow_links import ConfigurationError
from flask_kashflow_links import Credentials
from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links import LinkInvalid
from flask_kashflow_links import LinkURLError
from flask_kashflow_links import Scope

from .helpers import ACCOUNT
from .helpers import FERNET_KEY
from .helpers import SECRET_KEY
from .helpers import internals
from .helpers import make_app
from .helpers import registered


def bare_app(tmp_path: Path, **config: t.Any) -> Flask:
    app = Flask("bare", instance_path=str(tmp_path / "instance"))
    app.config.update(
        SECRET_KEY=SECRET_KEY,
        KASHFLOW_LINKS_FERNET_KEYS=[FERNET_KEY],
        KASHFLOW_LINKS_ACCOUNTS={"acme": dict(ACCOUNT)},
    )
    app.config.update(config)
    return app


@pytest.mark.parametrize(
    ("config", "key", "fix"),
    [
        ({"KASHFLOW_LINKS_FERNET_KEYS": None}, "KASHFLOW_LINKS_FERNET_KEYS", "generate-key"),
        ({"KASHFLOW_LINKS_FERNET_KEYS": []}, "KASHFLOW_LINKS_FERNET_KEYS", "generate-key"),
        ({"KASHFLOW_LINKS_FERNET_KEYS": ["not-a-key"]}, "KASHFLOW_LINKS_FERNET_KEYS", "key #1"),
        (
            {"KASHFLOW_LINKS_FERNET_KEYS": [FERNET_KEY, "short"]},
            "KASHFLOW_LINKS_FERNET_KEYS",
            "key #2",
        ),
        (
            {"KASHFLOW_LINKS_EMBED_CREDENTIALS": True, "KASHFLOW_LINKS_FERNET_KEYS": []},
            "KASHFLOW_LINKS_FERNET_KEYS",
            "embed",
        ),
        ({"SECRET_KEY": None}, "SECRET_KEY", "KASHFLOW_LINKS_SIGNING_KEYS"),
        ({"SECRET_KEY": "too-short"}, "SECRET_KEY", "32 bytes"),
        (
            {"SECRET_KEY_FALLBACKS": ["old-and-short"]},
            "SECRET_KEY_FALLBACKS",
            "32 bytes",
        ),
        ({"KASHFLOW_LINKS_SIGNING_KEYS": ["x" * 10]}, "KASHFLOW_LINKS_SIGNING_KEYS", "32 bytes"),
        ({"KASHFLOW_LINKS_DEFAULT_ACCOUNT": "nope"}, "KASHFLOW_LINKS_DEFAULT_ACCOUNT", "acme"),
        (
            {"KASHFLOW_LINKS_ACCOUNTS": {"acme": {"username": "u", "password": "p"}}},
            "KASHFLOW_LINKS_ACCOUNTS",
            "memorable_word",
        ),
        (
            {"KASHFLOW_LINKS_ACCOUNTS": {"acme": {**ACCOUNT, "pasword": "typo"}}},
            "KASHFLOW_LINKS_ACCOUNTS",
            "pasword",
        ),
        (
            {"KASHFLOW_LINKS_ACCOUNTS": {"acme": {**ACCOUNT, "brand": {"accent_colour": "red"}}}},
            "KASHFLOW_LINKS_ACCOUNTS",
            "accent_colour",
        ),
        (
            {"KASHFLOW_LINKS_BRAND": {"logo_url": "javascript:alert(1)"}},
            "KASHFLOW_LINKS_BRAND",
            "https",
        ),
        (
            {"KASHFLOW_LINKS_BRAND": {"colour": "#fff"}},
            "KASHFLOW_LINKS_BRAND",
            "unknown brand field",
        ),
        ({"KASHFLOW_LINKS_API_BASE_URL": "ftp://x"}, "KASHFLOW_LINKS_API_BASE_URL", "http"),
        ({"KASHFLOW_LINKS_API_TIMEOUT": None}, "KASHFLOW_LINKS_API_TIMEOUT", "never None"),
        (
            {"KASHFLOW_LINKS_CACHE": {"CACHE_TYPE": "NullCache"}},
            "KASHFLOW_LINKS_CACHE",
            "NullCache",
        ),
        ({"KASHFLOW_LINKS_CACHE": {"TYPE": "SimpleCache"}}, "KASHFLOW_LINKS_CACHE", "CACHE_"),
        ({"KASHFLOW_LINKS_CACHE_TIMEOUT": "5m"}, "KASHFLOW_LINKS_CACHE_TIMEOUT", "seconds"),
        (
            {"KASHFLOW_LINKS_REVOCATION_URL": "postgres://x"},
            "KASHFLOW_LINKS_REVOCATION_URL",
            "sqlite",
        ),
        (
            {"KASHFLOW_LINKS_REVOCATION_URL": "redis://127.0.0.1:1/0"},
            "KASHFLOW_LINKS_REVOCATION_URL",
            "start the store",
        ),
        (
            {"KASHFLOW_LINKS_REVOCATION_URL": "sqlite:////proc/forbidden/links.sqlite3"},
            "KASHFLOW_LINKS_REVOCATION_URL",
            "not writable",
        ),
        ({"KASHFLOW_LINKS_LOCALE": "xx_NOPE"}, "KASHFLOW_LINKS_LOCALE", "en_GB"),
        ({"KASHFLOW_LINKS_TIMEZONE": "Mars/Olympus"}, "KASHFLOW_LINKS_TIMEZONE", "Europe/London"),
        ({"KASHFLOW_LINKS_PUBLIC_URL": "example.com"}, "KASHFLOW_LINKS_PUBLIC_URL", "absolute"),
        ({"KASHFLOW_LINKS_URL_PREFIX": "billing"}, "KASHFLOW_LINKS_URL_PREFIX", "'/'"),
        ({"KASHFLOW_LINKS_MAIL": {"host": "x"}}, "KASHFLOW_LINKS_MAIL", "sender"),
        ({"KASHFLOW_LINKS_MAIL": {"hots": "x"}}, "KASHFLOW_LINKS_MAIL", "hots"),
        ({"KASHFLOW_LINKS_PAGE_SIZE": 0}, "KASHFLOW_LINKS_PAGE_SIZE", "at least 1"),
        (
            {
                "KASHFLOW_LINKS_URL_PREFIX": "/billing",
                "KASHFLOW_LINKS_PUBLIC_URL": "https://x.example",
            },
            "KASHFLOW_LINKS_PUBLIC_URL",
            "prefix '/billing'",
        ),
        (
            {"KASHFLOW_LINKS_MAIL": {"host": "smtp.x", "port": "25", "sender": "a@x.example"}},
            "KASHFLOW_LINKS_MAIL",
            "port",
        ),
        (
            {"KASHFLOW_LINKS_MAIL": {"host": "smtp.example.com", "sender": "a@example.com"}},
            "KASHFLOW_LINKS_PUBLIC_URL",
            "never from a request",
        ),
    ],
)
def test_init_app_fails_early_naming_key_and_fix(
    tmp_path: Path, config: dict[str, t.Any], key: str, fix: str
) -> None:
    app = bare_app(tmp_path, **config)
    with pytest.raises(ConfigurationError) as info:
        KashFlowLinks(app)
    assert info.value.key == key
    assert str(info.value).startswith(key)
    assert fix in str(info.value)


def test_messages_never_contain_secrets(tmp_path: Path) -> None:
    app = bare_app(tmp_path, KASHFLOW_LINKS_REVOCATION_URL="redis://:hunter2-secret@127.0.0.1:1/0")
    with pytest.raises(ConfigurationError) as info:
        KashFlowLinks(app)
    assert "hunter2-secret" not in str(info.value)
    assert "***" in str(info.value)


def test_factory_pattern_and_per_app_state(tmp_path: Path) -> None:
    links = KashFlowLinks()
    app = bare_app(tmp_path)
    links.init_app(app)
    assert "kashflow_links" in app.extensions
    assert not hasattr(links, "app")
    assert "kashflow_links" in app.blueprints
    assert "kashflow-links" in app.cli.commands
    with app.app_context():
        assert internals().settings.api_base_url == "https://api.kashflow.com/v2"


def test_two_apps_in_one_process_work_independently(tmp_path: Path) -> None:
    links = KashFlowLinks()
    first = make_app(tmp_path, "first")
    second = make_app(
        tmp_path,
        "second",
        fernet_keys=[Fernet.generate_key().decode()],
        accounts={"beta": dict(ACCOUNT)},
        url_prefix="/billing",
    )
    with first.app_context():
        a = links.mint_invoice(1043)
        assert a.scope.account == "acme"
        assert a.url.startswith("http://portal.example.test/invoices/")
    with second.app_context():
        b = links.mint_invoice(1043)
        assert b.scope.account == "beta"
        assert "/billing/invoices/" in b.url
        with pytest.raises(LinkInvalid):
            links.verify(a.token)
        assert links.active_links() and links.active_links()[0].link_id == b.link_id
    with first.app_context():
        links.verify(a.token)
        with pytest.raises(LinkInvalid):
            links.verify(b.token)
        assert [r.link_id for r in links.active_links()] == [a.link_id]


def test_a_single_account_is_the_default(app: Flask, links: KashFlowLinks) -> None:
    assert links.mint_customer("TCUST01").scope.account == "acme"


def test_several_accounts_need_a_default_or_an_explicit_one(tmp_path: Path) -> None:
    app = make_app(tmp_path, accounts={"acme": dict(ACCOUNT), "beta": dict(ACCOUNT)})
    links = KashFlowLinks()
    with app.app_context():
        with pytest.raises(ValueError, match="DEFAULT_ACCOUNT"):
            links.mint_invoice(1)
        assert links.mint_invoice(1, account="beta").scope.account == "beta"
        with pytest.raises(ValueError, match="unknown account"):
            links.mint_invoice(1, account="gamma")


def test_accounts_from_a_loader(tmp_path: Path) -> None:
    calls: list[str] = []

    def load(account_id: str) -> dict[str, t.Any] | None:
        calls.append(account_id)
        return dict(ACCOUNT, brand={"name": f"Brand {account_id}"}) if account_id == "x1" else None

    app = make_app(tmp_path, accounts=load, default_account="x1")
    with app.app_context():
        state = internals()
        assert state.accounts.get("x1").brand.name == "Brand x1"
        with pytest.raises(LookupError):
            state.accounts.get("nope")
        assert KashFlowLinks().mint_invoice(5).scope.account == "x1"
    assert calls[0] == "x1"


def test_account_objects_wear_the_site_brand_and_loaders_are_cached(tmp_path: Path) -> None:
    from flask_kashflow_links import Account
    from flask_kashflow_links import Brand

    calls: list[str] = []

    def load(account_id: str) -> Account:
        calls.append(account_id)
        return Account(id=account_id, username="u", password="p", memorable_word="pineapple")

    app = make_app(tmp_path, accounts=load, default_account="x1", brand={"name": "Harbour Lane"})
    with app.app_context():
        state = internals()
        assert state.accounts.get("x1").brand.name == "Harbour Lane"
        for _ in range(5):
            state.accounts.get("x1")
        assert calls == ["x1"]
    own = Account(
        id="y", username="u", password="p", memorable_word="abcd", brand=Brand(name="Own")
    )
    app2 = make_app(tmp_path, "own", accounts={"y": own}, brand={"name": "Site"})
    with app2.app_context():
        assert internals().accounts.get("y").brand.name == "Own"


def test_generate_key_works_before_any_app_can_start(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    flask = Path(sys.executable).with_name("flask")
    env = {k: v for k, v in os.environ.items() if k != "FLASK_APP"}
    result = subprocess.run(
        [str(flask), "kashflow-links", "generate-key"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    Fernet(result.stdout.strip().encode())


def test_unknown_status_raises_value_error(app: Flask, links: KashFlowLinks) -> None:
    with pytest.raises(ValueError, match="unknown status"):
        links.mint_customer("TCUST01", status="outstanding")


def test_expires_in_accepts_timedelta_and_seconds(app: Flask, links: KashFlowLinks) -> None:
    a = links.mint_invoice(1, expires_in=timedelta(days=90))
    b = links.mint_invoice(1, expires_in=3600)
    assert a.expires_at is not None and a.expires_at - a.minted_at == timedelta(days=90)
    assert b.expires_at is not None and b.expires_at - b.minted_at == timedelta(hours=1)
    with pytest.raises(ValueError):
        links.mint_invoice(1, expires_in=0)
    with pytest.raises(TypeError):
        links.mint_invoice(1, expires_in="90d")  # type: ignore[arg-type]


def test_link_url_follows_the_request(tmp_path: Path, links: KashFlowLinks) -> None:
    app = make_app(tmp_path, SERVER_NAME=None)
    with app.test_request_context("/", base_url="https://shop.example.co.uk"):
        link = links.mint_invoice(1043)
        assert link.url == f"https://shop.example.co.uk/invoices/{link.token}"


def test_link_url_outside_a_request_uses_public_url(tmp_path: Path) -> None:
    app = make_app(tmp_path, public_url="https://www.example.co.uk/billing/")
    with app.app_context():
        link = KashFlowLinks().mint_customer("TCUST01", status="unpaid")
        assert link.url == f"https://www.example.co.uk/billing/invoices/{link.token}"


def test_link_url_outside_a_request_uses_server_name(tmp_path: Path) -> None:
    app = make_app(
        tmp_path, SERVER_NAME="www.example.co.uk", PREFERRED_URL_SCHEME="https", url_prefix="/pay"
    )
    with app.app_context():
        link = KashFlowLinks().mint_invoice(3)
        assert link.url == f"https://www.example.co.uk/pay/invoices/{link.token}"


def test_link_url_without_any_base_raises_but_token_is_minted(tmp_path: Path) -> None:
    app = make_app(tmp_path, SERVER_NAME=None)
    with app.app_context():
        link = KashFlowLinks().mint_invoice(3)
        assert link.token
        with pytest.raises(LinkURLError, match="KASHFLOW_LINKS_PUBLIC_URL"):
            link.url  # noqa: B018


def test_link_repr_hides_the_token(app: Flask, links: KashFlowLinks) -> None:
    link = links.mint_invoice(1043)
    assert link.token not in repr(link)
    assert link.link_id in repr(link)


def test_revoke_accepts_token_or_link_id(app: Flask, links: KashFlowLinks) -> None:
    a, b = links.mint_invoice(1), links.mint_invoice(2)
    assert links.revoke(a.token) is True
    assert links.revoke(b.link_id) is True
    assert links.active_links() == []
    with pytest.raises(ValueError, match="not a link id"):
        links.revoke("garbage")


def test_embed_mode_carries_credentials(tmp_path: Path) -> None:
    app = make_app(
        tmp_path,
        embed_credentials=True,
        accounts={"acme": {"brand": {"name": "Acme"}}},  # the server holds no credentials
    )
    links = KashFlowLinks()
    creds = Credentials("owner@acme.example", "pw-123456", "pineapple")
    with app.app_context():
        with pytest.raises(ValueError, match="embed mode needs credentials"):
            links.mint_invoice(1)
        link = links.mint_invoice(1, credentials=creds)
        assert links.verify(link.token).credentials == creds
        record = registered(link)
        assert record is not None and "pw-123456" not in repr(record)


def test_credentials_argument_only_in_embed_mode(app: Flask, links: KashFlowLinks) -> None:
    with pytest.raises(ValueError, match="EMBED"):
        links.mint_invoice(1, credentials=Credentials("a", "b", "cde"))


def test_default_store_is_sqlite_in_the_instance_folder_created_on_first_use(
    tmp_path: Path,
) -> None:
    app = make_app(tmp_path)
    db = Path(app.instance_path) / "kashflow_links.sqlite3"
    assert not db.exists()
    with app.app_context():
        KashFlowLinks().mint_invoice(1)
    assert db.exists()


def test_scope_validation() -> None:
    with pytest.raises(ValueError):
        Scope.for_invoice("acme", 0)
    with pytest.raises(ValueError):
        Scope.for_customer("acme", "  ")
    with pytest.raises(TypeError):  # the two kinds are the only scopes there are
        Scope(kind="statement", account="acme")  # type: ignore[call-arg]
