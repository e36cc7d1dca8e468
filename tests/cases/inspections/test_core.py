"""Registry, exclusions, settings, sources, outputs and the router, without a cluster."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

import pytest

from kubeprobe.cases.inspections.check import Check
from kubeprobe.cases.inspections.engine import _Router
from kubeprobe.cases.inspections.errors import (
    DuplicateCheckError,
    ExclusionError,
    SettingsError,
    SourceError,
    UnknownCheckError,
)
from kubeprobe.cases.inspections.exclusions import Exclusion, apply, load_exclusions
from kubeprobe.cases.inspections.output import to_json, to_junit
from kubeprobe.cases.inspections.registry import CATALOG, CheckRegistry
from kubeprobe.cases.inspections.report import CheckOutcome, InspectionReport
from kubeprobe.cases.inspections.settings import load_settings
from kubeprobe.cases.inspections.sources import load_rows
from kubeprobe.kube.collect import CONFIGMAPS, NODES, PODS, Need, Sweep
from kubeprobe.model import Finding, ObjectRef, Severity
from tests.cases.inspections.crafted import make, obj


class Demo(Check):
    id = "demo.check"
    title = "demo"
    severity = Severity.LOW
    needs = (Need(PODS),)

    def findings(self, sweep: Sweep) -> Iterable[Finding]:
        return []


class Breaks(Demo):
    id = "demo.breaks"

    def observe(self, resource: object, obj: object) -> None:  # type: ignore[override]
        raise ValueError("bug")


def test_catalog_has_at_least_25_checks_with_unique_ids() -> None:
    ids = [c.id for c in CATALOG]
    assert len(ids) >= 25
    assert len(set(ids)) == len(ids)
    for check in CATALOG:
        assert check.title, check.id
        assert check.hint, check.id


def test_registry_refuses_a_duplicate_id() -> None:
    reg = CheckRegistry()
    reg.register(Demo)
    reg.register(Demo)  # the same class again is harmless

    class Other(Demo):
        pass

    with pytest.raises(DuplicateCheckError, match=r"demo\.check"):
        reg.register(Other)


def test_registry_select() -> None:
    assert {c.id for c in CATALOG.select(["pod.*"])} >= {"pod.crash-looping", "pod.stuck-pending"}
    assert [c.id for c in CATALOG.select(["node.pressure"])] == ["node.pressure"]
    with pytest.raises(UnknownCheckError, match="unknown check 'nope'"):
        CATALOG.select(["nope"])
    with pytest.raises(UnknownCheckError):
        CATALOG.select(["zzz.*"])


def finding(check: str, name: str, namespace: str | None = "ns", **labels: str) -> Finding:
    details = {"labels": labels} if labels else {}
    return Finding(check, Severity.HIGH, ObjectRef("Pod", name, namespace), "m", details=details)


def test_exclusions() -> None:
    rules = [
        Exclusion.parse("check=pod.*,namespace=kube-*"),
        Exclusion.parse("name=canary-*"),
        Exclusion.parse("label=team=infra,check=node.pressure"),
    ]
    items = [
        finding("pod.stuck-pending", "a", "kube-system"),
        finding("pod.stuck-pending", "a", "apps"),
        finding("node.not-ready", "canary-1", None),
        finding("node.pressure", "n", None, team="infra"),
        finding("node.pressure", "m", None, team="apps"),
    ]
    kept, dropped = apply(items, rules)
    assert dropped == 3
    assert [(f.check_id, f.object.name if f.object else "") for f in kept] == [
        ("pod.stuck-pending", "a"),
        ("node.pressure", "m"),
    ]
    for bad in ("", "check", "colour=red", "label=novalue"):
        with pytest.raises(ExclusionError):
            Exclusion.parse(bad)


def test_exclusions_file(tmp_path: Path) -> None:
    file = tmp_path / "ex.yaml"
    file.write_text("- check=owner.missing\n- {namespace: legacy, labels: {app: old}}\n")
    rules = load_exclusions(file)
    assert rules[1].namespace == "legacy"
    assert rules[1].labels == (("app", "old"),)
    file.write_text("{not: a list}")
    with pytest.raises(ExclusionError, match="list"):
        load_exclusions(file)


def test_settings(tmp_path: Path) -> None:
    file = tmp_path / "s.yaml"
    file.write_text("cert_warn_days: 60\n")
    assert load_settings(file, {"ipam": "x.csv"}).cert_warn_days == 60
    file.write_text("cert_warn_days: soon\n")
    with pytest.raises(SettingsError, match="cert_warn_days"):
        load_settings(file)
    file.write_text("colour: red\n")
    with pytest.raises(SettingsError, match="colour"):
        load_settings(file)
    with pytest.raises(SettingsError, match="cannot be read"):
        load_settings(tmp_path / "missing.yaml")


async def test_sources(tmp_path: Path) -> None:
    csv_file = tmp_path / "nodes.csv"
    csv_file.write_text("Name,Rack\nn1,r1\nn2,r2\n")
    assert await load_rows(str(csv_file)) == [{"name": "n1", "rack": "r1"}, {"name": "n2", "rack": "r2"}]
    json_file = tmp_path / "ipam.json"
    json_file.write_text(json.dumps({"items": [{"ip": "10.0.0.1", "pod": "a"}]}))
    assert await load_rows(str(json_file)) == [{"ip": "10.0.0.1", "pod": "a"}]
    json_file.write_text("{broken")
    with pytest.raises(SourceError, match="not valid JSON"):
        await load_rows(str(json_file))
    with pytest.raises(SourceError, match="cannot be read"):
        await load_rows(str(tmp_path / "absent.csv"))
    with pytest.raises(SourceError, match="cannot be fetched"):
        await load_rows("http://127.0.0.1:1/inventory", timeout=2)


def test_router_isolates_a_broken_check() -> None:
    good, bad = make(Demo), make(Breaks)
    router = _Router([good, bad])
    router.visit(PODS, obj("p"))
    router.visit(PODS, obj("q"))
    router.visit(CONFIGMAPS, obj("c"))
    assert list(router.broken) == ["demo.breaks"]
    assert "ValueError: bug" in router.broken["demo.breaks"]
    assert router.targets(NODES) == []


def test_outputs() -> None:
    report = InspectionReport(
        cluster="c1",
        findings=[finding("pod.stuck-pending", "a")],
        outcomes=[
            CheckOutcome("pod.stuck-pending", "Pods stuck Pending", findings=1),
            CheckOutcome("node.pressure", "pressure"),
            CheckOutcome("owner.missing", "owners", error="cannot list"),
            CheckOutcome("ipam.pod-ip-mismatch", "ipam", skipped="no IPAM"),
        ],
    )
    doc = json.loads(to_json([report]))
    assert doc["clusters"][0]["findings"][0]["check_id"] == "pod.stuck-pending"
    root = ET.fromstring(to_junit([report]))
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == (
        "4",
        "1",
        "1",
        "1",
    )
    failure = root.find(".//testcase[@name='pod.stuck-pending']/failure")
    assert failure is not None
    assert "Pod/ns/a" in (failure.text or "")
