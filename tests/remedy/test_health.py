"""NodeHealthView keeps per-pool counts by the difference each watch event makes."""

from __future__ import annotations

from typing import Any

from kubeprobe.remedy.health import NodeHealthView


def node(name: str, pool: str, ready: bool, *, pressure: bool = False) -> dict[str, Any]:
    conditions = [{"type": "Ready", "status": "True" if ready else "False"}]
    conditions.append({"type": "DiskPressure", "status": "True" if pressure else "False"})
    return {
        "metadata": {"name": name, "labels": {"kubeprobe.io/pool": pool}},
        "status": {"conditions": conditions},
    }


def test_counts_follow_added_modified_and_deleted_nodes() -> None:
    view = NodeHealthView(pressure=True)
    view.replace_all([node(f"n{i}", f"p{i % 2}", True) for i in range(10)])
    assert (view.node_count(), view.node_count("p0"), view.unhealthy_count()) == (10, 5, 0)
    view.apply("MODIFIED", node("n0", "p0", False))
    view.apply("MODIFIED", node("n1", "p1", True, pressure=True))
    assert (view.unhealthy_count(), view.unhealthy_count("p0"), view.unhealthy_count("p1")) == (2, 1, 1)
    assert view.is_unhealthy("n0")
    assert not view.is_unhealthy("n2")
    view.apply("MODIFIED", node("n0", "p1", False))  # moved to another pool
    assert (view.node_count("p0"), view.unhealthy_count("p0"), view.unhealthy_count("p1")) == (4, 0, 2)
    view.apply("DELETED", node("n0", "p1", False))
    assert (view.node_count(), view.unhealthy_count()) == (9, 1)
    assert view.pool_of("n3") == "p1"
