"""Nothing reachable from a KashFlow exception holds a password, memorable word or session token.

Each error path of the REST backend is driven against the sandbox (a real HTTP server, so the
exceptions carry real ``requests`` and ``urllib3`` objects), and everything reachable from the
exception is walked: its attributes, ``args``, the ``__cause__`` and ``__context__`` chain, the
request and response (``history``, ``raw``, the connection), hooks, closures, containers.
Tracebacks are not walked: their frames hold local variables, as in any Python program (see
"Error trackers" in docs/security.rst).
"""

from __future__ import annotations

import collections
import functools
import types
import typing as t

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from flask_caching import Cache

from flask_kashflow_links.cache import SafeCache
from flask_kashflow_links.exceptions import KashFlowAccountLocked
from flask_kashflow_links.exceptions import KashFlowAuthError
from flask_kashflow_links.exceptions import KashFlowBadResponse
from flask_kashflow_links.exceptions import KashFlowError
from flask_kashflow_links.exceptions import KashFlowNotFound
from flask_kashflow_links.exceptions import KashFlowUnavailable
from flask_kashflow_links.kashflow.backend import Credentials
from flask_kashflow_links.kashflow.backend import Login
from flask_kashflow_links.kashflow.rest import RestBackend
from flask_kashflow_links.kashflow.session import SessionTokens
from flask_kashflow_links.kashflow.soap import SoapBackend
from flask_kashflow_links.testing import KashFlowSandbox

from .helpers import session_tokens

WRONG_PASSWORD = "not-the-password-7731"
WRONG_WORD = "wrongword99"
MAX_OBJECTS = 200_000

# Objects whose contents are code or the interpreter's, not data an exception carries.
OPAQUE = (
    types.ModuleType,
    type,
    types.CodeType,
    types.FrameType,
    types.TracebackType,
    types.BuiltinFunctionType,
    types.MethodWrapperType,
    types.WrapperDescriptorType,
)
SCALARS = (int, float, complex, bool, type(None))


def children(obj: object) -> t.Iterator[tuple[str, object]]:
    """What *obj* holds: attributes, items, closures; never globals, classes or frames."""
    if isinstance(obj, BaseException):
        yield ".args", obj.args
        yield ".__cause__", obj.__cause__
        yield ".__context__", obj.__context__
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield f"[{key!r}]", key
            yield f"[{key!r}]", value
        return
    if isinstance(obj, list | tuple | set | frozenset | collections.deque):
        for index, item in enumerate(obj):
            yield f"[{index}]", item
        return
    if isinstance(obj, types.MethodType):
        yield ".__self__", obj.__self__
        yield ".__func__", obj.__func__
        return
    if isinstance(obj, types.FunctionType):
        for index, cell in enumerate(obj.__closure__ or ()):
            if cell.cell_contents is not None:
                yield f".<closure {index}>", cell.cell_contents
        yield ".__defaults__", obj.__defaults__
        yield ".__kwdefaults__", obj.__kwdefaults__
        return
    if isinstance(obj, functools.partial):
        yield ".func", obj.func
        yield ".args", obj.args
        yield ".keywords", obj.keywords
        return
    for name, value in getattr(obj, "__dict__", {}).items():
        yield f".{name}", value
    for cls in type(obj).__mro__:
        for name in getattr(cls, "__slots__", ()):
            if name not in ("__dict__", "__weakref__") and hasattr(obj, name):
                yield f".{name}", getattr(obj, name)


def secrets_reachable(root: object, secrets: t.Iterable[str]) -> list[str]:
    """The paths from *root* to every string or bytes that contains one of *secrets*."""
    needles = {s.lower() for s in secrets if s}
    raw_needles = {n.encode() for n in needles}
    found: list[str] = []
    seen: set[int] = set()
    queue: collections.deque[tuple[object, str]] = collections.deque([(root, "error")])
    while queue:
        obj, path = queue.popleft()
        if id(obj) in seen or isinstance(obj, SCALARS + OPAQUE):
            continue
        seen.add(id(obj))
        assert len(seen) < MAX_OBJECTS, "walked too far: follow fewer kinds of reference"
        if isinstance(obj, str):
            if any(n in obj.lower() for n in needles):
                found.append(path)
            continue
        if isinstance(obj, bytes | bytearray | memoryview):
            data = bytes(obj).lower()
            if any(n in data for n in raw_needles):
                found.append(path)
            continue
        queue.extend((child, path + name) for name, child in children(obj))
    return found


