"""Bad input to the sandbox commands gives a clear message and exit 1, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from kubeprobe.sandbox.build import built_dir
from kubeprobe.sandbox.cluster import Sandbox


def kubeprobe(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kubeprobe.cli.main", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        check=False,
    )


def assert_clean_error(proc: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert proc.returncode == 1, proc
    assert "Traceback" not in proc.stderr, proc.stderr
    text = " ".join(proc.stderr.split())  # rich wraps long lines
    for fragment in fragments:
        assert fragment in text, text


def test_build_without_go_says_to_install_it(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    # A PATH with what Python needs but no `go`.
    proc = kubeprobe("sandbox", "build", env={"PATH": str(bindir), "KUBEPROBE_CACHE_DIR": str(tmp_path)})
    assert_clean_error(proc, "Go is not installed", "install Go >= 1.26")


def test_build_failure_names_the_command_and_its_log(tmp_path: Path) -> None:
    # An empty module cache and no proxy: `go mod download` must fail, as with a broken network.
    env = {
        "KUBEPROBE_CACHE_DIR": str(tmp_path / "cache"),
        "GOMODCACHE": str(tmp_path / "modcache"),
        "GOPROXY": "off",
        "GOFLAGS": "-modcacherw",
    }
    proc = kubeprobe("sandbox", "build", env=env)
    log = tmp_path / "cache" / "sandbox" / "logs" / "build-etcd.log"
    assert_clean_error(proc, "building etcd failed", "command: go mod download", f"log: {log}")
    assert log.exists()
    assert built_dir(root=tmp_path / "cache") is None
    shutil.rmtree(tmp_path / "modcache", ignore_errors=True)


@pytest.mark.sandbox
def test_port_in_use_is_named() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        proc = kubeprobe("sandbox", "up", "--name", "busy-port", "--apiserver-port", str(port))
    assert_clean_error(proc, f"port {port} is in use")
    assert not Sandbox("busy-port").exists()


def test_unreadable_sandbox_folder_says_how_to_remove_it() -> None:
    box = Sandbox("broken-folder")
    box.folder.mkdir(parents=True, exist_ok=True)
    (box.folder / "state.json").write_text("{not json")
    try:
        proc = kubeprobe("sandbox", "status", "--name", "broken-folder")
        assert_clean_error(proc, "no readable state.json", "kubeprobe sandbox down --name broken-folder")
        down = kubeprobe("sandbox", "down", "--name", "broken-folder")
        assert down.returncode == 0, down.stderr
        assert not box.folder.exists()
    finally:
        shutil.rmtree(box.folder, ignore_errors=True)


@pytest.mark.sandbox
def test_stale_folder_from_a_crash_is_replaced() -> None:
    """A folder whose processes are gone (machine rebooted, processes killed) does not block `up`."""
    box = Sandbox("stale")
    box.folder.mkdir(parents=True, exist_ok=True)
    (box.folder / "run").mkdir(exist_ok=True)
    argv = {"argv": ["/nonexistent/bin"]}
    state = {
        "name": "stale",
        "ports": {},
        "components": dict.fromkeys(
            ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"), argv
        ),
    }
    (box.folder / "state.json").write_text(json.dumps(state))
    (box.folder / "run" / "etcd.pid").write_text("999999")
    try:
        proc = kubeprobe("sandbox", "up", "--name", "stale", "--nodes", "1")
        assert proc.returncode == 0, proc.stderr
        assert "removing stale sandbox folder" in " ".join(proc.stderr.split())
        assert (
            json.loads(kubeprobe("sandbox", "status", "--name", "stale", "-o", "json").stdout)[0][
                "nodes_ready"
            ]
            == 1
        )
    finally:
        kubeprobe("sandbox", "down", "--name", "stale")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["sandbox", "up", "--name", "Bad_Name"], "invalid sandbox name 'Bad_Name'"),
        (["sandbox", "kubeconfig", "--name", "never-made"], "sandbox 'never-made' does not exist"),
        (["sandbox", "fault", "taint", "kwok-node-0", "no-effect"], "bad taint 'no-effect'"),
        (["sandbox", "fault", "cert-secret", "ns", "s", "--expires-in", "soon"], "bad duration 'soon'"),
    ],
)
def test_bad_arguments(args: list[str], fragment: str) -> None:
    assert_clean_error(kubeprobe(*args), fragment)
