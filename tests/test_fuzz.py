"""100,000 fuzzed and mutated tokens against the live routes.

None is accepted, none causes a 500, and the bad-token throttle engages. Mutations start from
genuine tokens (flipped bits, changed, inserted and deleted characters, truncation,
extension, swapped and duplicated segments, re-encodings, tokens of another application and
of another purpose) and mix in random text. A seeded generator makes every run the same.
"""

from __future__ import annotations

import base64
import collections
import os
import random
import string
from pathlib import Path
from urllib.parse import quote

import pytest
from cryptography.fernet import Fernet

from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links.links.claims import Scope
from flask_kashflow_links.links.codec import TokenCodec
from flask_kashflow_links.testing import KashFlowSandbox

from .helpers import internals
from .helpers import make_app
from .helpers import portal_config

TOTAL = int(os.environ.get("KFL_FUZZ_COUNT", "100000"))
URLSAFE = string.ascii_letters + string.digits + "-_"
ODD = URLSAFE + ".=+/%~!*'();:@&$,[]#?\\ \t\u00e9\u202e\u0000\ufeff\U0001f600"


def mutate(rng: random.Random, seeds: list[str], foreign: list[str]) -> str:
    token = rng.choice(seeds)
    kind = rng.randrange(16)
    if kind == 0:  # flip one bit of one character
        i = rng.randrange(len(token))
        return token[:i] + chr(ord(token[i]) ^ (1 << rng.randrange(7))) + token[i + 1 :]
    if kind == 1:  # change characters
        chars = list(token)
        for _ in range(rng.randint(1, 3)):
            chars[rng.randrange(len(chars))] = rng.choice(URLSAFE)
        return "".join(chars)
    if kind == 2:  # insert
        i = rng.randrange(len(token) + 1)
        return token[:i] + "".join(rng.choice(ODD) for _ in range(rng.randint(1, 4))) + token[i:]
    if kind == 3:  # delete
        i = rng.randrange(len(token))
        return token[:i] + token[i + rng.randint(1, 5) :]
    if kind == 4:  # truncate
        return token[: rng.randrange(len(token))]
    if kind == 5:  # extend
        return token + "".join(rng.choice(ODD) for _ in range(rng.randint(1, 30)))
    parts = token.split(".")
    if kind == 6:  # swap two segments
        i, j = rng.sample(range(3), 2)
        parts[i], parts[j] = parts[j], parts[i]
        return ".".join(parts)
    if kind == 7:  # a segment from another genuine token
        other = rng.choice(seeds).split(".")
        i = rng.randrange(3)
        parts[i] = other[i]
        return ".".join(parts)
    if kind == 8:  # drop or duplicate a segment
        i = rng.randrange(3)
        return ".".join(parts[:i] + parts[i + 1 :] if rng.random() < 0.5 else [*parts, parts[i]])
    if kind == 9:  # re-encodings
        return rng.choice(
            [
                token + "=" * rng.randint(1, 3),
                token.upper(),
                token.lower(),
                token.replace("-", "+").replace("_", "/"),
                base64.urlsafe_b64encode(token.encode()).decode(),
                quote(token, safe=""),
                token.replace(".", "%2E"),
            ]
        )
    if kind == 10:  # spare signature bits: the same bytes, another spelling
        last = parts[2][-1]
        index = URLSAFE.find(last)
        alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
        j = alphabet.index(last) if last in alphabet else index
        parts[2] = parts[2][:-1] + alphabet[(j & ~3) | ((j + rng.randint(1, 3)) & 3)]
        return ".".join(parts)
    if kind == 11:  # a genuine token of another application or purpose
        return rng.choice(foreign)
    if kind == 12:  # random text
        return "".join(rng.choice(ODD) for _ in range(rng.randint(0, 300)))
    if kind == 13:  # random URL-safe text shaped like a token
        return ".".join(
            "".join(rng.choice(URLSAFE) for _ in range(n)) for n in (rng.randint(40, 200), 6, 27)
        )
    if kind == 14:  # very long
        return token * rng.randint(2, 40)
    return rng.choice(["", ".", "..", "../" + token, token + "/..", "%00", "null", "undefined"])


