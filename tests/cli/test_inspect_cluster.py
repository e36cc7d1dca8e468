"""`kubeprobe inspect --cluster NAME`: the cluster's kubeconfig comes from the center's store."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from typer.testing import CliRunner

from kubeprobe.center.auth import Principal
from kubeprobe.center.credentials import SecretBox
from kubeprobe.center.schemas.clusters import ClusterIn
from kubeprobe.center.store.clusters import create_cluster
from kubeprobe.center.store.database import Store
from kubeprobe.cli.main import app
from kubeprobe.sandbox.cluster import Sandbox

runner = CliRunner()


def register(data_dir: Path, key: str, name: str, kubeconfig: str) -> None:
    async def run() -> None:
        store = Store.connect(f"sqlite+aiosqlite:///{data_dir / 'center.db'}")
        try:
            await store.migrate()
            async with store.transaction() as session:
                body = ClusterIn(name=name, kubeconfig=kubeconfig)
                await create_cluster(session, SecretBox(key), body, Principal("tester", "admin"))
        finally:
            await store.engine.dispose()

    asyncio.run(run())


@pytest.fixture
def center_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("KUBEPROBE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KUBEPROBE_SECRET_KEY", key)
    monkeypatch.delenv("KUBEPROBE_DATABASE_URL", raising=False)
    return key


def test_inspects_a_cluster_registered_in_the_center(
    sandbox: Sandbox, tmp_path: Path, center_env: str
) -> None:
    register(tmp_path, center_env, "prod-east", sandbox.kubeconfig.read_text())
    result = runner.invoke(app, ["inspect", "--cluster", "prod-east", "-c", "node.not-ready", "-o", "json"])
    assert result.exit_code == 0, result.output
    [cluster] = json.loads(result.output)["clusters"]
    assert cluster["cluster"] == "prod-east"
    assert [c["id"] for c in cluster["checks"]] == ["node.not-ready"]
    assert cluster["objects"] >= 3  # it listed the sandbox's nodes


def test_unknown_cluster_names_the_registered_ones(tmp_path: Path, center_env: str) -> None:
    register(tmp_path, center_env, "prod-east", _kubeconfig())
    result = runner.invoke(app, ["inspect", "--cluster", "prod-west"])
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "no cluster named 'prod-west' is registered in the center (registered: prod-east)" in text


def test_without_a_center_database_the_error_says_what_to_set(center_env: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["inspect", "--cluster", "prod-east"])
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert f"no center database at {tmp_path / 'center.db'}" in text
    assert "KUBEPROBE_DATABASE_URL" in text


def test_a_changed_secret_key_is_a_clear_error(
    tmp_path: Path, center_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(tmp_path, center_env, "prod-east", _kubeconfig())
    monkeypatch.setenv("KUBEPROBE_SECRET_KEY", Fernet.generate_key().decode())
    result = runner.invoke(app, ["inspect", "--cluster", "prod-east"])
    assert result.exit_code == 1
    assert "do not decrypt" in " ".join(result.output.split())
    assert "Traceback" not in result.output


def _kubeconfig() -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
            "users": [{"name": "u", "user": {"token": "t"}}],
            "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
            "current-context": "ctx",
        }
    )
