"""Fixtures of the center tests: a fresh database per test on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from kubeprobe.center.app import create_app
from kubeprobe.center.auth import Principal
from kubeprobe.center.credentials import SecretBox
from kubeprobe.center.settings import CenterSettings
from kubeprobe.center.store.database import Store

ROOT = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "kp_test-admin-token"
ADMIN = Principal("tester", "admin")


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The throwaway server of scripts/postgres (started here when the test script did not)."""
    url = os.environ.get("KUBEPROBE_TEST_POSTGRES_URL")
    if not url:
        url = subprocess.run(
            ["bash", str(ROOT / "scripts" / "postgres")], check=True, capture_output=True, text=True
        ).stdout.strip()
    return url


async def _admin(url: str) -> asyncpg.Connection:
    u = make_url(url)
    return await asyncpg.connect(host=u.host, port=u.port, user=u.username, database="postgres")


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database: a SQLite file, or a new PostgreSQL database dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'center.db'}"
        return
    base: str = request.getfixturevalue("postgres_url")
    name = f"t_{uuid.uuid4().hex[:12]}"
    conn = await _admin(base)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    yield make_url(base).set(database=name).render_as_string(hide_password=False)
    conn = await _admin(base)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    st = Store.connect(db_url, timeout=2.0)
    await st.migrate()
    yield st
    await st.close()


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(Fernet.generate_key())


@pytest.fixture
def settings(tmp_path: Path) -> CenterSettings:
    return CenterSettings(data_dir=tmp_path / "data", admin_token=ADMIN_TOKEN, max_body_bytes=256 * 1024)


Client = Callable[[str | None], httpx.AsyncClient]


@dataclass
class CenterApp:
    """A started center app and HTTP clients on it."""

    app: FastAPI
    client: Client

    async def token(self, role: str, name: str | None = None) -> str:
        resp = await self.client(ADMIN_TOKEN).post(
            "/api/v1/tokens", json={"name": name or f"{role}-{uuid.uuid4().hex[:6]}", "role": role}
        )
        assert resp.status_code == 201, resp.text
        return str(resp.json()["token"])


@pytest.fixture
async def center_app(store: Store, box: SecretBox, settings: CenterSettings) -> AsyncIterator[CenterApp]:
    """A started center app; `center_app.client(token)` is an HTTP client with that bearer token."""
    app = create_app(settings, store=store, box=box, builtin=[], maintenance=False)
    clients: list[httpx.AsyncClient] = []

    def client(token: str | None = ADMIN_TOKEN) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        c = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://center", headers=headers
        )
        clients.append(c)
        return c

    async with app.router.lifespan_context(app):
        yield CenterApp(app, client)
        for c in clients:
            await c.aclose()


@pytest.fixture
def api(center_app: CenterApp) -> Client:
    """`api(token)` is an HTTP client on a started center app with that bearer token (admin by default)."""
    return center_app.client


@pytest.fixture
def token_of(api: Client) -> Callable[[str], Awaitable[str]]:
    """Make a token with the given role and return its secret."""

    async def make(role: str) -> str:
        resp = await api(ADMIN_TOKEN).post(
            "/api/v1/tokens", json={"name": f"{role}-{uuid.uuid4().hex[:6]}", "role": role}
        )
        assert resp.status_code == 201, resp.text
        return str(resp.json()["token"])

    return make
