"""The Helm charts: `helm lint --strict`, every rendered object valid for the sandbox's Kubernetes
version (kubernetes-validate's schemas, strict: unknown fields fail), and what the chart promises:
restricted pods, PDB from two replicas, default-deny network policy, read-only RBAC unless
remediation is asked for, secrets from an existing Secret, a values schema that keeps `global`."""

from __future__ import annotations

import json
from typing import Any

import kubernetes_validate
import pytest

from kubeprobe.sandbox.versions import KUBERNETES_VERSION
from tests.deploy.conftest import CHART, OPERATOR_CHART, Helm, Render

DEFAULT = CHART / "ci" / "default-values.yaml"
FULL = CHART / "ci" / "full-values.yaml"
OPERATOR_DEFAULT = OPERATOR_CHART / "ci" / "default-values.yaml"
#: Custom resources the schemas do not hold: the fields each must have.
CUSTOM = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): ("selector", "endpoints"),
    ("monitoring.coreos.com/v1", "PrometheusRule"): ("groups",),
    ("kopf.dev/v1", "ClusterKopfPeering"): (),
}
RELEASE = "app.kubernetes.io/instance"


def kinds(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def pod_specs(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    specs = [(f"Pod/{d['metadata']['name']}", d["spec"]) for d in kinds(docs, "Pod")]
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            specs.append((f"{d['kind']}/{d['metadata']['name']}", d["spec"]["template"]["spec"]))
    return specs


def restricted_violations(spec: dict[str, Any]) -> list[str]:
    """What in a pod spec breaks Pod Security `restricted` (the checks that apply to our pods)."""
    pod = spec.get("securityContext") or {}
    bad = []
    for c in spec["containers"] + spec.get("initContainers", []):
        sc = c.get("securityContext") or {}
        name = c["name"]
        if sc.get("allowPrivilegeEscalation") is not False:
            bad.append(f"{name}: allowPrivilegeEscalation must be false")
        if "ALL" not in (sc.get("capabilities") or {}).get("drop", []):
            bad.append(f"{name}: capabilities must drop ALL")
        if not (sc.get("runAsNonRoot") or pod.get("runAsNonRoot")):
            bad.append(f"{name}: runAsNonRoot")
        seccomp = (sc.get("seccompProfile") or pod.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            bad.append(f"{name}: seccompProfile RuntimeDefault")
        if sc.get("readOnlyRootFilesystem") is not True:
            bad.append(f"{name}: readOnlyRootFilesystem (our own rule, not restricted's)")
    if spec.get("hostNetwork") or spec.get("hostPID") or spec.get("hostIPC"):
        bad.append("host namespaces")
    return bad


def validate(docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        key = (doc["apiVersion"], doc["kind"])
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        if key in CUSTOM:
            assert all(f in doc["spec"] for f in CUSTOM[key]), where
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{where} is not valid for Kubernetes {KUBERNETES_VERSION}: {exc.message}")


def test_lint_strict(helm: Helm) -> None:
    for values in (DEFAULT, FULL):
        helm("lint", "--strict", str(CHART), "-f", str(values))
    helm("lint", "--strict", str(OPERATOR_CHART), "-f", str(OPERATOR_DEFAULT))


@pytest.mark.parametrize(
    ("chart", "values"), [(CHART, DEFAULT), (CHART, FULL), (OPERATOR_CHART, OPERATOR_DEFAULT)]
)
def test_every_object_is_valid_for_the_sandbox_version(render: Render, chart: Any, values: Any) -> None:
    docs = render(chart, values=(values,))
    assert docs
    validate(docs)
    for where, spec in pod_specs(docs):
        assert restricted_violations(spec) == [], where


def test_center_defaults(render: Render) -> None:
    docs = render(values=(DEFAULT,))
    (deploy,) = kinds(docs, "Deployment")
    pod = deploy["spec"]["template"]["spec"]
    (center,) = pod["containers"]
    assert center["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert center["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert center["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert center["resources"]["requests"]
    assert center["resources"]["limits"]
    assert pod["automountServiceAccountToken"] is False
    env = {e["name"]: e for e in center["env"]}
    for name, key in (
        ("KUBEPROBE_DATABASE_URL", "database-url"),
        ("KUBEPROBE_SECRET_KEY", "secret-key"),
        ("KUBEPROBE_ADMIN_TOKEN", "admin-token"),
    ):
        assert env[name]["valueFrom"]["secretKeyRef"] | {"optional": False} == {
            "name": "kubeprobe-center",
            "key": key,
            "optional": False,
        }, name
    assert kinds(docs, "Secret") == []  # the existing Secret is used, none made
    assert deploy["spec"]["replicas"] == 2
    (pdb,) = kinds(docs, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"] == deploy["spec"]["selector"]["matchLabels"]
    assert kinds(docs, "ServiceMonitor") == kinds(docs, "PrometheusRule") == []
    # No RBAC for the center's own account: it reaches clusters with registered kubeconfigs.
    assert not [d for d in docs if d["apiVersion"].startswith("rbac.")]


def test_one_replica_has_no_pdb(render: Render) -> None:
    docs = render(values=(DEFAULT,), sets=("replicaCount=1",))
    assert kinds(docs, "PodDisruptionBudget") == []


def test_network_policy_denies_by_default_and_allows_what_the_center_needs(render: Render) -> None:
    docs = render(values=(FULL,))
    policies = {d["metadata"]["name"]: d["spec"] for d in kinds(docs, "NetworkPolicy")}
    deny = policies["kp-kubeprobe-default-deny"]
    assert deny == {"podSelector": deny["podSelector"], "policyTypes": ["Ingress", "Egress"]}
    assert deny["podSelector"]["matchLabels"][RELEASE] == "kp"
    center = policies["kp-kubeprobe-center"]
    assert center["ingress"][0]["from"] == [{"ipBlock": {"cidr": "10.0.0.0/8"}}]
    ports = {p["port"] for rule in center["egress"] for p in rule["ports"]}
    assert ports == {53, 5432, 443, 6443}
    assert any(r.get("to") == [{"ipBlock": {"cidr": "10.20.0.0/16"}}] for r in center["egress"])


def test_monitoring_and_smoke_test(render: Render) -> None:
    docs = render(values=(FULL,))
    (monitor,) = kinds(docs, "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["authorization"]["credentials"]["name"] == "kubeprobe-metrics"
    (rule,) = kinds(docs, "PrometheusRule")
    alerts = {r["alert"]: r for r in rule["spec"]["groups"][0]["rules"]}
    assert {"KubeProbeWatchdog", "KubeProbeCenterDown", "KubeProbeResultStale"} <= set(alerts)
    assert "kubeprobe_binding_last_result_age_seconds" in alerts["KubeProbeResultStale"]["expr"]
    assert "2 * kubeprobe_binding_interval_seconds" in alerts["KubeProbeResultStale"]["expr"]
    tests = [d for d in kinds(docs, "Pod") if d["metadata"]["annotations"]["helm.sh/hook"] == "test"]
    assert sorted(d["metadata"]["name"] for d in tests) == [
        "kp-kubeprobe-test-health",
        "kp-kubeprobe-test-smoke",
    ]
    placed = render(values=(FULL,), sets=("nodeSelector.pool=infra", "tolerations[0].key=infra"))
    for test in (d for d in kinds(placed, "Pod") if d["metadata"]["name"].startswith("kp-kubeprobe-test")):
        # where the center runs: on a node that never starts containers a test pod would hang
        assert test["spec"]["nodeSelector"] == {"pool": "infra"}
        assert test["spec"]["tolerations"] == [{"key": "infra"}]
    (smoke,) = (d for d in tests if d["metadata"]["name"].endswith("smoke"))
    assert smoke["spec"]["containers"][0]["args"][:4] == ["run", "apiserver-probe", "--cluster", "prod-east"]
    (secret,) = (s for s in kinds(docs, "Secret") if s["metadata"]["name"] == "kp-kubeprobe-secrets")
    assert set(secret["stringData"]) == {"database-url", "secret-key", "admin-token"}
    (deploy,) = (d for d in kinds(docs, "Deployment") if d["metadata"]["name"] == "kp-kubeprobe")
    env = {e["name"]: e for e in deploy["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["KUBEPROBE_CHAT_MATRIX_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == "matrix-token"
    assert env["KUBEPROBE_PUBLIC_URL"]["value"] == "https://kubeprobe.example.com"


def test_probes_namespace_is_restricted_with_a_quota(render: Render) -> None:
    docs = render(OPERATOR_CHART, values=(OPERATOR_DEFAULT,))
    (ns,) = kinds(docs, "Namespace")
    assert ns["metadata"]["name"] == "kubeprobe-system"
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    (quota,) = kinds(docs, "ResourceQuota")
    assert quota["metadata"]["namespace"] == "kubeprobe-system"
    assert {"pods", "requests.cpu", "requests.memory", "limits.memory"} <= set(quota["spec"]["hard"])
    assert kinds(docs, "LimitRange")[0]["metadata"]["namespace"] == "kubeprobe-system"
    crds = {d["metadata"]["name"] for d in kinds(docs, "CustomResourceDefinition")}
    assert crds == {
        "probeconfigs.kubeprobe.io",
        "remedyoperations.kubeprobe.io",
        "clusterkopfpeerings.kopf.dev",
        "kopfpeerings.kopf.dev",
    }
    assert not kinds(docs, "DaemonSet")  # the node agent is opt-in


def test_node_agent_reads_its_operations_and_holds_only_what_a_restart_needs(render: Render) -> None:
    units = "nodeAgent.supervisor.units.real-node-0.kubelet=kubelet-0"
    sets = ("nodeAgent.enabled=true", "nodeAgent.supervisor.runDir=/srv/sandbox/run", units,
            "nodeAgent.apiServer.host=10.0.0.1", "nodeAgent.apiServer.port=6443")  # fmt: skip
    docs = render(OPERATOR_CHART, values=(OPERATOR_DEFAULT,), sets=sets)
    validate(docs)
    (ds,) = kinds(docs, "DaemonSet")
    spec = ds["spec"]["template"]["spec"]
    assert spec["hostPID"]
    assert spec["tolerations"] == [{"operator": "Exists"}]
    (agent,) = spec["containers"]
    assert agent["command"] == ["python3", "-m", "kubeprobe.remedy.agent"]
    assert agent["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["KILL"]}
    assert agent["securityContext"]["readOnlyRootFilesystem"] is True
    assert "privileged" not in agent["securityContext"]
    env = {e["name"]: e.get("value") or e.get("valueFrom") for e in agent["env"]}
    assert json.loads(env["KUBEPROBE_AGENT_SUPERVISOR_UNITS"]) == {"real-node-0": {"kubelet": "kubelet-0"}}
    assert (env["KUBERNETES_SERVICE_HOST"], env["KUBERNETES_SERVICE_PORT"]) == ("10.0.0.1", "6443")
    assert env["KUBEPROBE_AGENT_NODE"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    (mount,) = [v for v in spec["volumes"] if "hostPath" in v]
    assert mount["hostPath"] == {"path": "/srv/sandbox/run", "type": "Directory"}
    (role,) = [r for r in kinds(docs, "ClusterRole") if r["metadata"]["name"].endswith("node-agent")]
    verbs = {
        (g, res, v)
        for r in role["rules"]
        for g in r["apiGroups"]
        for res in r["resources"]
        for v in r["verbs"]
    }
    assert {v for _, res, v in verbs if res == "remedyoperations"} == {"get", "list", "watch"}
    assert {res for _, res, _ in verbs} == {"remedyoperations", "remedyoperations/status"}


def _center_rules(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every rule bound to the center's identity in a target cluster."""
    roles = {(d["kind"], d["metadata"]["name"]): d for d in docs if d["kind"] in ("Role", "ClusterRole")}
    rules = []
    for b in kinds(docs, "RoleBinding") + kinds(docs, "ClusterRoleBinding"):
        if any(s["name"] == "kubeprobe-center" for s in b["subjects"]):
            rules += roles[(b["roleRef"]["kind"], b["roleRef"]["name"])].get("rules", [])
    return rules


def test_center_identity_is_read_only_unless_remediation_is_enabled(render: Render) -> None:
    docs = render(OPERATOR_CHART, values=(OPERATOR_DEFAULT,))
    writes = [r for r in _center_rules(docs) if set(r["verbs"]) - {"get", "list", "watch"}]
    namespaced = {
        b["roleRef"]["name"]
        for b in kinds(docs, "RoleBinding")
        if b["metadata"]["namespace"] == "kubeprobe-system"
    }
    for rule in writes:
        # Writes: only the run objects in the probes namespace, and the named case roles.
        if rule.get("apiGroups") == ["rbac.authorization.k8s.io"]:
            assert rule["resourceNames"]
            assert all(n.startswith("kubeprobe:case:") for n in rule["resourceNames"])
            assert "create" not in rule["verbs"]
        else:
            assert set(rule["resources"]) <= {"pods", "configmaps", "serviceaccounts"}, rule
    assert any(n.endswith("-runs") for n in namespaced)
    assert not any(d["metadata"]["name"].endswith("-remediation") for d in docs)
    with_remedy = render(OPERATOR_CHART, values=(OPERATOR_DEFAULT,), sets=("remediation.enabled=true",))
    verbs = {
        (g, r, v)
        for rule in _center_rules(with_remedy)
        for g in rule.get("apiGroups", [])
        for r in rule.get("resources", [])
        for v in rule["verbs"]
    }
    assert {
        ("", "nodes", "patch"),
        ("", "pods/eviction", "create"),
        ("apps", "deployments", "patch"),
    } <= verbs


def test_values_schema_refuses_unknown_keys_and_keeps_global(helm: Helm) -> None:
    ok = helm("template", "kp", str(CHART), "-f", str(DEFAULT), "--set", "global.anything=1")
    assert ok.returncode == 0
    for bad, says in (
        ("replicaCount=0", "replicaCount"),
        ("replicas=3", "replicas"),
        ("secrets.databaseUrl=mysql://x", "databaseUrl"),
        ("operator.enabled=true,operator.remediation.enable=true", "enable"),
    ):
        proc = helm("template", "kp", str(CHART), "-f", str(DEFAULT), "--set", bad, check=False)
        assert proc.returncode != 0, bad
        assert says in proc.stderr, proc.stderr


def test_without_a_database_url_the_install_is_refused_with_what_to_set(helm: Helm) -> None:
    proc = helm("template", "kp", str(CHART), check=False)
    assert proc.returncode != 0
    assert "secrets.databaseUrl" in proc.stderr
    assert "secrets.existingSecret" in proc.stderr
