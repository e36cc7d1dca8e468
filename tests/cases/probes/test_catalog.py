"""Every built-in probe is registered by its module alone and starts from its minimal parameters."""

from __future__ import annotations

from kubeprobe.cases.registry import builtin_registry
from kubeprobe.model import CaseKind

PROBES = {
    "apiserver-probe",
    "canary-release",
    "certificate-probe",
    "deployment-lifecycle",
    "etcd-probe",
    "namespace-lifecycle",
    "node-probe",
    "pod-lifecycle",
    "service-probe",
    "statefulset-lifecycle",
}


def test_every_probe_of_the_issue_is_registered() -> None:
    names = {t.name for t in builtin_registry().all(CaseKind.PROBE)}
    assert names >= PROBES


def test_every_probe_renders_defaults_and_documents_its_parameters() -> None:
    for template in builtin_registry().all(CaseKind.PROBE):
        params = template.render({})
        assert params.model_dump() == template.render(params.model_dump()).model_dump()
        schema = template.param_schema()
        for field, spec in schema.get("properties", {}).items():
            assert spec.get("description"), f"{template.name}: parameter {field} has no description"
        assert template.description
        assert template.entry_point.startswith("kubeprobe.cases.probes.")
