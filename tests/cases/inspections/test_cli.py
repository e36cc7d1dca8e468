"""`kubeprobe inspect`: outputs, exit codes, and clear errors for bad input (never a finding)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml
from typer.testing import CliRunner

from kubeprobe.cli.main import app
from kubeprobe.sandbox.cluster import Sandbox

runner = CliRunner()


def test_list_checks() -> None:
    result = runner.invoke(app, ["inspect", "--list"])
    assert result.exit_code == 0
    assert "pod.crash-looping" in result.output
    assert "config.drift" in result.output


def test_bad_input_is_an_error(tmp_path: Path) -> None:
    cases = [
        (["inspect", "--sandbox", "x", "--check", "no.such-check"], "unknown check 'no.such-check'"),
        (["inspect", "--kubeconfig", str(tmp_path / "missing")], "cannot be read"),
        (["inspect"], "say which cluster"),
        (["inspect", "--sandbox", "insp-does-not-exist"], "does not exist"),
        (["inspect", "--sandbox", "x", "-o", "yaml"], "unknown output"),
        (["inspect", "--sandbox", "x", "--exclude", "colour=red"], "bad exclusion"),
        (["inspect", "--sandbox", "x", "--fail-on", "dire"], "unknown severity"),
    ]
    for args, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 1, (args, result.output)
        assert message in " ".join(result.output.split()), (args, result.output)


def test_unreachable_cluster_is_an_error_not_a_finding(sandbox: Sandbox, tmp_path: Path) -> None:
    doc = yaml.safe_load(sandbox.kubeconfig.read_text())
    doc["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:1"
    dead = tmp_path / "dead.kubeconfig"
    dead.write_text(yaml.safe_dump(doc))
    result = runner.invoke(app, ["inspect", "--kubeconfig", str(dead), "-o", "json"])
    assert result.exit_code == 1
    assert "cannot reach the API server" in " ".join(result.output.split())
    assert '"findings": [\n' not in result.output or '"check_id"' not in result.output


def test_outputs_against_the_sandbox(sandbox: Sandbox) -> None:
    result = runner.invoke(app, ["inspect", "--sandbox", sandbox.name, "-c", "node.*", "-o", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    [cluster] = doc["clusters"]
    assert cluster["cluster"] == sandbox.name
    assert {c["id"] for c in cluster["checks"]} == {
        "node.not-ready",
        "node.pressure",
        "node.cordoned",
        "node.untolerated-taint",
    }
    junit = runner.invoke(app, ["inspect", "--sandbox", sandbox.name, "-c", "pod.*", "-o", "junit"])
    assert junit.exit_code == 0
    suite = ET.fromstring(junit.output.split("\n", 1)[1]).find("testsuite")
    assert suite is not None
    assert suite.get("tests") == "4"
    table = runner.invoke(app, ["inspect", "--sandbox", sandbox.name, "-c", "etcd.*", "--fail-on", "high"])
    assert table.exit_code == 3  # the sandbox has no etcd backup job: a high finding
    assert "no etcd backup" in " ".join(table.output.split())
    silenced = runner.invoke(
        app,
        [
            "inspect",
            "--sandbox",
            sandbox.name,
            "-c",
            "etcd.*",
            "--fail-on",
            "high",
            "--exclude",
            "check=etcd.*",
        ],
    )
    assert silenced.exit_code == 0
    assert "1 excluded" in silenced.output
