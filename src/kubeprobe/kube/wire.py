"""A lean HTTP/1.1 GET for LIST pages: keep-alive connections on asyncio streams, gzip inflated.

A sweep is mostly GETs of list pages. Through httpx each costs about 2 ms of client CPU whatever
its size (its request and response models, httpcore's connection pool and h11 state machine, anyio's
TLS stream), which at 100,000 pods is hundreds of GETs on the same two cores the API server needs.
Here a GET is one formatted request written on a kept-alive TLS connection (the client's own
TLS context: its CA and client certificate) and a response read by asyncio's buffered streams:
status line, headers, then the body by ``Content-Length`` or chunked, inflated as it arrives when
gzipped. Each inflated piece is handed to the caller's sink as it comes, and awaited: a caller that
is busy holds the reading back (and the API server, by TCP flow control), so a big response is
never held whole here.

Only what the API server sends to a GET is handled; anything else (an informational or a
``Connection: close`` response, a broken frame) closes that connection. Errors are the client's:
:class:`~kubeprobe.kube.errors.KubeConnectionError` when the server cannot be reached or the
exchange breaks or times out. Servers behind an HTTP proxy (the proxy environment variables, as
httpx honours them) are not handled here: :func:`usable` says so, and callers use httpx instead.
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.request
import zlib
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

from kubeprobe.kube.config import ClusterConnection
from kubeprobe.kube.errors import KubeConnectionError

#: Awaited with the status and each inflated piece of a body, in order.
Sink = Callable[[int, bytes], Awaitable[None]]
_MAX_IDLE = 20


def usable(conn: ClusterConnection) -> bool:
    """True unless the server is reached through a proxy (left to httpx)."""
    url = urlsplit(conn.server)
    if url.scheme not in ("http", "https"):
        return False
    proxies = urllib.request.getproxies()
    if not (proxies.get(url.scheme) or proxies.get("all")):
        return True
    return bool(urllib.request.proxy_bypass(url.hostname or ""))


class _Broken(Exception):
    """The exchange cannot go on (the connection is closed); the message says why."""


class _Unreachable(Exception):
    """No connection could be made (refused, no route, TLS handshake refused)."""


class _Stale(Exception):
    """A kept-alive connection was closed by the server before it answered: ask on a new one."""


class Wire:
    """Keep-alive connections to one API server, for GETs; ``close()`` when done."""

    def __init__(self, conn: ClusterConnection, *, timeout: float, headers: dict[str, str]) -> None:
        url = urlsplit(conn.server)
        self._tls = conn.ssl_context() if url.scheme == "https" else None
        self._host = url.hostname or "localhost"
        self._port = url.port or (443 if self._tls else 80)
        self._base = url.path.rstrip("/")
        self._server = conn.server
        self._timeout = timeout
        host = f"{self._host}:{url.port}" if url.port else self._host
        fixed = {"Host": host, **{k: v for k, v in headers.items() if k.lower() != "accept"}}
        fixed["Accept-Encoding"] = "gzip"
        self._headers = "".join(f"{k}: {v}\r\n" for k, v in fixed.items())
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for _, writer in idle:
            writer.transport.abort()
        if idle:  # the sockets close on the next turn of the loop, which may be its last
            await asyncio.sleep(0)

    async def get(
        self, path: str, params: dict[str, Any], accept: str, sink: Sink, *, inflate: bool = True
    ) -> int:
        """The status of one GET; its body goes to ``sink`` piece by piece, inflated (``inflate=False``:
        as it came; the sink cannot tell whether it was compressed)."""
        target = f"{self._base}{path}?{urlencode(params)}" if params else f"{self._base}{path}"
        request = f"GET {target} HTTP/1.1\r\n{self._headers}Accept: {accept}\r\n\r\n".encode()
        try:
            try:
                return await self._exchange(path, request, sink, inflate)
            except _Stale:  # the others kept alive as long are likely closed too
                await self.close()
                return await self._exchange(path, request, sink, inflate)
        except _Unreachable as exc:
            raise KubeConnectionError(f"{self._server}: cannot reach the API server: {exc}") from exc
        except (_Broken, _Stale, ConnectionError, asyncio.IncompleteReadError) as exc:
            raise KubeConnectionError(
                f"{self._server}: GET {path} broke: {exc or type(exc).__name__}"
            ) from exc
        except TimeoutError as exc:
            raise KubeConnectionError(f"{self._server}: GET {path} timed out") from exc
        except (OSError, ssl.SSLError) as exc:
            raise KubeConnectionError(f"{self._server}: cannot reach the API server: {exc}") from exc

    async def _exchange(self, path: str, request: bytes, sink: Sink, inflate: bool) -> int:
        reused = bool(self._idle)
        async with asyncio.timeout(self._timeout) as deadline:
            reader, writer = self._idle.pop() if reused else await self._connect()
            try:
                writer.write(request)
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (ConnectionError, asyncio.IncompleteReadError) as exc:
                    if reused and not getattr(exc, "partial", b""):
                        raise _Stale(str(exc)) from exc
                    raise
                status, keep = await self._response(head, reader, deadline, sink, inflate=inflate)
            except BaseException:
                writer.transport.abort()  # half-read: never to be used again
                raise
        if keep and len(self._idle) < _MAX_IDLE:
            self._idle.append((reader, writer))
        else:
            writer.transport.abort()
        return status

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            return await asyncio.open_connection(
                self._host,
                self._port,
                ssl=self._tls,
                server_hostname=self._host if self._tls else None,
                limit=2**20,
            )
        except (OSError, ssl.SSLError) as exc:  # SSLError is an OSError; named for the reader
            raise _Unreachable(str(exc) or type(exc).__name__) from exc

    async def _response(
        self,
        head: bytes,
        reader: asyncio.StreamReader,
        deadline: asyncio.Timeout,
        sink: Sink,
        *,
        inflate: bool,
    ) -> tuple[int, bool]:
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise _Broken(f"not an HTTP/1.1 response: {lines[0][:80]!r}")
        status = int(parts[1])
        if status < 200:
            raise _Broken(f"unexpected informational response {status}")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name:
                headers[name.strip().lower()] = value.strip()
        gzipped = inflate and headers.get("content-encoding") == "gzip"
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzipped else None
        loop = asyncio.get_running_loop()

        async def take(data: bytes, *, raw: bool = False) -> None:
            if inflater is not None and not raw:
                data = inflater.decompress(data)
            if data:
                await sink(status, data)  # the time a busy caller takes is not the server's
                deadline.reschedule(loop.time() + self._timeout)

        if headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                deadline.reschedule(loop.time() + self._timeout)
                size_line = await reader.readuntil(b"\r\n")
                try:
                    size = int(size_line.split(b";", 1)[0], 16)
                except ValueError:
                    raise _Broken(f"bad chunk size {size_line[:40]!r}") from None
                if size == 0:
                    while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, if any
                        pass
                    break
                chunk = await reader.readexactly(size + 2)
                await take(chunk[:-2])
        elif "content-length" in headers:
            remaining = int(headers["content-length"])
            while remaining:
                deadline.reschedule(loop.time() + self._timeout)
                chunk = await reader.read(min(remaining, 2**18))
                if not chunk:
                    raise asyncio.IncompleteReadError(b"", remaining)
                remaining -= len(chunk)
                await take(chunk)
        else:
            raise _Broken("a response with neither a length nor chunks")
        if inflater is not None:
            await take(inflater.flush(), raw=True)
        keep = headers.get("connection", "").lower() != "close"
        return status, keep
