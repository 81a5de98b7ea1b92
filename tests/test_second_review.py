"""Findings of the second adversarial review (issue #20), each with the tests that show it
fixed, by the finding's number: an embed-mode link withdrawn by a password change stays
withdrawn (1), mailed URLs from configuration (2: sent links and reminders; the fresh-link
email is in test_hardening.py), the fresh-link budget of an address (3), percent-encoded link
tokens in logs (4), a Redis store that may evict (5), a glob in a cache prefix (7; the
refusals are in test_key_spaces.py), and the information findings (8). Point 6, re-encoded
and easy keys, is tested in test_config_keys.py."""

from __future__ import annotations

import logging
import typing as t
from contextlib import contextmanager
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from email.message import EmailMessage
from http.client import HTTPConnection
from pathlib import Path

import pytest
from cachelib import RedisCache
from flask import Flask
from freezegun import freeze_time
from redis import Redis

from flask_kashflow_links import ConfigurationError
from flask_kashflow_links import Credentials
from flask_kashflow_links import KashFlowBadResponse
from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links import Link
from flask_kashflow_links import Scope
from flask_kashflow_links.cli import parse_duration
from flask_kashflow_links.config import Brand
from flask_kashflow_links.kashflow import Login
from flask_kashflow_links.kashflow import SessionTokens
from flask_kashflow_links.kashflow import SoapBackend
from flask_kashflow_links.kashflow.session import EMBEDDED_PAUSE
from flask_kashflow_links.links.claims import MAX_LIFETIME
from flask_kashflow_links.links.codec import pack_claims
from flask_kashflow_links.links.codec import unpack_claims
from flask_kashflow_links.links.store import RedisStore
from flask_kashflow_links.portal.pages import content_security_policy
from flask_kashflow_links.portal.renew import RENEW_LIMIT_PER_ADDRESS
from flask_kashflow_links.redaction import redact
from flask_kashflow_links.testing import KashFlowSandbox

from .helpers import KashFlowVariant
from .helpers import form_token
from .helpers import gunicorn_config
from .helpers import in_the_past
from .helpers import make_app
from .helpers import mint
from .helpers import path
from .helpers import portal_config
from .helpers import renew
from .services import Gunicorn

#: A link token's shape (from docs/security.rst).
TOKEN = "gAAAAABrAj3cEag2-q2hwXa1b2c3d4e5f6g7h8i9j0kLmNoPqRsTuVwXyZ_0.awI93A.GKvuDD-3Vu6-CJkyewHgl04VZ-M"

# -- 1. a password change withdraws embed-mode links on every view, route and worker -----------


def shared_by_two(redis_url: str) -> dict[str, t.Any]:
    """Settings of two workers sharing one Redis cache and one Redis store."""
    return {
        "cache": {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_url},
        "revocation_url": redis_url,
    }


def every_route(kashflow: KashFlowVariant, invoice: Link, customer: Link) -> list[str]:
    """Every portal route an embed-mode link opens: pages, an invoice in a list, the PDFs."""
    urls = [
        path(invoice),
        path(invoice) + "/pdf",
        path(customer),
        path(customer) + "/1043",
        path(customer) + "/1043/pdf",
    ]
    if not kashflow.soap:  # SOAP has no statements
        urls.append(path(customer) + "/pdf")
    return urls