def route(rng: random.Random, token: str) -> tuple[str, str]:
    quoted = quote(token, safe="")
    return rng.choice(
        [
            ("GET", f"/invoices/{quoted}"),
            ("GET", f"/invoices/{quoted}/{rng.choice([1043, 1004, 1005, 1, 10**30])}"),
            ("GET", f"/invoices/{quoted}/pdf"),
            ("GET", f"/invoices/{quoted}/1043/pdf"),
            ("GET", f"/invoices/{quoted}?status=paid&page=2"),
            ("HEAD", f"/invoices/{quoted}"),
            ("POST", f"/invoices/{quoted}/renew"),
        ]
    )


@pytest.mark.slow
def test_fuzzed_tokens_are_never_accepted(tmp_path: Path, sandbox: KashFlowSandbox) -> None:
    app = make_app(tmp_path, **portal_config(sandbox, throttle_limit=30, mail=lambda m: None))
    links = KashFlowLinks()
    with app.test_request_context():
        genuine = [
            links.mint_invoice(1043),
            links.mint_customer("ACME01"),
            links.mint_customer("ACME01", status="unpaid"),
            links.mint_invoice(1043, expires_in=3600),
        ]
    seeds = [link.token for link in genuine]
    other_app = TokenCodec([Fernet.generate_key()], [b"k" * 40])
    with app.app_context():
        foreign = [
            other_app.mint(Scope.for_invoice("acme", 1043))[0],
            internals().links.form_token(genuine[0].link_id),
        ]
    client = app.test_client()
    rng = random.Random(20261122)
    statuses: collections.Counter[int] = collections.Counter()
    first_429: dict[str, int] = {}
    seen_by_address: collections.Counter[str] = collections.Counter()
    for n in range(TOTAL):
        token = mutate(rng, seeds, foreign)
        if token in seeds:
            continue  # an identity "mutation" is not an attack
        method, url = route(rng, token)
        address = f"198.51.100.{rng.randrange(40)}"
        response = client.open(url, method=method, environ_base={"REMOTE_ADDR": address})
        status = response.status_code
        statuses[status] += 1
        # 308: werkzeug merging an empty segment (//); 400: a malformed URL. Never a page.
        assert status in (308, 400, 404, 405, 429), (n, method, url, status)
        seen_by_address[address] += 1
        if status == 429:
            first_429.setdefault(address, seen_by_address[address])
    total = sum(statuses.values())
    print(f"\nfuzzed {total} requests: {dict(statuses)}")
    assert total >= TOTAL * 0.95
    assert statuses[500] == 0
    assert statuses[429] > 0, "the throttle engages"
    assert statuses[404] > 0
    # Genuine links still open for a well-behaved address afterwards.
    for link in genuine:
        assert client.get(link.url, environ_base={"REMOTE_ADDR": "192.0.2.1"}).status_code == 200
    artifacts = Path(__file__).resolve().parent.parent / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "fuzz.txt").write_text(f"requests {total}\nstatuses {dict(statuses)}\n")


def test_every_mutation_kind_is_refused_quickly(tmp_path: Path, sandbox: KashFlowSandbox) -> None:
    """A small, always-run slice of the fuzz above (every kind, every route)."""
    app = make_app(tmp_path, **portal_config(sandbox))
    with app.test_request_context():
        seeds = [KashFlowLinks().mint_invoice(1043).token]
    client = app.test_client()
    rng = random.Random(7)
    for _ in range(800):
        token = mutate(rng, seeds, seeds[:1] * 0 or ["x.y.z"])
        if token in seeds:
            continue
        method, url = route(rng, token)
        status = client.open(url, method=method).status_code
        assert status in (308, 400, 404, 405, 429), (url, status)
