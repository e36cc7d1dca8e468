"""ProbeConfig specs: defaults, validation messages, and the CRD manifest agrees with the code."""

from __future__ import annotations

import pytest

from kubeprobe.operator.install import manifest
from kubeprobe.operator.probes import registry
from kubeprobe.operator.spec import SpecError, parse_spec


def test_defaults() -> None:
    spec = parse_spec("ns", "api", {"probe": "apiserver-read"})
    assert (spec.interval, spec.timeout, spec.rules.failures, spec.rules.window) == (2, 1.5, 2, 3)
    # a run that hangs ends before the next tick (three quarters of the interval, at most 2 s)
    assert parse_spec("ns", "api", {"probe": "etcd", "intervalSeconds": 1}).timeout == 0.75
    assert parse_spec("ns", "api", {"probe": "etcd", "intervalSeconds": 30}).timeout == 2
    assert spec.case_name == "resident-ns-api"


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({}, "spec.probe"),
        ({"probe": "etcd", "intervalSeconds": 0.5}, "intervalSeconds"),
        ({"probe": "etcd", "intervalSeconds": 1, "timeoutSeconds": 2}, "timeoutSeconds"),
        ({"probe": "etcd", "failureRule": {"failures": 9, "window": 3}}, "failure rule"),
        ({"probe": "etcd", "severity": "bad"}, "spec"),
    ],
)
def test_bad_spec_names_the_field(spec: dict[str, object], field: str) -> None:
    with pytest.raises(SpecError, match=field):
        parse_spec("ns", "x", spec)


def test_crd_lists_every_probe_type() -> None:
    (crd,) = manifest("crd.yaml")
    props = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    assert sorted(props["probe"]["enum"]) == registry.names()
    assert crd["spec"]["versions"][0]["subresources"] == {"status": {}}
