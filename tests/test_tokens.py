"""The token codec: round trips, expiry, key rotation, length, and tampering."""

from __future__ import annotations

import base64
from datetime import datetime
from datetime import timedelta
from datetime import timezone

import pytest
from cryptography.fernet import Fernet
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from itsdangerous import TimestampSigner
from itsdangerous import URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode

from flask_kashflow_links import LinkExpired
from flask_kashflow_links import LinkInvalid
from flask_kashflow_links.kashflow.backend import Credentials
from flask_kashflow_links.links.claims import STATUSES
from flask_kashflow_links.links.claims import Scope
from flask_kashflow_links.links.claims import is_link_id
from flask_kashflow_links.links.codec import SALTS
from flask_kashflow_links.links.codec import TokenCodec

from .helpers import ManualClock

FERNET_A = Fernet.generate_key()
FERNET_B = Fernet.generate_key()
SIGN_A = b"a" * 32 + b"-signing-key-one"
SIGN_B = b"b" * 32 + b"-signing-key-two"
#: A frozen time that tests move by hand (their codecs' clock).
NOW = 1_800_000_000.0


def codec(clock: ManualClock | None = None, fernet=(FERNET_A,), signing=(SIGN_A,)) -> TokenCodec:
    return TokenCodec(list(fernet), list(signing), clock=clock or ManualClock(NOW))


CODEC = codec()
SCOPES = [Scope.for_invoice("acme", 1043), Scope.for_invoice("acme", 2**63 - 1)] + [
    Scope.for_customer("acme", "TCUST01", status) for status in STATUSES
]


@pytest.mark.parametrize("scope", SCOPES, ids=lambda s: s.describe())
def test_every_scope_round_trips(scope: Scope) -> None:
    token, minted = CODEC.mint(scope)
    claims = CODEC.verify(token)
    assert claims.scope == scope
    assert claims.link_id == minted.link_id and is_link_id(claims.link_id)
    assert claims.lifetime is None and claims.expires_at is None
    assert claims.credentials is None
    assert claims.version == 1


def test_non_latin_customer_codes_round_trip() -> None:
    scope = Scope.for_customer("société", "ДРАВС-01 ✓", "paid")
    token, _ = CODEC.mint(scope)
    assert CODEC.verify(token).scope == scope


def test_nothing_of_the_scope_is_readable_in_the_token() -> None:
    token, claims = CODEC.mint(Scope.for_customer("acme", "TCUST01", "unpaid"))
    decoded = b"".join(
        base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)) for part in token.split(".")
    )
    for secret in (b"TCUST01", b"acme", b"unpaid", claims.link_id.encode()):
        assert secret not in decoded and secret.decode() not in token


def test_links_are_at_most_160_characters() -> None:
    invoice, _ = CODEC.mint(Scope.for_invoice("acme", 987654))
    customer, _ = CODEC.mint(Scope.for_customer("acme", "TCUST01", "unpaid"))
    assert len(invoice) <= 160
    assert len(customer) <= 160


def test_each_link_gets_its_own_id() -> None:
    ids = {CODEC.mint(Scope.for_invoice("acme", 1))[1].link_id for _ in range(200)}
    assert len(ids) == 200


def test_expiry_is_to_the_second() -> None:
    clock = ManualClock(NOW)
    c = codec(clock)
    token, minted = c.mint(Scope.for_invoice("acme", 7), lifetime=timedelta(days=90))
    assert minted.expires_at == datetime.fromtimestamp(clock.now, tz=timezone.utc) + timedelta(
        days=90
    )
    clock.now += 90 * 86400 - 1
    assert c.verify(token).scope.invoice == 7
    clock.now += 1
    with pytest.raises(LinkExpired) as info:
        c.verify(token)
    assert info.value.claims.scope == Scope.for_invoice("acme", 7)
    assert info.value.expired_at == minted.expires_at
    # An expired link still decrypts for the "email me a fresh link" page.
    assert c.verify(token, allow_expired=True).link_id == minted.link_id


def test_permanent_links_never_expire() -> None:
    clock = ManualClock(NOW)
    c = codec(clock)
    token, _ = c.mint(Scope.for_customer("acme", "X1"))
    clock.now += 50 * 365 * 86400
    assert c.verify(token).scope.customer == "X1"


@pytest.mark.parametrize("bad", [timedelta(0), timedelta(seconds=-5), timedelta(seconds=1.5)])
def test_bad_lifetimes_are_refused(bad: timedelta) -> None:
    with pytest.raises(ValueError, match="lifetime"):
        CODEC.mint(Scope.for_invoice("acme", 1), lifetime=bad)


def test_embedded_credentials_round_trip_and_stay_hidden() -> None:
    creds = Credentials("owner@acme.example", "s3cret-Passw0rd", "pineapple")
    token, _ = CODEC.mint(Scope.for_invoice("acme", 5), credentials=creds)
    assert CODEC.verify(token).credentials == creds
    assert "s3cret" not in token and "pineapple" not in repr(creds)


# -- key rotation ------------------------------------------------------------------------------


