"""The RemedyOperation contract: how the center asks a node agent for a node-level action.

A RemedyOperation is a cluster-scoped object of the target cluster (CRD
``remedyoperations.kubeprobe.io``, shipped in the operator chart) that names one node and one
action. The node agent on that node (:mod:`kubeprobe.remedy.agent`) carries it out once and
writes the outcome to the status subresource; the object stays, so an action is visible in the
cluster (``kubectl get remedyoperations``) and survives a center outage.

    apiVersion: kubeprobe.io/v1
    kind: RemedyOperation
    metadata: {name: remediation-12-restart-kubelet-3f9a1c}
    spec: {nodeName: node-3, action: restart-kubelet, timeoutSeconds: 120,
           reason: "incident 7: node.not_ready", remediation: remediation-12}
    status: {phase: Succeeded, message: "...", startedAt: ..., finishedAt: ...,
             observedGeneration: 1, agent: kubeprobe-node-agent-x7k2p}

Phases: ``Pending`` (no status yet) → ``Running`` → ``Succeeded`` | ``Failed`` | ``Refused``.
The last three are terminal: an agent never acts on them again. ``Refused`` means the agent did
not act at all (unknown action, another node, malformed spec) and its message says why.

The CRD's schema validates at the API server (action enum, node name pattern, bounded strings,
an immutable spec); :func:`parse` validates again in the agent, because an object is input from
the cluster and a CRD installed by hand may lack the schema.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

GROUP, VERSION, PLURAL, KIND = "kubeprobe.io", "v1", "remedyoperations", "RemedyOperation"
CRD_NAME = f"{PLURAL}.{GROUP}"
API_VERSION = f"{GROUP}/{VERSION}"
COLLECTION = f"/apis/{GROUP}/{VERSION}/{PLURAL}"
#: action → the node component it restarts.
ACTIONS = {
    "restart-kubelet": "kubelet",
    "restart-container-runtime": "container-runtime",
    "restart-kube-proxy": "kube-proxy",
}
COMPONENTS = tuple(ACTIONS.values())
PENDING, RUNNING, SUCCEEDED, FAILED, REFUSED = "Pending", "Running", "Succeeded", "Failed", "Refused"
TERMINAL = frozenset({SUCCEEDED, FAILED, REFUSED})
#: Bounds the agent holds an object to (the CRD's schema states the same).
MAX_NAME, MAX_REASON, MAX_MESSAGE = 253, 1024, 2048
TIMEOUT_RANGE = (1, 900)
DEFAULT_TIMEOUT = 120
NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class OperationRefused(ValueError):
    """The object is not one this agent carries out; the message says why."""


@dataclass(frozen=True)
class Operation:
    """A validated RemedyOperation for this agent's node."""

    name: str
    uid: str
    node: str
    action: str
    timeout_seconds: int
    generation: int
    resource_version: str
    reason: str = ""
    remediation: str = ""

    @property
    def component(self) -> str:
        return ACTIONS[self.action]


def path(name: str) -> str:
    return f"{COLLECTION}/{name}"


def phase_of(obj: dict[str, Any]) -> str:
    status = obj.get("status")
    phase = status.get("phase") if isinstance(status, dict) else None
    return phase if isinstance(phase, str) and phase else PENDING


def _bounded(spec: dict[str, Any], key: str, limit: int, *, required: bool = False) -> str:
    value = spec.get(key, "")
    if not isinstance(value, str):
        raise OperationRefused(f"spec.{key} must be a string")
    if required and not value:
        raise OperationRefused(f"spec.{key} is required")
    if len(value) > limit:
        raise OperationRefused(f"spec.{key} is {len(value)} characters long; at most {limit}")
    return value


def parse(obj: Any, node: str) -> Operation:
    """The operation in ``obj`` if this agent (on ``node``) may carry it out; else OperationRefused."""
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    spec = obj.get("spec") if isinstance(obj, dict) else None
    if not isinstance(meta, dict) or not isinstance(spec, dict):
        raise OperationRefused("not a RemedyOperation: metadata and spec must be objects")
    unknown = sorted(set(spec) - {"nodeName", "action", "timeoutSeconds", "reason", "remediation"})
    if unknown:
        raise OperationRefused(f"unknown spec field(s) {', '.join(k[:64] for k in unknown[:5])}")
    target = _bounded(spec, "nodeName", MAX_NAME, required=True)
    if target != node:
        raise OperationRefused(f"spec.nodeName {target[:64]!r} is not this agent's node {node!r}")
    action = _bounded(spec, "action", 64, required=True)
    if action not in ACTIONS:
        raise OperationRefused(
            f"unknown action {action[:64]!r}; this agent carries out only: {', '.join(ACTIONS)}"
        )
    timeout = spec.get("timeoutSeconds", DEFAULT_TIMEOUT)
    low, high = TIMEOUT_RANGE
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not low <= timeout <= high:
        raise OperationRefused(f"spec.timeoutSeconds must be a whole number from {low} to {high}")
    return Operation(
        name=str(meta.get("name", ""))[:MAX_NAME],
        uid=str(meta.get("uid", "")),
        node=node,
        action=action,
        timeout_seconds=timeout,
        generation=int(meta.get("generation") or 1),
        resource_version=str(meta.get("resourceVersion", "")),
        reason=_bounded(spec, "reason", MAX_REASON),
        remediation=_bounded(spec, "remediation", MAX_NAME),
    )


def operation_name(remediation: str, action: str, nonce: str) -> str:
    """The remediation, the action and a nonce: remediation ids are a center's own (another center,
    or this one reinstalled, counts from 1 again), so the name alone must not find an old object."""
    base = re.sub(r"[^a-z0-9-]+", "-", remediation.lower()).strip("-")[:200] or "kubeprobe"
    return f"{base}-{action}-{nonce}"


def of_remediation(items: list[dict[str, Any]], remediation: str) -> list[dict[str, Any]]:
    """The operations of one remediation (``spec.remediation``) among ``items``."""
    return [o for o in items if (o.get("spec") or {}).get("remediation") == remediation]


def operation_body(
    node: str,
    action: str,
    *,
    remediation: str,
    nonce: str,
    reason: str = "",
    timeout_seconds: int = DEFAULT_TIMEOUT,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The RemedyOperation the center creates for ``action`` on ``node``."""
    if action not in ACTIONS:
        raise OperationRefused(f"unknown action {action!r}; known: {', '.join(ACTIONS)}")
    low, high = TIMEOUT_RANGE
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": operation_name(remediation, action, nonce),
            "labels": {"app.kubernetes.io/managed-by": "kubeprobe"},
            "annotations": dict(annotations or {}),
        },
        "spec": {
            "nodeName": node,
            "action": action,
            "timeoutSeconds": max(low, min(high, int(timeout_seconds))),
            "reason": reason[:MAX_REASON],
            "remediation": remediation[:MAX_NAME],
        },
    }


def now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
