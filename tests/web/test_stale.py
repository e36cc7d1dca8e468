"""Silence is not health on the dashboard: a stale binding is listed on the fleet page (its cluster's
name drawn in orange) and on its cluster's page with a "stale" badge, its text escaped.

A real center and Chromium, no sandbox: the staleness incident is made the way the center's
staleness check makes it (the tracker's signal handed to the incident service), here against the
center's own database file; the hostile subject proves the list escapes what it shows."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from cryptography.fernet import Fernet
from playwright.async_api import Browser, expect

from kubeprobe.alerting.staleness import StalenessTracker, Watch
from kubeprobe.center.credentials import SecretBox
from kubeprobe.center.services.alerting import IncidentService
from kubeprobe.center.settings import CenterSettings
from kubeprobe.center.store.database import Store
from tests.center.helpers import seed
from tests.web.browser import free_port, serving_dashboard

ADMIN = "kp_stale-test-admin"
HOSTILE = '<img src=x onerror="window.pwned=1">'
pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def center(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    port = free_port()
    settings = CenterSettings(data_dir=tmp_path_factory.mktemp("center"), admin_token=ADMIN, port=port)
    with serving_dashboard(settings, builtin=[], maintenance=False) as base:
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {ADMIN}"}) as http:
            await seed(http, clusters=2)
        store = Store.connect(settings.store.url)
        try:
            now = dt.datetime.now(dt.UTC)
            silent = Watch(
                "binding", "c1", HOSTILE, 60.0, None, now - dt.timedelta(minutes=10), binding="nightly"
            )
            incidents = IncidentService(store, SecretBox(Fernet.generate_key()))
            for signal in StalenessTracker().update([silent], now):
                await incidents.observe(signal)
            await incidents.close()
        finally:
            await store.close()
        yield base


async def test_stale_bindings_show_on_the_fleet_and_cluster_pages(center: str, browser: Browser) -> None:
    page = await browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{center}/ui/")
    await page.fill("#token", ADMIN)
    await page.click("#login-form button[type=submit]")
    await page.goto(f"{center}/ui/#/fleet")
    item = page.locator('#stale li[data-stale="staleness.binding"][data-cluster="c1"]')
    await expect(item).to_contain_text(f"no result of {HOSTILE} on c1 (binding nightly)")
    await expect(item).to_contain_text("no results")
    await page.goto(f"{center}/ui/#/cluster/c1")
    await expect(page.locator("h1 .badge.stale")).to_have_text("stale")
    await expect(page.locator('#stale li[data-cluster="c1"]')).to_contain_text(HOSTILE)
    assert await page.locator("#view img").count() == 0
    assert await page.evaluate("window.pwned") is None
    await page.goto(f"{center}/ui/#/cluster/c0")  # nothing silent there
    await expect(page.locator("#view h1")).to_contain_text("c0")
    assert await page.locator("#stale").count() == 0
    assert not errors, f"JavaScript errors on the page: {errors}"
    await page.close()
