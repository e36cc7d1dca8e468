"""A request cancelled in its TLS handshake (a timeout around it, a stopping loop) closes its
connection at once. httpcore alone leaves it open: the socket stays registered with the event loop
until the peer hangs up or the loop closes, and then the garbage collector reports "unclosed
transport" (in a long-lived center: a socket per request timed out in a handshake)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from kubeprobe.kube import tlsguard
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.config import ClusterConnection
from kubeprobe.kube.errors import KubeError

ROOT = Path(__file__).resolve().parents[2]


class MuteServer:
    """Accepts connections and never answers a TLS hello; knows when a client hung up."""

    def __init__(self) -> None:
        self.readers: list[asyncio.StreamReader] = []
        self.writers: list[asyncio.StreamWriter] = []
        self.port = 0
        self.accepted = asyncio.Event()

    async def handler(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.readers.append(reader)
        self.writers.append(writer)
        self.accepted.set()

    async def cancel_in_handshake(self, request: Coroutine[Any, Any, object]) -> None:
        send = asyncio.create_task(request)
        async with asyncio.timeout(10):
            await self.accepted.wait()
            await self.readers[0].readexactly(5)  # the client hello's record header: it waits for us
        send.cancel()
        with pytest.raises(asyncio.CancelledError):
            await send

    async def client_hung_up(self, within: float) -> bool:
        try:
            async with asyncio.timeout(within):
                await self.readers[0].read()  # to the end: the client closed its socket
            return True
        except TimeoutError:
            return False


@pytest_asyncio.fixture
async def mute() -> AsyncIterator[MuteServer]:
    found = MuteServer()
    server = await asyncio.start_server(found.handler, "127.0.0.1", 0)
    found.port = server.sockets[0].getsockname()[1]
    yield found
    for writer in found.writers:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_a_kube_client_cancelled_in_a_handshake_closes_its_connection(mute: MuteServer) -> None:
    conn = ClusterConnection(
        server=f"https://127.0.0.1:{mute.port}", context="mute", insecure_skip_tls_verify=True
    )
    async with KubeClient(conn, timeout=30) as kube:
        await mute.cancel_in_handshake(kube.get("/livez/ping"))
        assert await mute.client_hung_up(within=5)


async def test_a_guarded_client_with_proxies_mounted_is_guarded_in_each(
    mute: MuteServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # mounts a transport for the proxy
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # and one that goes direct for this address
    async with tlsguard.guard(httpx.AsyncClient(verify=False)) as http:
        assert len(http._mounts) >= 2
        await mute.cancel_in_handshake(http.get(f"https://127.0.0.1:{mute.port}/"))
        assert await mute.client_hung_up(within=5)


async def unguarded_client_hangs_up() -> bool:
    """httpx as it comes, cancelled in a handshake: did it close its connection?"""
    mute = MuteServer()
    server = await asyncio.start_server(mute.handler, "127.0.0.1", 0)
    mute.port = server.sockets[0].getsockname()[1]
    async with httpx.AsyncClient(verify=False) as http:
        await mute.cancel_in_handshake(http.get(f"https://127.0.0.1:{mute.port}/"))
        return await mute.client_hung_up(within=1)


def test_the_unguarded_client_keeps_it_open_so_the_test_can_fail() -> None:
    """The reason for the guard: when httpcore closes it itself, this fails and the guard can go.
    (In a process of its own: the socket it leaks must not surface in another test.)"""
    code = "import asyncio; from tests.kube import test_tlsguard as t; "
    code += "print(asyncio.run(t.unguarded_client_hangs_up()))"
    argv = [sys.executable, "-c", code]
    done = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.stdout.strip() == "False", done.stdout + done.stderr


async def test_a_failed_handshake_still_raises_the_error_it_had() -> None:
    server = await asyncio.start_server(lambda _r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    conn = ClusterConnection(
        server=f"https://127.0.0.1:{port}", context="closed", insecure_skip_tls_verify=True
    )
    try:
        async with KubeClient(conn, timeout=5) as kube:
            with pytest.raises(KubeError, match=r"127\.0\.0\.1"):
                await kube.get("/livez/ping")
    finally:
        server.close()
        await server.wait_closed()
