"""The center's CLI commands against a real center served over HTTP (SQLite), and a sandbox cluster."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kubeprobe.center.settings import CenterSettings
from kubeprobe.cli.center_client import CenterClientError
from kubeprobe.cli.main import app
from kubeprobe.sandbox.cluster import Sandbox
from tests.center.conftest import ADMIN_TOKEN
from tests.center.helpers import KUBECONFIG
from tests.center.server import running_center

TEMPLATE_YAML = """
name: pod-lifecycle
kind: probe
entry_point: kubeprobe.cases.probes.pod:pod_lifecycle
timeout_seconds: 60
params_schema:
  type: object
  properties:
    replicas: {type: integer, default: 1}
"""


@pytest.fixture(scope="module")
def center(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    data = tmp_path_factory.mktemp("cli-center")
    with running_center(CenterSettings(data_dir=data, admin_token=ADMIN_TOKEN)) as url:
        yield {"KUBEPROBE_URL": url, "KUBEPROBE_TOKEN": ADMIN_TOKEN}


def run(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.output


def test_configure_and_read(center: dict[str, str], tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    template = tmp_path / "template.yaml"
    template.write_text(TEMPLATE_YAML)

    add = ("cluster", "add", "c1", "--kubeconfig", str(kubeconfig), "--label", "env=prod", "--no-check")
    out = run(center, *add)
    assert "c1" in out
    assert "env=prod" in out
    run(center, "template", "add", "-f", str(template))
    run(center, "case", "add", "pod3", "--template", "pod-lifecycle", "--param", "replicas=3")
    run(center, "suite", "add", "basic", "--case", "pod3")
    run(center, "group", "add", "prod", "--selector", "env=prod")
    bind = ("bind", "basic-prod", "--suite", "basic", "--group", "prod", "--every", "5m", "--jitter", "30s")
    out = run(center, *bind)
    assert "300" in out
    shown = json.loads(run(center, "binding", "show", "basic-prod", "-o", "json"))
    assert shown["error"] is None  # why the scheduler skips it, were it skipped
    assert [b["name"] for b in json.loads(run(center, "binding", "list", "-o", "json"))] == ["basic-prod"]
    assert "bas" in run(center, "binding", "list")  # a table (as wide as the terminal)

    clusters = json.loads(run(center, "cluster", "list", "-o", "json"))
    assert [c["name"] for c in clusters] == ["c1"]
    assert "kubeconfig" not in clusters[0]
    cases = json.loads(run(center, "case", "list", "-o", "json"))
    assert cases[0]["params"] == {"replicas": 3}

    token = run(center, "token", "create", "--role", "viewer").strip().splitlines()[-1]
    assert token.startswith("kp_")
    viewer = dict(center, KUBEPROBE_TOKEN=token)
    assert "c1" in run(viewer, "cluster", "list")
    with pytest.raises(CenterClientError, match="403"):
        run(viewer, "suite", "add", "other", "--case", "pod3")

    assert json.loads(run(center, "runs", "list", "-o", "json")) == []


def test_bad_input_is_a_message_not_a_traceback(center: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(CenterClientError, match=r"params\.replica: .*allowed: replicas"):
        run(center, "case", "add", "bad", "--template", "pod-lifecycle", "--param", "replica=3")
    broken = tmp_path / "broken"
    broken.write_text("clusters: []\n")
    env = {**os.environ, **center}
    proc = subprocess.run(
        [sys.executable, "-m", "kubeprobe.cli.main", "cluster", "add", "x", "--kubeconfig", str(broken)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 1
    assert "error:" in proc.stderr
    assert "Traceback" not in proc.stderr
    with pytest.raises(CenterClientError, match="cannot reach the center"):
        run(dict(center, KUBEPROBE_URL="http://127.0.0.1:9"), "runs", "list")


def test_sandbox_cluster_registers_ready_with_health(center: dict[str, str], sandbox: Sandbox) -> None:
    add = ("cluster", "add", "sandbox", "--kubeconfig", str(sandbox.kubeconfig), "-o", "json")
    out = json.loads(run(center, *add))
    assert out["state"] == "ready", out
    assert out["version"].startswith("v1.")
    health = json.loads(run(center, "cluster", "health", "sandbox", "-o", "json"))
    assert health == {"cluster": "sandbox", "state": "ready", "window_hours": 24, "cases": []}
    run(center, "cluster", "delete", "sandbox")
