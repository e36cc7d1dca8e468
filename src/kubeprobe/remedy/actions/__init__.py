"""Remediation actions, each a class with a risk tier, preconditions, a dry-run plan, execute,
verify and undo, registered by name in `ACTIONS`.

base.py          RemedyAction, ActionContext (client, fence, token), Plan, the registry, fenced writes
pods.py          pod-delete: a stuck or crash-looping controller-owned pod (reversible)
nodes.py         node-drain: cordon + evict through the Eviction API (disruptive); node-uncordon
nodeagent.py     restart-node-component: kubelet, runtime or kube-proxy via a RemedyOperation (disruptive)
deployments.py   deployment-rollback: back to the previous revision (disruptive)
components.py    control-plane-restart through a supervisor (disruptive, control plane)
"""

from kubeprobe.remedy.actions import components, deployments, nodeagent, nodes, pods
from kubeprobe.remedy.actions.base import ACTIONS, ActionContext, ActionRegistry, Plan, RemedyAction

__all__ = [
    "ACTIONS",
    "ActionContext",
    "ActionRegistry",
    "Plan",
    "RemedyAction",
    "components",
    "deployments",
    "nodeagent",
    "nodes",
    "pods",
]
