"""Built-in cases registered on start: for each template of the case registry, the template and a
case of the same name with its default parameters.

Registration is idempotent: what is stored already is left alone (a user's edits survive a
restart), so every start registers only templates that are new in this version.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from kubeprobe.cases.registry import builtin_registry
from kubeprobe.center.auth import Principal
from kubeprobe.center.schemas.catalog import PolicyRule, TemplateIn
from kubeprobe.center.store import catalog
from kubeprobe.center.store.database import Store
from kubeprobe.model import CaseKind

log = logging.getLogger(__name__)
CENTER = Principal("center", "admin")
_RW = ["get", "list", "watch", "create", "update", "patch", "delete"]
_READ = ["get", "list", "watch"]
#: What the built-in probes do in a cluster (the union over them: they share one anchor scheme).
PROBE_RULES = [
    PolicyRule(apiGroups=[""], resources=["configmaps", "pods", "services", "namespaces"], verbs=_RW),
    PolicyRule(apiGroups=[""], resources=["pods/log", "nodes", "events", "endpoints"], verbs=_READ),
    PolicyRule(apiGroups=[""], resources=["secrets"], verbs=["get"]),
    PolicyRule(apiGroups=["apps"], resources=["deployments", "statefulsets"], verbs=_RW),
    PolicyRule(apiGroups=["apps"], resources=["replicasets"], verbs=_READ),
    PolicyRule(apiGroups=["discovery.k8s.io"], resources=["endpointslices"], verbs=_READ),
    PolicyRule(apiGroups=["coordination.k8s.io"], resources=["leases"], verbs=["get", "list"]),
]
#: Inspections read every resource (the catalog lists each kind once) and write nothing but the
#: run's anchor ConfigMap.
INSPECTION_RULES = [
    PolicyRule(apiGroups=["*"], resources=["*"], verbs=["get", "list"]),
    PolicyRule(apiGroups=[""], resources=["configmaps"], verbs=["create", "delete"]),
]


def builtin_templates() -> list[TemplateIn]:
    """Every template of the built-in case registry, as the center stores templates."""
    return [
        TemplateIn(
            name=t.name,
            kind=t.kind,
            entry_point=t.entry_point,
            image=None,
            params_schema=t.param_schema(),
            timeout_seconds=t.timeout_seconds,
            description=t.description[:4096],
            rbac_rules=PROBE_RULES if t.kind == CaseKind.PROBE else INSPECTION_RULES,
        )
        for t in builtin_registry().all()
    ]


async def register_builtin(store: Store, templates: Iterable[TemplateIn]) -> list[str]:
    """Store the templates (and a default case of each) that are not stored yet; returns new case names."""
    added = await catalog.register_templates(store, templates, CENTER)
    if added:
        log.info("registered built-in cases: %s", ", ".join(added))
    return added
