"""Evidence from the cluster for one failed run: its pods, their events and logs, nodes, warnings.

Everything is bounded: each request has a timeout, the whole collection has a budget, and every
list and text is capped. A cluster that does not answer gives ``{"reachable": False, ...}`` and no
facts at all: the center not reaching a cluster is not proof that its API server is down, so no
cause is guessed from it. Parts that fail on their own are named in ``gaps``.

The result is a plain dict (stored as the run's evidence summary); ``facts`` holds what the rules
test (see :mod:`kubeprobe.analysis.evidence`) plus ``run_pod_reasons`` (waiting/terminated reasons
of the run's containers) and ``warning_reasons`` (reasons of recent Warning events).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from kubeprobe.analysis.evidence import TIMED_OUT, component_evidence
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.errors import KubeConnectionError, KubeError

RUN_LABEL = "kubeprobe.io/run-id"
SYSTEM_NAMESPACE = "kubeprobe-system"


@dataclass(frozen=True)
class EvidenceLimits:
    """Bounds of one collection."""

    budget_seconds: float = 20.0  # the whole collection
    request_seconds: float = 3.0  # each request
    max_items: int = 20  # pods, events, nodes, warnings each
    max_text: int = 400  # one message
    max_log_chars: int = 4000  # one container's log tail
    warning_window_seconds: float = 900.0  # how recent a namespace warning must be


def short_id(run_id: str) -> str:
    """The run's short form in object names (as kubeprobe.cases.context names them)."""
    return re.sub(r"[^a-z0-9]", "", run_id.lower())[:10] or "run"


def _cut(text: Any, limit: int) -> str:
    s = str(text or "")
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _event_text(event: dict[str, Any], limit: int) -> str:
    obj = event.get("involvedObject") or {}
    return _cut(
        f"{event.get('type')} {event.get('reason')} {obj.get('kind', '')}/{obj.get('name', '')}: "
        f"{event.get('message', '')}",
        limit,
    )


def _event_time(event: dict[str, Any]) -> dt.datetime | None:
    value = (
        event.get("lastTimestamp")
        or event.get("eventTime")
        or event.get("firstTimestamp")
        or (event.get("metadata") or {}).get("creationTimestamp")
    )
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _pod_summary(pod: dict[str, Any], limit: int) -> dict[str, Any]:
    status = pod.get("status") or {}
    reasons = []
    for cs in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
        for key in ("state", "lastState"):
            for kind, detail in (cs.get(key) or {}).items():
                if isinstance(detail, dict) and detail.get("reason"):
                    reasons.append(f"{kind} {detail['reason']}: {_cut(detail.get('message', ''), limit)}")
    conditions = [
        f"{c.get('type')}={c.get('status')}"
        + (f" ({c.get('reason')}: {_cut(c.get('message', ''), limit)})" if c.get("reason") else "")
        for c in status.get("conditions") or []
    ]
    return {
        "name": pod["metadata"]["name"],
        "namespace": pod["metadata"].get("namespace", ""),
        "phase": status.get("phase"),
        "node": (pod.get("spec") or {}).get("nodeName"),
        "conditions": conditions,
        "reasons": reasons,
        "restarts": sum(int(cs.get("restartCount") or 0) for cs in status.get("containerStatuses") or []),
    }


async def _logs(kube: KubeClient, pod: dict[str, Any], limits: EvidenceLimits) -> dict[str, str]:
    """Log tails of the pod's first container, and of its previous instance when it restarted."""
    meta = pod["metadata"]
    path = f"/api/v1/namespaces/{meta.get('namespace')}/pods/{meta['name']}/log"
    out: dict[str, str] = {}
    tail = {"tailLines": 200, "limitBytes": limits.max_log_chars * 4}
    for key, extra in (("logs", {}), ("previous_logs", {"previous": "true"})):
        try:
            text = await kube.request("GET", path, params={**tail, **extra}, timeout=limits.request_seconds)
        except KubeError:
            continue
        if text:
            out[key] = str(text)[-limits.max_log_chars :]
    return out


