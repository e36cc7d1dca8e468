"""The remediations view in headless Chromium against a real center and the session's sandbox: the
list shows state, action, target and the defender's decision with its reason; a viewer sees no
approve button; an operator approves a crash-looping pod's deletion (it runs and is verified) and
denies another whose hostile name is shown as text; the detail page shows the plan and the audit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from kubeprobe.center.settings import CenterSettings
from kubeprobe.kube.client import KubeClient
from kubeprobe.sandbox.cluster import Sandbox
from tests.center.helpers import KUBECONFIG
from tests.remedy.sandbox_helpers import crash_looping_pod, pod_delete
from tests.web.browser import free_port, serving_dashboard
from tests.web.test_dashboard import shot

ADMIN = "kp_remedy-view-admin"
HOSTILE = '<img src=x onerror="window.pwned=1">'
pytestmark = pytest.mark.asyncio(loop_scope="session")


@dataclass
class Center:
    url: str
    http: httpx.AsyncClient
    viewer: str
    operator: str


async def _ok(resp: httpx.Response, status: int = 200) -> Any:
    assert resp.status_code == status, f"{resp.request.url}: {resp.status_code} {resp.text}"
    return resp.json() if resp.content else None


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def center(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Center]:
    port = free_port()
    settings = CenterSettings(data_dir=tmp_path_factory.mktemp("center"), admin_token=ADMIN, port=port)
    with serving_dashboard(settings, maintenance=False) as base:
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {ADMIN}"}) as http:
            for name, kubeconfig in (("sandbox", sandbox.kubeconfig.read_text()), ("edge-1", KUBECONFIG)):
                await _ok(
                    await http.post("/api/v1/clusters", json={"name": name, "kubeconfig": kubeconfig}), 201
                )
            tokens = [
                (await _ok(await http.post("/api/v1/tokens", json={"name": role, "role": role}), 201))[
                    "token"
                ]
                for role in ("viewer", "operator")
            ]
            yield Center(base, http, *tokens)


async def login(browser: Browser, center: Center, token: str) -> Page:
    page = await (await browser.new_context(viewport={"width": 1500, "height": 900})).new_page()
    await page.goto(f"{center.url}/ui/")
    await page.fill("#token", token)
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#who")).not_to_have_text("")
    return page


async def test_remediations_listed_approved_denied_and_audited(
    center: Center, browser: Browser, kube: KubeClient, namespace: str
) -> None:
    victim = await crash_looping_pod(kube, namespace, "view-web")
    pod = pod_delete(victim)
    good = await _ok(await center.http.post("/api/v1/remediations", json=pod), 201)
    bad = await _ok(
        await center.http.post(
            "/api/v1/remediations", json={"cluster": "edge-1", "action": "node-drain", "name": HOSTILE}
        ),
        201,
    )
    viewer = await login(browser, center, center.viewer)
    await viewer.goto(f"{center.url}/ui/#/remediations")
    await expect(viewer.locator("table#remediations tbody tr")).to_have_count(2)
    await expect(viewer.locator("button.approve")).to_have_count(0)
    await viewer.context.close()

    page = await login(browser, center, center.operator)
    await page.goto(f"{center.url}/ui/#/remediations")
    hostile = page.locator(f"tr[data-remediation='{bad['id']}']")
    await expect(hostile).to_contain_text(HOSTILE)  # shown as text, never as markup
    await expect(page.locator("main img")).to_have_count(0)
    await page.click(f"tr[data-remediation='{good['id']}'] button.approve")
    row = page.locator(f"tr[data-remediation='{good['id']}']")
    await expect(row).to_have_attribute("data-state", "verified", timeout=90_000)
    await expect(row.locator(".decision")).to_contain_text("allowed")
    await page.click(f"tr[data-remediation='{bad['id']}'] button.deny")
    await expect(hostile).to_have_attribute("data-state", "denied")
    await shot(page, "09-remediations")
    await page.click(f"tr[data-remediation='{good['id']}'] a")
    await expect(page.locator("h1 .badge")).to_have_text("verified")
    await expect(page.locator("#plan")).to_contain_text(victim["metadata"]["name"])
    await expect(page.locator("table#audit tbody tr[data-event=decision]")).to_contain_text("granted")
    await expect(page.locator("table#audit tbody tr[data-event=outcome]")).to_contain_text("verified")
    await expect(page.locator("nav a.active")).to_have_text("Remediations")
    await shot(page, "10-remediation")
    assert await page.evaluate("window.pwned === undefined")
    await page.context.close()
