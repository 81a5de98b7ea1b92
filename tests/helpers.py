"""Plain helpers shared by the test modules; the fixtures are in conftest.py.

Apps: :func:`make_app` makes a Flask app with the portal configured for tests, and
:func:`portal_config` (or a :class:`KashFlowVariant`'s ``config``, for a test run once per
variant) the settings that point it at a sandbox. Time: a link that must be expired is minted
:func:`in_the_past`. The portal's state: counters through :func:`stats_of`, waits through
:func:`wait_for_background`, and :func:`internals` (private) for the rest. Links and pages:
:func:`mint`, :func:`path`, :func:`captured`, :func:`renew`. The REST client's tests under
``responses``: :data:`BASE`, :data:`LOGIN`, :func:`add_login`, :func:`invoice_json`.

Programs run in other processes (``apps.py``, ``peer.py``, ``stampede.py``) and the helpers of
real services (``services.py``), of held sandbox calls (``held.py``), of the browser
(``browser.py``) and of the documentation's snippets (``docs_snippets.py``) are modules of
their own.
"""

from __future__ import annotations

import re
import secrets
import typing as t
from collections.abc import Iterator
from contextlib import contextmanager
from contextlib import nullcontext
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from pathlib import Path

import jinja2
import jinja2.bccache
import responses
from cryptography.fernet import Fernet
from flask import Flask
from freezegun import freeze_time

from flask_kashflow_links import Credentials
from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links import Link
from flask_kashflow_links import LinkRecord
from flask_kashflow_links.extension import _State
from flask_kashflow_links.extension import _state
from flask_kashflow_links.kashflow.backend import Login
from flask_kashflow_links.testing import KashFlowSandbox

# -- apps ------------------------------------------------------------------------------------------

#: The repository's root.
ROOT = Path(__file__).resolve().parent.parent

FERNET_KEY = Fernet.generate_key().decode()
# Generated per run: a key written in the repository would be a published, refusable key.
SECRET_KEY = secrets.token_urlsafe(32)

ACCOUNT = {
    "username": "sandbox@example.test",
    "password": "correct horse battery",
    "memorable_word": "pineapple",
}


#: Tests count KashFlow calls, so by default nothing fetches behind their backs: no prefetch
#: on mint and no background refresh (data past its fresh window is fetched on the request
#: path, as stale-if-error tests expect). The tests of those features turn them on.
QUIET_BACKGROUND = {
    "KASHFLOW_LINKS_PREFETCH": False,
    "KASHFLOW_LINKS_STALE_WHILE_REVALIDATE": 0,
}


class _CompiledTemplates(jinja2.BytecodeCache):
    """Jinja's compiled templates, shared by every app of the test run.

    Each test makes its own app, and each app's Jinja environment would lex, parse and compile
    every template again: most of the suite's CPU. Jinja keys the cache by template source, so
    a changed template is compiled afresh; what is rendered is the same.
    """

    def __init__(self) -> None:
        self._compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        code = self._compiled.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self._compiled[bucket.key] = bucket.bytecode_to_string()


_COMPILED_TEMPLATES = _CompiledTemplates()


def make_app(tmp_path: t.Any, name: str = "kfl_test", **config: t.Any) -> Flask:
    """A Flask app with the portal configured for tests.

    Lower-case *config* keys are portal settings without the prefix (``cache_timeout=5``);
    upper-case keys are set as given (``SERVER_NAME=None``).
    """
    app = Flask(name, instance_path=str(tmp_path / f"instance-{name}"))
    app.jinja_options = {**app.jinja_options, "bytecode_cache": _COMPILED_TEMPLATES}
    app.config.update(
        TESTING=True,
        SECRET_KEY=SECRET_KEY,
        SERVER_NAME="portal.example.test",
        KASHFLOW_LINKS_FERNET_KEYS=[FERNET_KEY],
        KASHFLOW_LINKS_ACCOUNTS={"acme": dict(ACCOUNT)},
        KASHFLOW_LINKS_BRAND={"name": "Acme Accounts", "email": "billing@acme.example.com"},
        **QUIET_BACKGROUND,
    )
    for key, value in config.items():
        app.config[key if key.isupper() else "KASHFLOW_LINKS_" + key.upper()] = value

    KashFlowLinks(app)
    return app


