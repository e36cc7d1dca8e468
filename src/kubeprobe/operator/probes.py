"""Fast API-level probes, cheap enough for a 1 s interval, and their registry.

A probe only produces results: :meth:`Probe.run` returns when the path works and raises
:class:`ProbeFailure` (or a Kubernetes connection / 5xx / 429 error, or times out) when it does
not. Scheduling, denoising and reporting are elsewhere and shared by every probe type. Errors that
mean the operator itself cannot probe (403 from RBAC, a bad parameter) are classified ``error`` →
the state ``unknown``, never a failed probe.

The cases package is a sibling layer and cannot be imported here; the few requests these probes
need are written out again (the etcd one mirrors the v3 JSON gateway calls of cases/probes/etcd.py).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any, ClassVar

import httpx

from kubeprobe.kube import tlsguard
from kubeprobe.kube.client import KubeClient, Obj, resource_path
from kubeprobe.kube.errors import (
    KubeClientError,
    KubeConnectionError,
    KubeServerError,
    NotFoundError,
    ThrottledError,
)
from kubeprobe.kube.podsecurity import restricted
from kubeprobe.operator.denoise import Outcome
from kubeprobe.operator.spec import ProbeConfigSpec

LABEL = "kubeprobe.io/resident"
log = logging.getLogger(__name__)


class ProbeFailure(Exception):
    """The probed path does not work; the message says how."""


class Probe:
    """One ProbeConfig's probe. Subclasses implement :meth:`run`; :meth:`close` releases resources.

    ``eager = True`` tells the scheduler that :meth:`run` is an in-process check that usually
    returns without waiting and enters no timeout or cancel scope before its first ``await``: it
    is then started inline, without a task. Probes that do I/O leave it False.
    """

    eager: ClassVar[bool] = False

    def __init__(self, spec: ProbeConfigSpec, kube: KubeClient) -> None:
        self.spec, self.kube = spec, kube
        self.namespace = str(spec.params.get("namespace") or spec.namespace)
        self.object_name = f"kubeprobe-resident-{spec.name}"[:253]

    async def run(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        return None


ProbeFactory = Callable[[ProbeConfigSpec, KubeClient], Probe]


class DuplicateProbeError(ValueError):
    """Two probe types registered under one name."""


class ProbeRegistry:
    """Probe types by name; filled by the :meth:`register` decorator."""

    def __init__(self) -> None:
        self._types: dict[str, ProbeFactory] = {}

    def register(self, name: str) -> Callable[[type[Probe]], type[Probe]]:
        def add(cls: type[Probe]) -> type[Probe]:
            if name in self._types:
                raise DuplicateProbeError(f"probe type {name!r} is registered twice")
            self._types[name] = cls
            return cls

        return add

    def names(self) -> list[str]:
        return sorted(self._types)

    def create(self, spec: ProbeConfigSpec, kube: KubeClient) -> Probe:
        try:
            factory = self._types[spec.probe]
        except KeyError:
            raise ValueError(
                f"spec.probe: unknown probe type {spec.probe!r}; known: {self.names()}"
            ) from None
        return factory(spec, kube)


registry = ProbeRegistry()


def classify(exc: Exception, timeout: float) -> tuple[Outcome, str]:
    """A run's exception → (outcome, message): the path is broken (failed) or it could not be probed."""
    if isinstance(exc, TimeoutError):
        return "failed", f"timed out after {timeout:g}s"
    text = str(exc)[:500] or type(exc).__name__
    if isinstance(
        exc, (ProbeFailure, KubeConnectionError, KubeServerError, ThrottledError, httpx.TransportError)
    ):
        return "failed", text
    if not isinstance(exc, (KubeClientError, ValueError, KeyError, httpx.HTTPError)):
        log.warning("probe raised an unexpected %s (counted as undecided): %s", type(exc).__name__, text)
        text = f"{type(exc).__name__}: {text}"
    return "error", text


async def run_once(probe: Probe, timeout: float) -> tuple[Outcome, float, str]:
    """Run the probe once under ``timeout``: (outcome, duration in ms, message)."""
    start = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            await probe.run()
    except Exception as exc:
        outcome, message = classify(exc, timeout)
        return outcome, (time.perf_counter() - start) * 1000, message
    return "ok", (time.perf_counter() - start) * 1000, ""


@registry.register("apiserver-read")
class ApiServerReadProbe(Probe):
    """A quorum LIST of one ConfigMap in the namespace: the API server and etcd answer a read."""

    async def run(self) -> None:
        await self.kube.get(resource_path("v1", "configmaps", self.namespace), limit=1)


