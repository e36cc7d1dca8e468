"""The dashboard in headless Chromium against a real center with runs on a sandbox cluster.

The center runs with its dispatcher and the local runner (as `kubeprobe demo` does); cases run for
real on the session's sandbox. A few results are also ingested (older hours for the plots, an
unreachable cluster, a finding) so that every view has data to show. Screenshots of each view go to
test-artifacts/screenshots/.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from kubeprobe.center.settings import CenterSettings
from kubeprobe.kube.waiting import wait_for
from kubeprobe.sandbox.cluster import Sandbox
from tests.center.helpers import KUBECONFIG, result
from tests.web.browser import SCREENSHOTS, free_port, serving_dashboard

ADMIN = "kp_dashboard-test-admin"
TERMINAL = {"succeeded", "failed", "timed_out", "error", "cancelled"}
pytestmark = pytest.mark.asyncio(loop_scope="session")


@dataclass
class Center:
    url: str
    viewer: str
    operator: str
    run: dict[str, Any]  # a real pod-lifecycle run on the sandbox
    gate: str


async def _ok(resp: httpx.Response, status: int = 200) -> Any:
    assert resp.status_code == status, f"{resp.request.url}: {resp.status_code} {resp.text}"
    return resp.json() if resp.content else None


async def _finished(http: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    async def get() -> dict[str, Any]:
        return dict(await _ok(await http.get(f"/api/v1/runs/{run_id}")))

    return await wait_for(get, lambda r: r["state"] in TERMINAL, timeout=180, what=f"run {run_id} done")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def center(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Center]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = CenterSettings(
        data_dir=tmp_path_factory.mktemp("center"),
        admin_token=ADMIN,
        port=port,
        public_url=url,
        runner_mode="local",
    )
    with serving_dashboard(settings, dispatch=True, maintenance=False) as base:
        async with httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=60
        ) as http:
            yield await _populate(http, sandbox, base)


async def _populate(http: httpx.AsyncClient, sandbox: Sandbox, base: str) -> Center:
    clusters = [
        ("sandbox", sandbox.kubeconfig.read_text(), {"env": "prod", "region": "eu"}),
        ("edge-1", KUBECONFIG, {"env": "dev", "region": "us"}),
        ("edge-2", KUBECONFIG, {"env": "dev", "region": "eu"}),
    ]
    for name, kubeconfig, labels in clusters:
        body = {"name": name, "kubeconfig": kubeconfig, "labels": labels}
        await _ok(await http.post("/api/v1/clusters", json=body), 201)
    await _ok(await http.post("/api/v1/groups", json={"name": "prod", "selector": {"env": "prod"}}), 201)
    for case in ("pod-lifecycle", "apiserver-probe"):
        body = {"name": f"on-release-{case}", "case": case, "cluster": "sandbox", "events": ["release"]}
        await _ok(await http.post("/api/v1/bindings", json=body), 201)
    # a real run, and one on a cluster that cannot be reached (error: unknown, not failed)
    real = await _ok(
        await http.post("/api/v1/runs", json={"case": "pod-lifecycle", "cluster": "sandbox"}), 201
    )
    gone = await _ok(
        await http.post("/api/v1/runs", json={"case": "pod-lifecycle", "cluster": "edge-1"}), 201
    )
    # history for the plots, a failure streak on edge-2, a finding on the sandbox
    now = dt.datetime.now(dt.UTC)
    batch = [
        result(
            "apiserver-probe",
            "sandbox",
            "failed" if h == 3 else "succeeded",
            now - dt.timedelta(hours=h),
            ms=80 + 20 * h,
        )
        for h in range(1, 8)
    ]
    batch += [result("apiserver-probe", "edge-2", "failed", now - dt.timedelta(minutes=m)) for m in (3, 2)]
    finding = {
        "check_id": "certificates.expiry",
        "severity": "high",
        "message": "apiserver cert expires in 5 days",
        "object": {"kind": "Secret", "namespace": "kube-system", "name": "apiserver-cert"},
    }
    batch.append(result("certificate-probe", "sandbox", "failed", now, ms=40, findings=[finding]))
    await _ok(await http.post("/api/v1/results", json={"results": batch}), 202)
    run = await _finished(http, real["id"])
    assert run["state"] == "succeeded", run
    assert (await _finished(http, gone["id"]))["state"] == "error"
    gate = await _ok(
        await http.post("/api/v1/gates", json={"cluster": "sandbox", "change_id": "rel-42"}), 201
    )
    for gate_run in gate["runs"]:
        await _finished(http, gate_run["id"])
    silence = {
        "matchers": ["cluster=edge-1"],
        "ends": (now + dt.timedelta(hours=2)).isoformat(),
        "comment": "edge-1 is being rebuilt",
    }
    await _ok(await http.post("/api/v1/silences", json=silence), 201)
    tokens = {}
    for role in ("viewer", "operator"):
        body = {"name": f"{role}-{uuid.uuid4().hex[:6]}", "role": role}
        tokens[role] = (await _ok(await http.post("/api/v1/tokens", json=body), 201))["token"]
    return Center(base, tokens["viewer"], tokens["operator"], run, "rel-42")


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1400, "height": 900})
    tab = await context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield tab
    finally:
        await context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


async def login(page: Page, center: Center, token: str) -> None:
    await page.goto(f"{center.url}/ui/")
    await page.fill("#token", token)
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#who")).not_to_have_text("")


async def shot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def test_login_refuses_a_bad_token_and_fleet_filters_work(page: Page, center: Center) -> None:
    await page.goto(f"{center.url}/ui/")
    await expect(page.locator("#login-form")).to_be_visible()
    await shot(page, "01-login")
    await page.fill("#token", "kp_not-a-token")
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("[data-error]")).to_contain_text("refused")

    await page.fill("#token", center.viewer)
    await page.click("#login-form button[type=submit]")
    matrix = page.locator("canvas#matrix")
    await expect(matrix).to_have_attribute("data-rows", "3")
    cases = int(await matrix.get_attribute("data-cols") or 0)
    assert cases == 3  # pod-lifecycle, apiserver-probe (bound or run) and certificate-probe (ingested)
    await expect(page.locator("#f-summary")).to_contain_text("3 of 3 clusters")
    await shot(page, "02-fleet")

    await page.select_option("#f-group", "prod")
    await expect(matrix).to_have_attribute("data-rows", "1")
    await page.select_option("#f-group", "")
    await page.fill("#f-label", "region=eu")
    await expect(matrix).to_have_attribute("data-rows", "2")
    await page.fill("#f-label", "env=dev,region=us")
    await expect(matrix).to_have_attribute("data-rows", "1")
    await page.fill("#f-label", "")
    await page.fill("#f-search", "edge")
    await expect(matrix).to_have_attribute("data-rows", "2")
    await page.fill("#f-search", "apiserver")  # a case name: narrows the columns
    await expect(matrix).to_have_attribute("data-cols", "1")
    await expect(matrix).to_have_attribute("data-rows", "3")
    await page.fill("#f-search", "")
    await page.check("#f-failing")
    await expect(matrix).to_have_attribute("data-rows", "2")  # sandbox (certificate) and edge-2
    await shot(page, "03-fleet-filtered")

    await page.uncheck("#f-failing")
    box = await matrix.bounding_box()
    assert box is not None
    await matrix.click(position={"x": 20, "y": box["height"] - 6})  # the last row's name: a cluster
    await expect(page).to_have_url(f"{center.url}/ui/#/cluster/sandbox")


async def test_cluster_view_shows_health_plots_findings_and_no_trigger_for_viewers(
    page: Page, center: Center
) -> None:
    await login(page, center, center.viewer)
    await page.goto(f"{center.url}/ui/#/cluster/sandbox")
    await expect(page.locator("svg[data-chart]")).to_have_count(2)
    rows = page.locator("table#cases tbody tr")
    await expect(rows).to_have_count(3)
    await expect(page.locator("tr[data-case=pod-lifecycle]")).to_contain_text("succeeded")
    await expect(page.locator("table#findings")).to_contain_text("apiserver cert expires in 5 days")
    await expect(page.locator("table.runs tbody tr").first).to_be_visible()
    circles = await page.locator("svg[data-chart='success rate per hour'] circle").count()
    assert circles >= 7  # seven ingested hours plus the real runs' hour
    for button in await page.locator("button.run-now").all():
        await expect(button).to_be_disabled()
    await shot(page, "04-cluster")
    status = await page.evaluate(
        """async (token) => (await fetch('/api/v1/runs', {method: 'POST',
             headers: {Authorization: 'Bearer ' + token, 'Content-Type': 'application/json'},
             body: JSON.stringify({case: 'pod-lifecycle', cluster: 'sandbox'})})).status""",
        center.viewer,
    )
    assert status == 403


async def test_run_view_shows_steps_messages_logs_and_root_cause(page: Page, center: Center) -> None:
    await login(page, center, center.viewer)
    await page.goto(f"{center.url}/ui/#/run/{center.run['id']}")
    steps = page.locator("table#steps tbody tr")
    await expect(steps).to_have_count(len(center.run["steps"]))
    for i, step in enumerate(center.run["steps"]):
        await expect(steps.nth(i)).to_contain_text(step["name"])
    analysis = page.locator("#analysis")
    await expect(analysis).not_to_be_empty()
    text = await analysis.inner_text()
    assert "not analysed" in text or "confidence" in text, text
    await expect(page.locator("#logs")).to_be_visible()
    await expect(page.locator("#events")).to_be_visible()
    await shot(page, "05-run")
    # a run that could not run says why
    gone = await page.evaluate(
        """async (token) => (await (await fetch('/api/v1/runs?cluster=edge-1&limit=1',
             {headers: {Authorization: 'Bearer ' + token}})).json()).items[0].id""",
        center.viewer,
    )
    await page.goto(f"{center.url}/ui/#/run/{gone}")
    await expect(page.locator("h1 .badge")).to_have_text("error")
    await expect(page.locator("#messages")).to_contain_text("could not run")


async def test_gates_incidents_and_silences_views(page: Page, center: Center) -> None:
    await login(page, center, center.viewer)
    await page.goto(f"{center.url}/ui/#/gates")
    gates = page.locator("table#gates tbody tr")
    await expect(gates).to_have_count(1)
    await expect(gates.first).to_contain_text(center.gate)
    await expect(gates.first.locator(".badge").first).to_have_text("pass")
    await shot(page, "06-gates")
    await page.fill("#g-cluster", "edge-1")
    await page.click("#g-go")
    await expect(page.locator("main")).to_contain_text("No gates yet")
    await page.goto(f"{center.url}/ui/#/silences")
    silences = page.locator("table#silences tbody tr")
    await expect(silences).to_have_count(1)
    await expect(silences.first).to_contain_text("cluster=edge-1")
    await expect(silences.first).to_contain_text("edge-1 is being rebuilt")
    await shot(page, "07-silences")
    # incidents come from the analysis of failed runs: whether any is open yet depends on its
    # workers, so the view must show either the table or its empty state (never the placeholder)
    await page.goto(f"{center.url}/ui/#/incidents?state=all")
    await expect(page.locator("main h1")).to_have_text("Incidents")
    await expect(page.locator("table#incidents, main p.muted").first).to_be_visible()
    await expect(page.locator("[data-placeholder]")).to_have_count(0)
    await shot(page, "07-incidents")


async def test_operator_triggers_a_run_and_sees_its_result(page: Page, center: Center) -> None:
    await login(page, center, center.operator)
    await page.goto(f"{center.url}/ui/#/cluster/sandbox")
    button = page.locator("button.run-now[data-case=pod-lifecycle]")
    await expect(button).to_be_enabled()
    await button.click()
    outcome = page.locator("tr[data-case=pod-lifecycle] .trigger-result")
    await expect(outcome).to_have_attribute("data-state", "succeeded", timeout=180_000)
    await shot(page, "08-run-now")
    new_run = await outcome.locator("a").inner_text()
    assert new_run != center.run["id"][:8]
    await expect(page.locator("tr[data-case=pod-lifecycle] td").nth(2)).to_have_text(new_run)
    await outcome.locator("a").click()
    await expect(page.locator("h1 .badge")).to_have_text("succeeded")
    await expect(page.locator("dl.kv").first).to_contain_text("manual")
