"""/metrics after a few runs: run totals by result, failure streaks, time since success, queue, lag."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.center.conftest import CenterApp
from tests.center.helpers import ok, result, seed

ROOT = Path(__file__).resolve().parents[3]
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(center_app: CenterApp, token: str) -> Samples:
    resp = await center_app.client(token).get("/metrics")
    assert resp.status_code == 200, resp.text
    out: Samples = {}
    for family in text_string_to_metric_families(resp.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


async def test_run_metrics_after_a_few_runs(center_app: CenterApp) -> None:
    admin = center_app.client("kp_test-admin-token")
    await seed(admin)
    now = dt.datetime.now(dt.UTC)
    t = [now - dt.timedelta(minutes=10 - i) for i in range(6)]
    batch = [
        result("pod", "c0", "succeeded", t[0], ms=300),
        result("pod", "c0", "failed", t[1], ms=1500),
        result("pod", "c0", "timed_out", t[2], ms=4000),
        result("pod", "c0", "error", t[3], ms=50),
        result("pod", "c0", "failed", t[4], ms=700),
        result("pod", "c1", "succeeded", t[5], ms=200),
        result("pod3", "c1", "cancelled", t[5], ms=200),
    ]
    await ok(await admin.post("/api/v1/results", json={"results": batch}), 202)
    pending = await ok(await admin.post("/api/v1/runs", json={"case": "pod3", "cluster": "c0"}), 201)
    assert pending["state"] == "pending"

    viewer = await center_app.token("viewer")
    m = await scrape(center_app, viewer)
    assert value(m, "kubeprobe_run_total", cluster="c0", case="pod", result="succeeded") == 1
    assert value(m, "kubeprobe_run_total", cluster="c0", case="pod", result="failed") == 3
    assert value(m, "kubeprobe_run_total", cluster="c0", case="pod", result="error") == 1
    assert value(m, "kubeprobe_run_total", cluster="c1", case="pod", result="succeeded") == 1
    assert value(m, "kubeprobe_run_total", cluster="c1", case="pod3", result="succeeded") is None
    # three failures after the success; the error in between neither counts nor resets
    assert value(m, "kubeprobe_case_consecutive_failures", cluster="c0", case="pod") == 3
    assert value(m, "kubeprobe_case_consecutive_failures", cluster="c1", case="pod") == 0
    since = value(m, "kubeprobe_case_seconds_since_success", cluster="c0", case="pod")
    assert since is not None
    assert 590 <= since <= 600 + 120
    assert value(m, "kubeprobe_queue_depth", state="pending") == 1
    lag = value(m, "kubeprobe_scheduler_lag_seconds")
    assert lag is not None
    assert 0 <= lag < 120
    # durations per case (no cluster label): pod ran 0.3, 1.5, 4, 0.05, 0.7 s on c0 and 0.2 s on c1
    assert value(m, "kubeprobe_run_duration_seconds_count", case="pod") == 6
    assert value(m, "kubeprobe_run_duration_seconds_bucket", case="pod", le="1.0") == 4
    assert value(m, "kubeprobe_run_duration_seconds_bucket", case="pod", le="2.5") == 5
    assert abs((value(m, "kubeprobe_run_duration_seconds_sum", case="pod") or 0) - 6.75) < 1e-6
    assert (value(m, "kubeprobe_ingestion_runs_per_second") or 0) == 0  # all finished > 1 min ago

    # a success ends the streak; a second scrape inside the cache window answers the cached numbers
    fresh = [result("pod", "c0", "succeeded", dt.datetime.now(dt.UTC), ms=100)]
    await ok(await admin.post("/api/v1/results", json={"results": fresh}), 202)
    cached = await scrape(center_app, viewer)
    assert value(cached, "kubeprobe_case_consecutive_failures", cluster="c0", case="pod") == 3
    center_app.app.state.metrics.runs.cache_seconds = 0.0
    m = await scrape(center_app, viewer)
    assert value(m, "kubeprobe_case_consecutive_failures", cluster="c0", case="pod") == 0
    assert value(m, "kubeprobe_run_total", cluster="c0", case="pod", result="succeeded") == 2
    assert value(m, "kubeprobe_run_duration_seconds_count", case="pod") == 7
    assert value(m, "kubeprobe_ingestion_runs_per_second") == 1 / 60
    assert (value(m, "kubeprobe_case_seconds_since_success", cluster="c0", case="pod") or 99) < 60


async def test_metrics_need_a_token_and_stay_bounded(center_app: CenterApp) -> None:
    assert (await center_app.client(None).get("/metrics")).status_code == 401
    admin = center_app.client("kp_test-admin-token")
    await seed(admin)
    now = dt.datetime.now(dt.UTC)
    batch = [result("pod", "c0", "failed", now - dt.timedelta(seconds=i), ms=10) for i in range(30)]
    await ok(await admin.post("/api/v1/results", json={"results": batch}), 202)
    m = await scrape(center_app, "kp_test-admin-token")
    run_series = [k for k in m if k[0] == "kubeprobe_run_total"]
    assert run_series == [("kubeprobe_run_total", (("case", "pod"), ("cluster", "c0"), ("result", "failed")))]
    assert value(m, "kubeprobe_case_consecutive_failures", cluster="c0", case="pod") == 30
    assert value(m, "kubeprobe_case_seconds_since_success", cluster="c0", case="pod") is None
    assert not any("run_id" in dict(labels) for _, labels in m)


async def test_grafana_dashboard_uses_only_exported_metrics(center_app: CenterApp) -> None:
    admin = center_app.client("kp_test-admin-token")
    await seed(admin)
    batch = [result("pod", "c0", "succeeded", dt.datetime.now(dt.UTC), ms=10)]
    await ok(await admin.post("/api/v1/results", json={"results": batch}), 202)
    await admin.get("/api/v1/fleet")  # so the request metrics have a sample
    exported = {name for name, _ in await scrape(center_app, "kp_test-admin-token")}
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "kubeprobe-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {m for e in exprs for m in re.findall(r"kubeprobe_[a-z_]+", e)}
    assert used
    assert used <= exported, used - exported


async def test_age_of_the_last_result_per_binding(center_app: CenterApp) -> None:
    """Silence is not health: the stale-results alert of the Helm chart compares these two."""
    admin = center_app.client("kp_test-admin-token")
    await seed(admin)
    await ok(await admin.post("/api/v1/groups", json={"name": "prod", "selector": {"env": "prod"}}), 201)
    body = {"name": "basic-prod", "suite": "basic", "group": "prod", "interval_seconds": 60}
    await ok(await admin.post("/api/v1/bindings", json=body), 201)
    await ok(await admin.post("/api/v1/bindings", json={"name": "by-event", "case": "pod", "cluster": "c1",
                                                         "events": ["deploy"]}), 201)  # fmt: skip
    silent_since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=150)
    batch = [result("pod", "c0", "succeeded", silent_since, ms=10)]
    await ok(await admin.post("/api/v1/results", json={"results": batch}), 202)
    m = await scrape(center_app, "kp_test-admin-token")
    labels = {"binding": "basic-prod", "cluster": "c0"}
    age = value(m, "kubeprobe_binding_last_result_age_seconds", case="pod", **labels)
    assert age is not None
    assert 150 <= age < 150 + 120  # older than two intervals: stale
    assert value(m, "kubeprobe_binding_interval_seconds", case="pod", **labels) == 60
    never = value(m, "kubeprobe_binding_last_result_age_seconds", case="pod3", **labels)
    assert never is not None
    assert never < 120  # no result yet: counted from when the binding was made
    ages = [k for k in m if k[0] == "kubeprobe_binding_last_result_age_seconds"]
    assert len(ages) == 2  # c1 is not in the group; an event-only binding has no interval
