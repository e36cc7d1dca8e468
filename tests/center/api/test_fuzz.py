"""Schemathesis over the OpenAPI document of a running center (SQLite): no request gets a 500."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubeprobe.center.settings import CenterSettings
from tests.center.conftest import ADMIN_TOKEN
from tests.center.helpers import KUBECONFIG, TEMPLATE
from tests.center.server import running_center

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
EXAMPLES = 10  # per operation and phase: about a minute on 2 cores; more by hand (README)


@pytest.fixture(scope="module")
def center(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import httpx

    data: Path = tmp_path_factory.mktemp("fuzz")
    with running_center(
        CenterSettings(data_dir=data, admin_token=ADMIN_TOKEN, max_body_bytes=256 * 1024)
    ) as url:
        with httpx.Client(base_url=url, headers=AUTH) as c:  # some data, so that names sometimes exist
            c.post("/api/v1/clusters", json={"name": "c0", "kubeconfig": KUBECONFIG}).raise_for_status()
            c.post("/api/v1/templates", json=TEMPLATE).raise_for_status()
            c.post("/api/v1/cases", json={"name": "pod", "template": "pod-lifecycle"}).raise_for_status()
        yield url


def test_no_server_error(center: str, tmp_path: Path) -> None:
    """Every operation, positive and negative examples; the run fails on any 5xx (and only on that)."""
    st = Path(sys.executable).with_name("schemathesis")
    proc = subprocess.run(
        [
            str(st),
            "run",
            f"{center}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--header",
            f"Authorization: Bearer {ADMIN_TOKEN}",
            "--max-examples",
            str(EXAMPLES),
            "--seed",
            "1",
            "--generation-database",
            ":memory:",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
