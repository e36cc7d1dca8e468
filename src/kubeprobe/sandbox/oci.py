"""OCI image archives without Docker: layers from folders, an image config, an OCI layout tarball.

An archive written here is an OCI image layout (``oci-layout``, ``index.json``, ``blobs/sha256/``)
in one tar file, which ``ctr images import`` (and ``skopeo``, ``podman load``) read. The index
names the image with ``io.containerd.image.name`` and ``org.opencontainers.image.ref.name``.
Layers are gzip-compressed tars (level 1: the archive is written once and unpacked once, on this
machine); files are owned as on disk unless a layer says otherwise.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
#: Paths left out of a layer made from a root filesystem: the runtime provides them.
SKIP_TOP = ("dev", "proc", "sys", "run", "tmp")


@dataclass(frozen=True)
class Layer:
    """A compressed layer file with its digest (of the gzip) and diff id (of the plain tar)."""

    path: Path
    digest: str
    diff_id: str
    size: int


@dataclass(frozen=True)
class ImageConfig:
    """What a container of the image runs: the fields Dockerfile's ENTRYPOINT, CMD, USER, ENV and
    WORKDIR set."""

    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    user: str = ""
    env: tuple[str, ...] = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",)
    workdir: str = ""
    labels: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Env": list(self.env)}
        if self.entrypoint:
            out["Entrypoint"] = list(self.entrypoint)
        if self.cmd:
            out["Cmd"] = list(self.cmd)
        if self.user:
            out["User"] = self.user
        if self.workdir:
            out["WorkingDir"] = self.workdir
        if self.labels:
            out["Labels"] = dict(self.labels)
        return out


class _HashingWriter(io.RawIOBase):
    """A file object that hashes what passes through it on its way to ``target``."""

    def __init__(self, target: io.BufferedIOBase | gzip.GzipFile | Any) -> None:
        self.target = target
        self.sha = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.sha.update(view)
        self.size += len(view)
        self.target.write(view)
        return len(view)


Filter = Callable[[tarfile.TarInfo], tarfile.TarInfo | None]


def layer_from_tree(
    root: Path,
    out: Path,
    *,
    members: Iterable[str] | None = None,
    skip_top: tuple[str, ...] = SKIP_TOP,
    owner: Filter | None = None,
) -> Layer:
    """Write the files under ``root`` (only ``members``, paths relative to it, when given) as a
    layer to ``out``. Top-level folders in ``skip_top`` are kept empty."""
    names = sorted(members) if members is not None else sorted(p.name for p in root.iterdir())
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as raw:
        outer = _HashingWriter(raw)
        with gzip.GzipFile(fileobj=outer, mode="wb", compresslevel=1, mtime=0) as gz:
            inner = _HashingWriter(gz)
            with tarfile.open(fileobj=inner, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                for name in names:
                    path = root / name
                    if name in skip_top and path.is_dir() and not path.is_symlink():
                        info: tarfile.TarInfo | None = tar.gettarinfo(str(path), arcname=name)
                        info = owner(info) if owner and info else info
                        if info:
                            tar.addfile(info)
                        continue
                    tar.add(str(path), arcname=name, recursive=True, filter=owner)
    return Layer(out, f"sha256:{outer.sha.hexdigest()}", f"sha256:{inner.sha.hexdigest()}", outer.size)


def layer_from_files(files: dict[str, tuple[bytes, int]], out: Path) -> Layer:
    """A layer of regular files given as ``{path: (content, mode)}``, owned by root (for small
    images such as pause and CoreDNS: a static binary and nothing else)."""
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        for rel, (content, mode) in files.items():
            target = base / rel.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            os.chmod(target, mode)

        def as_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = 0
            return info

        return layer_from_tree(base, out, skip_top=(), owner=as_root)


def full_name(name: str) -> str:
    """The name as containerd (and so kubelet) knows it: ``kubeprobe/kubeprobe:0.1.0`` is
    ``docker.io/kubeprobe/kubeprobe:0.1.0``, ``busybox`` is ``docker.io/library/busybox:latest``."""
    first, _, rest = name.partition("/")
    if not rest:
        name = f"docker.io/library/{name}"
    elif "." not in first and ":" not in first and first != "localhost":
        name = f"docker.io/{name}"
    if ":" not in name.rsplit("/", 1)[-1] and "@" not in name:
        name += ":latest"
    return name


def _blob(folder: Path, data: bytes) -> tuple[str, int]:
    digest = hashlib.sha256(data).hexdigest()
    (folder / digest).write_bytes(data)
    return f"sha256:{digest}", len(data)


def write_archive(name: str, layers: list[Layer], config: ImageConfig, out: Path) -> str:
    """Write an OCI layout tarball of the image ``name`` (``repo:tag``) to ``out``; return the
    manifest digest."""
    tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else "latest"
    image_config = {
        "architecture": "amd64",
        "os": "linux",
        "config": config.as_dict(),
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [{"created_by": "kubeprobe image builder"} for _ in layers],
    }
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        base = Path(tmp)
        blobs = base / "blobs" / "sha256"
        blobs.mkdir(parents=True)
        cfg_digest, cfg_size = _blob(blobs, json.dumps(image_config, sort_keys=True).encode())
        manifest = {
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": {"mediaType": MEDIA_CONFIG, "digest": cfg_digest, "size": cfg_size},
            "layers": [{"mediaType": MEDIA_LAYER, "digest": lay.digest, "size": lay.size} for lay in layers],
        }
        man_digest, man_size = _blob(blobs, json.dumps(manifest, sort_keys=True).encode())
        index = {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": MEDIA_MANIFEST,
                    "digest": man_digest,
                    "size": man_size,
                    "annotations": {
                        "io.containerd.image.name": full_name(name),
                        "org.opencontainers.image.ref.name": tag,
                    },
                    "platform": {"architecture": "amd64", "os": "linux"},
                }
            ],
        }
        (base / "index.json").write_text(json.dumps(index))
        (base / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
        partial = out.with_name(out.name + ".partial")
        with tarfile.open(partial, "w") as tar:
            tar.add(str(base / "oci-layout"), arcname="oci-layout")
            tar.add(str(base / "index.json"), arcname="index.json")
            tar.add(str(base / "blobs"), arcname="blobs", recursive=False)
            tar.add(str(blobs), arcname="blobs/sha256", recursive=False)
            for blob in sorted(blobs.iterdir()):
                tar.add(str(blob), arcname=f"blobs/sha256/{blob.name}")
            for lay in layers:
                tar.add(str(lay.path), arcname=f"blobs/sha256/{lay.digest.split(':', 1)[1]}")
        partial.replace(out)
    return man_digest


def read_config(archive: Path) -> dict[str, Any]:
    """The ``config`` part of the image config in an archive written by :func:`write_archive`."""
    with tarfile.open(archive) as tar:
        index = json.load(_member(tar, "index.json"))
        man = json.load(_member(tar, f"blobs/sha256/{index['manifests'][0]['digest'].split(':', 1)[1]}"))
        cfg = json.load(_member(tar, f"blobs/sha256/{man['config']['digest'].split(':', 1)[1]}"))
    result: dict[str, Any] = cfg["config"]
    return result


def _member(tar: tarfile.TarFile, name: str) -> io.BufferedReader:
    handle = tar.extractfile(name)
    if handle is None:
        raise FileNotFoundError(name)
    return handle  # type: ignore[return-value]
