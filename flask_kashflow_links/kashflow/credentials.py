"""KashFlow login credentials."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field


@dataclass(frozen=True)
class Credentials:
    """KashFlow login credentials: web username, password and the whole memorable word."""

    username: str
    password: str = field(repr=False)
    memorable_word: str = field(repr=False)

    def __repr__(self) -> str:  # never show secrets, even in tracebacks
        return f"Credentials(username={self.username!r}, password=***, memorable_word=***)"


__all__ = ["Credentials"]
