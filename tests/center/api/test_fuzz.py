"""Schemathesis over the OpenAPI document of a running center, on SQLite and on PostgreSQL: no
request gets a 500 (issue 15: NUL bytes, out-of-range times and integers were 500s on PostgreSQL)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from kubeprobe.center.settings import CenterSettings
from tests.center.conftest import ADMIN_TOKEN
from tests.center.helpers import KUBECONFIG, TEMPLATE
from tests.center.server import running_center

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
EXAMPLES = 10  # per operation and phase: about a minute on 2 cores; more by hand (README)


def _database(request: pytest.FixtureRequest) -> str | None:
    """None (SQLite in the data dir), or a new database on the PostgreSQL of scripts/postgres."""
    if request.param == "sqlite":
        return None
    base = make_url(request.getfixturevalue("postgres_url"))
    name = f"fuzz_{uuid.uuid4().hex[:12]}"

    async def create() -> None:
        conn = await asyncpg.connect(host=base.host, port=base.port, user=base.username, database="postgres")
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def center(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import httpx

    data: Path = tmp_path_factory.mktemp("fuzz")
    settings = CenterSettings(
        data_dir=data, database_url=_database(request), admin_token=ADMIN_TOKEN, max_body_bytes=256 * 1024
    )
    with running_center(settings) as url:
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