def test_the_walker_finds_what_it_should() -> None:
    """The walk reaches secrets through attributes, slots, hooks, closures and the chain."""

    class Holder:
        __slots__ = ("kept",)

        def __init__(self, kept: object) -> None:
            self.kept = kept

    def hook(secret: str) -> t.Callable[[], str]:
        return lambda: secret

    try:
        try:
            raise ValueError(Holder({"body": b'{"Password": "S3CRET"}'}))
        except ValueError:
            raise KashFlowError("outer", response=t.cast(t.Any, Holder([hook("T0KEN")]))) from None
    except KashFlowError as e:
        error = e
    assert sorted(secrets_reachable(error, ["s3cret", "t0ken", "absent"])) == [
        "error.__context__.args[0].kept['body']",
        "error.response.kept[0].<closure 0>",
    ]


# -- the error paths -------------------------------------------------------------------------


@pytest.fixture
def backend() -> RestBackend:
    app = Flask(__name__)
    cache = Cache(with_jinja2_ext=False)
    cache.init_app(app, config={"CACHE_TYPE": "SimpleCache"})
    fernet = Fernet(Fernet.generate_key())
    tokens = SessionTokens(SafeCache(cache), fernet.encrypt, fernet.decrypt)
    # Short timeouts: the hanging faults below answer after 0.6 s.
    return RestBackend(
        "",  # set per test
        tokens=tokens,
        timeout=(1.0, 0.3),
        retries=1,
        backoff=0.0,
        max_retry_after=0.05,
        login_cooldown=1,
        sleep=lambda seconds: None,
    )


def login(sandbox: KashFlowSandbox, **changes: str) -> Login:
    credentials = Credentials(
        changes.get("username", sandbox.username),
        changes.get("password", sandbox.password),
        changes.get("memorable_word", sandbox.memorable_word),
    )
    return Login(namespace=f"ns-{sorted(changes.items())}", credentials=credentials)


Scenario = t.Callable[[KashFlowSandbox, RestBackend, Login], object]


def faulty(fault: t.Callable[[KashFlowSandbox], object]) -> Scenario:
    """Set *fault*, then read invoice 1043 (logging in first)."""

    def scenario(sandbox: KashFlowSandbox, client: RestBackend, who: Login) -> object:
        fault(sandbox)
        return client.get_invoice(who, 1043)

    return scenario


def mid_session(fault: t.Callable[[KashFlowSandbox], object], number: int = 1044) -> Scenario:
    """Log in and read an invoice, then set *fault* and read invoice *number*."""

    def scenario(sandbox: KashFlowSandbox, client: RestBackend, who: Login) -> object:
        client.get_invoice(who, 1043)
        fault(sandbox)
        return client.get_invoice(who, number)

    return scenario


def logging_in(sandbox: KashFlowSandbox, client: RestBackend, who: Login) -> object:
    return client.sessions.login(who.credentials)


def locked_at_login(sandbox: KashFlowSandbox, client: RestBackend, who: Login) -> object:
    sandbox.lock_account()
    return client.sessions.login(who.credentials)


def missing_customer(sandbox: KashFlowSandbox, client: RestBackend, who: Login) -> object:
    return client.get_customer(who, "NOPE99")


def document_cut_short(sandbox: KashFlowSandbox, client: RestBackend, who: Login) -> object:
    permalink = client.get_invoice(who, 1043).permalink or ""
    sandbox.truncate_pdf_next(1)
    return client.get_document(who, permalink, max_bytes=10**7)


#: Logins with these credentials changed (the rest use the sandbox's own).
WRONG = {
    "wrong password": {"password": WRONG_PASSWORD},
    "wrong memorable word": {"memorable_word": WRONG_WORD},
}
NO_TOKEN = {"CompanyName": "x"}
# fmt: off
SCENARIOS: dict[str, tuple[type[KashFlowError], Scenario]] = {
    "wrong password": (KashFlowAuthError, logging_in),
    "wrong memorable word": (KashFlowAuthError, logging_in),
    "locked at login": (KashFlowAccountLocked, locked_at_login),
    "login times out": (
        KashFlowUnavailable, faulty(lambda s: s.hang_next(1, 0.6, "sessiontoken.post"))),
    "login connection dropped": (
        KashFlowUnavailable, faulty(lambda s: s.drop_next(2, "sessiontoken.put"))),
    "login answer malformed": (
        KashFlowBadResponse, faulty(lambda s: s.malformed_next(1, "sessiontoken.put"))),
    "login answer without a session token": (
        KashFlowBadResponse,
        faulty(lambda s: s.fail_next(1, 200, endpoint="sessiontoken.put", body=NO_TOKEN))),
    # A 401 for the expired session, a login, then the 404: the 401 is in the response history.
    "not found after logging in again": (
        KashFlowNotFound, mid_session(lambda s: s.expire_sessions(), 999_999)),
    "a fresh session refused again": (
        KashFlowAuthError,
        faulty(lambda s: s.other_401_next(2, "invoices.get", error="InvalidSessionToken"))),
    "locked mid-session": (
        KashFlowAccountLocked,
        mid_session(lambda s: s.other_401_next(1, "invoices.get", error="AccountLocked"))),
    "server error": (
        KashFlowUnavailable, faulty(lambda s: s.fail_next(2, 503, endpoint="invoices.get"))),
    "rate limited": (
        KashFlowUnavailable, faulty(lambda s: s.rate_limit_next(2, 0, "invoices.get"))),
    "sql timeout": (
        KashFlowUnavailable, faulty(lambda s: s.sql_timeout_next(2, "invoices.get"))),
    "forbidden": (KashFlowAuthError, faulty(lambda s: s.fail_next(1, 403, endpoint="invoices.get"))),
    "read times out mid-session": (
        KashFlowUnavailable, mid_session(lambda s: s.hang_next(1, 0.6, "invoices.get"))),
    "connection dropped mid-session": (
        KashFlowUnavailable, mid_session(lambda s: s.drop_next(2, "invoices.get"))),
    "malformed answer": (
        KashFlowBadResponse, faulty(lambda s: s.malformed_next(1, "invoices.get"))),
    "customer not found": (KashFlowNotFound, missing_customer),
    "document cut short": (KashFlowBadResponse, document_cut_short),
}
# fmt: on


