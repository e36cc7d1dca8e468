"""Building the sandbox's binaries from the Go module proxy, once per machine.

Each component comes from a small wrapper module shipped in ``gomod/`` with a pinned ``go.sum``.
Output lands in a per-user cache directory keyed by the pinned versions; a finished build is marked
by a manifest file, so a second call builds nothing. A build goes to a ``.partial`` folder first
and is renamed when complete: a crash never leaves a half-built cache that looks finished.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from kubeprobe.sandbox.errors import BuildError, ToolchainError
from kubeprobe.sandbox.versions import COMPONENTS, KWOK_STAGES, MIN_GO, Pins, cache_root

Report = Callable[[str], None]
MANIFEST = "manifest.json"


def _quiet(_: str) -> None:
    return None


def go_version(go: str | None = None) -> tuple[int, int, str]:
    """The local Go's (major, minor, full version); ToolchainError when missing or unusable."""
    exe = go or shutil.which("go")
    if not exe:
        raise ToolchainError(
            "Go is not installed (no `go` on PATH). The sandbox builds etcd, Kubernetes and kwok "
            f"from source: install Go >= {MIN_GO[0]}.{MIN_GO[1]} (https://go.dev/dl/) and retry."
        )
    try:
        out = subprocess.run(
            [exe, "env", "GOVERSION"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
            env={**os.environ, "GOTOOLCHAIN": "local"},
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise ToolchainError(f"`{exe} env GOVERSION` failed: {exc}") from exc
    match = re.match(r"go(\d+)\.(\d+)", out)
    if not match:
        raise ToolchainError(f"cannot read the Go version from {out!r} ({exe})")
    major, minor = int(match.group(1)), int(match.group(2))
    if (major, minor) < MIN_GO:
        raise ToolchainError(
            f"Go {out} is too old: the pinned components need Go >= {MIN_GO[0]}.{MIN_GO[1]}. "
            "Install a newer Go (https://go.dev/dl/) and retry."
        )
    return major, minor, out


def built_dir(pins: Pins | None = None, root: Path | None = None) -> Path | None:
    """The folder of a finished build for these pins, or None."""
    target = (pins or Pins()).bin_dir(root)
    if (target / MANIFEST).is_file() and all((target / c).is_file() for c in COMPONENTS):
        return target
    return None


def _ldflags(module: str, pins: Pins) -> str:
    if module == "kubernetes":
        major, minor = pins.kubernetes.lstrip("v").split(".")[:2]
        pkg = "k8s.io/component-base/version"
        return " ".join(
            [
                "-s -w",
                f"-X {pkg}.gitVersion={pins.kubernetes}",
                f"-X {pkg}.gitMajor={major}",
                f"-X {pkg}.gitMinor={minor}",
                f"-X {pkg}.gitTreeState=clean",
                f"-X {pkg}.buildDate=1970-01-01T00:00:00Z",
                f"-X k8s.io/client-go/pkg/version.gitVersion={pins.kubernetes}",
            ]
        )
    if module == "kwok":
        return f"-s -w -X sigs.k8s.io/kwok/pkg/consts.Version={pins.kwok.lstrip('v')}"
    return "-s -w"


def run_go(component: str, cmd: list[str], cwd: Path, log: Path) -> str:
    """Run a ``go`` command (local toolchain, no cgo, read-only go.mod), appending to ``log``;
    BuildError with the log's last lines when it fails. Returns its stdout."""
    env = {
        **os.environ,
        "GOTOOLCHAIN": "local",
        "CGO_ENABLED": "0",
        "GOFLAGS": "-mod=readonly -buildvcs=false",
    }
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as out:
        out.write(f"$ (cd {cwd} && {' '.join(cmd)})\n")
        out.flush()
        try:
            proc = subprocess.run(
                cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=out, text=True, check=False
            )
        except OSError as exc:
            raise BuildError(component, cmd, log, f"    {exc}") from exc
        out.write(proc.stdout)
    if proc.returncode != 0:
        lines = log.read_text(errors="replace").splitlines()[-15:]
        raise BuildError(component, cmd, log, "\n".join(f"    {ln}" for ln in lines))
    return proc.stdout


def copy_sources(work: Path) -> Path:
    """Copy the wrapper modules out of the package (which may be read-only) to ``work``."""
    if work.exists():
        shutil.rmtree(work)
    src = resources.files("kubeprobe.sandbox") / "gomod"
    with resources.as_file(src) as path:
        shutil.copytree(path, work)
    return work


class Builder:
    """Builds the pinned binaries into the cache, reporting each step through ``report``."""

    def __init__(self, pins: Pins | None = None, root: Path | None = None, report: Report = _quiet) -> None:
        self.pins = pins or Pins()
        self.root = root or cache_root()
        self.report = report
        self.logs = self.root / "sandbox" / "logs"

    def _run(self, component: str, cmd: list[str], cwd: Path, log: Path) -> str:
        return run_go(component, cmd, cwd, log)

    def _sources(self) -> Path:
        return copy_sources(self.root / "sandbox" / "src" / self.pins.key)

    def build(self) -> Path:
        """Build what is missing; return the folder holding the binaries and stage files."""
        done = built_dir(self.pins, self.root)
        if done:
            self.report(f"sandbox binaries are built already ({done})")
            return done
        _, _, gover = go_version()
        work = self._sources()
        target = self.pins.bin_dir(self.root)
        partial = target.with_name(target.name + ".partial")
        if partial.exists():
            shutil.rmtree(partial)
        partial.mkdir(parents=True)
        timings: dict[str, float] = {}
        for module in ("etcd", "kwok", "kubernetes"):
            comps = [c for c, (m, _) in COMPONENTS.items() if m == module]
            pkgs = [
                "." if pkg.startswith("kubeprobe.local/") else pkg
                for c, (m, pkg) in COMPONENTS.items()
                if m == module
            ]
            log = self.logs / f"build-{module}.log"
            log.unlink(missing_ok=True)
            start = time.monotonic()
            self.report(f"downloading Go modules for {', '.join(comps)} (log: {log})")
            self._run(module, ["go", "mod", "download"], work / module, log)
            self.report(f"compiling {', '.join(comps)} (the first build takes minutes; log: {log})")
            out = str(partial / "etcd") if module == "etcd" else str(partial) + "/"
            self._run(
                module,
                [
                    "go",
                    "build",
                    "-trimpath",
                    "-ldflags",
                    _ldflags(module, self.pins),
                    "-o",
                    out,
                    *pkgs,
                ],
                work / module,
                log,
            )
            timings[module] = round(time.monotonic() - start, 1)
        kwok_dir = self._run(
            "kwok",
            ["go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/kwok"],
            work / "kwok",
            self.logs / "build-kwok.log",
        ).strip()
        stages = partial / "stages"
        stages.mkdir()
        for rel in KWOK_STAGES:
            shutil.copy(Path(kwok_dir) / rel, stages / Path(rel).name)
        manifest = {
            "pins": {
                "kubernetes": self.pins.kubernetes,
                "etcd": self.pins.etcd,
                "kwok": self.pins.kwok,
            },
            "go": gover,
            "build_seconds": timings,
        }
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=2))
        if target.exists():
            shutil.rmtree(target)
        partial.rename(target)
        self.report(f"built sandbox binaries in {sum(timings.values()):.0f}s → {target}")
        return target
