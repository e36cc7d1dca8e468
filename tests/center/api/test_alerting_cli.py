"""`kubeprobe incidents list|show|ack` and `kubeprobe silence add|list|show|remove` against a real center."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kubeprobe.center.credentials import load_secret_box
from kubeprobe.center.services.alerting import IncidentService
from kubeprobe.center.settings import CenterSettings
from kubeprobe.center.store.database import Store
from kubeprobe.cli.center_client import CenterClientError
from kubeprobe.cli.main import app
from tests.alerting.helpers import signal
from tests.center.conftest import ADMIN_TOKEN
from tests.center.server import running_center


@pytest.fixture(scope="module")
def center(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], CenterSettings]]:
    settings = CenterSettings(data_dir=tmp_path_factory.mktemp("cli-incidents"), admin_token=ADMIN_TOKEN)
    with running_center(settings) as url:
        yield {"KUBEPROBE_URL": url, "KUBEPROBE_TOKEN": ADMIN_TOKEN}, settings


def run(env: dict[str, str], *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, list(args), env={**env, "COLUMNS": "250"}, catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == code, result.output
    return result.output


def feed(settings: CenterSettings) -> None:
    async def go() -> None:
        store = Store.connect(settings.resolved_database_url())
        svc = IncidentService(store, load_secret_box(settings))
        try:
            await svc.observe(signal("prod-1", "pod-lifecycle", cause="etcd.unavailable", priority="P1"))
        finally:
            await svc.close()
            await store.close()

    asyncio.run(go())


def test_incidents_and_silences(center: tuple[dict[str, str], CenterSettings], tmp_path: Path) -> None:
    env, settings = center
    feed(settings)
    out = run(env, "incidents", "list")
    assert "etcd.unavailable" in out
    assert "prod-1" in out
    (inc,) = json.loads(run(env, "incidents", "list", "-o", "json"))
    out = run(env, "incidents", "show", str(inc["id"]))
    assert "[P1] etcd.unavailable on prod-1" in out
    assert "pod-lifecycle" in out
    assert "acknowledged incident" in run(env, "incidents", "ack", str(inc["id"]), "--comment", "looking")
    acked = json.loads(run(env, "incidents", "list", "--state", "acknowledged", "-o", "json"))
    assert [i["id"] for i in acked] == [inc["id"]]
    with pytest.raises(CenterClientError, match=r"resolved|404"):
        run(env, "incidents", "ack", "9999")

    out = run(
        env,
        "silence",
        "add",
        "-m",
        "cluster=prod-1",
        "-m",
        "case=~pod-.*",
        "--duration",
        "2h",
        "--comment",
        "x",
    )
    assert "active now: True" in out
    weekly = ("silence", "add", "-m", "env=prod", "--mode", "pause", "--weekly", "sat,sun", "--at", "02:00")
    run(env, *weekly, "--window", "4h", "--timezone", "Asia/Shanghai")
    listed = json.loads(run(env, "silence", "list", "-o", "json"))
    assert [s["mode"] for s in listed] == ["mute", "pause"]
    assert listed[1]["cron"] == "0 2 * * 6,0"
    assert listed[1]["duration_s"] == 14400
    assert json.loads(run(env, "silence", "show", str(listed[1]["id"]), "-o", "json"))["error"] is None
    run(env, "silence", "remove", str(listed[0]["id"]))
    assert len(json.loads(run(env, "silence", "list", "-o", "json"))) == 1
    with pytest.raises(CenterClientError, match=r"422.*matchers"):
        run(env, "silence", "add", "-m", "case=~(", "--duration", "1h")
    bad = run(env, "silence", "add", "-m", "case=x", "--duration", "soon", code=2)
    assert "duration" in bad
