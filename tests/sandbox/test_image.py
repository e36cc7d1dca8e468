"""The image builder without Docker: OCI archives, and agreement with the Dockerfile."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

from kubeprobe.sandbox import image, oci

REPO = Path(__file__).resolve().parents[2]


def test_dockerfile_and_oci_builder_agree_on_entrypoint_user_and_workdir() -> None:
    facts = image.dockerfile_facts(REPO / "Dockerfile")
    assert facts["entrypoint"] == image.ENTRYPOINT
    assert facts["user"] == image.USER
    assert facts["workdir"] == image.WORKDIR


def test_default_tag_is_the_one_the_operator_deployment_names() -> None:
    deployment = (REPO / "src/kubeprobe/operator/manifests/deployment.yaml").read_text()
    assert f"image: {image.default_tag()}" in deployment


def test_archive_is_an_oci_layout_with_the_config_and_layers(tmp_path: Path) -> None:
    layer = oci.layer_from_files({"/bin/hello": (b"#!/bin/sh\necho hi\n", 0o755)}, tmp_path / "l.tgz")
    config = oci.ImageConfig(entrypoint=("/bin/hello",), user="65532:65532", workdir="/w")
    out = tmp_path / "img.tar"
    digest = oci.write_archive("example/hello:1.0", [layer], config, out)
    assert oci.read_config(out)["Entrypoint"] == ["/bin/hello"]
    assert oci.read_config(out)["User"] == "65532:65532"
    assert image.archive_names(out) == ["docker.io/example/hello:1.0"]
    with tarfile.open(out) as tar:
        names = set(tar.getnames())
        assert {"oci-layout", "index.json", f"blobs/sha256/{digest.split(':')[1]}"} <= names
        blob = tar.extractfile(f"blobs/sha256/{layer.digest.split(':')[1]}")
        assert blob is not None
        with tarfile.open(fileobj=blob, mode="r:gz") as inner:
            member = inner.getmember("bin/hello")
            assert member.mode & 0o777 == 0o755
            assert member.uid == 0
        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
        assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "1.0"


def test_full_names_are_what_containerd_calls_them() -> None:
    assert oci.full_name("busybox") == "docker.io/library/busybox:latest"
    assert oci.full_name("kubeprobe/kubeprobe:0.1.0") == "docker.io/kubeprobe/kubeprobe:0.1.0"
    assert oci.full_name("kubeprobe.local/pause:3.10") == "kubeprobe.local/pause:3.10"
    assert oci.full_name("localhost/x") == "localhost/x:latest"


def test_image_fingerprint_follows_the_sources_not_their_caches(tmp_path: Path) -> None:
    (tmp_path / "src/pkg/__pycache__").mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text('name = "kubeprobe"\n')
    (tmp_path / "src/pkg/mod.py").write_text("x = 1\n")
    first = image.fingerprint(tmp_path, "tag")
    (tmp_path / "src/pkg/__pycache__/mod.pyc").write_bytes(b"\0")
    assert image.fingerprint(tmp_path, "tag") == first  # a rebuild would cost minutes for nothing
    assert image.fingerprint(tmp_path, "other-tag") != first
    (tmp_path / "src/pkg/mod.py").write_text("x = 2\n")
    assert image.fingerprint(tmp_path, "tag") != first
