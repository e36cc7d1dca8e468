"""The collection layer: planning merges needs; a sweep lists each resource once, page by page."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.collect import (
    ALL_RESOURCES,
    CONFIGMAPS,
    NODES,
    PODS,
    SECRETS,
    Discovery,
    ListSpec,
    Need,
    Resource,
    collect,
    discover,
    plan,
)
from kubeprobe.kube.errors import KubeConnectionError

WIDGETS = Resource("example.com", "v1", "widgets", "Widget")
EVENTS_ALIAS = Resource("events.k8s.io", "v1", "events", "Event")


def test_plan_merges_needs() -> None:
    specs = plan(
        [
            Need(PODS, metadata_only=True),
            Need(PODS),
            Need(NODES, metadata_only=True),
            Need(SECRETS, field_selector="type=kubernetes.io/tls"),
            Need(CONFIGMAPS, label_selector="a"),
            Need(CONFIGMAPS, label_selector="b"),
        ]
    )
    by = {s.resource.plural: s for s in specs}
    assert by["pods"] == ListSpec(PODS, metadata_only=False)
    assert by["nodes"].metadata_only
    assert by["secrets"].field_selector == "type=kubernetes.io/tls"
    assert by["configmaps"].label_selector is None  # two different selectors: list unfiltered


def test_plan_every_resource_needs_discovery() -> None:
    with pytest.raises(ValueError, match="discovery"):
        plan([Need(ALL_RESOURCES, metadata_only=True)])
    specs = plan(
        [Need(ALL_RESOURCES, metadata_only=True), Need(PODS)],
        Discovery([PODS, WIDGETS, EVENTS_ALIAS]),
    )
    assert [(s.resource.plural, s.metadata_only) for s in specs] == [("pods", False), ("widgets", True)]


async def test_sweep_pages_and_visits_every_object(kube: KubeClient, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    for i in range(7):
        await kube.create(path, {"metadata": {"name": f"cm-{i}", "labels": {"sweep": "yes"}}})
    seen: list[str] = []

    def visit(resource: Resource, items: list[dict[str, Any]]) -> None:
        for obj in items:
            if obj["metadata"].get("namespace") == namespace:
                seen.append(obj["metadata"]["name"])
                assert "data" not in obj  # metadata-only

    sweep = await collect(
        kube, [ListSpec(CONFIGMAPS, metadata_only=True, label_selector="sweep=yes")], visit, limit=3
    )
    assert sorted(seen) == [f"cm-{i}" for i in range(7)]
    [stats] = sweep.stats
    assert stats.pages >= 3
    assert stats.bytes > 0


async def test_discovery_and_a_failed_list(kube: KubeClient) -> None:
    found = await discover(kube)
    assert PODS in found.resources
    assert ("", "Pod") in found.by_kind()
    missing = Resource("nothere.example.com", "v1", "things", "Thing")
    sweep = await collect(kube, [ListSpec(missing, True)], lambda r, o: None)
    assert missing in sweep.failed
    assert "404" in sweep.failed[missing]


async def test_unreachable_cluster_is_an_error(kube: KubeClient) -> None:
    conn = kube.conn.__class__(server="https://127.0.0.1:1", context="nowhere", ca_pem=kube.conn.ca_pem)
    async with KubeClient(conn, timeout=3) as dead:
        with pytest.raises(KubeConnectionError):
            await collect(dead, [ListSpec(PODS, True)], lambda r, o: None)


async def test_guessed_lists_wait_for_the_plan(kube: KubeClient, namespace: str) -> None:
    """Guesses start at once; the plan, known later, keeps the right ones and starts the rest."""
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    for i in range(3):
        await kube.create(path, {"metadata": {"name": f"cm-{i}", "labels": {"guess": namespace}}})
    kept = ListSpec(CONFIGMAPS, metadata_only=True, label_selector=f"guess={namespace}")
    wrong = ListSpec(SECRETS, metadata_only=True)
    started = ListSpec(NODES, metadata_only=True)
    seen: dict[str, int] = {}

    def visit(resource: Resource, items: list[dict[str, Any]]) -> None:
        seen[resource.plural] = seen.get(resource.plural, 0) + len(items)

    async def later() -> list[ListSpec]:
        await asyncio.sleep(0.2)  # as a discovery would take a while: the guesses are under way
        return [kept, started]

    sweep = await collect(kube, [kept, wrong], visit, later=later(), limit=2)
    assert seen.keys() == {"configmaps", "nodes"}
    assert seen["configmaps"] == 3
    assert sorted(s.resource.plural for s in sweep.stats) == ["configmaps", "nodes"]
