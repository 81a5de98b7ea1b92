"""Keep link tokens out of logs.

Web servers log every request line, and a link's token is in its path. The portal never logs a
token itself; this filter removes them from the access logs of werkzeug's development server and
gunicorn (installed by :meth:`KashFlowLinks.init_app` unless
``KASHFLOW_LINKS_REDACT_ACCESS_LOGS`` is false). For another server, add
:class:`RedactLinkTokens` to its access logger, or log paths without the last segment.

Errors are logged with the request's path too (Flask's ``Exception on /invoices/... [GET]``)
and with a traceback whose exception messages may quote a URL, so ``init_app`` also installs
the filter on the application's logger, whatever that setting says: it cleans the message, the
traceback and the stack of every record.
"""

from __future__ import annotations

import logging

from .links.claims import TOKEN_IN_TEXT

#: Loggers that write request lines.
ACCESS_LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error", "waitress", "uvicorn.access")

# Formats a record's traceback exactly as logging's own handlers would.
_TRACEBACKS = logging.Formatter()


def redact(text: str) -> str:
    """*text* with every link token replaced by ``[link]``, spelt plainly or percent-encoded
    (as a server logs a request line as the client sent it), in time linear in the length of
    *text*."""
    return TOKEN_IN_TEXT.sub("[link]", text)


class RedactLinkTokens(logging.Filter):
    """A logging filter that replaces link tokens with ``[link]`` in a record's message, its
    traceback and its stack.

    A logger's filters see only the records logged on that logger, not those its children pass
    up: add the filter to each logger that may carry a URL.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed record: the handler reports its msg
            message = record.msg if isinstance(record.msg, str) else ""
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info:
            _redact_traceback(record)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def _redact_traceback(record: logging.LogRecord) -> None:
    text = record.exc_text or _TRACEBACKS.formatException(record.exc_info)  # type: ignore[arg-type]
    cleaned = redact(text)
    if cleaned != text:
        # An exception's message quotes a token. Handlers print exc_text when it is set; drop
        # the exception itself so that none (a JSON formatter, an error tracker) can format
        # the original again.
        record.exc_text, record.exc_info = cleaned, None


def install(loggers: tuple[str, ...] = ACCESS_LOGGERS) -> None:
    """Add the filter to *loggers* (once each)."""
    for name in loggers:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactLinkTokens) for f in logger.filters):
            logger.addFilter(RedactLinkTokens())


__all__ = ["ACCESS_LOGGERS", "RedactLinkTokens", "install", "redact"]
