"""The KubeProbe image as an OCI archive, built without Docker from Debian packages and our wheel.

Two layers, as the Dockerfile's (which stays for Docker users; a test checks both name the same
entrypoint, user and working folder):

1. base: a Debian root filesystem from ``debootstrap --variant=minbase`` with the full ``python3``
   (not python3-minimal), ``python3-venv`` and ``ca-certificates``, cached per suite and package
   list in ``<cache>/image/base-*`` with its layer, so a rebuild only redoes layer 2;
2. app: ``/opt/kubeprobe``, a venv made by the root filesystem's own Python (inside a chroot, no
   network) from wheels built on this machine (``pip wheel`` of the project; pip reaches PyPI
   as configured here), with ``/usr/local/bin/kubeprobe`` and ``/var/lib/kubeprobe``.

A finished archive is kept with the fingerprint of what went into it (the project's sources, the
base layer, the tag) and reused while they are unchanged: a second build costs a hash of the
source tree, not minutes of wheels and compression (the real-node tests build it every session).

Needs root (debootstrap, chroot) and the ``debootstrap`` package (``scripts/real-node-deps``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from kubeprobe.sandbox import oci
from kubeprobe.sandbox.errors import SandboxError
from kubeprobe.sandbox.locking import file_lock
from kubeprobe.sandbox.versions import cache_root

Report = Callable[[str], None]
#: What a container of the image runs: the Dockerfile says the same (tests/sandbox/test_image.py).
ENTRYPOINT = ("kubeprobe",)
USER = "65532:65532"
WORKDIR = "/var/lib/kubeprobe"
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
VENV = "opt/kubeprobe"
ENV = (
    "PATH=/opt/kubeprobe/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME=/var/lib/kubeprobe",
    "LANG=C.UTF-8",
    "PYTHONUNBUFFERED=1",
)
#: Left out of the base layer: documentation, caches and package lists nobody reads in a container.
STRIP = ("usr/share/doc", "usr/share/man", "usr/share/info", "var/cache/apt", "var/lib/apt/lists", "var/log")


class ImageError(SandboxError):
    """The image could not be built; the message says which step failed and its log."""


def _quiet(_: str) -> None:
    return None


def default_tag() -> str:
    """``kubeprobe/kubeprobe:<version>``: what ``scripts/build-image --tag`` prints and the
    operator's Deployment names."""
    return f"kubeprobe/kubeprobe:{metadata.version('kubeprobe')}"


def project_dir() -> Path:
    """The source tree this package was installed from (an editable install), for its wheel."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        pyproject = parent / "pyproject.toml"
        if pyproject.is_file() and 'name = "kubeprobe"' in pyproject.read_text():
            return parent
    raise ImageError(
        "cannot find KubeProbe's source tree (pyproject.toml) above this installation: build the "
        "image from a checkout (`pip install -e .` there), or pass --project DIR"
    )


def host_suite() -> tuple[str, str]:
    """(suite, mirror) of this machine's Debian, for debootstrap."""
    suite = "bookworm"
    with open("/etc/os-release") as release:
        for line in release:
            if line.startswith("VERSION_CODENAME="):
                suite = line.split("=", 1)[1].strip().strip('"') or suite
    mirror = "http://deb.debian.org/debian"
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.exists():
        match = re.search(r"^URIs:\s*(\S+/debian)\s*$", sources.read_text(), re.M)
        if match:
            mirror = match.group(1)
    return suite, mirror


