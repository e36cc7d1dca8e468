"""Root-cause labels of DESIGN.md. Extend by adding, never by renaming."""

from __future__ import annotations

from typing import Literal, get_args

RootCause = Literal[
    "scheduling.insufficient_resources",
    "scheduling.taints",
    "scheduling.affinity",
    "scheduling.no_nodes",
    "scheduling.scheduler_down",
    "admission.webhook_failure",
    "admission.quota_exceeded",
    "admission.policy_denied",
    "apiserver.unavailable",
    "apiserver.throttled",
    "etcd.unavailable",
    "etcd.quota",
    "node.not_ready",
    "node.pressure",
    "runtime.sandbox_failure",
    "runtime.image_pull",
    "runtime.crash",
    "network.dns",
    "network.connection",
    "controller.stalled",
    "storage.volume",
    "certificate.expired",
    "auth.forbidden",
    "probe.timeout",
    # silence is not health: a binding, cluster or resident probe that stopped reporting
    "staleness.binding",
    "staleness.cluster",
    "staleness.resident",
    "unknown",
]

ROOT_CAUSES: tuple[str, ...] = get_args(RootCause)
