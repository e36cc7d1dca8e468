"""What every pod KubeProbe creates carries so that it is admitted under Pod Security ``restricted``.

The Helm chart labels the probes namespace ``kubeprobe-system`` restricted: run pods and the pods
probes create there must run as non-root with no privilege escalation, all capabilities dropped
and the runtime's default seccomp profile. The user id is explicit, so an image whose own user is
root still starts (non-root by a numeric id) instead of failing the kubelet's non-root check.
"""

from __future__ import annotations

from typing import Any, Final

#: ``spec.securityContext`` of a pod.
RESTRICTED_POD: Final[dict[str, Any]] = {
    "runAsNonRoot": True,
    "runAsUser": 65532,
    "runAsGroup": 65532,
    "seccompProfile": {"type": "RuntimeDefault"},
}
#: ``securityContext`` of each container.
RESTRICTED_CONTAINER: Final[dict[str, Any]] = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def restricted(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` (a pod spec) with the restricted security contexts added to it and each container."""
    spec.setdefault("securityContext", dict(RESTRICTED_POD))
    for container in spec.get("containers") or []:
        container.setdefault("securityContext", dict(RESTRICTED_CONTAINER))
    return spec