@registry.register("apiserver-write")
class ApiServerWriteProbe(Probe):
    """Writes a timestamp into a ConfigMap (created on the first run): a write reaches etcd."""

    async def run(self) -> None:
        now = dt.datetime.now(dt.UTC).isoformat()
        path = resource_path("v1", "configmaps", self.namespace, self.object_name)
        try:
            await self.kube.patch(path, {"data": {"at": now}})
        except NotFoundError:
            await self.kube.create(
                resource_path("v1", "configmaps", self.namespace),
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": self.object_name, "labels": {LABEL: self.spec.name}},
                    "data": {"at": now},
                },
            )

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.kube.delete(resource_path("v1", "configmaps", self.namespace, self.object_name))


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@registry.register("etcd")
class EtcdProbe(Probe):
    """put then range of one key through etcd's v3 JSON gateway (``params.endpoint``)."""

    def __init__(self, spec: ProbeConfigSpec, kube: KubeClient) -> None:
        super().__init__(spec, kube)
        endpoint = spec.params.get("endpoint")
        if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
            raise ValueError(
                "spec.params.endpoint: the etcd client URL is required, e.g. http://127.0.0.1:2379"
            )
        cert = spec.params.get("certFile"), spec.params.get("keyFile")
        self._http = tlsguard.guard(
            httpx.AsyncClient(
                base_url=endpoint,
                verify=spec.params.get("caFile") or True,
                cert=(str(cert[0]), str(cert[1])) if all(cert) else None,
                timeout=spec.timeout,
            )
        )
        self._key = _b64(f"/kubeprobe/resident/{spec.namespace}/{spec.name}")

    async def _call(self, path: str, body: dict[str, Any]) -> Any:
        resp = await self._http.post(path, json=body)
        if resp.status_code >= 500:
            raise ProbeFailure(f"etcd {path}: {resp.status_code} {resp.text[:200]}")
        if resp.status_code >= 400:
            raise ValueError(f"etcd {path}: {resp.status_code} {resp.text[:200]}")
        return resp.json()

    async def run(self) -> None:
        value = uuid.uuid4().hex
        await self._call("/v3/kv/put", {"key": self._key, "value": _b64(value)})
        got = await self._call("/v3/kv/range", {"key": self._key})
        kvs = got.get("kvs") or []
        if not kvs or base64.b64decode(kvs[0].get("value", "")).decode() != value:
            raise ProbeFailure("etcd: the value read back differs from the value just written")

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._call("/v3/kv/deleterange", {"key": self._key})
        await self._http.aclose()


@registry.register("watch")
class WatchProbe(Probe):
    """Watch liveness: a change to a ConfigMap must arrive through a standing watch in time."""

    def __init__(self, spec: ProbeConfigSpec, kube: KubeClient) -> None:
        super().__init__(spec, kube)
        self._seen: dict[str, asyncio.Event] = {}
        self._task: asyncio.Task[None] | None = None
        self._writer = ApiServerWriteProbe(spec, kube)
        self._writer.object_name = self.object_name = f"kubeprobe-watch-{spec.name}"[:253]

    async def _watch(self) -> None:
        path = resource_path("v1", "configmaps", self.namespace)
        while True:
            try:
                async for event in self.kube.watch(
                    path, fieldSelector=f"metadata.name={self.object_name}", timeout_seconds=60
                ):
                    obj: Obj = event.get("object") or {}
                    token = (obj.get("data") or {}).get("token")
                    if token in self._seen:
                        self._seen[token].set()
            except Exception:  # the watch broke: the next run will notice lateness; re-open soon
                await asyncio.sleep(min(self.spec.interval, 1.0))

    async def run(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._watch())
            await asyncio.sleep(0)
        token = uuid.uuid4().hex
        arrived = self._seen[token] = asyncio.Event()
        try:
            path = resource_path("v1", "configmaps", self.namespace, self.object_name)
            try:
                await self.kube.patch(path, {"data": {"token": token}})
            except NotFoundError:
                await self._writer.run()
                await self.kube.patch(path, {"data": {"token": token}})
            try:
                await asyncio.wait_for(arrived.wait(), self.spec.timeout)
            except TimeoutError:
                raise ProbeFailure("watch: the change did not arrive through the watch in time") from None
        finally:
            self._seen.pop(token, None)

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._writer.close()


#: Share of the run's timeout the pod-scheduling probe waits for a binding before it reads why
#: not: the rest is left for that read, so the failure carries the scheduler's own words.
SCHEDULING_WAIT_SHARE = 0.75


def _why_unscheduled(pod: Obj) -> str:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            return str(cond.get("message") or cond.get("reason") or "not scheduled")[:400]
    return "no scheduling decision"


