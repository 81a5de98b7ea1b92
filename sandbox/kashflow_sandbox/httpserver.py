"""The sandbox's HTTP server: werkzeug's threaded WSGI server on a background thread.

Two additions to werkzeug's: open connections are tracked so :meth:`ServerThread.stop` can
close keep-alive ones (or a client's pooled connection would outlive the sandbox), and request
lines are logged at DEBUG on this package's logger with session tokens masked.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import threading
import time
import typing as t

from werkzeug.serving import ThreadedWSGIServer
from werkzeug.serving import WSGIRequestHandler

logger = logging.getLogger(__name__)

_TOKEN_IN_PATH = re.compile(r"(?i)(sessiontoken/)[^\s/?\"]+")
# Not a bind: where to *connect* when the server was bound to a wildcard address.
_LOOPBACK_FOR_WILDCARD = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104 # nosec


def connect_host(host: str) -> str:
    """Where a client connects to reach a server bound to *host* (loopback for wildcards)."""
    return _LOOPBACK_FOR_WILDCARD.get(host, host)


class _RequestHandler(WSGIRequestHandler):
    """werkzeug's handler with logging that never shows session tokens.

    ``DELETE /v2/sessiontoken/{token}`` carries a token in its path, and werkzeug would log
    the request line at INFO on the ``werkzeug`` logger. Lines go to this module's logger at
    DEBUG instead, with the token replaced by ``***``.
    """

    # Set here so werkzeug does not set it on the shared base class.
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, add=False)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        line = getattr(self, "requestline", "")
        self.log("info", '"%s" %s %s', line, code, size)

    def log(self, type: str, message: str, *args: t.Any) -> None:
        try:
            text = message % args if args else message
        except (TypeError, ValueError):
            text = message
        level = logging.WARNING if type == "error" else logging.DEBUG
        logger.log(level, "%s", _TOKEN_IN_PATH.sub(r"\1***", text))


class _Server(ThreadedWSGIServer):
    """Tracks open connections so they can be closed on stop."""

    def __init__(self, host: str, port: int, app: t.Any) -> None:
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(host, port, app, handler=_RequestHandler)

    def track(self, connection: socket.socket, *, add: bool) -> None:
        with self._connections_lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class ServerThread:
    """A running server: *app* served on *host*:*port* (0 picks a free port) by a thread."""

    def __init__(self, host: str, port: int, app: t.Any) -> None:
        self._server = _Server(host, port, app)
        #: The port actually bound.
        self.port = int(self._server.server_port)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"KashFlowSandbox:{self.port}",
            daemon=True,
        )
        self._thread.start()
        # The socket listens from construction, so this succeeds at once; it also proves the
        # address is reachable before tests start talking to it.
        deadline = time.monotonic() + 5
        while True:
            try:
                with socket.create_connection((connect_host(host), self.port), 1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise
                time.sleep(0.01)

    def stop(self) -> None:
        """Stop serving, close open connections and join the thread."""
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join(5)


__all__ = ["ServerThread", "connect_host"]
