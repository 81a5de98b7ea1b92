"""Shared fixtures: apps, real services (Redis: ``redis_url``; SMTP: ``inbox``, an aiosmtpd
server and what it received), the variants, and time that tests move.

Tests never wait for time to pass. A link that must be expired is minted
:func:`~tests.helpers.in_the_past`; the :func:`clock` fixture is real time that
``clock.tick(seconds)`` moves ahead at once (freezegun), and :func:`age_cache` uses it to put
cached data past its fresh window. Plain helpers (``make_app``, ``portal_config``...) are in
helpers.py.

Modules refine the app with markers, as in Flask-Security's tests::

    @pytest.mark.settings(default_account="acme", embed_credentials=True)
    def test_something(app): ...
"""

from __future__ import annotations

import typing as t
from collections.abc import Iterator
from contextlib import nullcontext
from datetime import datetime
from datetime import timezone

import freezegun
import pytest
from cryptography.fernet import Fernet
from flask import Flask
from flask_caching import Cache
from freezegun import freeze_time

from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links.cache import SafeCache
from flask_kashflow_links.kashflow import http as kashflow_http
from flask_kashflow_links.kashflow.rest import RestBackend
from flask_kashflow_links.kashflow.session import SessionTokens
from flask_kashflow_links.testing import KashFlowSandbox

from .held import HeldCalls
from .held import sandbox_with
from .helpers import BASE
from .helpers import REST
from .helpers import VARIANTS
from .helpers import Clock
from .helpers import KashFlowVariant
from .helpers import internals
from .helpers import make_app
from .helpers import restore_switches
from .services import Inbox
from .services import RedisServer
from .services import redis_server
from .services import smtp_server

# pytest's own timings (--durations, timeouts) must keep reading the real clock.
freezegun.configure(extend_ignore_list=["_pytest", "pytest_timeout"])


@pytest.fixture(autouse=True)
def _retries_without_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries happen as in production, but without their waits: the backoff and the longest
    Retry-After honoured are module constants, read when an app builds its backends. Tests of
    the waits themselves make their backends with explicit values and a recorded sleep."""
    monkeypatch.setattr(kashflow_http, "BACKOFF", 0.0)
    monkeypatch.setattr(kashflow_http, "MAX_RETRY_AFTER", 0.0)


@pytest.fixture
def apps(tmp_path: t.Any, kashflow: KashFlowVariant) -> Iterator[t.Callable[..., Flask]]:
    """``apps(sandbox, name="kfl_test", **settings)`` makes apps reading from *sandbox* in the
    test's variant; their background work (prefetch, refreshes) is stopped after the test."""
    made: list[Flask] = []

    def make(sandbox: KashFlowSandbox, name: str = "kfl_test", **settings: t.Any) -> Flask:
        made.append(make_app(tmp_path, name, **kashflow.config(sandbox, **settings)))
        return made[-1]

    yield make
    for app in made:  # no public way to stop an app's background work
        internals(app).background.shutdown(wait=10)


@pytest.fixture
def portal_on(apps: t.Callable[..., Flask]) -> Iterator[t.Callable[..., Flask]]:
    """``portal_on(sandbox, **settings)``: an app reading from *sandbox* in the test's variant,
    its app context pushed for the rest of the test (for the staff API's calls)."""
    contexts: list[t.Any] = []

    def make(sandbox: KashFlowSandbox, **settings: t.Any) -> Flask:
        app = apps(sandbox, **settings)
        contexts.append(app.app_context())
        contexts[-1].push()
        return app

    yield make
    for context in reversed(contexts):
        context.pop()


@pytest.fixture
def held() -> HeldCalls:
    """A sandbox ``sleep`` holding delayed requests until ``held.release()`` (see held.py)."""
    return HeldCalls()


@pytest.fixture
def slow(held: HeldCalls) -> Iterator[KashFlowSandbox]:
    """A sandbox of the test's own whose requests with latency wait for ``held.release()``."""
    with sandbox_with(held) as sandbox:
        yield sandbox


@pytest.fixture
def app(request: pytest.FixtureRequest, tmp_path: t.Any) -> Iterator[Flask]:
    marker = request.node.get_closest_marker("settings")
    config = dict(marker.kwargs) if marker else {}
    app = make_app(tmp_path, **config)
    with app.app_context():
        yield app


