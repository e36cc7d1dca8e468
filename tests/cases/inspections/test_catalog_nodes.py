"""Node checks on crafted nodes."""

from __future__ import annotations

from typing import Any

from kubeprobe.cases.inspections.catalog.nodes import (
    DAEMONSETS,
    NodeCordonedCheck,
    NodeNotReadyCheck,
    NodePressureCheck,
    UntoleratedTaintCheck,
    tolerates,
)
from kubeprobe.kube.collect import NODES, PODS
from tests.cases.inspections.crafted import names, obj, run, ts


def node(name: str, conditions: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    conds = [
        {"type": t, "status": s, "lastTransitionTime": ts(600)}
        for t, s in (conditions or {"Ready": "True"}).items()
    ]
    return obj(name, None, spec=spec, status={"conditions": conds})


def test_not_ready() -> None:
    found = run(
        NodeNotReadyCheck,
        [
            (NODES, node("ok")),
            (NODES, node("down", {"Ready": "False"})),
            (NODES, node("lost", {"Ready": "Unknown"})),
            (NODES, obj("new", None)),
        ],
    )
    assert names(found) == ["down", "lost", "new"]


def test_pressure() -> None:
    found = run(
        NodePressureCheck,
        [
            (NODES, node("mem", {"Ready": "True", "MemoryPressure": "True"})),
            (NODES, node("calm", {"Ready": "True", "MemoryPressure": "False", "DiskPressure": "False"})),
        ],
    )
    assert names(found) == ["mem"]
    assert "MemoryPressure" in found[0].message


def test_cordoned_too_long() -> None:
    def taint(age: float) -> list[dict[str, str]]:
        return [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule", "timeAdded": ts(age)}]

    found = run(
        NodeCordonedCheck,
        [
            (NODES, node("long", unschedulable=True, taints=taint(3 * 86400))),
            (NODES, node("brief", unschedulable=True, taints=taint(60))),
            (NODES, node("open", taints=taint(3 * 86400))),
        ],
    )
    assert names(found) == ["long"]


def test_toleration_rules() -> None:
    taint = {"key": "k", "value": "v", "effect": "NoSchedule"}
    assert tolerates({"key": "k", "operator": "Equal", "value": "v"}, taint)
    assert tolerates({"key": "k", "operator": "Exists", "effect": "NoSchedule"}, taint)
    assert tolerates({"operator": "Exists"}, taint)
    assert not tolerates({"key": "k", "value": "other"}, taint)
    assert not tolerates({"key": "k", "operator": "Exists", "effect": "NoExecute"}, taint)


def test_untolerated_taint() -> None:
    dedicated = [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]
    orphan = [{"key": "nobody", "value": "", "effect": "NoExecute"}]
    system = [{"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}]
    toleration = {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}
    ds_spec = {"template": {"spec": {"tolerations": [{"key": "other", "operator": "Exists"}]}}}
    found = run(
        UntoleratedTaintCheck,
        [
            (NODES, node("gpu", taints=dedicated)),
            (NODES, node("lonely", taints=orphan)),
            (NODES, node("booting", taints=system)),
            (PODS, obj("p", spec={"tolerations": [toleration]})),
            (DAEMONSETS, obj("ds", spec=ds_spec)),
        ],
    )
    assert names(found) == ["lonely"]
    assert "nobody:NoExecute" in found[0].message
