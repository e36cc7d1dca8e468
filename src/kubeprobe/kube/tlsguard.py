"""Close a connection whose TLS handshake was interrupted by a cancellation.

httpcore (1.0) closes the TCP stream when a TLS handshake fails with an error, but not when the
task awaiting it is cancelled (``asyncio.CancelledError`` is not an ``Exception``), and the
connection it was building is dropped without being closed. Every timeout around a request
(``asyncio.wait_for``, a cancelled probe, a stopping loop) that lands in a handshake so leaks a
socket until the garbage collector finds it ("ResourceWarning: unclosed transport"): a center
that asks hung API servers with short limits would leak one each time.

:func:`guard` wraps the network backend of every connection pool of an ``httpx.AsyncClient`` (its
own and those mounted for proxies), so that a stream whose ``start_tls`` ends by any exception,
cancellation included, is closed before the exception goes on.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterable
from typing import Any

import anyio
import httpcore
import httpx


class _Stream(httpcore.AsyncNetworkStream):
    """A network stream whose interrupted TLS handshake closes it."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            return await self._inner.start_tls(ssl_context, server_hostname, timeout)
        except BaseException:
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                await self._inner.aclose()
            raise

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.AsyncNetworkBackend):
    """Connects through ``inner`` and hands out guarded streams."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return _Stream(stream)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guard(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """``client``, its pools' backends guarded (see the module's text); returned for chaining.

    A transport that is not httpx's own (a test's mock transport) is left as it is."""
    transports = [client._transport, *client._mounts.values()]  # no public handle to them
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if backend is not None and not isinstance(backend, _Backend):
            pool._network_backend = _Backend(backend)  # type: ignore[union-attr]
    return client