@pytest.mark.redis
@pytest.mark.usefixtures("variant")
def test_a_password_change_answers_410_on_every_route_and_worker_without_asking_kashflow(
    tmp_path: Path, redis_url: str, kashflow: KashFlowVariant
) -> None:
    """Once KashFlow refused an embed-mode link's credentials, every link with those
    credentials is withdrawn (410) on every route of every worker for the whole pause, and
    no KashFlow call is made meanwhile. (REST answered 410 once, then "temporarily
    unavailable" with Retry-After for a day: the pause read as an outage.)"""
    with KashFlowSandbox() as sandbox:
        settings = kashflow.config(
            sandbox, embed_credentials=True, accounts={"acme": {}}, **shared_by_two(redis_url)
        )
        one, two = make_app(tmp_path, "one", **settings), make_app(tmp_path, "two", **settings)
        credentials = kashflow.credentials(sandbox)
        invoice = mint(one, credentials=credentials)
        customer = mint(one, "customer", credentials=credentials)
        sandbox.password = "a brand new password"
        sandbox.expire_sessions()
        assert one.test_client().get(path(invoice)).status_code == 410  # KashFlow refused
        sandbox.reset_counters()
        for app in (one, two, one):
            client = app.test_client()
            for url in every_route(kashflow, invoice, customer):
                response = client.get(url)
                assert response.status_code == 410, (app.name, url)
                assert "Retry-After" not in response.headers
                assert "no longer active" in response.get_data(as_text=True)
        assert sum(sandbox.calls.values()) == 0  # paused: nobody asked KashFlow


@pytest.mark.parametrize("fault", ["locked", "password expired"])
def test_a_locked_or_expired_embed_login_stays_temporarily_unavailable(
    tmp_path: Path, fault: str
) -> None:
    """The other side of the line: a locked user or an expired password is not the link's
    fault. It is 503 at first and through the pause, and KashFlow is not asked again."""
    with KashFlowSandbox() as sandbox:
        app = make_app(
            tmp_path,
            **KashFlowVariant("rest").config(
                sandbox, embed_credentials=True, accounts={"acme": {}}
            ),
        )
        link = mint(app, credentials=KashFlowVariant("rest").credentials(sandbox))
        sandbox.expire_sessions()
        if fault == "locked":
            sandbox.lock_account()
        else:
            sandbox.password_expired_next(1)
        client = app.test_client()
        assert client.get(path(link)).status_code == 503
        sandbox.reset_counters()
        for url in (path(link), path(link) + "/pdf"):
            response = client.get(url)
            assert response.status_code == 503 and response.headers["Retry-After"]
        assert sum(sandbox.calls.values()) == 0


@pytest.mark.redis
@pytest.mark.usefixtures("variant")
def test_a_refusal_is_remembered_as_long_as_the_pause_whatever_the_stale_timeout(
    tmp_path: Path, redis_url: str, kashflow: KashFlowVariant
) -> None:
    """With STALE_TIMEOUT at 0 the fetch layer kept KashFlow's refusal for the fresh window
    only (five minutes), while the pause it answers for lasts a day."""
    with KashFlowSandbox() as sandbox:
        app = make_app(
            tmp_path,
            **kashflow.config(
                sandbox,
                embed_credentials=True,
                accounts={"acme": {}},
                stale_timeout=0,
                **shared_by_two(redis_url),
            ),
        )
        link = mint(app, credentials=kashflow.credentials(sandbox))
        sandbox.password = "a brand new password"
        assert app.test_client().get(path(link)).status_code == 410
    redis = Redis.from_url(redis_url)
    (refusal,) = redis.keys("*:refused")
    (pause,) = redis.keys("*:password:cooldown")
    assert redis.ttl(refusal) >= redis.ttl(pause) - 1 >= EMBEDDED_PAUSE - 5


# -- 2. every mailed URL comes from configuration (verified: fixed on main) ----------------------


@pytest.mark.parametrize(
    "config",
    [{"public_url": "https://billing.example.co.uk/pay", "url_prefix": "/pay"}, {}],
    ids=["public url", "server name"],
)
def test_sent_links_and_reminders_take_nothing_from_the_request(
    tmp_path: Path, sandbox: KashFlowSandbox, config: dict[str, t.Any]
) -> None:
    """Sent from a staff page reached at http://attacker.example.test:31337 (a '.domain' entry
    of TRUSTED_HOSTS admits any name), a sent link and a reminder still point at the
    configured site, although the minted Link's own URL follows the request."""
    sent: list[EmailMessage] = []
    app = make_app(tmp_path, **portal_config(sandbox, mail=sent.append, **config))
    with app.test_request_context(base_url="http://attacker.example.test:31337"):
        links = KashFlowLinks()
        link = links.mint_customer("ACME01")
        links.send(link)
        reminded = links.remind(status="unpaid")
    assert len(sent) == 1 + len(reminded.sent) >= 2
    expected = config.get("public_url", "http://portal.example.test")
    for message in sent:
        body = message.get_body(("plain",)).get_content()
        assert f"{expected}/invoices/" in body
        assert "attacker" not in body and "31337" not in body


