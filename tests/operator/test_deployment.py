"""The operator as its Deployment runs it. There is no container runtime here, so: the Deployment,
the Dockerfile and scripts/build-image must agree (image tag, entrypoint + args), and the
container's exact command line and environment run as a process with the pod's in-cluster
identity (service-account token and CA in a folder, KUBERNETES_SERVICE_HOST/PORT, the manifests'
ServiceAccount and ClusterRole), watching every namespace as deployed, and reconcile ProbeConfigs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from kubeprobe.kube.client import KubeClient, resource_path
from kubeprobe.kube.config import load_kubeconfig
from kubeprobe.kube.waiting import wait_for
from kubeprobe.operator.install import MANIFESTS, install, manifest
from kubeprobe.sandbox.cluster import Sandbox
from tests.operator.conftest import ADMIN_TOKEN, CLUSTER, CenterServer
from tests.operator.operator_process import (
    OperatorProcess,
    create_config,
    drop_finalizers,
    get_config,
    probe_config,
)

ROOT = Path(__file__).resolve().parents[2]


def container() -> dict[str, Any]:
    (deployment,) = manifest("deployment.yaml")
    (c,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(c)


def entrypoint() -> list[str]:
    text = (ROOT / "Dockerfile").read_text()
    found = re.search(r"^ENTRYPOINT (\[.*\])$", text, re.MULTILINE)
    assert found, "the Dockerfile has no exec-form ENTRYPOINT"
    return list(json.loads(found.group(1)))


def test_image_entrypoint_and_args_agree_with_the_dockerfile_and_build_script() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    tag = subprocess.run(
        ["bash", str(ROOT / "scripts" / "build-image"), "--tag"], capture_output=True, text=True, check=True
    ).stdout.strip()
    c = container()
    assert c["image"] == tag == f"kubeprobe/kubeprobe:{version}"
    assert "command" not in c  # the image's ENTRYPOINT runs, with the Deployment's args
    assert entrypoint() == ["kubeprobe"]
    assert c["args"][:2] == ["operator", "run"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^RUN pip install .* \.( |$)", dockerfile, re.MULTILINE), "installs the package"
    # The buffer is written where the Deployment mounts its volume.
    (mount,) = (m for m in c["volumeMounts"] if m["name"] == "buffer")
    assert c["args"][c["args"].index("--buffer") + 1].startswith(mount["mountPath"] + "/")


def test_build_script_without_a_container_tool_says_what_is_missing(tmp_path: Path) -> None:
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin"}
    for tool in ("docker", "podman"):
        if any((Path(d) / tool).exists() for d in ("/usr/bin", "/bin")):
            return  # this machine has one on the fixed PATH: nothing to check here
    got = subprocess.run(
        ["bash", str(ROOT / "scripts" / "build-image")], capture_output=True, text=True, env=env, check=False
    )
    assert got.returncode == 1
    assert "needs docker or podman" in got.stderr


def pod_env(c: dict[str, Any], *, pod: str, center: CenterServer) -> dict[str, str]:
    """The container's environment as the kubelet would give it; the values a user sets for their
    cluster (name, center URL, the Secret's token) point at the test's center."""
    env: dict[str, str] = {}
    for item in c["env"]:
        name = item["name"]
        if "value" in item:
            env[name] = str(item["value"])
        elif "fieldRef" in item["valueFrom"]:
            assert item["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
            env[name] = pod
        else:
            assert item["valueFrom"]["secretKeyRef"]["key"] == "center-token"
            env[name] = ADMIN_TOKEN
    assert {"KUBEPROBE_OPERATOR_CLUSTER", "KUBEPROBE_OPERATOR_CENTER_URL"} <= env.keys()
    env["KUBEPROBE_OPERATOR_CLUSTER"] = CLUSTER
    env["KUBEPROBE_OPERATOR_CENTER_URL"] = center.url
    return env


async def test_the_deployments_container_runs_in_cluster_and_reconciles(
    sandbox: Sandbox, crd: KubeClient, namespace: str, center: CenterServer, tmp_path: Path
) -> None:
    kube = crd
    await install(kube, MANIFESTS)  # with the Deployment: the API server accepts every manifest
    deployment = resource_path("apps/v1", "deployments", "kubeprobe-system", "kubeprobe-operator")
    got = await kube.get(deployment)
    assert got["spec"]["replicas"] == 2
    await kube.patch(deployment, {"spec": {"replicas": 0}})  # pods never run in the sandbox
    sa_name = got["spec"]["template"]["spec"]["serviceAccountName"]
    token = await kube.create(
        resource_path("v1", "serviceaccounts", "kubeprobe-system", sa_name, "token"),
        {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": 3600},
        },
    )
    sa = tmp_path / "serviceaccount"  # what the kubelet mounts at /var/run/secrets/kubernetes.io/...
    sa.mkdir()
    (sa / "token").write_text(token["status"]["token"])
    conn = load_kubeconfig(sandbox.kubeconfig)
    assert conn.ca_pem
    (sa / "ca.crt").write_bytes(conn.ca_pem)
    host, port = conn.server.removeprefix("https://").rsplit(":", 1)

    c = container()
    (mount,) = (m for m in c["volumeMounts"] if m["name"] == "buffer")
    volume = tmp_path / "volume"  # the emptyDir
    volume.mkdir()
    args = [a.replace(mount["mountPath"], str(volume)) for a in c["args"]]
    kubeprobe = Path(sys.executable).with_name(entrypoint()[0])
    op = OperatorProcess(
        Path("/nonexistent"), center, volume / "unused.db", tmp_path / "op.log", namespace=namespace
    )
    op.args = [str(kubeprobe), *args, "--verbose"]
    op.env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("KUBECONFIG", "KUBEPROBE_"))},
        **pod_env(c, pod="kubeprobe-operator-7d9f-abcde", center=center),
        "KUBEPROBE_SERVICE_ACCOUNT_DIR": str(sa),
        "KUBERNETES_SERVICE_HOST": host,
        "KUBERNETES_SERVICE_PORT": port,
    }
    op.start()
    try:
        for name, probe in (("read", "apiserver-read"), ("write", "apiserver-write"), ("watch", "watch")):
            await create_config(
                kube, namespace, probe_config(name, probe, intervalSeconds=1, timeoutSeconds=1)
            )
        for name in ("read", "write", "watch"):
            status = await wait_for(
                lambda name=name: get_config(kube, namespace, name),
                lambda c: (c.get("status") or {}).get("state") == "healthy",
                timeout=150,  # a dead peer of an earlier test may hold the cluster peering a minute
                what=f"{name} healthy as the service account",
            )
            assert status["status"]["probedBy"] == "kubeprobe-operator-7d9f-abcde"
        await wait_for(
            lambda: center.reports(kind="state"),
            lambda r: {x["config"] for x in r} >= {f"{namespace}/{n}" for n in ("read", "write", "watch")},
            timeout=60,
            what="state reports at the center",
        )
        assert (volume / "buffer.db").exists()  # the outbox sits in the Deployment's volume
    finally:
        await op.stop()
        await drop_finalizers(kube, namespace)
    assert "Traceback" not in (tmp_path / "op.log").read_text()
