"""No secret in clear anywhere: logs, pages, headers, cache keys and values, the link store.

The secrets: every link token minted, the KashFlow password and memorable word (the site's and
an embed-mode link's), and every KashFlow session token issued. Scenarios cover the whole
portal: pages, PDFs, statements, bad and expired and withdrawn links, a fresh link by email,
KashFlow failures with and without cached data, a session expiring, a refused login, the CLI.

The one place a link's token legitimately appears is in its own page's links to its own
routes (``href``/``action`` attributes: the page's URL already holds it) and in the email that
delivers a fresh link.
"""

from __future__ import annotations

import logging
import re
import typing as t
from pathlib import Path

import pytest
import redis

from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links.testing import KashFlowSandbox

from .helpers import KashFlowVariant
from .helpers import in_the_past
from .helpers import make_app
from .helpers import session_tokens

# Every test runs against the REST and the SOAP API (tests/helpers.py: VARIANTS).
pytestmark = pytest.mark.usefixtures("variant")

OWN_LINKS = re.compile(r'(?:href|action)="/invoices/[^"]*"')


class Evidence:
    """Everything the scenarios produced, and every secret to look for in it."""

    def __init__(self) -> None:
        self.pages: list[str] = []
        self.headers: list[str] = []
        self.secrets: set[str] = set()
        self.emails: list[str] = []

    def response(self, response: t.Any) -> None:
        if response.mimetype == "text/html":
            self.pages.append(OWN_LINKS.sub("", response.get_data(as_text=True)))
        elif response.mimetype != "application/pdf":
            self.pages.append(response.get_data(as_text=True))
        self.headers.append(
            "\n".join(
                f"{name}: {value}"
                for name, value in response.headers.items()
                if not (name == "Location" and response.status_code == 303)
            )
        )