class ImageBuilder:
    """Builds OCI archives of the KubeProbe image, reusing the cached base layer."""

    def __init__(self, root: Path | None = None, report: Report = _quiet) -> None:
        self.root = (root or cache_root()) / "image"
        self.report = report
        self.logs = self.root / "logs"

    def _run(self, step: str, cmd: list[str], log: Path, env: dict[str, str] | None = None) -> str:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as out:
            out.write(f"$ {' '.join(cmd)}\n")
            out.flush()
            proc = subprocess.run(
                ["nice", "-n", "10", *cmd],
                stdout=subprocess.PIPE,
                stderr=out,
                text=True,
                env=env,
                check=False,
            )
            out.write(proc.stdout)
        if proc.returncode != 0:
            tail = "\n".join(f"    {ln}" for ln in log.read_text(errors="replace").splitlines()[-12:])
            raise ImageError(f"{step} failed (exit {proc.returncode}).\n  log: {log}\n{tail}")
        return proc.stdout

    def base(self) -> tuple[Path, oci.Layer]:
        """The cached Debian root filesystem and its layer (debootstrap on first use)."""
        suite, mirror = host_suite()
        key = hashlib.sha256(f"{suite} {' '.join(BASE_PACKAGES)}".encode()).hexdigest()[:10]
        folder = self.root / f"base-{suite}-{key}"
        meta = folder / "layer.json"
        with file_lock(self.root / ".base.lock"):
            if not meta.exists():
                self._debootstrap(folder, suite, mirror)
            info = json.loads(meta.read_text())
        layer = oci.Layer(folder / "layer.tgz", info["digest"], info["diff_id"], int(info["size"]))
        return folder / "rootfs", layer

    def _debootstrap(self, folder: Path, suite: str, mirror: str) -> None:
        if not shutil.which("debootstrap"):
            raise ImageError(
                "debootstrap is not installed: scripts/real-node-deps installs it "
                "(Debian: apt-get install debootstrap)"
            )
        if os.geteuid() != 0:
            raise ImageError("building the image needs root (debootstrap and chroot)")
        shutil.rmtree(folder, ignore_errors=True)
        rootfs = folder / "rootfs"
        rootfs.mkdir(parents=True)
        log = self.logs / "debootstrap.log"
        log.unlink(missing_ok=True)
        self.report(f"debootstrap {suite} with {', '.join(BASE_PACKAGES)} (a few minutes, once; log: {log})")
        self._run(
            "debootstrap",
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(BASE_PACKAGES)}",
                suite,
                str(rootfs),
                mirror,
            ],
            log,
        )
        for rel in STRIP:
            target = rootfs / rel
            if target.is_dir():
                shutil.rmtree(target)
                target.mkdir(parents=True)
        self.report("writing the base layer")
        layer = oci.layer_from_tree(rootfs, folder / "layer.tgz")
        info = {"digest": layer.digest, "diff_id": layer.diff_id, "size": layer.size, "suite": suite}
        (folder / "layer.json").write_text(json.dumps(info))

    def _python_version(self, rootfs: Path) -> str:
        out = self._run(
            "reading the image's Python version",
            [
                "chroot",
                str(rootfs),
                "python3",
                "-c",
                "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')",
            ],
            self.logs / "app.log",
        )
        return out.strip()

    def wheels(self, project: Path, python: str) -> Path:
        """Wheels of the project and its dependencies for the image's Python, built here."""
        house = self.root / "wheels" / python
        shutil.rmtree(house, ignore_errors=True)
        house.mkdir(parents=True)
        log = self.logs / "app.log"
        here = f"{sys.version_info[0]}.{sys.version_info[1]}"
        self.report(f"building wheels of {project.name} and its dependencies (log: {log})")
        if here == python:
            self._run(
                "pip wheel",
                [sys.executable, "-m", "pip", "wheel", "--quiet", "-w", str(house), str(project)],
                log,
            )
            return house
        # Another Python in the image than here: our wheel, then binary wheels for its version.
        self._run(
            "pip wheel",
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(house), str(project)],
            log,
        )
        wheel = next(house.glob("kubeprobe-*.whl"))
        self._run(
            "pip download",
            [
                sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "-d", str(house),
                "--python-version", python, "--platform", "manylinux_2_36_x86_64", str(wheel),
            ],
            log,
        )  # fmt: skip
        return house

    def app_layer(self, rootfs: Path, project: Path, out: Path) -> oci.Layer:
        python = self._python_version(rootfs)
        house = self.wheels(project, python)
        log = self.logs / "app.log"
        inside = rootfs / "tmp" / "kp-wheels"
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LANG": "C.UTF-8"}
        try:
            shutil.rmtree(inside, ignore_errors=True)
            shutil.copytree(house, inside)
            shutil.rmtree(rootfs / VENV, ignore_errors=True)
            self.report("installing KubeProbe into the image's venv (/opt/kubeprobe)")
            self._run(
                "python3 -m venv", ["chroot", str(rootfs), "python3", "-m", "venv", f"/{VENV}"], log, env
            )
            self._run(
                "pip install (in the image)",
                ["chroot", str(rootfs), f"/{VENV}/bin/pip", "install", "--quiet", "--no-index",
                 "--find-links", "/tmp/kp-wheels", "--disable-pip-version-check", "kubeprobe"],
                log,
                env,
            )  # fmt: skip
            for junk in (rootfs / VENV).rglob("__pycache__"):
                if "pip" in junk.parts:
                    shutil.rmtree(junk, ignore_errors=True)
            link = rootfs / "usr/local/bin/kubeprobe"
            link.unlink(missing_ok=True)
            link.symlink_to(f"/{VENV}/bin/kubeprobe")
            work = rootfs / WORKDIR.lstrip("/")
            work.mkdir(parents=True, exist_ok=True)
            os.chown(work, 65532, 65532)
            self.report("writing the app layer")
            return oci.layer_from_tree(
                rootfs, out, members=[VENV, "usr/local/bin/kubeprobe", WORKDIR.lstrip("/")]
            )
        finally:
            shutil.rmtree(inside, ignore_errors=True)
            shutil.rmtree(rootfs / VENV, ignore_errors=True)
            (rootfs / "usr/local/bin/kubeprobe").unlink(missing_ok=True)
            shutil.rmtree(rootfs / WORKDIR.lstrip("/"), ignore_errors=True)

    def build(self, tag: str | None = None, out: Path | None = None, project: Path | None = None) -> Path:
        """Build the image ``tag`` into the archive ``out`` (unless it holds this very build
        already); return its path."""
        tag = tag or default_tag()
        out = out or self.root / f"{re.sub(r'[^A-Za-z0-9._-]+', '_', tag)}.tar"
        project = project or project_dir()
        rootfs, base = self.base()
        stamp = out.with_name(out.name + ".fingerprint")
        with file_lock(self.root / ".app.lock"):
            key = fingerprint(project, f"{tag} {base.digest}")
            if out.is_file() and stamp.is_file() and stamp.read_text() == key:
                self.report(f"image {tag} is built already ({out}; same sources)")
                return out
            stamp.unlink(missing_ok=True)
            app = self.app_layer(rootfs, project, self.root / "app-layer.tgz")
            config = oci.ImageConfig(entrypoint=ENTRYPOINT, user=USER, env=ENV, workdir=WORKDIR)
            out.parent.mkdir(parents=True, exist_ok=True)
            oci.write_archive(tag, [base, app], config, out)
            stamp.write_text(key)
        self.report(f"image {tag} written to {out} ({out.stat().st_size / 2**20:.0f} MiB)")
        return out


