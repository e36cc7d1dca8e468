"""Helm, built once per machine from the Go module proxy, for the chart's tests and installs.

Like the sandbox's binaries (:mod:`kubeprobe.sandbox.build`), it comes from a wrapper module in
``gomod/helm`` with a pinned ``go.sum`` and lands in the cache
(``~/.cache/kubeprobe/tools/helm-<version>/helm``). The build goes to a ``.partial`` file that is
renamed when complete, so a crash never leaves a binary that looks finished. ``HELM_BIN`` names a
helm to use instead (it must be the pinned major version).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from importlib import resources
from pathlib import Path

from kubeprobe.sandbox.build import Report, _quiet, go_version
from kubeprobe.sandbox.errors import BuildError
from kubeprobe.sandbox.versions import cache_root

HELM_VERSION = "v4.3.2"
_PACKAGE = "helm.sh/helm/v4/cmd/helm"


def helm_path(root: Path | None = None, version: str = HELM_VERSION) -> Path:
    """Where the pinned helm lives (built or not)."""
    return (root or cache_root()) / "tools" / f"helm-{version}" / "helm"


def build_helm(root: Path | None = None, report: Report = _quiet) -> Path:
    """The pinned helm: ``$HELM_BIN`` when set, the cached build, or a new build (a few minutes)."""
    explicit = os.environ.get("HELM_BIN")
    if explicit:
        return Path(explicit)
    exe = helm_path(root)
    if exe.is_file():
        return exe
    go_version()  # a clear ToolchainError when Go is missing or too old
    base = exe.parent.parent
    work = base / "src" / f"helm-{HELM_VERSION}"
    log = base / "logs" / f"helm-{HELM_VERSION}.log"
    if work.exists():
        shutil.rmtree(work)
    with resources.as_file(resources.files("kubeprobe.sandbox") / "gomod" / "helm") as src:
        shutil.copytree(src, work)
    log.parent.mkdir(parents=True, exist_ok=True)
    exe.parent.mkdir(parents=True, exist_ok=True)
    partial = exe.with_name("helm.partial")
    ldflags = f"-s -w -X helm.sh/helm/v4/internal/version.version={HELM_VERSION}"
    env = {**os.environ, "GOTOOLCHAIN": "local", "CGO_ENABLED": "0"}
    env["GOFLAGS"] = "-mod=readonly -buildvcs=false"
    report(f"building helm {HELM_VERSION} from the Go module proxy (a few minutes; log: {log})")
    with log.open("w") as out:
        for cmd in (
            ["go", "mod", "download"],
            ["go", "build", "-trimpath", "-ldflags", ldflags, "-o", str(partial), _PACKAGE],
        ):
            out.write(f"$ (cd {work} && {' '.join(cmd)})\n")
            out.flush()
            proc = subprocess.run(cmd, cwd=work, env=env, stdout=out, stderr=out, check=False)
            if proc.returncode != 0:
                out.flush()
                tail = "\n".join(f"    {ln}" for ln in log.read_text(errors="replace").splitlines()[-15:])
                raise BuildError("helm", cmd, log, tail)
    partial.rename(exe)
    report(f"built helm {HELM_VERSION} → {exe}")
    return exe