def app_config(**settings: t.Any) -> dict[str, t.Any]:
    """The config :func:`make_app` would give an app with *settings*, for another process."""
    return {
        "SECRET_KEY": SECRET_KEY,
        "KASHFLOW_LINKS_FERNET_KEYS": [FERNET_KEY],
        **{f"KASHFLOW_LINKS_{k.upper()}": v for k, v in settings.items()},
    }


#: The host site's own templates (``host_app``): overrides and layouts.
TEMPLATES = Path(__file__).parent / "templates"


def host_app(tmp_path: Path, sandbox: KashFlowSandbox, **config: t.Any) -> Flask:
    """A host site with its own templates (:data:`TEMPLATES`) and the portal on *sandbox*;
    *config* keys are set as given."""
    app = Flask("host", template_folder=str(TEMPLATES), instance_path=str(tmp_path / "i"))
    app.config.update(
        SECRET_KEY=SECRET_KEY,
        SERVER_NAME="portal.example.test",
        KASHFLOW_LINKS_FERNET_KEYS=[Fernet.generate_key()],
        KASHFLOW_LINKS_ACCOUNTS={"acme": sandbox.account_config()},
        KASHFLOW_LINKS_API_BASE_URL=sandbox.url,
        KASHFLOW_LINKS_BRAND={"name": "Harbour Lane"},
        **QUIET_BACKGROUND,
    )
    app.config.update(config)
    KashFlowLinks(app)
    return app


# -- time ------------------------------------------------------------------------------------------


@contextmanager
def in_the_past(seconds: float = 3600) -> Iterator[None]:
    """Run the block *seconds* ago: a link minted here with a shorter lifetime is expired now."""
    with freeze_time(datetime.now(timezone.utc) - timedelta(seconds=seconds), tick=True):
        yield


class Clock:
    """Real time that keeps running, and that :meth:`tick` moves ahead at once."""

    def __init__(self, frozen: t.Any) -> None:
        self._frozen = frozen

    def tick(self, seconds: float) -> None:
        """Move time *seconds* ahead of now (freezegun's own ``tick`` counts from the moment
        the clock was frozen, which loses the time that ran since)."""
        self._frozen.move_to(datetime.now(timezone.utc) + timedelta(seconds=seconds))


