"""Running built-in probes in-process against the session's sandbox."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from kubeprobe.cases.execute import Outcome, execute
from kubeprobe.cases.registry import builtin_registry
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.config import ClusterConnection, load_kubeconfig
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.faults import Faults

RunProbe = Callable[..., Awaitable[Outcome]]
RUN_LABEL = "kubeprobe.io/run-id"
#: Where the probes' objects may be: everything a run creates carries its run-id label.
LABELLED_KINDS = (
    "/api/v1/pods",
    "/api/v1/configmaps",
    "/api/v1/services",
    "/api/v1/namespaces",
    "/apis/apps/v1/deployments",
    "/apis/apps/v1/statefulsets",
    "/apis/apps/v1/replicasets",
    "/apis/discovery.k8s.io/v1/endpointslices",
)


@pytest.fixture
def run_probe(kube: KubeClient) -> RunProbe:
    async def run(
        name: str,
        params: dict[str, Any] | None = None,
        timeout: float = 120,
        client: KubeClient | None = None,
        run_id: str | None = None,
    ) -> Outcome:
        template = builtin_registry().get(name)
        return await execute(
            template,
            params or {},
            client or kube,
            run_id=run_id or new_run_id(),
            cluster="sandbox",
            case=name,
            deadline=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=timeout),
        )

    return run


def new_run_id() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


async def assert_nothing_left(kube: KubeClient, run_id: str, timeout: float = 60) -> None:
    """Nothing labelled with ``run_id`` is left in the cluster (the garbage collector may lag)."""
    deadline = time.monotonic() + timeout
    while True:
        left = [
            f"{path.rsplit('/', 1)[-1]} {obj['metadata']['name']}"
            for path in LABELLED_KINDS
            for obj in await kube.list_all(path, labelSelector=f"{RUN_LABEL}={run_id}")
        ]
        if not left:
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"left behind by run {run_id}: {left}")
        await asyncio.sleep(0.5)


class FaultDuringRun(KubeClient):
    """A client that injects a fault once the run's anchor exists and undoes it before the anchor goes.

    Faults that also stop the API server from storing objects (etcd paused) would otherwise turn the
    run into an ``error`` before the probe starts: the anchor could not be created.
    """

    def __init__(
        self,
        conn: ClusterConnection,
        inject: Callable[[], Awaitable[None]],
        undo: Callable[[], Awaitable[None]],
    ) -> None:
        super().__init__(conn)
        self._inject = inject
        self._undo = undo

    async def create(self, path: str, obj: dict[str, Any]) -> dict[str, Any]:
        result = await super().create(path, obj)
        if obj["metadata"]["name"].startswith("kp-run-"):
            await self._inject()
        return result

    async def delete(
        self, path: str, *, grace_period_seconds: int | None = None, missing_ok: bool = True
    ) -> dict[str, Any] | None:
        if "/configmaps/kp-run-" in path:
            await self._undo()
        return await super().delete(path, grace_period_seconds=grace_period_seconds, missing_ok=missing_ok)


def etcd_paused_during_run(sandbox: Sandbox) -> FaultDuringRun:
    faults = Faults(sandbox)

    async def pause() -> None:
        faults.pause("etcd")

    return FaultDuringRun(load_kubeconfig(sandbox.kubeconfig), pause, lambda: faults.resume("etcd"))
