"""Before/after on a real cluster: how a sweep lists and decodes never changes what it finds.

A small scale sandbox (bulk-loaded kwok nodes and pods, as the scale benchmark builds it) with risky
objects added through the API is swept with every check: the reference lists in pages with continue
tokens, each asked for once the last one is decoded whole (as sweeps did first); against it, the
default (each LIST asked for whole, cut into pages as it streams in, pruned to the fields checks
read) and pipelined pages, pruned. Findings, check errors and object counts must be identical, and
the risky objects must be among the findings, so the comparison means something.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from kubeprobe.cases.inspections.check import CheckContext
from kubeprobe.cases.inspections.engine import SweepOptions, inspect
from kubeprobe.cases.inspections.registry import CATALOG
from kubeprobe.cases.inspections.report import InspectionReport
from kubeprobe.cases.inspections.settings import InspectionSettings
from kubeprobe.kube.client import KubeClient
from kubeprobe.sandbox.build import Builder
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.scale import populate
from tests.cases.inspections.live import manual_node, pod

EXPECTED = {
    "pod.node-missing",
    "pod.stuck-pending",
    "node.not-ready",
    "node.untolerated-taint",
    "network.overlapping-pod-cidr",
    "network.duplicate-service-ip",
    "owner.missing",
}


async def _risky_objects(kube: KubeClient) -> None:
    for name, cidr in (("decode-a", "10.250.0.0/24"), ("decode-b", "10.250.0.0/25")):
        node = manual_node(name, cidr)
        node["spec"]["taints"] = [{"key": "example.com/private", "value": name, "effect": "NoSchedule"}]
        await kube.create("/api/v1/nodes", node)
    await kube.create("/api/v1/namespaces/default/pods", pod("on-gone-node", nodeName="gone-node"))
    await kube.create(
        "/api/v1/namespaces/default/pods", pod("unplaceable", nodeSelector={"example.com/none": "x"})
    )
    for name in ("svc-a", "svc-b"):
        await kube.create(
            "/api/v1/namespaces/default/services",
            {
                "metadata": {"name": name},
                "spec": {"ports": [{"port": 80}], "externalIPs": ["192.0.2.10"]},
            },
        )
    # An owner of a kind nobody serves: the garbage collector leaves the dependent alone.
    gone = {"apiVersion": "example.com/v1", "kind": "Widget", "name": "gone", "uid": str(uuid.uuid4())}
    await kube.create(
        "/api/v1/namespaces/default/configmaps",
        {"metadata": {"name": "orphan", "ownerReferences": [gone]}, "data": {"a": "b"}},
    )


@pytest_asyncio.fixture(loop_scope="session")
async def scale_box() -> AsyncIterator[Sandbox]:
    box = Sandbox(f"pytest-decode-{uuid.uuid4().hex[:6]}")
    await box.up(Builder().build(), node_count=0, json_storage=True)
    try:
        await populate(box, nodes=20, pods=400, namespaces=4)
        async with box.client() as kube:
            await _risky_objects(kube)
        yield box
    finally:
        box.down()


def _canonical(report: InspectionReport) -> list[str]:
    return sorted(json.dumps(f.to_dict(), sort_keys=True, default=str) for f in report.findings)


WAYS = {
    "reference": SweepOptions(page_size=97, pruned=False, paged=True, pipelined=False),
    "streamed": SweepOptions(page_size=97),
    "pipelined pages": SweepOptions(page_size=97, paged=True),
}


async def _all_ways(kube: KubeClient) -> dict[str, InspectionReport]:
    # Thresholds at zero, so objects just made count as stuck: more checks have something to say.
    settings = InspectionSettings(pending_minutes=0, terminating_minutes=0)
    now = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    reports = {}
    for way, options in WAYS.items():
        ctx = CheckContext("decode", now=now, settings=settings)
        reports[way] = await inspect(kube, list(CATALOG), ctx, options=options)
    return reports


@pytest.mark.sandbox
async def test_every_way_of_listing_and_decoding_finds_the_same(scale_box: Sandbox) -> None:
    async with scale_box.client() as kube:
        # The cluster lives on between sweeps (events, leases, the scheduler retrying): sweeps that
        # saw different numbers of objects are repeated; a real difference persists.
        for _ in range(5):
            reports = await _all_ways(kube)
            if len({r.objects for r in reports.values()}) == 1:
                break
    reference = reports.pop("reference")
    assert reference.objects > 440
    assert {f.check_id for f in reference.findings} >= EXPECTED
    for way, report in reports.items():
        assert report.objects == reference.objects, way
        assert report.errors == reference.errors, way
        # Sorted: which LIST's page comes first may differ between two sweeps, the findings may not.
        assert _canonical(report) == _canonical(reference), way