# -- 3. the fresh-link budget of an address counts only requests that passed the checks ---------


@pytest.fixture
def mid_hour() -> t.Iterator[None]:
    """Time running from the middle of an hour: the address's window (fixed, an hour) does not
    end during the test."""
    start = datetime.now(timezone.utc).replace(minute=30, second=0, microsecond=0)
    with freeze_time(start, tick=True):
        yield


@pytest.mark.usefixtures("mid_hour")
def test_cross_site_posts_to_a_live_link_never_use_up_an_addresses_budget(
    tmp_path: Path, sandbox: KashFlowSandbox
) -> None:
    """Eleven cross-site POSTs to a live link (a hostile page visited from an office) spent
    the whole address's budget for an hour: the genuine renewal after them was 429."""
    sent: list[EmailMessage] = []
    app = make_app(tmp_path, **portal_config(sandbox, mail=sent.append))
    client = app.test_client()
    live = path(mint(app, "customer"))
    with in_the_past():
        expired = mint(app, "customer", expires_in=60)
    hostile = {"Sec-Fetch-Site": "cross-site"}
    for _ in range(RENEW_LIMIT_PER_ADDRESS + 1):
        assert client.post(live + "/renew", headers=hostile).status_code == 303
    # Nor do cross-site or forged POSTs for the expired link itself.
    genuine = {"form_token": form_token(app, expired)}
    for _ in range(RENEW_LIMIT_PER_ADDRESS + 1):
        response = client.post(path(expired) + "/renew", data=genuine, headers=hostile)
        assert response.status_code == 400
        response = client.post(
            path(expired) + "/renew",
            data={"form_token": "forged"},
            headers={"Sec-Fetch-Site": "same-origin"},
        )
        assert response.status_code == 400
    assert sent == []
    assert renew(app, expired).status_code == 200
    assert len(sent) == 1


# -- 4. a percent-encoded link token is kept out of the access log ------------------------------


def percent_encoded(token: str) -> str:
    """*token* as a client or a proxy may spell it in a path: every other character and every
    dot percent-encoded, in both cases of hex digit."""
    spelt = []
    for i, character in enumerate(token):
        if character == "." or i % 2 == 0:
            code = f"%{ord(character):02X}"
            spelt.append(code if i % 4 else code.lower())
        else:
            spelt.append(character)
    return "".join(spelt)


@pytest.mark.parametrize(
    "line",
    [
        '127.0.0.1 - - "GET /invoices/{spelt} HTTP/1.1" 200',
        '"GET /billing/invoices/{spelt}/1043/pdf HTTP/1.1" 200',
        "Referer: https://shop.example/invoices/{spelt}?page=2",
        "/login?next=%2Fbilling%2Finvoices%2F{spelt}",
    ],
)
def test_a_percent_encoded_link_token_is_redacted(line: str) -> None:
    """Flask decodes the path, so /invoices/%67AAAA... opens the link; the redaction pattern
    knew only the plain spelling, and such a request line was logged whole."""
    spelt = percent_encoded(TOKEN)
    cleaned = redact(line.format(spelt=spelt))
    assert "[link]" in cleaned
    assert spelt[:30] not in cleaned and spelt[-30:] not in cleaned