class ManualClock:
    """Seconds that only the test moves (``clock.now``, ``clock.tick(seconds)``): a monotonic
    clock for the background pool's back-off (frozen wall-clock time is not the same in every
    thread), or a codec's clock."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += seconds


# -- the sandbox and the variants ------------------------------------------------------------------


def session_tokens(sandbox: KashFlowSandbox) -> set[str]:
    """Every session token *sandbox* has issued and not yet expired, for tests that look for
    secrets. **Private** to the sandbox (``KashFlowSandbox._sessions``, which it keeps for these
    tests): it has no public way to list them."""
    return set(sandbox._sessions)


def restore_switches(sandbox: KashFlowSandbox) -> None:
    """Every switch a test may turn, back to normal: no faults, the Swagger shape (a variant may
    have switched it), documents only with a session, SOAP answering to the login password."""
    sandbox.clear_faults()
    sandbox.set_shape("swagger")
    sandbox.set_public_documents(False)
    sandbox.set_soap_password_mode("login")


#: The ways the portal can meet KashFlow, for modules that run their tests against each (with
#: ``pytestmark = pytest.mark.usefixtures("variant")``): which API the account uses, and for
#: REST which response shape the sandbox serves.
VARIANTS: tuple[str, ...] = ("rest", "rest-documented", "soap")
#: The response shape the sandbox serves in each REST variant (``"swagger"`` otherwise): the
#: fields of the Swagger copy, or exactly those of KashFlow's official examples.
VARIANT_SHAPES = {"rest-documented": "documented"}
#: The variants that meet KashFlow's REST API, for tests of REST's own answers (with
#: ``pytest.mark.parametrize("variant", REST_VARIANTS, indirect=True)``).
REST_VARIANTS: tuple[str, ...] = ("rest", "rest-documented")


class KashFlowVariant:
    """One of :data:`VARIANTS`, and the sandbox settings, credentials and account entry of it.

    A test gets the one it runs against from the :func:`kashflow` fixture; a module-scoped
    fixture makes it from the ``variant`` fixture's value (``KashFlowVariant(variant)``).
    """

    def __init__(self, name: str) -> None:
        if name not in VARIANTS:
            raise ValueError(f"unknown variant {name!r}: one of {VARIANTS}")
        self.name = name

    def __repr__(self) -> str:
        return f"KashFlowVariant({self.name!r})"

    @property
    def soap(self) -> bool:
        """Whether the account uses KashFlow's SOAP API."""
        return self.name == "soap"

    def credentials(self, sandbox: KashFlowSandbox, password: str | None = None) -> Credentials:
        """The sandbox's credentials for this variant's API (for embed-mode links), with
        another *password* if given."""
        password = sandbox.password if password is None else password
        if self.soap:
            return Credentials(sandbox.username, password, api="soap")
        return Credentials(sandbox.username, password, sandbox.memorable_word)

    def account(self, sandbox: KashFlowSandbox, **extra: t.Any) -> dict[str, t.Any]:
        """The sandbox's account entry for this variant's API, with *extra* fields (a wrong
        ``password=``, say)."""
        if self.soap:
            return sandbox.account_config(api="soap", **extra)
        return sandbox.account_config(**extra)

    def config(self, sandbox: KashFlowSandbox, **config: t.Any) -> dict[str, t.Any]:
        """Settings pointing the portal at *sandbox* in this variant, for :func:`make_app`.

        In the ``rest-documented`` variant this switches *sandbox* to KashFlow's documented
        shape (the ``sandbox`` fixture switches the shared server back after each test). In
        the ``soap`` variant the account uses KashFlow's SOAP API, and the sandbox serves
        document permalinks without a session token: the SOAP API has none to send.
        """
        shape = VARIANT_SHAPES.get(self.name)
        if shape is not None:
            sandbox.set_shape(shape)
        if self.soap:
            sandbox.set_public_documents(True)
        base: dict[str, t.Any] = {
            "api_base_url": sandbox.url,
            "soap_url": sandbox.soap_url,
            "accounts": {"acme": self.account(sandbox)},
            # Keep failure tests quick: short timeouts.
            "api_timeout": (2.0, 3.0),
            # See QUIET_BACKGROUND (portal_config also configures processes make_app does not).
            "prefetch": False,
            "stale_while_revalidate": 0,
        }
        base.update(config)
        return base


#: KashFlow's REST API as the sandbox serves it by default: the variant of every test that does
#: not run once per variant.
REST = KashFlowVariant("rest")


def portal_config(sandbox: KashFlowSandbox, **config: t.Any) -> dict[str, t.Any]:
    """Settings pointing the portal at *sandbox* over the REST API, for :func:`make_app`
    (``REST.config``; a test run once per variant uses its ``kashflow`` fixture's ``config``)."""
    return REST.config(sandbox, **config)


def gunicorn_config(sandbox: KashFlowSandbox, **settings: t.Any) -> dict[str, t.Any]:
    """The config of a portal on *sandbox* (:func:`portal_config`) for ``tests.apps`` under
    gunicorn (:class:`~tests.services.Gunicorn`)."""
    return app_config(**portal_config(sandbox, **settings))


# -- the portal's state ----------------------------------------------------------------------------

#: The type of :func:`internals`.
Internals: t.TypeAlias = _State


def internals(app: Flask | None = None) -> Internals:
    """The portal's **private** per-app object of *app* (default: the current app).

    Only for what no public method reaches: the fetch layer (``fetcher.invoice``,
    ``fetcher.forget()``, ``fetcher.fresh``), the link store and codec, the cache, the
    background pool's queue. Counters are :func:`stats_of`, waiting is :func:`wait_for_background`
    and links are the :class:`~flask_kashflow_links.KashFlowLinks` methods.
    """
    return _state(app)


def stats_of(app: Flask | None = None) -> dict[str, dict[str, int]]:
    """``KashFlowLinks().stats()`` of *app* (default: the current app)."""
    with app.app_context() if app is not None else nullcontext():
        return KashFlowLinks().stats()