async def _collect(  # noqa: PLR0917
    kube: KubeClient,
    run_id: str,
    namespaces: tuple[str, ...],
    pod_runner: bool,
    limits: EvidenceLimits,
    now: dt.datetime,
    found: dict[str, Any],
) -> None:
    """Fills ``found`` as it goes, so what was gathered before the budget ran out is kept."""
    facts: dict[str, Any] = found["facts"]
    gaps: list[str] = found["gaps"]
    short = short_id(run_id)
    # 1. component health first: it tells a cluster that does not answer from one that is down
    components = await component_evidence(kube, now, limits.request_seconds)
    if components.get("unreachable"):
        raise KubeConnectionError(str(components.get("error", "the API server does not answer")))
    facts.update(components)
    if components.get("apiserver_answer") == TIMED_OUT or components.get("etcd_healthy") is False:
        # every read below would wait out its timeout: a hung API server, or etcd behind it
        found["gaps"].append(
            f"the API server cannot serve reads ({components.get('readyz_failed', TIMED_OUT)})"
        )
        return
    # 2. the run's pods, wherever they are (the pod runner's and the ones the case made)
    try:
        pods = (
            await kube.request(
                "GET",
                "/api/v1/pods",
                params={"labelSelector": f"{RUN_LABEL}={run_id}", "limit": limits.max_items},
                timeout=limits.request_seconds,
            )
        ).get("items") or []
    except KubeError as exc:  # a timeout too: the API server answered the health checks above
        gaps.append(f"pods: {exc}")
        pods = []
    found["pods"] = [_pod_summary(p, limits.max_text) for p in pods[: limits.max_items]]
    facts["run_pod_reasons"] = sorted(
        {r.split(":")[0].split(" ", 1)[1] for p in found["pods"] for r in p["reasons"]}
    )
    if pod_runner:
        for pod in pods:
            if pod["metadata"]["name"] == f"kp-run-{short}":
                found.update(await _logs(kube, pod, limits))
    nodes_of_run = {p["node"] for p in found["pods"] if p["node"]}
    listed = set(facts.get("not_ready_nodes") or []) | set(facts.get("pressured_nodes") or []) | nodes_of_run
    node_info = []
    for name in sorted(listed)[: limits.max_items]:
        try:
            node = await kube.request("GET", f"/api/v1/nodes/{name}", timeout=limits.request_seconds)
        except KubeError:
            continue
        node_info.append(
            {
                "name": name,
                "conditions": [
                    f"{c.get('type')}={c.get('status')} ({c.get('reason', '')})"
                    for c in (node.get("status") or {}).get("conditions") or []
                ],
                "taints": [
                    f"{t.get('key')}:{t.get('effect')}" for t in (node.get("spec") or {}).get("taints") or []
                ],
            }
        )
    found["nodes"] = node_info
    # 3. events of the run's objects, and recent warnings in its namespaces
    run_events: list[str] = []
    warnings: list[str] = []
    reasons: set[str] = set()
    for ns in namespaces:
        try:
            items = (
                await kube.request(
                    "GET",
                    f"/api/v1/namespaces/{ns}/events",
                    params={"limit": 500},
                    timeout=limits.request_seconds,
                )
            ).get("items") or []
        except KubeError as exc:
            gaps.append(f"events in {ns}: {exc}")
            continue
        for event in items:
            name = (event.get("involvedObject") or {}).get("name", "")
            if short in name:
                run_events.append(_event_text(event, limits.max_text))
            elif event.get("type") == "Warning":
                when = _event_time(event)
                # recent, and not from before the run: an older warning is another fault's
                oldest = max(now - dt.timedelta(seconds=limits.warning_window_seconds), found["since"])
                if when is None or when >= oldest:
                    warnings.append(_event_text(event, limits.max_text))
            if event.get("type") == "Warning" and (short in name or event.get("reason")):
                reasons.add(str(event.get("reason")))
    found["run_events"] = run_events[-limits.max_items :]
    found["namespace_warnings"] = warnings[-limits.max_items :]
    facts["warning_reasons"] = sorted(reasons)


async def cluster_evidence(
    kube: KubeClient,
    run_id: str,
    *,
    namespaces: tuple[str, ...] = (SYSTEM_NAMESPACE,),
    pod_runner: bool = False,
    limits: EvidenceLimits | None = None,
    now: dt.datetime | None = None,
    since: dt.datetime | None = None,
) -> dict[str, Any]:
    """What the cluster shows about run ``run_id`` (created at ``since``, when given: namespace
    warnings older than the run are left out); never raises for cluster problems."""
    limits = limits or EvidenceLimits()
    now = now or dt.datetime.now(dt.UTC)
    found: dict[str, Any] = {
        "reachable": True,
        "facts": {},
        "gaps": [],
        "since": since or dt.datetime.min.replace(tzinfo=dt.UTC),
    }
    try:
        async with asyncio.timeout(limits.budget_seconds):
            await _collect(kube, run_id, namespaces, pod_runner, limits, now, found)
    except KubeConnectionError as exc:
        return {"reachable": False, "error": _cut(str(exc), limits.max_text), "facts": {}, "gaps": []}
    except TimeoutError:
        found["gaps"].append(f"evidence budget of {limits.budget_seconds:g}s ran out")
    except KubeError as exc:
        found["gaps"].append(_cut(f"{type(exc).__name__}: {exc}", limits.max_text))
    del found["since"]
    return found


def evidence_events(evidence: dict[str, Any]) -> tuple[str, ...]:
    """Event and state texts worth giving the rules and the classifier alongside the messages."""
    texts = [*evidence.get("run_events", []), *evidence.get("namespace_warnings", [])]
    for pod in evidence.get("pods", []):
        texts += pod.get("reasons", [])
        texts += [c for c in pod.get("conditions", []) if "=False (" in c]
    return tuple(texts[:40])
