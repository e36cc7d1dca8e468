"""Building the real nodes' binaries from the Go module proxy, once per machine.

kubelet and kube-proxy come from the same ``k8s.io/kubernetes`` module and replaces as the control
plane (``gomod/node``), containerd with ctr and its runc shim from ``gomod/containerd`` (no cgo,
tags ``no_btrfs urfave_cli_no_docs``), CoreDNS from ``gomod/coredns`` (its own ``main.go`` with
only the plugins cluster DNS uses, not CoreDNS's dozens of cloud plugins), and a tiny ``pause`` (the
pod sandbox's process; nodes here cannot pull ``registry.k8s.io/pause``) from ``gomod/pause``.
runc, the CNI plugins, iptables and conntrack are the host's packages (``scripts/real-node-deps``).

Like :mod:`kubeprobe.sandbox.build`: a cache folder keyed by the pins, written to ``.partial``
first and renamed when complete, with a manifest holding each module's build seconds.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from kubeprobe.sandbox.build import MANIFEST, _ldflags, copy_sources, go_version, run_go
from kubeprobe.sandbox.versions import NODE_COMPONENTS, NodePins, Pins, cache_root

Report = Callable[[str], None]
#: Modules in build order (the small ones first, so a broken toolchain shows up quickly).
MODULES = ("pause", "coredns", "containerd", "node")


def _quiet(_: str) -> None:
    return None


def built_node_dir(pins: NodePins | None = None, root: Path | None = None) -> Path | None:
    """The folder of a finished build of the real-node binaries, or None."""
    target = (pins or NodePins()).bin_dir(root)
    if (target / MANIFEST).is_file() and all((target / c).is_file() for c in NODE_COMPONENTS):
        return target
    return None


def node_ldflags(module: str, pins: NodePins) -> str:
    if module == "node":
        return _ldflags("kubernetes", Pins(kubernetes=pins.kubernetes))
    if module == "containerd":
        pkg = "github.com/containerd/containerd/v2/version"
        return f"-s -w -X {pkg}.Version={pins.containerd} -X {pkg}.Revision=kubeprobe-pinned"
    if module == "coredns":
        return "-s -w -X github.com/coredns/coredns/coremain.GitCommit=kubeprobe-pinned"
    return "-s -w"


class NodeBuilder:
    """Builds the pinned real-node binaries into the cache, reporting each step."""

    def __init__(
        self, pins: NodePins | None = None, root: Path | None = None, report: Report = _quiet
    ) -> None:
        self.pins = pins or NodePins()
        self.root = root or cache_root()
        self.report = report
        self.logs = self.root / "sandbox" / "logs"

    def build(self) -> Path:
        """Build what is missing; return the folder holding the binaries."""
        done = built_node_dir(self.pins, self.root)
        if done:
            self.report(f"real-node binaries are built already ({done})")
            return done
        _, _, gover = go_version()
        work = copy_sources(self.root / "sandbox" / "src" / f"node-{self.pins.key}")
        target = self.pins.bin_dir(self.root)
        partial = target.with_name(target.name + ".partial")
        partial.mkdir(parents=True, exist_ok=True)
        timings: dict[str, float] = {}
        for module in MODULES:
            comps = {c: (pkg, tags) for c, (m, pkg, tags) in NODE_COMPONENTS.items() if m == module}
            if all((partial / c).is_file() for c in comps):
                continue  # built by an interrupted earlier call
            log = self.logs / f"build-node-{module}.log"
            log.unlink(missing_ok=True)
            start = time.monotonic()
            if module != "pause":
                self.report(f"downloading Go modules for {', '.join(comps)} (log: {log})")
                run_go(module, ["go", "mod", "download"], work / module, log)
            self.report(f"compiling {', '.join(comps)} (the first build takes minutes; log: {log})")
            by_tags: dict[str, list[str]] = {}
            for comp, (_pkg, tags) in comps.items():
                by_tags.setdefault(tags, []).append(comp)
            for tags, names in by_tags.items():
                pkgs = [comps[n][0] for n in names]
                out = str(partial / names[0]) if len(names) == 1 else f"{partial}/"
                cmd = ["go", "build", "-trimpath", "-ldflags", node_ldflags(module, self.pins)]
                cmd += ["-tags", tags] if tags else []
                run_go(module, [*cmd, "-o", out, *pkgs], work / module, log)
            timings[module] = round(time.monotonic() - start, 1)
        manifest = {
            "pins": {
                "kubernetes": self.pins.kubernetes,
                "containerd": self.pins.containerd,
                "coredns": self.pins.coredns,
            },
            "go": gover,
            "build_seconds": timings,
        }
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=2))
        if target.exists():
            shutil.rmtree(target)
        partial.rename(target)
        self.report(f"built real-node binaries in {sum(timings.values()):.0f}s → {target}")
        return target