@pytest.mark.multiprocess
def test_a_percent_encoded_link_token_opens_and_stays_out_of_gunicorns_access_log(
    tmp_path: Path, sandbox: KashFlowSandbox
) -> None:
    """gunicorn logs the request line as the client sent it (werkzeug's server logs it
    decoded, which was redacted already)."""
    token = mint(make_app(tmp_path, **portal_config(sandbox))).token
    spelt = percent_encoded(token)
    with Gunicorn(gunicorn_config(sandbox), workers=1) as server:
        connection = HTTPConnection("127.0.0.1", server.port, timeout=10)
        connection.request("GET", f"/invoices/{spelt}")
        response = connection.getresponse()
        body = response.read().decode()
        connection.close()
        server.stop()  # the access log is written out
        logged = Path(server.access_log).read_text()
    assert response.status == 200 and "Invoice 1043" in body  # served
    assert '"GET /invoices/[link] HTTP/1.1" 200' in logged
    assert spelt[:30] not in logged and token[:30] not in logged


# -- 5. a Redis store that may evict its keys is refused ----------------------------------------


@contextmanager
def eviction_policy(redis_url: str, policy: str) -> t.Iterator[None]:
    """The session's Redis server with *policy* for the block (server-wide, so set back)."""
    redis = Redis.from_url(redis_url)
    before = redis.config_get("maxmemory-policy")["maxmemory-policy"]
    redis.config_set("maxmemory-policy", policy)
    try:
        yield
    finally:
        redis.config_set("maxmemory-policy", before)


@pytest.mark.redis
@pytest.mark.parametrize("policy", ["allkeys-lru", "allkeys-lfu", "allkeys-random"])
def test_a_redis_store_that_may_evict_any_key_is_refused_at_start_up(
    tmp_path: Path, redis_url: str, policy: str
) -> None:
    """Under an allkeys-* policy Redis may evict the revocation hash when memory runs short,
    and every withdrawn link opens again, silently."""
    with eviction_policy(redis_url, policy), pytest.raises(ConfigurationError) as refused:
        make_app(tmp_path, revocation_url=redis_url)
    assert refused.value.key == "KASHFLOW_LINKS_REVOCATION_URL"
    message = str(refused.value)
    assert policy in message and "maxmemory-policy noeviction" in message


