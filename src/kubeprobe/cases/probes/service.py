"""Service probe: a Service gets a ready endpoint for each of its ready pods, and (where the cluster
has DNS, ``check_dns``) its name resolves to its ClusterIP from where the probe runs.
"""

from __future__ import annotations

import asyncio
import socket
import time

from pydantic import BaseModel, Field

from kubeprobe.cases.context import CaseContext, ProbeFailure
from kubeprobe.cases.probes.waits import Obj
from kubeprobe.cases.probes.workloads import cleanup, pod_ready, pod_template, selector_of, why_pod
from kubeprobe.cases.registry import REGISTRY
from kubeprobe.kube.errors import KubeAPIError

SLICES = "/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices"


class ServiceProbeParams(BaseModel):
    """Parameters of the service probe."""

    image: str = Field("registry.k8s.io/pause:3.10", description="Image of the backend pods.")
    pods: int = Field(2, ge=1, le=10, description="Backend pods behind the Service.")
    ready_seconds: float = Field(60, gt=0, description="Limit for the backend pods to be ready.")
    endpoints_seconds: float = Field(30, gt=0, description="Limit for every ready pod to be an endpoint.")
    check_dns: bool = Field(False, description="Also resolve the Service's DNS name (needs cluster DNS).")
    cluster_domain: str = Field("cluster.local", description="The cluster's DNS domain.")
    dns_seconds: float = Field(10, gt=0, description="Limit for the DNS name to resolve to the ClusterIP.")


def ready_endpoint_ips(slices: list[Obj]) -> set[str]:
    ips: set[str] = set()
    for item in slices:
        for ep in item.get("endpoints") or []:
            if (ep.get("conditions") or {}).get("ready") is not False:
                ips.update(ep.get("addresses") or [])
    return ips


async def resolve(host: str) -> set[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return {str(info[4][0]) for info in infos}


async def _ready_pod_ips(
    ctx: CaseContext, pods_path: str, selector: str, name: str, params: ServiceProbeParams
) -> set[str]:
    """Wait until every pod behind the Service is ready with an IP of its own; those IPs."""
    deadline = time.monotonic() + params.ready_seconds
    while True:
        pods = await ctx.kube.list_all(pods_path, labelSelector=selector)
        ips = {p["metadata"]["name"]: p["status"].get("podIP") or "" for p in pods if pod_ready(p)}
        owned = {ip for ip in ips.values() if ip and list(ips.values()).count(ip) == 1}
        if len(owned) == params.pods:
            return owned
        if time.monotonic() >= deadline:
            why = await why_not_ready(ctx, pods, ips)
            raise ProbeFailure(
                f"{len(owned)}/{params.pods} pods of service {name} ready with an IP of their own "
                f"after {params.ready_seconds:g}s: {why}"
            )
        await asyncio.sleep(0.2)


async def why_not_ready(ctx: CaseContext, pods: list[Obj], ips: dict[str, str]) -> str:
    """What the last listing showed: pods not ready (and why), ready pods without an IP, shared IPs."""
    reasons = [await why_pod(ctx.kube, ctx.namespace, p) for p in pods if p["metadata"]["name"] not in ips]
    reasons += [
        f"pod {pod} is ready without an IP (status.podIP is empty)" for pod, ip in ips.items() if not ip
    ]
    for ip in sorted({ip for ip in ips.values() if ip}):
        sharing = sorted(pod for pod, found in ips.items() if found == ip)
        if len(sharing) > 1:
            reasons.append(f"pods {', '.join(sharing)} share IP {ip} (an IP conflict)")
    return "; ".join(reasons[:4]) or f"only {len(pods)} of the pods exist (deleted by something else?)"


@REGISTRY.probe("service-probe", params=ServiceProbeParams, timeout_seconds=300)
async def service_probe(ctx: CaseContext, params: ServiceProbeParams) -> None:
    """Create pods and a Service over them; wait until every ready pod is a ready endpoint."""
    name = ctx.name("svc")
    selector = selector_of(ctx, name)
    pods_path = f"/api/v1/namespaces/{ctx.namespace}/pods"
    svc_path = f"/api/v1/namespaces/{ctx.namespace}/services/{name}"
    pod_names = [f"{name}-{i}" for i in range(params.pods)]
    try:
        with ctx.report.step("create"):
            template = pod_template(ctx, name, params.image)
            svc = {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": ctx.metadata(name),
                "spec": {
                    "selector": template["metadata"]["labels"],
                    "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
                },
            }
            try:
                await ctx.kube.create(f"/api/v1/namespaces/{ctx.namespace}/services", svc)
                for pod_name in pod_names:
                    meta = {**ctx.metadata(pod_name), "labels": template["metadata"]["labels"]}
                    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template["spec"]}
                    await ctx.kube.create(pods_path, pod)
            except KubeAPIError as exc:
                raise ProbeFailure(f"service {name} or its pods not created: {exc.message}") from exc
        with ctx.report.step("pods-ready"):
            ready = await _ready_pod_ips(ctx, pods_path, selector, name, params)
        with ctx.report.step("endpoints"):
            start = time.monotonic()
            slices_path = SLICES.format(ns=ctx.namespace)
            while True:
                slices = await ctx.kube.list_all(
                    slices_path, labelSelector=f"kubernetes.io/service-name={name}"
                )
                missing = ready - ready_endpoint_ips(slices)
                if not missing:
                    break
                if time.monotonic() - start >= params.endpoints_seconds:
                    raise ProbeFailure(
                        f"service {name} has no ready endpoint for pod IP(s) {', '.join(sorted(missing))} "
                        f"after {params.endpoints_seconds:g}s ({len(slices)} EndpointSlice(s); "
                        "the endpointslice controller in kube-controller-manager maintains them)"
                    )
                await asyncio.sleep(0.2)
            ctx.report.metrics["endpoints_s"] = round(time.monotonic() - start, 3)
        if params.check_dns:
            with ctx.report.step("dns"):
                cluster_ip = (await ctx.kube.get(svc_path))["spec"].get("clusterIP")
                host = f"{name}.{ctx.namespace}.svc.{params.cluster_domain}"
                deadline = time.monotonic() + params.dns_seconds
                while True:
                    try:
                        got = await resolve(host)
                        error = ""
                    except OSError as exc:
                        got, error = set(), str(exc)
                    if cluster_ip in got:
                        break
                    if time.monotonic() >= deadline:
                        raise ProbeFailure(
                            f"{host} does not resolve to ClusterIP {cluster_ip} "
                            f"after {params.dns_seconds:g}s: " + (error or f"got {sorted(got)}")
                        )
                    await asyncio.sleep(0.5)
        with ctx.report.step("delete"):
            for pod_name in pod_names:
                await ctx.kube.delete(f"{pods_path}/{pod_name}", grace_period_seconds=0)
            await ctx.kube.delete(svc_path)
    finally:
        await cleanup(ctx, svc_path, *(f"{pods_path}/{p}" for p in pod_names))
