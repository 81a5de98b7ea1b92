"""KashFlow login credentials, and which of KashFlow's APIs they are for."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field

#: KashFlow's APIs: the REST API v2 (username, password and memorable word) and the legacy
#: SOAP API (username and password, sent with every call).
APIS = ("rest", "soap")


@dataclass(frozen=True)
class Credentials:
    """KashFlow credentials: the username, the password and, for the REST API, the whole
    memorable word.

    For the SOAP API (``api="soap"``) the password is the account's separate API password when
    it has one (Apps > API Settings), otherwise the web login password; SOAP has no memorable
    word.
    """

    username: str
    password: str = field(repr=False)
    memorable_word: str = field(default="", repr=False)
    #: Which API they are for: ``"rest"`` or ``"soap"``.
    api: str = "rest"

    def __post_init__(self) -> None:
        if self.api not in APIS:
            raise ValueError(f"unknown KashFlow API {self.api!r}; use 'rest' or 'soap'")
        if self.api == "soap" and self.memorable_word:
            raise ValueError(
                "KashFlow's SOAP API has no memorable word: leave it out for a SOAP account"
            )

    def __repr__(self) -> str:  # never show secrets, even in tracebacks
        return (
            f"Credentials(username={self.username!r}, password=***, memorable_word=***, "
            f"api={self.api!r})"
        )


__all__ = ["APIS", "Credentials"]