@pytest.mark.parametrize("name", SCENARIOS)
def test_nothing_reachable_from_the_exception_holds_a_secret(
    name: str, sandbox: KashFlowSandbox, backend: RestBackend
) -> None:
    kind, scenario = SCENARIOS[name]
    backend.base_url = backend.transport.base_url = sandbox.url
    who = login(sandbox, **WRONG.get(name, {}))
    issued: set[str] = set()
    store = backend.sessions.tokens.store

    def remember(namespace: str, token: str) -> None:  # expired ones too
        issued.add(token)
        store(namespace, token)

    backend.sessions.tokens.store = remember  # type: ignore[method-assign]
    try:
        with pytest.raises(kind) as caught:
            scenario(sandbox, backend, who)
    finally:
        sandbox.unlock_account()
    secrets = {
        sandbox.password,
        sandbox.memorable_word,
        WRONG_PASSWORD,
        WRONG_WORD,
        *issued,
        *session_tokens(sandbox),
    }
    assert (
        issued
        or name in ("wrong password", "wrong memorable word", "locked at login")
        or (name.startswith("login"))
    )
    assert secrets_reachable(caught.value, secrets) == [], name


# -- the SOAP backend: the password travels in every request's body ------------------------------


SoapScenario = t.Callable[[KashFlowSandbox, SoapBackend, Login], object]


def soap_invoice(sandbox: KashFlowSandbox, client: SoapBackend, who: Login) -> object:
    return client.get_invoice(who, 1043)


def soap_faulty(fault: t.Callable[[KashFlowSandbox], object]) -> SoapScenario:
    def scenario(sandbox: KashFlowSandbox, client: SoapBackend, who: Login) -> object:
        fault(sandbox)
        return client.get_invoice(who, 1043)

    return scenario


# fmt: off
SOAP_SCENARIOS: dict[str, tuple[type[KashFlowError], SoapScenario]] = {
    "wrong password": (KashFlowAuthError, soap_invoice),
    "times out": (KashFlowUnavailable, soap_faulty(lambda s: s.hang_next(1, 0.6, "soap"))),
    "connection dropped": (KashFlowUnavailable, soap_faulty(lambda s: s.drop_next(2, "soap"))),
    "server fault": (KashFlowUnavailable, soap_faulty(lambda s: s.soap_fail_next(2, 500))),
    "an HTML error page": (
        KashFlowError, soap_faulty(lambda s: s.soap_fail_next(2, 502, html=True))),
    "malformed answer": (KashFlowBadResponse, soap_faulty(lambda s: s.malformed_next(1, "soap"))),
    "not found": (KashFlowNotFound, lambda s, c, w: c.get_invoice(w, 999_999)),
}
# fmt: on


@pytest.mark.parametrize("name", SOAP_SCENARIOS)
def test_nothing_reachable_from_a_soap_exception_holds_the_password(
    name: str, sandbox: KashFlowSandbox
) -> None:
    kind, scenario = SOAP_SCENARIOS[name]
    password = sandbox.account_config(api="soap")["password"]
    used = WRONG_PASSWORD if name == "wrong password" else password
    client = SoapBackend(
        sandbox.soap_url,
        tokens=SessionTokens(None, lambda b: b, lambda b: b),
        timeout=(1.0, 0.3),
        retries=1,
        backoff=0.0,
        max_retry_after=0.05,
    )
    who = Login(
        namespace=f"soap-{name}", credentials=Credentials(sandbox.username, used, api="soap")
    )
    with pytest.raises(kind) as caught:
        scenario(sandbox, client, who)
    assert secrets_reachable(caught.value, {password, WRONG_PASSWORD}) == [], name
