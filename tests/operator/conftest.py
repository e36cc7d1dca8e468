"""Fixtures of the operator tests: a real center over HTTP (stoppable), the CRDs in the sandbox."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from cryptography.fernet import Fernet

from kubeprobe.center.app import create_app
from kubeprobe.center.credentials import SecretBox
from kubeprobe.center.settings import CenterSettings
from kubeprobe.center.store.database import Store
from kubeprobe.kube.client import KubeClient
from kubeprobe.operator.install import install
from tests.center.helpers import KUBECONFIG

ADMIN_TOKEN = "kp_operator-test-admin"
CLUSTER = "op-sandbox"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class CenterServer:
    """The center app served by uvicorn on a fixed port of ``host``; :meth:`stop` makes it
    unreachable, :meth:`start` serves it again there (same store)."""

    def __init__(self, tmp: Path, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = free_port(host)
        self.url = f"http://{host}:{self.port}"
        self.settings = CenterSettings(data_dir=tmp / "center", admin_token=ADMIN_TOKEN)
        self.store = Store.connect(f"sqlite+aiosqlite:///{tmp / 'center.db'}", timeout=5.0)
        self.box = SecretBox(Fernet.generate_key())
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        app = create_app(self.settings, store=self.store, box=self.box, builtin=[], maintenance=False)
        config = uvicorn.Config(
            app, host=self.host, port=self.port, log_level="warning", ws="none", http="h11", lifespan="on"
        )
        self._server = server = uvicorn.Server(config)
        self._task = asyncio.create_task(server.serve())
        for _ in range(200):
            if server.started:
                return
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.05)
        raise TimeoutError("center did not start")

    async def stop(self) -> None:
        if self._server and self._task:
            self._server.should_exit = True
            await self._task
        self._server = self._task = None

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})

    async def reports(self, **params: Any) -> list[dict[str, Any]]:
        async with self.client() as c:
            resp = await c.get("/api/v1/resident/reports", params={"limit": 10_000, **params})
            resp.raise_for_status()
            result: list[dict[str, Any]] = resp.json()
            return result

    async def run_count(self, case: str) -> int:
        """How many runs the center holds for ``case`` (one per stored resident report)."""
        count, cursor = 0, None
        async with self.client() as c:
            while True:
                params = {"case": case, "limit": 1000, **({"cursor": cursor} if cursor else {})}
                page = (await c.get("/api/v1/runs", params=params)).json()
                count += len(page["items"])
                cursor = page.get("next")
                if not cursor:
                    return count


@contextlib.asynccontextmanager
async def serving(
    tmp: Path, cluster: str, kubeconfig: str, host: str = "127.0.0.1"
) -> AsyncIterator[CenterServer]:
    """A started :class:`CenterServer` with ``cluster`` registered; stopped and closed after."""
    server = CenterServer(tmp, host)
    await server.start()
    async with server.client() as c:
        resp = await c.post("/api/v1/clusters", json={"name": cluster, "kubeconfig": kubeconfig})
        assert resp.status_code == 201, resp.text
    try:
        yield server
    finally:
        await server.stop()
        await server.store.close()


@pytest.fixture
async def center(tmp_path: Path) -> AsyncIterator[CenterServer]:
    async with serving(tmp_path, CLUSTER, KUBECONFIG) as server:
        yield server


@pytest.fixture
async def crd(kube: KubeClient) -> KubeClient:
    """The ProbeConfig CRD, kopf's peering CRDs and the RBAC applied to the sandbox (idempotent)."""
    await install(kube)
    return kube
