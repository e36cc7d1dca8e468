"""Which causes follow from which, and what component facts rule out.

A broken component breaks what depends on it: with the API server down the controller-manager
and the scheduler cannot work, kubelets cannot post their status, and every probe times out. Those
are *consequences*: they belong in the incident of their cause, never in one of their own
(:mod:`kubeprobe.alerting.incidents` folds them). ``probe.timeout`` and ``unknown`` name no cause
at all, so they follow from every cause.

A component coming back has consequences of its own (:data:`RECOVERY`): a restarted API server
answers 403 until its authorizer's caches have synced, a resumed one reports its etcd check
failed until its storage connections are re-established, and the clients reconnecting at once
meet its priority-and-fairness limits. Those join the component's incident while it is open, and
for :data:`RECOVERY_S` after it resolved they are recorded only: a cause that is still there after
that is news.
"""

from __future__ import annotations

from typing import Any

#: Not causes: what a failure is called when nothing better is known.
NON_CAUSES = frozenset({"probe.timeout", "unknown"})

#: cause → the causes it brings about (besides the non-causes).
CONSEQUENCES: dict[str, frozenset[str]] = {
    "etcd.unavailable": frozenset(
        {
            "apiserver.unavailable",
            "apiserver.throttled",
            "controller.stalled",
            "scheduling.scheduler_down",
            "network.connection",
            "node.not_ready",
            "staleness.cluster",
        }
    ),
    "etcd.quota": frozenset({"apiserver.unavailable", "controller.stalled", "scheduling.scheduler_down"}),
    "apiserver.unavailable": frozenset(
        {
            "controller.stalled",
            "scheduling.scheduler_down",
            "network.connection",
            "node.not_ready",
            "staleness.cluster",  # a cluster whose API server is down answers nothing
        }
    ),
    "scheduling.scheduler_down": frozenset({"controller.stalled"}),
    "node.not_ready": frozenset({"scheduling.taints", "scheduling.insufficient_resources"}),
    "scheduling.no_nodes": frozenset({"node.not_ready", "scheduling.taints"}),
    "node.pressure": frozenset({"scheduling.taints", "scheduling.insufficient_resources"}),
    # a kubelet whose container runtime is down reports its node NotReady ("container runtime is
    # down", "PLEG is not healthy"): the fault suite's stopped containerd opened both
    "runtime.sandbox_failure": frozenset({"node.not_ready"}),
    # a cluster found silent first: the API server (or etcd) found down later is why, in one incident
    "staleness.cluster": frozenset({"apiserver.unavailable", "etcd.unavailable", "network.connection"}),
}

#: cause → what its component's recovery brings about (see the module).
RECOVERY: dict[str, frozenset[str]] = {
    "apiserver.unavailable": frozenset({"auth.forbidden", "etcd.unavailable", "apiserver.throttled"}),
    "etcd.unavailable": frozenset({"auth.forbidden", "apiserver.throttled"}),
}
#: How long after its incident resolved a recovery consequence is still the component's recovery.
RECOVERY_S = 60.0


def is_consequence(cause: str, of: str) -> bool:
    """Whether a failure named ``cause`` can follow from ``of`` (and so belongs to its incident)."""
    if cause == of:
        return True
    if of in NON_CAUSES:
        return False
    return cause in NON_CAUSES or cause in CONSEQUENCES.get(of, frozenset()) or is_recovery(cause, of)


def is_recovery(cause: str, of: str) -> bool:
    """Whether ``cause`` is what the recovery of ``of``'s component looks like for a while."""
    return cause in RECOVERY.get(of, frozenset())


def ruled_out(facts: dict[str, Any]) -> dict[str, str]:
    """Causes the cluster's component facts speak against, with the fact that does."""
    out: dict[str, str] = {}
    if facts.get("apiserver_ready") is True:
        out["apiserver.unavailable"] = "the API server is ready (/readyz)"
    if facts.get("etcd_healthy") is True:
        out["etcd.unavailable"] = "etcd is healthy (the API server's etcd check passes)"
    stale = facts.get("stale_leases")
    if isinstance(stale, list):
        if "kube-scheduler" not in stale:
            out["scheduling.scheduler_down"] = "the scheduler renews its leader lease"
        if "kube-controller-manager" not in stale:
            out["controller.stalled"] = "the controller-manager renews its leader lease"
    count = facts.get("node_count")
    if isinstance(count, int) and count > 0:
        out["scheduling.no_nodes"] = f"{count} node(s) are registered"
        if facts.get("not_ready_nodes") == []:
            out["node.not_ready"] = "every node is Ready"
        if facts.get("pressured_nodes") == []:
            out["node.pressure"] = "no node reports memory, disk or PID pressure"
    return out


def component_cause(facts: dict[str, Any]) -> tuple[str, str] | None:
    """A control-plane component the facts show down, as (cause, basis): that is the cause of a
    failure at the same time, whatever the failure's own words (they describe its consequences)."""
    if facts.get("etcd_healthy") is False:
        return "etcd.unavailable", "the API server's etcd check fails (/readyz/etcd)"
    if facts.get("apiserver_ready") is False:
        if facts.get("apiserver_answer"):
            return "apiserver.unavailable", "the API server accepts connections but does not answer (/readyz)"
        failed = facts.get("readyz_failed") or "not ready"
        return "apiserver.unavailable", f"the API server is not ready (/readyz: {failed})"
    return None
