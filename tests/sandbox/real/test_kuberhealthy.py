"""A Kuberhealthy-style check, unchanged: a Go program that speaks only Kuberhealthy's contract
(``khcheck/``), in its own image, runs through the pod runner on a real node; its report lands in
the center. It resolves a name through the cluster's DNS (CoreDNS via kube-proxy's Service)."""

from __future__ import annotations

from tests.center.services.test_dispatcher import Center
from tests.sandbox.real.conftest import AddTemplate
from tests.sandbox.real.test_run_loop import run_with_runner


async def test_kuberhealthy_check_reports_ok_and_errors(
    real_center: Center, pod_template: AddTemplate, khcheck_image: str
) -> None:
    schema = {"type": "object", "properties": {"check_host": {"type": "string"}}}
    ok = await pod_template(
        "kh-dns", [], image=khcheck_image, schema=schema, params={"check_host": "kubernetes.default.svc"}
    )
    run = await run_with_runner(real_center, ok)
    assert run["state"] == "succeeded", (run["messages"], run["details"])
    assert run["details"]["runner"]["exit_code"] == 0
    assert "kubernetes.default.svc resolves to [10.96.0.1]" in run["details"]["runner"]["logs"]
    bad = await pod_template(
        "kh-dns-missing",
        [],
        image=khcheck_image,
        schema=schema,
        params={"check_host": "no-such-svc.default.svc"},
    )
    run = await run_with_runner(real_center, bad)
    assert run["state"] == "failed", (run["messages"], run["details"])
    assert run["messages"][0].startswith("DNS lookup of no-such-svc.default.svc failed:"), run["messages"]
