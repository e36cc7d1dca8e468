"""Fixtures of the dashboard tests: the center's fixtures (a fresh SQLite and PostgreSQL database per
test), `web`: the dashboard app on that store with HTTP clients, and for browser tests (browser.py) a
real center with the dashboard, a sandbox cluster and headless Debian Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from playwright.async_api import Browser, async_playwright

from kubeprobe.center.credentials import SecretBox
from kubeprobe.center.settings import CenterSettings
from kubeprobe.center.store.database import Store
from kubeprobe.web import create_web_app
from tests.center.conftest import (  # noqa: F401 (fixtures)
    ADMIN_TOKEN,
    box,
    db_url,
    postgres_url,
    settings,
    store,
)
from tests.web.browser import CHROMIUM_ARGS, chromium_path


@dataclass
class Web:
    app: FastAPI
    client: Callable[[str | None], httpx.AsyncClient]

    async def token(self, role: str, name: str | None = None) -> str:
        resp = await self.client(ADMIN_TOKEN).post(
            "/api/v1/tokens", json={"name": name or f"{role}-{id(self) % 100000}", "role": role}
        )
        assert resp.status_code == 201, resp.text
        return str(resp.json()["token"])


@pytest.fixture
async def web(store: Store, box: SecretBox, settings: CenterSettings) -> AsyncIterator[Web]:  # noqa: F811
    app = create_web_app(settings, store=store, box=box, builtin=[], maintenance=False)
    clients: list[httpx.AsyncClient] = []

    def client(token: str | None = ADMIN_TOKEN) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        c = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://center", headers=headers
        )
        clients.append(c)
        return c

    async with app.router.lifespan_context(app):
        yield Web(app, client)
        for c in clients:
            await c.aclose()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    """Headless Debian Chromium for the browser tests (one per test module)."""
    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()