@registry.register("pod-scheduling")
class PodSchedulingProbe(Probe):
    """Creates a pod and waits until the scheduler binds it to a node; deletes it. A pod left
    unbound fails the run with the scheduler's reason (its PodScheduled condition)."""

    async def run(self) -> None:
        name = f"kubeprobe-sched-{uuid.uuid4().hex[:10]}"
        give_up = time.monotonic() + self.spec.timeout * SCHEDULING_WAIT_SHARE
        pods = resource_path("v1", "pods", self.namespace)
        spec: Obj = {
            "containers": [
                {
                    "name": "probe",
                    "image": str(self.spec.params.get("image") or "registry.k8s.io/pause:3.10"),
                    "resources": {"requests": {"cpu": "1m"}},
                }
            ],
            "terminationGracePeriodSeconds": 0,
        }
        if isinstance(self.spec.params.get("nodeSelector"), dict):
            spec["nodeSelector"] = self.spec.params["nodeSelector"]
        await self.kube.create(
            pods,
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "labels": {LABEL: self.spec.name}},
                "spec": restricted(spec),
            },
        )
        try:
            while True:
                pod = await self.kube.get(f"{pods}/{name}")
                if (pod.get("spec") or {}).get("nodeName"):
                    return
                if time.monotonic() >= give_up:
                    waited = self.spec.timeout * SCHEDULING_WAIT_SHARE
                    raise ProbeFailure(f"pod {name} not scheduled after {waited:g}s: {_why_unscheduled(pod)}")
                await asyncio.sleep(0.2)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.kube.delete(f"{pods}/{name}", grace_period_seconds=0))


#: Control-plane components that hold a leader lease in kube-system.
LEADERS = ("kube-scheduler", "kube-controller-manager")
#: A leader renews its lease every 2 s (its retry period) and gives up after 10 s (renew deadline).
#: Read every 2 s (the operator's default interval), a renewal is seen up to one reading late, and a
#: run fails only on a reading at least this long after the renewal was first seen; the default
#: failure rule (2 of the last 3 runs) then asks for the next reading too: failing means no renewal
#: seen for 6 s, three renewal periods: 4-8 s after a leader stopped (the default of 6 made it 6-10).
#: On this project's 2-core machine at load 1-11 the sandbox's leaders renewed at most 2.1 s apart
#: (1,406 renewals each, read every 0.25 s, 47 minutes): a false alarm needs a 6 s gap.
LEASE_STALE_S = 4.0


@registry.register("leader-leases")
class LeaderLeasesProbe(Probe):
    """The control-plane leaders renew their leases (``params.components``, default the scheduler
    and the controller-manager; ``params.staleSeconds``, default 4). A lease whose ``renewTime``
    stays the same for that long on the operator's own clock belongs to a leader that stopped
    working: compared with its previous reading, never with the operator's wall clock, so clock
    skew between the control plane and the operator's node cannot raise a false alarm. A lease
    that does not exist (a managed control plane may hide them) is an error, not a failure."""

    def __init__(self, spec: ProbeConfigSpec, kube: KubeClient) -> None:
        super().__init__(spec, kube)
        names = spec.params.get("components", list(LEADERS))
        if (
            not isinstance(names, list)
            or not 1 <= len(names) <= 10
            or not all(isinstance(n, str) and 0 < len(n) <= 253 for n in names)
        ):
            raise ValueError(
                "spec.params.components: a list of 1-10 lease names in kube-system, e.g. ['kube-scheduler']"
            )
        stale = spec.params.get("staleSeconds", LEASE_STALE_S)
        if isinstance(stale, bool) or not isinstance(stale, (int, float)) or not 3 <= stale <= 600:
            raise ValueError("spec.params.staleSeconds: a number of seconds from 3 to 600")
        self.components: list[str] = list(names)
        self.stale_s = float(stale)
        self._seen: dict[str, tuple[str, float]] = {}  # name → (renewTime, first seen, monotonic)

    async def run(self) -> None:
        stuck: list[str] = []
        for name in self.components:
            lease = await self.kube.get(
                resource_path("coordination.k8s.io/v1", "leases", "kube-system", name)
            )
            spec = lease.get("spec") or {}
            renewed = str(spec.get("renewTime") or "")
            now = time.monotonic()
            last = self._seen.get(name)
            if last is None or last[0] != renewed:
                self._seen[name] = (renewed, now)
            elif now - last[1] >= self.stale_s:
                holder = spec.get("holderIdentity") or "no holder"
                stuck.append(
                    f"{name} (held by {str(holder)[:100]}, renewTime {renewed or 'unset'} "
                    f"unchanged for {now - last[1]:.0f}s)"
                )
        if stuck:
            raise ProbeFailure("leader lease not renewed: " + "; ".join(stuck))