def counted_since(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """How much each counter of one :func:`stats_of` group (``stats_of()["fetch"]``, say) grew
    from *before* to *after*."""
    return {name: value - before.get(name, 0) for name, value in after.items()}


def wait_for_background(app: Flask | None = None, timeout: float = 10) -> bool:
    """``KashFlowLinks().wait_for_background(timeout)`` of *app* (default: the current app)."""
    with app.app_context() if app is not None else nullcontext():
        return KashFlowLinks().wait_for_background(timeout)


def registered(link: Link) -> LinkRecord | None:
    """*link*'s entry in the current app's register of live links
    (``KashFlowLinks().active_links()``), or None."""
    return next((r for r in KashFlowLinks().active_links() if r.link_id == link.link_id), None)


# -- links and pages -------------------------------------------------------------------------------

#: The invoice numbers a customer page lists (``findall``).
NUMBER_IN_PAGE = re.compile(r"/invoices/[^/\"]+/(\d+)\"")


def mint(app: Flask, kind: str = "invoice", **kwargs: t.Any) -> Link:
    """A link minted on *app*: to invoice ``number=`` (1043), or with ``kind="customer"`` to
    customer ``code=``'s invoices (ACME01); other keywords go to the mint."""
    links = KashFlowLinks()
    with app.test_request_context():
        if kind == "invoice":
            return links.mint_invoice(kwargs.pop("number", 1043), **kwargs)
        return links.mint_customer(kwargs.pop("code", "ACME01"), **kwargs)


def path(link_or_url: Link | str) -> str:
    """The path of a link (or of a URL) on the test apps' ``portal.example.test``."""
    url = link_or_url.url if isinstance(link_or_url, Link) else link_or_url
    return url.split("portal.example.test", 1)[1]


@contextmanager
def captured(signal: t.Any) -> Iterator[list[dict[str, t.Any]]]:
    """The keyword arguments of every *signal* sent in the block."""
    seen: list[dict[str, t.Any]] = []

    def record(sender: t.Any, **kwargs: t.Any) -> None:
        seen.append(kwargs)

    signal.connect(record)
    try:
        yield seen
    finally:
        signal.disconnect(record)


def form_token(app: Flask, link: Link) -> str:
    """The form token the expired page of *link* offers to renew it."""
    page = app.test_client().get(path(link))
    assert page.status_code == 410
    match = re.search(r'name="form_token" value="([^"]+)"', page.get_data(as_text=True))
    assert match, "the expired page offers the button"
    return match.group(1)


def renew(app: Flask, link: Link, **data: str) -> t.Any:
    """Press the expired page's "Email me a fresh link" button for *link* (with *data*)."""
    fields = {"form_token": form_token(app, link), **data}
    return app.test_client().post(
        path(link) + "/renew", data=fields, headers={"Sec-Fetch-Site": "same-origin"}
    )


# -- the REST client under ``responses`` (the rest_client fixture) ---------------------------------

#: The API the ``rest_client`` fixture calls (answered by ``responses``).
BASE = "https://api.kashflow.test/v2"
CREDS = Credentials("owner@acme.example", "s3cret-pass", "pineapple")
LOGIN = Login(namespace="ns1", credentials=CREDS)
#: A small, complete PDF.
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def add_login(
    rsps: responses.RequestsMock,
    *,
    positions: t.Sequence[int] = (3, 4, 6),
    token: str = "SESSION-1",
) -> None:
    """KashFlow's two-step login on :data:`BASE`, asking for the memorable word's *positions*
    and answering *token*."""
    rsps.post(
        f"{BASE}/sessiontoken",
        status=201,
        json={
            "TemporaryToken": "temp-123",
            "MemorableWordList": [{"Position": p, "Value": ""} for p in positions],
            "HasTemporaryPassword": False,
        },
    )
    rsps.put(
        f"{BASE}/sessiontoken", status=200, json={"SessionToken": token, "CompanyName": "Acme"}
    )


def invoice_json(number: int = 1043, **extra: t.Any) -> dict[str, t.Any]:
    """An invoice as KashFlow's REST API answers it, with *extra* fields."""
    return {
        "Number": number,
        "CustomerCode": "ACME01",
        "Status": "Unpaid",
        "GrossAmount": 117.5,
        "DueAmount": 117.5,
        "DueDate": "2026-10-09 12:00:00 +05:30",
        "Permalink": "/v2/documents/invoice/3a22b041-8d45-496a-946d-bd2252a0d28c",
        **extra,
    }