def fingerprint(project: Path, extra: str = "") -> str:
    """A hash of what goes into the app layer: the project's ``pyproject.toml``, ``README.md``
    and every file under ``src/`` (paths and contents; caches left out), plus ``extra``."""
    digest = hashlib.sha256(extra.encode())
    files = [project / "pyproject.toml", project / "README.md"]
    files += sorted(p for p in (project / "src").rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for path in files:
        if path.is_file():
            digest.update(str(path.relative_to(project)).encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def dockerfile_facts(dockerfile: Path) -> dict[str, object]:
    """ENTRYPOINT, USER and the last WORKDIR of a Dockerfile (for the test that both builds agree)."""
    facts: dict[str, object] = {}
    for line in dockerfile.read_text().splitlines():
        word, _, rest = line.strip().partition(" ")
        if word == "ENTRYPOINT":
            facts["entrypoint"] = tuple(json.loads(rest))
        elif word in ("USER", "WORKDIR"):
            facts[word.lower()] = rest.strip()
    return facts


def archive_names(archive: Path) -> list[str]:
    """The image names an archive carries (``io.containerd.image.name`` of its index)."""
    with tarfile.open(archive) as tar:
        handle = tar.extractfile("index.json")
        index = json.load(handle) if handle else {"manifests": []}
    return [m.get("annotations", {}).get("io.containerd.image.name", "") for m in index["manifests"]]