def test_old_link_opens_after_fernet_rotation() -> None:
    old = codec(fernet=(FERNET_A,))
    token, minted = old.mint(Scope.for_invoice("acme", 1043))
    rotated = codec(fernet=(FERNET_B, FERNET_A))  # newest first
    assert rotated.verify(token).link_id == minted.link_id


def test_link_minted_after_fernet_rotation_needs_only_the_new_key() -> None:
    rotated = codec(fernet=(FERNET_B, FERNET_A))
    token, _ = rotated.mint(Scope.for_invoice("acme", 1043))
    assert codec(fernet=(FERNET_B,)).verify(token).scope.invoice == 1043
    with pytest.raises(LinkInvalid):
        codec(fernet=(FERNET_A,)).verify(token)


def test_old_link_opens_after_signing_key_rotation() -> None:
    token, minted = codec(signing=(SIGN_A,)).mint(Scope.for_invoice("acme", 1043))
    rotated = codec(signing=(SIGN_A, SIGN_B))  # oldest first, newest last
    assert rotated.verify(token).link_id == minted.link_id


def test_link_minted_after_signing_rotation_needs_only_the_new_key() -> None:
    token, _ = codec(signing=(SIGN_A, SIGN_B)).mint(Scope.for_invoice("acme", 1043))
    assert codec(signing=(SIGN_B,)).verify(token).scope.invoice == 1043
    with pytest.raises(LinkInvalid):
        codec(signing=(SIGN_A,)).verify(token)


# -- tampering (property-based) ----------------------------------------------------------------

TOKEN, _ = CODEC.mint(Scope.for_customer("acme", "TCUST01", "unpaid"))
INVOICE_TOKEN, _ = CODEC.mint(Scope.for_invoice("acme", 1043))
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
FAST = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_rejected(token: str) -> None:
    with pytest.raises(LinkInvalid):
        CODEC.verify(token)


@FAST
@given(st.integers(min_value=0), st.integers(min_value=0, max_value=5))
def test_flipped_bits_never_verify(position: int, bit: int) -> None:
    raw = bytearray(TOKEN.encode())
    i = position % len(raw)
    raw[i] ^= 1 << bit
    mutated = raw.decode("latin-1")
    if mutated != TOKEN:
        assert_rejected(mutated)


@FAST
@given(st.integers(min_value=0, max_value=len(TOKEN) - 1), st.sampled_from(ALPHABET))
def test_changed_characters_never_verify(position: int, char: str) -> None:
    mutated = TOKEN[:position] + char + TOKEN[position + 1 :]
    if mutated != TOKEN:
        assert_rejected(mutated)


@FAST
@given(st.integers(min_value=0, max_value=len(TOKEN) - 1))
def test_truncation_never_verifies(length: int) -> None:
    assert_rejected(TOKEN[:length])


@FAST
@given(st.text(alphabet=ALPHABET + ".=", min_size=1, max_size=40))
def test_extension_never_verifies(suffix: str) -> None:
    assert_rejected(TOKEN + suffix)


@FAST
@given(st.text(alphabet=ALPHABET + ".=", min_size=1, max_size=40))
def test_prefixing_never_verifies(prefix: str) -> None:
    assert_rejected(prefix + TOKEN)


def test_re_encodings_never_verify() -> None:
    payload, stamp, signature = TOKEN.split(".")
    variants = {
        TOKEN + "=",
        TOKEN.replace("-", "+").replace("_", "/"),
        payload + "=." + stamp + "." + signature,
        payload + "." + stamp + "=." + signature,
        payload + "." + stamp + "." + signature + "==",
        TOKEN.upper(),
        TOKEN.lower(),
        " " + TOKEN,
        TOKEN + "\n",
        base64.urlsafe_b64encode(TOKEN.encode()).decode(),
    }
    # The last character of the signature carries two spare bits: every other spelling of
    # the same bytes must be refused too.
    last = signature[-1]
    index = ALPHABET.index(last)
    for spare in range(1, 4):
        twin = ALPHABET[(index & ~3) | ((index + spare) & 3)]
        variants.add(payload + "." + stamp + "." + signature[:-1] + twin)
    for variant in variants - {TOKEN}:
        assert_rejected(variant)


@FAST
@given(st.permutations([0, 1, 2]))
def test_swapped_segments_never_verify(order: list[int]) -> None:
    parts = TOKEN.split(".")
    swapped = ".".join(parts[i] for i in order)
    if swapped != TOKEN:
        assert_rejected(swapped)


def test_segments_swapped_between_two_genuine_tokens_never_verify() -> None:
    a, b = TOKEN.split("."), INVOICE_TOKEN.split(".")
    for i in range(3):
        mixed = list(a)
        mixed[i] = b[i]
        if mixed != a:
            assert_rejected(".".join(mixed))


@FAST
@given(st.text(max_size=300))
def test_arbitrary_text_never_verifies(text: str) -> None:
    assert_rejected(text)


