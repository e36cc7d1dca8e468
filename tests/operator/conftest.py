"""Fixtures of the operator tests: a real center over HTTP (stoppable), the CRDs in the sandbox."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
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
from kubeprobe.kube.waiting import wait_for
from kubeprobe.operator.install import install
from tests.center.helpers import KUBECONFIG

ADMIN_TOKEN = "kp_operator-test-admin"
CLUSTER = "op-sandbox"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class CenterAPI:
    """Reading a center at ``url`` with the admin token."""

    url: str

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})

    async def register(self, cluster: str, kubeconfig: str) -> None:
        async with self.client() as c:
            resp = await c.post("/api/v1/clusters", json={"name": cluster, "kubeconfig": kubeconfig})
            assert resp.status_code == 201, resp.text

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


class CenterProcess(CenterAPI):
    """``kubeprobe server`` as a process of its own at ``host`` (SQLite in ``tmp``, no dispatcher);
    :meth:`kill` SIGKILLs it, whatever it was doing, :meth:`start` starts it again on its port."""

    def __init__(self, tmp: Path, host: str = "127.0.0.1") -> None:
        self.port = free_port(host)
        self.url = f"http://{host}:{self.port}"
        self.log = tmp / "center.log"
        self.env = {
            **os.environ,
            "KUBEPROBE_DATA_DIR": str(tmp / "center"),
            "KUBEPROBE_ADMIN_TOKEN": ADMIN_TOKEN,
            "KUBEPROBE_DISPATCH": "false",
        }
        self.argv = [str(Path(sys.executable).with_name("kubeprobe")), "server", "--host", host]
        self.proc: subprocess.Popen[bytes] | None = None

    def _spawn(self) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as out:
            argv = [*self.argv, "--port", str(self.port)]
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=self.env)
        return self.proc

    async def start(self) -> None:
        proc = self._spawn()

        async def up() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"the center exited {proc.returncode}: {self.log.read_text()[-2000:]}")
            async with httpx.AsyncClient(base_url=self.url, timeout=2) as c:
                with contextlib.suppress(httpx.HTTPError):
                    return (await c.get("/healthz")).status_code == 200
            return False

        await wait_for(up, bool, timeout=90, interval=0.2, what="the center process serving")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None


class CenterServer(CenterAPI):
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


@pytest.fixture
async def center(tmp_path: Path) -> AsyncIterator[CenterServer]:
    server = CenterServer(tmp_path)
    await server.start()
    try:
        await server.register(CLUSTER, KUBECONFIG)
        yield server
    finally:
        await server.stop()
        await server.store.close()


@pytest.fixture
async def crd(kube: KubeClient) -> KubeClient:
    """The ProbeConfig CRD, kopf's peering CRDs and the RBAC applied to the sandbox (idempotent)."""
    await install(kube)
    return kube
