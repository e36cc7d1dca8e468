"""Watch triggers against a real API server: spec changes trigger, status changes do not."""

from __future__ import annotations

import asyncio
import contextlib

from kubeprobe.center.services.watches import SpecWatcher
from kubeprobe.center.triggers.specs import SpecChange, WatchTarget
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.waiting import wait_for


def _deployment(image: str) -> dict[str, object]:
    labels = {"app": "watched"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "watched"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": image}]},
            },
        },
    }


async def test_spec_changes_trigger_and_status_changes_do_not(kube: KubeClient, namespace: str) -> None:
    changes: list[SpecChange] = []

    async def record(change: SpecChange) -> None:
        changes.append(change)

    deps = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    await kube.create(deps, _deployment("img:1"))
    watcher = SpecWatcher(kube, WatchTarget("apps/v1", "deployments", namespace), record)
    task = asyncio.create_task(watcher.run())
    try:
        await asyncio.wait_for(watcher.ready.wait(), 10)
        # The controller updates status (replicas become available): not a spec change.
        await wait_for(
            lambda: kube.get(f"{deps}/watched"),
            lambda d: d.get("status", {}).get("availableReplicas") == 1,
            timeout=30,
            what="available",
        )
        assert changes == []
        await kube.patch(
            f"{deps}/watched",
            {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "img:2"}]}}}},
            "strategic",
        )
        await wait_for(lambda: _value(changes), bool, timeout=10, what="change seen")
        assert [(c.kind, c.name, c.generation) for c in changes] == [("MODIFIED", "watched", 2)]
        await kube.delete(f"{deps}/watched")
        await wait_for(lambda: _value(changes), lambda c: len(c) == 2, timeout=10, what="delete seen")
        assert changes[-1].kind == "DELETED"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _value(items: list[SpecChange]) -> list[SpecChange]:
    return list(items)
