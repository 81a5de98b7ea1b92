"""The link token codec: the only code that touches link keys.

A link token is built in two layers:

1. The claims (scope, account, link id, optional lifetime, optionally the KashFlow credentials)
   are packed into a compact binary form (version byte first) and encrypted with **Fernet**
   (:class:`~cryptography.fernet.MultiFernet`, the first key encrypts). Nothing of the scope is
   readable from the link.
2. The raw Fernet bytes are signed with **itsdangerous**
   (:class:`~itsdangerous.URLSafeTimedSerializer`, the last key signs, one salt per purpose),
   which gives the mint time and keeps purposes apart.

Fernet's own ``ttl`` is never used: its ``InvalidToken`` cannot tell expired from forged. Expiry
is a per-link lifetime inside the encrypted claims, counted from the signed mint time, which must
equal Fernet's own timestamp to the second: re-dating a link needs both keys.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
import typing as t
from datetime import datetime
from datetime import timedelta
from datetime import timezone

from cryptography.fernet import Fernet
from cryptography.fernet import InvalidToken
from cryptography.fernet import MultiFernet
from itsdangerous import BadData
from itsdangerous import TimestampSigner
from itsdangerous import URLSafeTimedSerializer
from itsdangerous.encoding import base64_decode
from itsdangerous.encoding import base64_encode

from ..cache import Memo
from ..kashflow.backend import Credentials
from .claims import LINK_ID_BYTES
from .claims import MAX_LIFETIME
from .claims import STATUSES
from .claims import TOKEN_SHAPE
from .claims import TOKEN_VERSION
from .claims import TOO_LONG
from .claims import AnyScope
from .claims import InvoiceScope
from .claims import LinkClaims
from .claims import Scope
from .claims import is_link_id
from .claims import link_id_text
from .claims import new_link_id
from .errors import LinkExpired
from .errors import LinkInvalid

log = logging.getLogger(__name__)


#: One itsdangerous salt per purpose, so a token minted for one job never verifies for another.
SALTS = {
    "link": "flask-kashflow-links/link",
    "renew-form": "flask-kashflow-links/renew-form",
}

_DECODED_CACHE_SIZE = 4096
_MAX_TOKEN_LENGTH = 4096

# Flag bits of the second payload byte.
_F_CUSTOMER = 0x01
_F_STATUS_SHIFT = 1  # two bits: index into STATUSES
_F_LIFETIME = 0x08
_F_CREDENTIALS = 0x10
# Set with _F_CREDENTIALS: the credentials are for KashFlow's SOAP API (username and password
# only). A flag rather than a new payload version, so every link minted before still verifies
# and REST links stay byte for byte what they were.
_F_SOAP = 0x20
_F_KNOWN = 0x3F


class _RawBytes:
    """An itsdangerous "serializer" that passes the Fernet bytes through untouched.

    Letting itsdangerous JSON-encode the Fernet token's base64 text would base64 it twice;
    signing the raw bytes keeps links about 30% shorter.
    """

    @staticmethod
    def dumps(obj: t.Any) -> bytes:
        return obj if isinstance(obj, bytes) else b""

    @staticmethod
    def loads(data: bytes) -> bytes:
        return data


# -- compact binary payload --------------------------------------------------------------------


def _put_uvarint(out: bytearray, value: int) -> None:
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return


def _put_str(out: bytearray, value: str) -> None:
    raw = value.encode("utf-8")
    if len(raw) > 255:
        raise ValueError("string too long for a link payload")
    out.append(len(raw))
    out += raw


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise ValueError("truncated payload")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError("truncated payload")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def uvarint(self) -> int:
        value = shift = 0
        for _ in range(10):
            byte = self.byte()
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
        raise ValueError("varint too long")

    def text(self) -> str:
        return self.take(self.byte()).decode("utf-8")

    def done(self) -> None:
        if self.pos != len(self.data):
            raise ValueError("trailing bytes in payload")


def pack_claims(
    scope: AnyScope,
    link_id: str,
    lifetime: timedelta | None,
    credentials: Credentials | None,
) -> bytes:
    """Pack claims into the version-1 binary payload (before encryption)."""
    flags = (0 if isinstance(scope, InvoiceScope) else _F_CUSTOMER) | (
        STATUSES.index(scope.status) << _F_STATUS_SHIFT
    )
    if lifetime is not None:
        flags |= _F_LIFETIME
    if credentials is not None:
        flags |= _F_CREDENTIALS | (_F_SOAP if credentials.api == "soap" else 0)
    out = bytearray((TOKEN_VERSION, flags))
    out += base64.b32decode(link_id.upper() + "===")
    _put_str(out, scope.account)
    if isinstance(scope, InvoiceScope):
        _put_uvarint(out, scope.invoice)
    else:
        _put_str(out, scope.customer)
    if lifetime is not None:
        _put_uvarint(out, int(lifetime.total_seconds()))
    if credentials is not None:
        _put_str(out, credentials.username)
        _put_str(out, credentials.password)
        if credentials.api != "soap":
            _put_str(out, credentials.memorable_word)
    return bytes(out)


def unpack_claims(data: bytes, minted_at: datetime) -> LinkClaims:
    """Unpack a decrypted payload; raises :class:`ValueError` on anything unexpected."""
    reader = _Reader(data)
    version = reader.byte()
    if version != TOKEN_VERSION:
        raise ValueError(f"unknown payload version {version}")
    flags = reader.byte()
    if flags & ~_F_KNOWN or (flags & _F_SOAP and not flags & _F_CREDENTIALS):
        raise ValueError("unknown flags")
    link_id = link_id_text(reader.take(LINK_ID_BYTES))
    account = reader.text()
    status = STATUSES[(flags >> _F_STATUS_SHIFT) & 0x03]
    scope: AnyScope
    if flags & _F_CUSTOMER:
        scope = Scope.for_customer(account, reader.text(), status)
    else:
        if status != "all":
            raise ValueError("invoice link with a status filter")
        scope = Scope.for_invoice(account, reader.uvarint())
    lifetime = None
    if flags & _F_LIFETIME:
        seconds = reader.uvarint()
        if seconds <= 0:
            raise ValueError("non-positive lifetime")
        try:
            lifetime = timedelta(seconds=seconds)
            minted_at + lifetime  # the expiry must be a date: past the year 9999 is none
        except OverflowError:
            raise ValueError("a lifetime that ends past any date") from None
    credentials = None
    if flags & _F_SOAP:
        credentials = Credentials(reader.text(), reader.text(), api="soap")
    elif flags & _F_CREDENTIALS:
        credentials = Credentials(reader.text(), reader.text(), reader.text())
    reader.done()
    return LinkClaims(
        scope=scope,
        link_id=link_id,
        minted_at=minted_at,
        lifetime=lifetime,
        credentials=credentials,
        version=version,
    )


# -- the codec ---------------------------------------------------------------------------------


def _as_bytes(key: str | bytes) -> bytes:
    return key.encode("utf-8") if isinstance(key, str) else key


class TokenCodec:
    """Mints and verifies link tokens; the only holder of the keys.

    :param fernet_keys: Fernet keys, **newest first**. ``MultiFernet`` encrypts with the first
        key and tries every key when decrypting, so put a new key in front and keep the old
        ones until every link you care about has been re-minted (or for ever).
    :param signing_keys: itsdangerous secret keys, **oldest first, newest last**. itsdangerous
        signs with the last key and tries all of them when verifying (the order of Flask's
        ``[*SECRET_KEY_FALLBACKS, SECRET_KEY]``). The two lists run in opposite orders.
    :param clock: returns the current POSIX time; tests freeze it.
    """

    def __init__(
        self,
        fernet_keys: t.Sequence[str | bytes],
        signing_keys: t.Sequence[str | bytes],
        *,
        clock: t.Callable[[], float] | None = None,
    ) -> None:
        if not fernet_keys:
            raise ValueError("at least one Fernet key is needed")
        if not signing_keys:
            raise ValueError("at least one signing key is needed")
        # MultiFernet order: NEWEST FIRST. The first key encrypts; all keys decrypt.
        fernets = [Fernet(_as_bytes(k)) for k in fernet_keys]
        self._fernet = MultiFernet(fernets)
        self._encryptor = fernets[0]
        # itsdangerous order: OLDEST FIRST, NEWEST LAST. The last key signs; all keys verify.
        keys = [_as_bytes(k) for k in signing_keys]
        self._serializers = {
            purpose: URLSafeTimedSerializer(keys, salt=salt, serializer=_RawBytes)
            for purpose, salt in SALTS.items()
        }
        # Sub-keys for cache namespaces and sealed values derive from the current signing key.
        self._derivation_key = keys[-1]
        # Looked up on every call (not bound once), so that frozen test clocks apply.
        self._clock = clock or (lambda: time.time())
        self._decoded = Memo(_DECODED_CACHE_SIZE)

    # -- links ---------------------------------------------------------------------------------

    def mint(
        self,
        scope: AnyScope,
        *,
        lifetime: timedelta | None = None,
        credentials: Credentials | None = None,
        link_id: str | None = None,
        at: float | None = None,
    ) -> tuple[str, LinkClaims]:
        """Mint a link token; returns ``(token, claims)``.

        :param at: the mint time (POSIX seconds), default now. Demos and tests back-date a link
            this way to show one that has already expired.
        """
        if lifetime is not None:
            seconds = lifetime.total_seconds()
            if seconds < 1 or seconds != int(seconds):
                raise ValueError("a link lifetime must be a whole number of seconds, at least 1")
            if lifetime > MAX_LIFETIME:
                raise ValueError(TOO_LONG)
        link_id = link_id or new_link_id()
        if not is_link_id(link_id):
            raise ValueError(f"malformed link id {link_id!r}")
        payload = pack_claims(scope, link_id, lifetime, credentials)
        now = int(self._clock() if at is None else at)
        # Fernet takes the time explicitly so that a frozen clock freezes both layers alike.
        encrypted = self._encryptor.encrypt_at_time(payload, now)
        raw = base64.urlsafe_b64decode(encrypted)
        serializer = self._serializers["link"]
        # itsdangerous reads the time through its signer's get_timestamp(); pin it to our clock.
        token = _dumps_at(serializer, raw, now)
        claims = unpack_claims(payload, datetime.fromtimestamp(now, tz=timezone.utc))
        return token, claims

    def verify(self, token: str, *, allow_expired: bool = False) -> LinkClaims:
        """Verify a link token and return its claims.

        :raises LinkInvalid: for anything that is not a genuine token of this application for
            this purpose (the reason is for logs only).
        :raises LinkExpired: for a genuine token past its lifetime, unless *allow_expired*.
        """
        claims = self._decode(token)
        if not allow_expired:
            self.raise_if_expired(claims)
        return claims

    def raise_if_expired(self, claims: LinkClaims) -> None:
        """Raise :class:`LinkExpired` if *claims* are past their lifetime (to the second)."""
        expires_at = claims.expires_at
        if expires_at is not None and self._clock() >= expires_at.timestamp():
            reason = f"expired at {expires_at.isoformat()}"
            log.debug("link rejected: %s (link id %s)", reason, claims.link_id)
            raise LinkExpired(reason, claims=claims, expired_at=expires_at)

    def _decode(self, token: str) -> LinkClaims:
        # A genuine token always decodes to the same claims, so this process remembers recent
        # successful decodes (keyed by a digest, not the token) and skips the cryptography
        # on a warm page. Expiry and revocation are still checked on every request.
        digest = (
            hashlib.blake2b(token.encode("utf-8", "surrogatepass"), digest_size=16).digest()
            if isinstance(token, str) and len(token) <= _MAX_TOKEN_LENGTH
            else None
        )
        if digest is None:
            return self._decode_uncached(token)
        return self._decoded.get_or_make(digest, lambda: self._decode_uncached(token))

    def _decode_uncached(self, token: str) -> LinkClaims:
        if not isinstance(token, str) or len(token) > _MAX_TOKEN_LENGTH:
            self._reject("malformed: not a string or too long")
        # Anything but three base64url segments is rejected before any cryptography runs (and
        # before Python's lenient base64 decoder can skip stray characters).
        if not TOKEN_SHAPE.fullmatch(token):
            self._reject("malformed: not three base64url segments")
        try:
            raw, signed_at = self._serializers["link"].loads(token, return_timestamp=True)
        except BadData as e:
            self._reject(f"signature: {type(e).__name__}")
        signature = token.rsplit(".", 1)[1]
        # Python's base64 ignores spare low bits in the last character; insist on the one
        # canonical spelling so that a token has exactly one valid form.
        if base64_encode(base64_decode(signature)).decode("ascii") != signature:
            self._reject("malformed: non-canonical signature encoding")
        try:
            plaintext = self._fernet.decrypt(base64.urlsafe_b64encode(raw))
        except InvalidToken:
            self._reject("encryption: cannot decrypt with any configured Fernet key")
        if _fernet_time(raw) != int(signed_at.timestamp()):
            # Both layers carry the mint time, and minting writes the same second into both.
            # Expiry counts from the signed time, so without this the signing key alone could
            # re-date a link and revive it; now changing a link's age needs both keys.
            self._reject("time: the signed mint time is not the encrypted one")
        try:
            minted_at = signed_at.astimezone(timezone.utc)
            return unpack_claims(plaintext, minted_at)
        except (ValueError, UnicodeDecodeError) as e:
            self._reject(f"payload: {e}")

    @staticmethod
    def _reject(reason: str, link_id: str | None = None) -> t.NoReturn:
        log.debug("link rejected: %s (link id %s)", reason, link_id or "unknown")
        raise LinkInvalid(reason, link_id=link_id)

    # -- other purposes ------------------------------------------------------------------------

    def sign_form(self, link_id: str) -> str:
        """A short-lived token for the "email me a fresh link" form, bound to one link."""
        return _dumps_at(self._serializers["renew-form"], link_id.encode(), int(self._clock()))

    def form_token_is_valid(self, value: str, link_id: str, max_age: int = 3600) -> bool:
        """Whether *value* is a form token for *link_id* issued less than *max_age* ago."""
        if not isinstance(value, str) or len(value) > 200:
            return False
        try:
            raw, signed_at = self._serializers["renew-form"].loads(value, return_timestamp=True)
        except BadData:
            return False
        age = self._clock() - signed_at.timestamp()
        return 0 <= age <= max_age and hmac.compare_digest(raw, link_id.encode())

    def derive_key(self, purpose: str) -> bytes:
        """A 32-byte sub-key for *purpose* (cache namespaces, throttle keys)."""
        return hmac.new(
            self._derivation_key, b"flask-kashflow-links/" + purpose.encode(), hashlib.sha256
        ).digest()

    def seal(self, data: bytes) -> bytes:
        """Encrypt a small secret (a KashFlow session token) for keeping in a shared cache."""
        return self._fernet.encrypt(data)

    def unseal(self, data: bytes) -> bytes | None:
        """Decrypt what :meth:`seal` produced; ``None`` if it cannot be decrypted."""
        try:
            return self._fernet.decrypt(data)
        except (InvalidToken, TypeError):
            return None


def _fernet_time(raw: bytes) -> int:
    """The timestamp inside a Fernet token's raw bytes (version byte, then 64-bit seconds),
    authenticated by Fernet's HMAC once the token has decrypted."""
    return int.from_bytes(raw[1:9], "big")


def _dumps_at(serializer: URLSafeTimedSerializer, raw: bytes, now: int) -> str:
    """``serializer.dumps(raw)`` with the signer's timestamp fixed to *now*."""
    signer = t.cast(TimestampSigner, serializer.make_signer(serializer.salt))
    signer.get_timestamp = lambda: now  # type: ignore[method-assign]
    payload = serializer.dump_payload(raw)
    return signer.sign(payload).decode("ascii")