def test_tokens_from_another_apps_keys_never_verify() -> None:
    other = codec(fernet=(FERNET_B,), signing=(SIGN_B,))
    token, _ = other.mint(Scope.for_invoice("acme", 1043))
    assert_rejected(token)
    # Same Fernet key, other signing key; same signing key, other Fernet key.
    assert_rejected(codec(fernet=(FERNET_A,), signing=(SIGN_B,)).mint(SCOPES[0])[0])
    assert_rejected(codec(fernet=(FERNET_B,), signing=(SIGN_A,)).mint(SCOPES[0])[0])


def test_tokens_of_another_purpose_never_verify() -> None:
    form_token = CODEC.sign_form("abcdefghijklm")
    assert_rejected(form_token)
    # A Fernet token signed with our key under another salt (purpose).
    fernet_raw = base64.urlsafe_b64decode(Fernet(FERNET_A).encrypt(b"\x01\x00" + b"\x00" * 8))
    other = URLSafeTimedSerializer(SIGN_A, salt="some-other-purpose")
    assert_rejected(other.dumps(fernet_raw.hex()))
    # A Flask session cookie signed with the same secret is not a link either.
    from flask import Flask
    from flask.sessions import SecureCookieSessionInterface

    app = Flask(__name__)
    app.secret_key = SIGN_A
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    assert serializer is not None
    assert_rejected(serializer.dumps({"invoice": 1043}))


def test_form_tokens_are_bound_to_one_link_and_expire() -> None:
    clock = ManualClock(NOW)
    c = codec(clock)
    value = c.sign_form("abcdefghijklm")
    assert c.form_token_is_valid(value, "abcdefghijklm")
    assert not c.form_token_is_valid(value, "bbcdefghijklm")
    token, _ = c.mint(SCOPES[0])
    assert not c.form_token_is_valid(token, "abcdefghijklm")
    clock.now += 3601
    assert not c.form_token_is_valid(value, "abcdefghijklm")


def test_a_payload_of_another_version_is_refused() -> None:
    # Encrypt a well-formed payload but with version byte 2 and sign it with our keys.
    from flask_kashflow_links.links import codec as tokens

    payload = bytearray(tokens.pack_claims(SCOPES[0], "abcdefghijklm", None, None))
    payload[0] = 2
    raw = base64.urlsafe_b64decode(Fernet(FERNET_A).encrypt_at_time(bytes(payload), 1_800_000_000))

    class SignedAt(TimestampSigner):
        """itsdangerous with our signing key and the public salt, at the encryption's time."""

        def get_timestamp(self) -> int:
            return 1_800_000_000

    forged = SignedAt(SIGN_A, salt=SALTS["link"]).sign(base64_encode(raw)).decode()
    with pytest.raises(LinkInvalid, match="version"):
        CODEC.verify(forged)


def test_rejection_logs_reason_never_the_token(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="flask_kashflow_links")
    tampered = TOKEN[:-3] + ("AAA" if TOKEN[-3:] != "AAA" else "BBB")
    assert_rejected(tampered)
    assert "link rejected" in caplog.text
    assert tampered not in caplog.text and TOKEN not in caplog.text


def test_the_signing_key_alone_cannot_re_date_a_link() -> None:
    """Someone holding only the signing key (by default Flask's SECRET_KEY, which also signs
    sessions) re-signs a genuine expired link's bytes with a later time: refused, because the
    time inside the encryption no longer matches."""
    clock = ManualClock(NOW)
    c = codec(clock)
    token, _ = c.mint(SCOPES[0], lifetime=timedelta(seconds=60))
    clock.now += 3600
    with pytest.raises(LinkExpired):
        c.verify(token)

    class SignedAt(TimestampSigner):
        """itsdangerous as anyone would use it, with the signing key and the public salt."""

        at = int(clock.now)

        def get_timestamp(self) -> int:
            return self.at

    payload = token.split(".")[0]
    signer = SignedAt(SIGN_A, salt=SALTS["link"])
    SignedAt.at = 1_800_000_000  # the original time: the attacker's tool is exact
    assert signer.sign(payload).decode() == token
    SignedAt.at = int(clock.now)  # now the link looks freshly minted
    forged = signer.sign(payload).decode()
    assert forged != token
    with pytest.raises(LinkInvalid, match="time"):
        c.verify(forged)


def test_a_link_minted_before_the_times_were_bound_still_opens() -> None:
    """Minted by the codec of 0.1.0's first layout (commit 848ad30), which already wrote the
    same second into both layers: links already sent keep working."""
    old = (
        "gAAAAABrSdIAtW9rWi4nexgTcRuKvgp4ZZMmRf4wLgfuwm-r-ycSk0kXGAGCdhovZgYmfXJQ7XvIFlknE-V2tcR"
        "gJNlZze1ufwhO7bJmgehmZWaahpIVKSQ.a0nSAA.Id0oEoxpfGnJB355RjUAlE986HI"
    )
    fernet = "rOXB8DjN9tW1VQmYh3T9y8hE0bJ7ZpK2cLqW4sD6fG0="
    claims = codec(ManualClock(NOW + 86400), fernet=(fernet,)).verify(old)
    assert claims.scope == Scope.for_customer("acme", "TCUST01", "unpaid")
    assert claims.link_id == "ovinmitagfcsq"
    assert claims.lifetime == timedelta(days=90)
