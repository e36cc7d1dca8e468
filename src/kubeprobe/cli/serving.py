"""How the center's HTTP server is run: uvicorn with its time and connection limits set on purpose.

Uvicorn bounds an idle keep-alive connection (``timeout_keep_alive``) but not the time a client
takes to send a request: a client that sends its headers or body a byte at a time (slowloris)
keeps a connection, and with enough of them the file descriptors, for as long as it likes.
:class:`BoundedHttpToolsProtocol` closes a connection whose request (request line, headers and
body) has not arrived whole within ``request_read_timeout`` seconds of its first byte (or of the
connection, when nothing comes), answering 408 when no handler has started yet.

The limits (see :class:`ServerLimits`; README "Security"):

- ``request_read_timeout`` 20 s: a whole request; the largest body (8 MiB) needs 0.4 MB/s.
- ``keep_alive_timeout`` 5 s: an idle connection between requests is closed.
- ``max_connections`` 1,000: open connections plus requests in progress beyond which uvicorn
  answers 503 at once instead of queueing (the fd limit here is 20,000).
- ``backlog`` 2,048: connections the kernel queues before the server accepts them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_TIMEOUT_BODY = b"the request did not arrive in time"
REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(_TIMEOUT_BODY), _TIMEOUT_BODY)
)


@dataclass(frozen=True)
class ServerLimits:
    """Time and connection limits of the HTTP server (every field documented in the module)."""

    request_read_timeout: float = 20.0
    keep_alive_timeout: int = 5
    max_connections: int = 1000
    backlog: int = 2048


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """Uvicorn's httptools protocol with a deadline for reading each whole request."""

    read_timeout: float = ServerLimits.request_read_timeout

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def _arm(self) -> None:
        if self._read_deadline is None:  # from the connection or the first byte, never extended
            self._read_deadline = self.loop.call_later(self.read_timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._read_deadline is not None:
            self._read_deadline.cancel()
            self._read_deadline = None

    def _timed_out(self) -> None:
        self._read_deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:
            self.transport.write(REQUEST_TIMEOUT)
        self.transport.close()


def server_config(app: Any, host: str, port: int, limits: ServerLimits, **options: Any) -> uvicorn.Config:
    """A uvicorn config for the center with ``limits`` applied."""
    protocol = type(
        "BoundedHttpToolsProtocol",
        (BoundedHttpToolsProtocol,),
        {"read_timeout": limits.request_read_timeout},
    )
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol,
        ws="none",
        timeout_keep_alive=limits.keep_alive_timeout,
        limit_concurrency=limits.max_connections,
        backlog=limits.backlog,
        **options,
    )
