"""KashFlow REST v2 logins and session tokens, with lockout after repeated failures.

Step 1, ``POST /v2/sessiontoken``, checks the username and password and asks for three
1-based positions of the memorable word; step 2, ``PUT /v2/sessiontoken``, checks those
characters (case-insensitively) and issues a session token. A token expires after
``session_idle_timeout`` seconds without use; each use starts that time again.

:class:`SessionStore` takes the sandbox's lock itself, so its handlers can be called from
any server thread.
"""

from __future__ import annotations

import hmac
import logging
import random
import threading
import typing as t
import uuid
from dataclasses import dataclass

from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from .jsonfmt import error_response
from .jsonfmt import json_body
from .jsonfmt import json_response
from .values import COMPANY_NAME
from .values import JSONDict

logger = logging.getLogger(__name__)

#: KashFlow's answer to any call with a missing, unknown or expired session token.
INVALID_SESSION: JSONDict = {
    "Error": "InvalidSessionToken",
    "Message": "Session token provided is invalid.",
}
#: KashFlow's answer to a login while the account is locked (its documented message).
ACCOUNT_LOCKED: JSONDict = {
    "Error": "AccountLocked",
    "Message": "User account is locked, please contact administrator.",
}
#: The answer community clients have met at step 1 when the password must be changed.
PASSWORD_EXPIRED: JSONDict = {
    "Error": "PasswordExpired",
    "Message": "Your password has expired. Please sign in to KashFlow and choose a new one.",
}


class LoginSettings(t.Protocol):
    """The credentials and limits a :class:`SessionStore` checks (read at each request, so
    they may be changed while the server runs)."""

    username: str
    password: str
    memorable_word: str
    session_idle_timeout: float
    temporary_token_ttl: float
    lockout_threshold: int


@dataclass
class _TemporaryToken:
    issued_at: float
    positions: tuple[int, ...]