@pytest.mark.redis
def test_no_secret_appears_in_clear(
    tmp_path: Path,
    sandbox: KashFlowSandbox,
    redis_url: str,
    caplog: pytest.LogCaptureFixture,
    age_cache: t.Callable[..., None],
    kashflow: KashFlowVariant,
) -> None:
    caplog.set_level(logging.DEBUG)
    evidence = Evidence()
    mails: list[t.Any] = []
    cache = {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_url}
    store = tmp_path / "links.sqlite3"
    settings = kashflow.config(
        sandbox, cache=cache, revocation_url=f"sqlite:///{store}", mail=mails.append
    )
    app = make_app(tmp_path, **settings)
    links = KashFlowLinks()
    client = app.test_client()
    evidence.secrets |= {sandbox.password, sandbox.memorable_word}

    def get(url: str, **kwargs: t.Any) -> t.Any:
        response = client.get(url, **kwargs)
        evidence.response(response)
        evidence.secrets.update(session_tokens(sandbox))
        return response

    with app.test_request_context():
        minted = {
            "invoice": links.mint_invoice(1043),
            "all": links.mint_customer("ACME01"),
            "unpaid": links.mint_customer("ACME01", status="unpaid"),
            "withdrawn": links.mint_customer("BIGCO01"),
        }
        with in_the_past():
            minted["expiring"] = links.mint_invoice(1043, expires_in=60)
    evidence.secrets |= {link.token for link in minted.values()}
    links_app = app
    with links_app.app_context():
        links.revoke(minted["withdrawn"].link_id)

    # Pages, PDFs, statements, bad tokens, withdrawn links.
    for name in ("invoice", "all", "unpaid"):
        assert get(minted[name].url).status_code == 200
    get(minted["all"].url + "/1043")
    get(minted["all"].url + "/1043/pdf")
    get(minted["all"].url + "/pdf")
    get(minted["invoice"].url + "/pdf")
    get(minted["all"].url + "?status=paid&page=1")
    get(minted["invoice"].url[:-5] + "AAAAA")
    get("/invoices/not-a-token")
    get(minted["withdrawn"].url)

    # Expired, then a fresh link by email.
    page = get(minted["expiring"].url)
    form_token = re.search(
        r'name="form_token" value="([^"]+)"',
        client.get(minted["expiring"].url).get_data(as_text=True),
    ).group(1)  # type: ignore[union-attr]
    renewed = client.post(
        minted["expiring"].url + "/renew",
        data={"form_token": form_token},
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    evidence.response(renewed)
    assert page.status_code == 410 and renewed.status_code == 200
    mail_text = mails[0].as_string()
    assert minted["expiring"].token not in mail_text
    assert sandbox.password not in mail_text and sandbox.memorable_word not in mail_text

    # KashFlow failing with and without data cached; a session expiring mid-way.
    age_cache(app)
    sandbox.fail_next(20, 503)
    get(minted["invoice"].url)  # stale
    with app.test_request_context():
        cold = links.mint_invoice(1004)
    evidence.secrets.add(cold.token)
    get(cold.url)  # unavailable
    sandbox.clear_faults()
    sandbox.expire_sessions()
    get(cold.url)  # one fresh login

    # Embed mode: credentials inside the link.
    embed_password = "embedded-secret-Pa55word"
    embed_app = make_app(
        tmp_path,
        "embed",
        **kashflow.config(sandbox, embed_credentials=True, accounts={"acme": {}}, cache=cache),
    )
    evidence.secrets.add(embed_password)
    with embed_app.test_request_context():
        embedded = links.mint_invoice(
            1043, credentials=kashflow.credentials(sandbox, password=embed_password)
        )
        good_embed = links.mint_invoice(1015, credentials=kashflow.credentials(sandbox))
    evidence.secrets |= {embedded.token, good_embed.token}
    embed_client = embed_app.test_client()
    for link in (embedded, good_embed):
        response = embed_client.get(link.url)
        evidence.response(response)
    evidence.secrets.update(session_tokens(sandbox))

    # A refused login and the check command's output.
    wrong = make_app(
        tmp_path,
        "wrong",
        **kashflow.config(
            sandbox, accounts={"acme": kashflow.account(sandbox, password="WrongPa55-x")}
        ),
    )
    evidence.secrets.add("WrongPa55-x")
    with wrong.test_request_context():
        refused = links.mint_invoice(1043)
    evidence.secrets.add(refused.token)
    evidence.response(wrong.test_client().get(refused.url))
    result = app.test_cli_runner().invoke(args=["kashflow-links", "check", "--force"])
    evidence.pages.append(result.stdout + result.stderr)
    evidence.secrets.update(session_tokens(sandbox))

    secrets = {s for s in evidence.secrets if s}
    assert len(secrets) > 10

    # 1. Logs.
    logs = "\n".join(r.getMessage() + "\n" + (r.exc_text or "") for r in caplog.records)
    assert logs
    # 2. Pages and CLI output.  3. Headers.
    haystacks = {
        "logs": logs,
        "pages": "\n".join(evidence.pages),
        "headers": "\n".join(evidence.headers),
    }
    # 4. Cache keys and values (Redis: everything the portal stored).
    client_redis = redis.Redis.from_url(redis_url)
    cache_dump = []
    for key in client_redis.scan_iter("*"):
        cache_dump.append(key.decode("latin-1"))
        if client_redis.type(key) == b"string":
            cache_dump.append((client_redis.get(key) or b"").decode("latin-1"))
    if kashflow.soap:
        # No session over SOAP; the refused embed-mode password left its pause there.
        assert any(k.endswith(":password:cooldown") for k in cache_dump), "the pause is shared"
    else:
        assert any(":session" in k for k in cache_dump), "the sealed session token is in the cache"
    haystacks["cache"] = "\n".join(cache_dump)
    # 5. The link store on disk (database and WAL).
    haystacks["store"] = "".join(
        p.read_bytes().decode("latin-1") for p in tmp_path.glob("links.sqlite3*")
    )
    for where, text in haystacks.items():
        for secret in secrets:
            assert secret not in text, f"a secret appeared in the {where}"
