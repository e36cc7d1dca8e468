"""Fleet drift, risk-control, backup coverage, inventory and IPAM checks on crafted inputs."""

from __future__ import annotations

from typing import Any

import pytest

from kubeprobe.cases.inspections.catalog.backup import EtcdBackupCheck
from kubeprobe.cases.inspections.catalog.config import ConfigDriftCheck, RiskControlCheck
from kubeprobe.cases.inspections.catalog.inventory import IPAMCheck, NodeInventoryCheck
from kubeprobe.cases.inspections.check import CheckContext
from kubeprobe.cases.inspections.errors import SourceError
from kubeprobe.kube.collect import (
    CONFIGMAPS,
    CRONJOBS,
    DEPLOYMENTS,
    FLOWSCHEMAS,
    JOBS,
    NODES,
    PODS,
    SERVICES,
    VALIDATING_WEBHOOKS,
)
from tests.cases.inspections.crafted import NOW, make, names, obj, run, ts

LABEL = "kubeprobe.io/etcd-backup"


def fingerprint(flow_spec: dict[str, Any], image: str) -> dict[str, str]:
    check = make(ConfigDriftCheck)
    assert isinstance(check, ConfigDriftCheck)
    hook = {
        "name": "h",
        "clientConfig": {"service": {"namespace": "sys", "name": "hook"}, "caBundle": "per-cluster"},
    }
    template = {"metadata": {"labels": {"app": "hook"}}, "spec": {"containers": [{"image": image}]}}
    run(
        check,
        [
            (FLOWSCHEMAS, obj("limits", None, spec=flow_spec)),
            (VALIDATING_WEBHOOKS, obj("policy", None, webhooks=[hook])),
            (SERVICES, obj("hook", "sys", spec={"selector": {"app": "hook"}})),
            (DEPLOYMENTS, obj("hook", "sys", spec={"template": template})),
        ],
    )
    return check.fingerprint()


def test_drift_against_majority_and_baseline() -> None:
    ctx = CheckContext(cluster="fleet", now=NOW)
    prints = {
        "a": fingerprint({"priority": 100}, "hook:1"),
        "b": fingerprint({"priority": 100}, "hook:1"),
        "c": fingerprint({"priority": 500}, "hook:2"),
    }
    assert prints["a"] == prints["b"]  # caBundles differ per cluster and do not count
    found = ConfigDriftCheck.compare(prints, None, ctx)
    assert {(f.cluster, f.details["key"]) for f in found} == {
        ("c", "FlowSchema/limits"),
        ("c", "ValidatingWebhookConfiguration/policy#images"),
    }
    against_c = ConfigDriftCheck.compare(prints, "c", ctx)
    assert {f.cluster for f in against_c} == {"a", "b"}
    prints["d"] = {}
    missing = [f for f in ConfigDriftCheck.compare(prints, "a", ctx) if f.cluster == "d"]
    assert {f.details["value"] for f in missing} == {"<missing>"}


def test_risk_control_missing() -> None:
    check = make(RiskControlCheck)
    assert isinstance(check, RiskControlCheck)
    check.objects = {"ConfigMap/kube-system/limits": None, "FlowSchema/exempt": {"spec": {}}}
    [found] = run(check, [])
    assert found.object
    assert (found.object.kind, found.object.namespace, found.object.name) == (
        "ConfigMap",
        "kube-system",
        "limits",
    )


def test_backup_coverage() -> None:
    labelled = {"labels": {LABEL: "true"}}
    assert "no etcd backup" in run(EtcdBackupCheck, [])[0].message
    recent = obj("backup", metadata=labelled, status={"lastSuccessfulTime": ts(3600)})
    assert run(EtcdBackupCheck, [(CRONJOBS, recent)]) == []
    stale = obj("backup", metadata=labelled, status={"lastSuccessfulTime": ts(5 * 86400)})
    assert "old" in run(EtcdBackupCheck, [(CRONJOBS, stale)])[0].message
    never = obj("backup", metadata=labelled, status={})
    assert "none has succeeded" in run(EtcdBackupCheck, [(CRONJOBS, never)])[0].message
    job = obj("run-1", metadata=labelled, status={"succeeded": 1, "completionTime": ts(600)})
    record = obj("rec", metadata={**labelled, "annotations": {"kubeprobe.io/backup-time": ts(60)}})
    assert run(EtcdBackupCheck, [(JOBS, job), (CONFIGMAPS, record), (CRONJOBS, stale)]) == []
    unlabelled = obj("other", status={"lastSuccessfulTime": ts(60)})
    assert len(run(EtcdBackupCheck, [(CRONJOBS, unlabelled)])) == 1


def test_node_inventory() -> None:
    check = make(NodeInventoryCheck)
    assert isinstance(check, NodeInventoryCheck)
    check.set_rows([{"name": "n1"}, {"hostname": "n2"}, {"node": "planned"}])
    found = run(check, [(NODES, obj("n1", None)), (NODES, obj("n2", None)), (NODES, obj("stray", None))])
    assert {(f.object.name, f.details["side"]) for f in found if f.object} == {
        ("stray", "cluster"),
        ("planned", "inventory"),
    }
    with pytest.raises(SourceError, match="no name"):
        make(NodeInventoryCheck).set_rows([{"serial": "123"}])  # type: ignore[attr-defined]


def test_ipam() -> None:
    check = make(IPAMCheck)
    assert isinstance(check, IPAMCheck)
    check.set_rows(
        [
            {"ip": "10.0.0.1", "namespace": "default", "pod": "a"},
            {"ip": "10.0.0.2", "namespace": "default", "pod": "someone-else"},
            {"ip": "10.0.0.9", "namespace": "default", "pod": "gone"},
        ]
    )

    def pod(name: str, ip: str) -> dict[str, Any]:
        return obj(name, status={"phase": "Running", "podIPs": [{"ip": ip}]})

    found = run(
        check, [(PODS, pod("a", "10.0.0.1")), (PODS, pod("b", "10.0.0.2")), (PODS, pod("c", "10.0.0.3"))]
    )
    assert names(found) == ["b", "c", "gone"]
    with pytest.raises(SourceError, match="no ip"):
        make(IPAMCheck).set_rows([{"pod": "x"}])  # type: ignore[attr-defined]