class SessionStore:
    """Temporary tokens, session tokens, login counters and the lockout state.

    :param settings: where the accepted credentials and limits are read from.
    :param lock: the sandbox's lock.
    :param rng: chooses the memorable-word positions (seeded: reproducible positions).
    :param clock: monotonic seconds; tests may pass a fake one.
    """

    def __init__(
        self,
        settings: LoginSettings,
        lock: threading.RLock,
        rng: random.Random,
        clock: t.Callable[[], float],
    ) -> None:
        self._settings = settings
        self._lock = lock
        self._rng = rng
        self._clock = clock
        #: Valid session tokens (upper case) and when each was last used.
        self.sessions: dict[str, float] = {}
        self._temporary: dict[str, _TemporaryToken] = {}
        #: Completed logins since the last reset.
        self.logins = 0
        #: Logins refused for a wrong username, password or memorable word.
        self.failed_logins = 0
        self._consecutive_failures = 0
        #: While True every login answers ``AccountLocked``.
        self.locked = False

    # -- the routes ---------------------------------------------------------------------------

    def login_start(self, request: Request) -> Response:
        """``POST /v2/sessiontoken``: check the password, ask for three characters."""
        body = json_body(request)
        if body is None:
            return error_response(400, "InvalidRequest", "The request body must be a JSON object.")
        username, password = body.get("UserName"), body.get("Password")
        if not isinstance(username, str) or not isinstance(password, str):
            return error_response(400, "InvalidRequest", "UserName and Password are required.")
        settings = self._settings
        with self._lock:
            if self.locked:
                return json_response(401, ACCOUNT_LOCKED)
            right_user = username.casefold() == settings.username.casefold()
            right_password = hmac.compare_digest(password.encode(), settings.password.encode())
            if not (right_user and right_password):
                self._register_failure()
                return error_response(
                    400, "InvalidCredentials", "The user name or password is incorrect."
                )
            positions = tuple(self._rng.sample(range(1, len(settings.memorable_word) + 1), 3))
            token = str(uuid.uuid4())
            self._temporary[token] = _TemporaryToken(self._clock(), positions)
        return json_response(
            201,
            {
                "HasTemporaryPassword": False,
                "IsAdmin": True,
                "PackageName": "Business",
                "PartnerBrandingOptOut": True,
                "MemorableWordList": [{"Position": p, "Value": ""} for p in positions],
                "PartnerId": 3,
                "SubscriptionExpired": False,
                "TemporaryToken": token,
            },
        )

    def login_finish(self, request: Request) -> Response:
        """``PUT /v2/sessiontoken``: check the characters, issue a session token."""
        body = json_body(request)
        if body is None:
            return error_response(400, "InvalidRequest", "The request body must be a JSON object.")
        answers = _parse_answers(body.get("MemorableWordList"))
        temporary = body.get("TemporaryToken")
        if answers is None or not isinstance(temporary, str):
            return error_response(
                400, "InvalidRequest", "TemporaryToken and MemorableWordList are required."
            )
        with self._lock:
            if self.locked:
                return json_response(401, ACCOUNT_LOCKED)
            # Single use: a wrong answer means starting again with POST.
            record = self._temporary.pop(temporary.lower(), None)
            ttl = self._settings.temporary_token_ttl
            if record is None or self._clock() - record.issued_at > ttl:
                return error_response(
                    400, "InvalidTemporaryToken", "The temporary token is invalid or has expired."
                )
            word = self._settings.memorable_word
            correct = set(answers) == set(record.positions) and all(
                answers[p].casefold() == word[p - 1].casefold() for p in record.positions
            )
            if not correct:
                self._register_failure()
                return error_response(
                    400,
                    "InvalidMemorableWord",
                    "The memorable word characters provided are incorrect.",
                )
            session = str(uuid.uuid4()).upper()
            self.sessions[session] = self._clock()
            self.logins += 1
            self._consecutive_failures = 0
        return json_response(
            200,
            {
                "SessionToken": session,
                "CompanyName": COMPANY_NAME,
                "IsAdmin": True,
                "SubscriptionExpired": False,
                "PartnerId": 3,
                "PackageName": "Business",
                "HasTemporaryPassword": False,
                "StartPageUrl": "/",
            },
        )

    def logout(self, request: Request, token: str) -> Response:
        """``DELETE /v2/sessiontoken/{token}``: end that session (204 whether or not it was)."""
        with self._lock:
            self.sessions.pop(token.upper(), None)
        response = Response(status=204)
        del response.headers["Content-Type"]  # no body, so no type
        return response

    # -- checks and switches -----------------------------------------------------------------

    def authenticate(self, request: Request) -> bool:
        """Whether *request* carries ``Authorization: KfToken <valid session token>``."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip().upper()
        if scheme.lower() != "kftoken" or not token:
            return False
        with self._lock:
            last_used = self.sessions.get(token)
            now = self._clock()
            if last_used is None:
                return False
            if now - last_used > self._settings.session_idle_timeout:
                del self.sessions[token]
                return False
            # KashFlow's timeout counts inactivity, so each use starts it again.
            self.sessions[token] = now
            return True

    def active(self) -> int:
        """How many session tokens are currently valid."""
        with self._lock:
            now = self._clock()
            timeout = self._settings.session_idle_timeout
            for token, last_used in list(self.sessions.items()):
                if now - last_used > timeout:
                    del self.sessions[token]
            return len(self.sessions)

    def expire_all(self) -> None:
        """Invalidate every session token issued so far."""
        with self._lock:
            self.sessions.clear()

    def unlock(self) -> None:
        """Unlock the account and forget earlier failed attempts."""
        with self._lock:
            self.locked = False
            self._consecutive_failures = 0

    def reset_counters(self) -> None:
        """Zero :attr:`logins` and :attr:`failed_logins`."""
        with self._lock:
            self.logins = 0
            self.failed_logins = 0

    def _register_failure(self) -> None:
        self.failed_logins += 1
        self._consecutive_failures += 1
        if self._consecutive_failures >= self._settings.lockout_threshold:
            self.locked = True
            logger.debug("sandbox account locked after %d failures", self._consecutive_failures)


def _parse_answers(value: t.Any) -> dict[int, str] | None:
    """``MemorableWordList`` as {position: character}; None if malformed."""
    if not isinstance(value, list) or not value:
        return None
    answers: dict[int, str] = {}
    for item in value:
        if not isinstance(item, dict):
            return None
        position, character = item.get("Position"), item.get("Value")
        if isinstance(position, str) and position.isdigit():
            position = int(position)
        if isinstance(position, bool) or not isinstance(position, int):
            return None
        if not isinstance(character, str) or position in answers:
            return None
        answers[position] = character
    return answers


__all__ = ["ACCOUNT_LOCKED", "INVALID_SESSION", "PASSWORD_EXPIRED", "LoginSettings", "SessionStore"]
