"""Keep link tokens out of access logs.

Web servers log every request line, and a link's token is in its path. The portal never logs a
token itself; this filter removes them from the access logs of werkzeug's development server and
gunicorn (installed by :meth:`KashFlowLinks.init_app` unless
``KASHFLOW_LINKS_REDACT_ACCESS_LOGS`` is false). For another server, add
:class:`RedactLinkTokens` to its access logger, or log paths without the last segment.
"""

from __future__ import annotations

import logging

from .links.claims import TOKEN_IN_TEXT

#: Loggers that write request lines.
ACCESS_LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error", "waitress", "uvicorn.access")


def redact(text: str) -> str:
    """*text* with every link token replaced by ``[link]``."""
    return TOKEN_IN_TEXT.sub("[link]", text)


class RedactLinkTokens(logging.Filter):
    """A logging filter that replaces link tokens in messages with ``[link]``."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed record: leave it to the handler
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


def install(loggers: tuple[str, ...] = ACCESS_LOGGERS) -> None:
    """Add the filter to *loggers* (once each)."""
    for name in loggers:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactLinkTokens) for f in logger.filters):
            logger.addFilter(RedactLinkTokens())


__all__ = ["ACCESS_LOGGERS", "RedactLinkTokens", "install", "redact"]