@pytest.mark.redis
@pytest.mark.parametrize("policy", ["noeviction", "volatile-lru", "volatile-ttl"])
def test_a_redis_store_that_never_evicts_its_keys_is_accepted(
    tmp_path: Path, redis_url: str, policy: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The store's keys never expire, so a volatile-* policy never evicts them."""
    with eviction_policy(redis_url, policy):
        app = make_app(tmp_path, revocation_url=redis_url)
    with app.app_context():
        link = KashFlowLinks().mint_invoice(1043)
        KashFlowLinks().revoke(link.link_id)
    assert "maxmemory-policy" not in caplog.text


@pytest.mark.redis
def test_a_redis_store_that_hides_its_settings_is_warned_about_loudly(
    tmp_path: Path, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A managed Redis often refuses CONFIG: the policy cannot be read, so say what to check."""
    redis = Redis.from_url(redis_url)
    redis.acl_setuser(
        "kfl-no-config", enabled=True, passwords=["+kfl-pw"], keys=["*"], channels=["*"],
        commands=["+@all", "-config"],
    )  # fmt: skip
    try:
        limited = redis_url.replace("redis://", "redis://kfl-no-config:kfl-pw@")
        make_app(tmp_path, revocation_url=limited)
    finally:
        redis.acl_deluser("kfl-no-config")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("maxmemory-policy" in w and "noeviction" in w for w in warnings), warnings


# -- 7. a glob in a cache prefix (verified: fixed on main) ---------------------------------------


@pytest.mark.redis
@pytest.mark.parametrize("prefix", ["kf?:", "kfl*", "[k]fl:", "kfl\\:"])
def test_a_glob_in_a_cache_prefix_would_clear_the_stores_keys_so_it_is_refused(
    tmp_path: Path, redis_url: str, prefix: str
) -> None:
    """cachelib clears with ``KEYS <prefix>*``: a prefix that spells nothing like the store's
    ``kfl:rev:`` still matches it as a pattern, and clearing the cache withdrew every
    withdrawal. Start-up refuses such a prefix in the store's database."""
    store = RedisStore(redis_url)
    store.revoke("abcdefghjkmnp")
    assert store.revoked_reason("abcdefghjkmnp", "acme", None, 0.0) == "link"
    server = Redis.from_url(redis_url)
    where = server.connection_pool.connection_kwargs
    RedisCache(where["host"], where["port"], db=where["db"], key_prefix=prefix).clear()
    assert server.keys(RedisStore.PREFIX + "*") == []  # what the refusal prevents
    assert store.revoked_reason("abcdefghjkmnp", "acme", None, 0.0) is None
    cache = {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_url, "CACHE_KEY_PREFIX": prefix}
    with pytest.raises(ConfigurationError) as refused:
        make_app(tmp_path, cache=cache, revocation_url=redis_url)
    assert refused.value.key == "KASHFLOW_LINKS_CACHE"


# -- 8. links with credentials only where embed mode is on, for the site's own accounts --------


@pytest.mark.usefixtures("variant")
@pytest.mark.parametrize(
    "serving",
    [
        {"embed_credentials": False},
        {"embed_credentials": True, "accounts": {"other": {}}, "default_account": "other"},
    ],
    ids=["embed mode off", "account not configured"],
)
def test_a_link_carrying_credentials_opens_only_where_embed_mode_serves_its_account(
    tmp_path: Path, sandbox: KashFlowSandbox, kashflow: KashFlowVariant, serving: dict[str, t.Any]
) -> None:
    """A site that holds its own credentials, or does not have the link's account, opened an
    embed-mode link with the credentials inside it (wearing the site's brand): a site proxied
    any KashFlow login minted with its keys. Both are a link the site does not serve (404),
    and KashFlow is not asked."""
    minting = make_app(tmp_path, "minting", **kashflow.config(sandbox, embed_credentials=True))
    link = mint(minting, credentials=kashflow.credentials(sandbox))
    assert minting.test_client().get(path(link)).status_code == 200
    other = make_app(tmp_path, "serving", **kashflow.config(sandbox, **serving))
    sandbox.reset_counters()
    for url in (path(link), path(link) + "/pdf"):
        assert other.test_client().get(url).status_code == 404
    assert sum(sandbox.calls.values()) == 0


# -- 8. a SOAP permalink must be a document path -------------------------------------------------


@pytest.mark.parametrize(
    "link",
    [
        "{origin}/v2/invoices/1043",
        "{origin}/v2/customers/ACME01",
        "{soap_url}",
        "{origin}/v2/documents",
        "{origin}/v2/documents/",
        "{origin}/v2/documentsX/invoice/x",
    ],
)
def test_a_soap_permalink_is_fetched_only_from_a_document_path(
    sandbox: KashFlowSandbox, link: str
) -> None:
    """A PermaLink was checked for its host only: any path on KashFlow's API hosts (the SOAP
    service itself, the REST API's other resources) could be fetched as an invoice PDF."""
    tokens = SessionTokens(None, lambda b: b, lambda b: b)
    soap = SoapBackend(sandbox.soap_url, tokens=tokens, document_hosts=(sandbox.url,))
    login = Login("ns", Credentials(sandbox.username, sandbox.password, api="soap"))
    url = link.format(origin=sandbox.origin, soap_url=sandbox.soap_url)
    with pytest.raises(KashFlowBadResponse, match="document"):
        soap.get_document(login, url, max_bytes=10**7)
    assert soap.stats.requests == 0
    # A genuine permalink still downloads.
    sandbox.set_public_documents(True)
    invoice = soap.get_invoice(login, 1043)
    assert soap.get_document(login, invoice.permalink, max_bytes=10**7).startswith(b"%PDF-")


# -- 8. a lifetime too long for a date is a clear error -----------------------------------------


@pytest.mark.parametrize(
    "expires_in",
    [10**12, timedelta.max, MAX_LIFETIME + timedelta(seconds=1)],
    ids=["10**12 seconds", "timedelta.max", "a second over"],
)
def test_a_lifetime_past_the_longest_is_a_clear_error_and_mints_nothing(
    app: Flask, expires_in: int | timedelta
) -> None:
    """expires_in=10**12 ended in OverflowError (its expiry is past the year 9999), after
    the link token was made."""
    links = KashFlowLinks()
    with pytest.raises(ValueError, match="permanent link"):
        links.mint_invoice(1043, expires_in=expires_in)
    assert links.active_links() == []
    link = links.mint_invoice(1043, expires_in=MAX_LIFETIME)  # the longest is accepted
    assert link.expires_at is not None


def test_a_cli_lifetime_past_the_longest_is_a_usage_error(app: Flask) -> None:
    """``--expires-in 9999999999w`` ended in OverflowError and a traceback."""
    runner = app.test_cli_runner()
    result = runner.invoke(args=["kashflow-links", "mint", "invoice", "1043", "--expires-in",
                                 "9999999999w"])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "--expires-in" in result.output and "permanent" in result.output
    assert "Traceback" not in result.output and KashFlowLinks().active_links() == []
    with pytest.raises(ValueError, match="permanent"):
        parse_duration("5300w")  # just over a hundred years


def test_a_link_whose_expiry_no_date_can_hold_is_invalid_not_a_server_error() -> None:
    """Only a holder of the keys could mint one; it is refused as not genuine (ValueError,
    which the codec turns into LinkInvalid), never an OverflowError."""
    scope = Scope.for_invoice("acme", 1043)
    packed = pack_claims(scope, "abcdefghjkmnp", timedelta(days=999_999_999), None)
    with pytest.raises(ValueError, match="lifetime"):
        unpack_claims(packed, datetime.now(timezone.utc))


# -- 8. a brand's URLs have a plain host: nothing to inject into the Content-Security-Policy ----

#: Brand URLs whose "host" would write directives into the policy's img-src.
INJECTING = [
    "https://cdn.example; script-src *",
    "https://cdn.example script-src 'unsafe-inline'",
    "https://cdn.example:443;/logo.png",
    "https://cdn.example,evil.example/logo.png",
    "https://user@cdn.example/logo.png",
    "https://cdn.example:99999/logo.png",
]


@pytest.mark.parametrize("logo_url", INJECTING)
@pytest.mark.parametrize("where", ["site brand", "account brand"])
def test_a_brand_url_without_a_plain_host_is_refused_at_start_up(
    tmp_path: Path, logo_url: str, where: str
) -> None:
    """A logo_url's host went into the pages' Content-Security-Policy as written, so ";" or
    a space in it added directives (a script-src, say)."""
    brand = {"name": "Acme", "logo_url": logo_url}
    if where == "site brand":
        config: dict[str, t.Any] = {"brand": brand}
    else:
        config = {"accounts": {"acme": {"username": "u", "password": "pw-123456",
                                        "memorable_word": "pineapple", "brand": brand}}}  # fmt: skip
    with pytest.raises(ConfigurationError) as refused:
        make_app(tmp_path, **config)
    key = "KASHFLOW_LINKS_BRAND" if where == "site brand" else "KASHFLOW_LINKS_ACCOUNTS"
    assert refused.value.key == key and "plain host" in str(refused.value)


@pytest.mark.parametrize("logo_url", INJECTING)
def test_the_content_security_policy_names_only_a_plain_logo_host(logo_url: str) -> None:
    """A Brand made in code (an account loader returning Account objects) is not validated
    by the brand table: the policy itself takes only a plain origin."""
    policy = content_security_policy(Brand(logo_url=logo_url))
    directives = [d.strip().split()[0] for d in policy.split(";")]
    assert "script-src" not in policy and len(directives) == len(set(directives)) == 7
    assert "img-src 'self' data:;" in policy


def test_a_plain_logo_host_with_a_port_is_named_in_the_policy(tmp_path: Path) -> None:
    logo = "https://CDN.example.co.uk:8443/brand/logo%20big.png?v=2"
    app = make_app(tmp_path, brand={"name": "Acme", "logo_url": logo})
    page = app.test_client().get("/invoices/not-a-link")
    policy = page.headers["Content-Security-Policy"]
    assert "img-src 'self' data: https://cdn.example.co.uk:8443;" in policy
