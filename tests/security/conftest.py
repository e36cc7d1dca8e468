"""A real `kubeprobe server` per store (SQLite file, PostgreSQL), as an attacker on loopback meets it.

The server runs as its own process, as it does in production: a blocked event loop, a file it
should not read or a leaked process shows from outside, and `kill -9` is possible.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "kp_security-admin-token"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
#: A whole request must arrive within this many seconds (the server's default is 20).
READ_TIMEOUT_S = 2


def kubeconfig(user: str = "{token: t}", cluster_extra: str = "") -> str:
    """A self-contained kubeconfig of an unreachable cluster, with extra YAML in its user or cluster."""
    return (
        "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n"
        f"  cluster: {{server: 'https://127.0.0.1:1'{cluster_extra}}}\n"
        f"users:\n- name: u\n  user: {user}\ncontexts:\n- name: c\n  context: {{cluster: c, user: u}}\n"
    )


@dataclass
class Center:
    url: str
    port: int
    data: Path
    database_url: str
    process: subprocess.Popen[bytes]

    @property
    def store(self) -> str:
        return "sqlite" if self.database_url.startswith("sqlite") else "postgresql"

    def client(self, token: str = ADMIN_TOKEN, timeout: float = 30) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout)

    def log(self) -> str:
        return (self.data.parent / "server.log").read_text(errors="replace")[-5000:]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _postgres(statement: str) -> str:
    """Run one statement on the throwaway server of scripts/postgres; returns its base URL."""
    base = (
        os.environ.get("KUBEPROBE_TEST_POSTGRES_URL")
        or subprocess.run(
            ["bash", str(ROOT / "scripts" / "postgres")], check=True, capture_output=True, text=True
        ).stdout.strip()
    )
    url = make_url(base)

    async def run() -> None:
        conn = await asyncpg.connect(host=url.host, port=url.port, user=url.username, database="postgres")
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())
    return base


def start_center(work: Path, database_url: str = "", **env: str) -> Center:
    """`kubeprobe server` on a free port with its data in ``work/data`` (and its SQLite file, unless
    ``database_url`` names another store); returns once it is ready."""
    data, port = work / "data", _free_port()
    environment = {
        **os.environ,
        "KUBEPROBE_DATA_DIR": str(data),
        **({"KUBEPROBE_DATABASE_URL": database_url} if database_url else {}),
        "KUBEPROBE_ADMIN_TOKEN": ADMIN_TOKEN,
        "KUBEPROBE_PORT": str(port),
        "KUBEPROBE_REQUEST_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT_S),
        **env,
    }
    with (work / "server.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "kubeprobe.cli.main", "server"], env=environment, stdout=log, stderr=log
        )
    center = Center(f"http://127.0.0.1:{port}", port, data, database_url or "sqlite", process)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the center exited: {center.log()}")
        try:
            if httpx.get(f"{center.url}/readyz", timeout=2).status_code == 200:
                return center
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"the center was not ready in 300 s: {center.log()}")


def stop_center(center: Center) -> None:
    if center.process.poll() is None:
        center.process.terminate()
        try:
            center.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            center.process.kill()
            center.process.wait(timeout=10)


@contextmanager
def _center(param: str, tmp_path_factory: pytest.TempPathFactory, **env: str) -> Iterator[Center]:
    work = tmp_path_factory.mktemp(f"center-{param}")
    name = f"sec_{uuid.uuid4().hex[:12]}"
    database_url = ""
    if param == "postgresql":
        base = _postgres(f'CREATE DATABASE "{name}"')
        database_url = make_url(base).set(database=name).render_as_string(hide_password=False)
    started = start_center(work, database_url, **env)
    try:
        with started.client() as c:
            c.post("/api/v1/clusters", json={"name": "c0", "kubeconfig": kubeconfig()}).raise_for_status()
        yield started
    finally:
        stop_center(started)
        if database_url:
            _postgres(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def center(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Center]:
    """A center per store with its workers (no secondary verification), a cluster `c0` and the
    built-in cases; runs are dispatched (and end as `error`: `c0` is unreachable)."""
    with _center(request.param, tmp_path_factory, KUBEPROBE_ANALYSIS_VERIFY="false") as started:
        yield started


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def quiet_center(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Center]:
    """Like `center` without workers: a run stays pending, so reports race only with each other."""
    with _center(request.param, tmp_path_factory, KUBEPROBE_DISPATCH="false") as started:
        yield started
