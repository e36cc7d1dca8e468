"""Helm (built once from the Go module proxy) and rendering the charts of deploy/helm."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubeprobe.sandbox.helm import build_helm

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "kubeprobe"
OPERATOR_CHART = CHART / "charts" / "operator"

Helm = Callable[..., subprocess.CompletedProcess[str]]
Render = Callable[..., list[dict[str, Any]]]


@pytest.fixture(scope="session")
def helm_bin() -> Path:
    return build_helm()


@pytest.fixture(scope="session")
def helm(helm_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Helm:
    """Runs helm with its own config and cache folders; ``check`` (default) fails on non-zero."""
    home = tmp_path_factory.mktemp("helm-home")
    env = {
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_DATA_HOME": str(home / "data"),
        "HOME": str(home),  # helm keeps a discovery cache in ~/.kube/cache
        "PATH": "/usr/bin:/bin",
    }

    def run(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(helm_bin), *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
        )
        if check and proc.returncode != 0:
            pytest.fail(f"helm {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        return proc

    return run


@pytest.fixture(scope="session")
def render(helm: Helm) -> Render:
    """The documents ``helm template`` renders for a chart with values files and --set pairs."""

    def run(
        chart: Path = CHART, *, values: tuple[Path, ...] = (), sets: tuple[str, ...] = (), **kw: Any
    ) -> list[dict[str, Any]]:
        args = ["template", "kp", str(chart), "--namespace", "kubeprobe", "--include-crds"]
        for v in values:
            args += ["-f", str(v)]
        for s in sets:
            args += ["--set", s]
        out = helm(*args, **kw).stdout
        return [d for d in yaml.safe_load_all(out) if d]

    return run