@pytest.fixture
def clock() -> Iterator[Clock]:
    """Time for this test: it runs as usual, and ``clock.tick(seconds)`` moves it ahead."""
    with freeze_time(datetime.now(timezone.utc), tick=True) as frozen:
        yield Clock(frozen)


@pytest.fixture
def age_cache(clock: Clock) -> t.Callable[..., None]:
    """``age_cache(app)``: move time just past the fetch layer's fresh window (cached data is
    kept for stale-if-error) and drop the process's parsed copies; ``seconds=`` for more."""

    def age(app: Flask | None = None, seconds: float | None = None) -> None:
        with app.app_context() if app is not None else nullcontext():
            fetcher = internals().fetcher
            clock.tick(fetcher.fresh + 5 if seconds is None else seconds)
            fetcher.forget()

    return age


@pytest.fixture
def links() -> KashFlowLinks:
    """An extension object; its methods act on the current app."""
    return KashFlowLinks()


@pytest.fixture
def client(app: Flask) -> t.Any:
    return app.test_client()


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[KashFlowSandbox]:
    with KashFlowSandbox() as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server: KashFlowSandbox) -> Iterator[KashFlowSandbox]:
    """The shared sandbox, with its switches restored and counters zeroed around each test."""
    restore_switches(sandbox_server)
    sandbox_server.reset_counters()
    sandbox_server.expire_sessions()
    yield sandbox_server
    restore_switches(sandbox_server)


@pytest.fixture(scope="module", params=VARIANTS)
def variant(request: pytest.FixtureRequest) -> str:
    """Run the tests that use it once per :data:`VARIANTS`; the variant's name.

    Module-scoped, so that a module's own module-scoped fixtures (one sandbox and app for many
    read-only tests) can follow it too: they ask for ``variant`` and pass it on
    (``KashFlowVariant(variant)``) before they build anything.
    """
    return t.cast(str, request.param)


@pytest.fixture
def kashflow(request: pytest.FixtureRequest) -> KashFlowVariant:
    """The variant this test runs against: its ``variant`` if it runs once per variant, else
    REST. (A value per test, passed on: the ``portal`` and ``apps`` fixtures build with it.)"""
    if "variant" in request.fixturenames:
        return KashFlowVariant(request.getfixturevalue("variant"))
    return REST


@pytest.fixture
def portal(
    request: pytest.FixtureRequest,
    tmp_path: t.Any,
    sandbox: KashFlowSandbox,
    kashflow: KashFlowVariant,
) -> Iterator[Flask]:
    """An app reading from the sandbox in the test's variant; refine with
    ``@pytest.mark.settings(...)``."""
    marker = request.node.get_closest_marker("settings")
    app = make_app(tmp_path, **kashflow.config(sandbox, **(dict(marker.kwargs) if marker else {})))
    with app.app_context():
        yield app


@pytest.fixture(scope="session")
def redis_session() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


@pytest.fixture
def redis_url(redis_session: RedisServer) -> str:
    redis_session.flush()
    return redis_session.url


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    """A real SMTP server (aiosmtpd) for this test, and what it received; point the portal at
    it with ``mail=inbox.settings()``."""
    with smtp_server() as server:
        yield server


# -- the REST client under ``responses`` (test_client, test_client_answers, test_concurrency) ------


@pytest.fixture
def token_cache() -> SafeCache:
    """The cache :func:`rest_client` shares its session tokens through (a SimpleCache)."""
    app = Flask(__name__)
    c = Cache(with_jinja2_ext=False)
    c.init_app(app, config={"CACHE_TYPE": "SimpleCache"})
    return SafeCache(c)


@pytest.fixture
def rest_client(token_cache: SafeCache) -> RestBackend:
    """The REST client on :data:`~tests.helpers.BASE`, for tests that answer it with
    ``responses``: two retries, no waits, session tokens sealed in :func:`token_cache`."""
    fernet = Fernet(Fernet.generate_key())

    def unseal(data: bytes) -> bytes | None:
        return fernet.decrypt(data)

    tokens = SessionTokens(token_cache, fernet.encrypt, unseal)
    return RestBackend(
        BASE,
        tokens=tokens,
        retries=2,
        backoff=0.0,
        max_retry_after=0.1,
        login_cooldown=600,
        sleep=lambda s: None,
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "settings(**kwargs): KASHFLOW_LINKS_* settings for `app`")
