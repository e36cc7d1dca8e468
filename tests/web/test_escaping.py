"""Hostile text from the API is shown as text on every page that shows it, never run as markup
(the dashboard builds HTML only with html`...`, which escapes every value). A real center and
Chromium; no sandbox needed: the run is ingested as a result."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect

from kubeprobe.center.settings import CenterSettings
from tests.center.helpers import ok, result, seed
from tests.web.browser import free_port, serving_dashboard

ADMIN = "kp_escaping-test-admin"
HOSTILE = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
RUN_ID = f"{0xBAD:032x}"
pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def center(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    port = free_port()
    settings = CenterSettings(data_dir=tmp_path_factory.mktemp("center"), admin_token=ADMIN, port=port)
    with serving_dashboard(settings, builtin=[], maintenance=False) as base:
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {ADMIN}"}) as http:
            await seed(http, clusters=1)
            bad = result(
                "pod",
                "c0",
                "failed",
                dt.datetime.now(dt.UTC),
                id=RUN_ID,
                messages=[HOSTILE],
                steps=[{"name": HOSTILE, "ok": False, "duration_ms": 5, "error": HOSTILE}],
            )
            await ok(await http.post("/api/v1/results", json={"results": [bad]}), 202)
        yield base


async def test_hostile_run_text_is_shown_as_text(center: str, browser: Browser) -> None:
    page = await browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{center}/ui/")
    await page.fill("#token", ADMIN)
    await page.click("#login-form button[type=submit]")
    for where in (f"#/run/{RUN_ID}", "#/cluster/c0"):
        await page.goto(f"{center}/ui/{where}")
        await expect(page.locator("#view")).to_contain_text(HOSTILE)
        assert await page.locator("#view img, #view script").count() == 0
        assert await page.evaluate("window.pwned") is None
    # the template helper itself: values escaped, html`` nested kept, strings refused by render()
    escaped = await page.evaluate(
        """async () => {
            const { html, render } = await import("/ui/static/html.js");
            let refused = false;
            try { render(document.createElement("div"), "<b>x</b>"); } catch { refused = true; }
            return [String(html`<i>${"<b>&</b>"}</i>${html`<u>ok</u>`}`), refused];
        }"""
    )
    assert escaped == ["<i>&lt;b&gt;&amp;&lt;/b&gt;</i><u>ok</u>", True]
    assert not errors, f"JavaScript errors on the page: {errors}"
    await page.close()
