"""`kubeprobe remedy ...` against a real center served over HTTP (SQLite)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from kubeprobe.center.settings import CenterSettings
from kubeprobe.cli.center_client import CenterClientError
from kubeprobe.cli.main import app
from tests.center.conftest import ADMIN_TOKEN
from tests.center.server import running_center


@pytest.fixture(scope="module")
def center(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    data = tmp_path_factory.mktemp("remedy-center")
    with running_center(CenterSettings(data_dir=data, admin_token=ADMIN_TOKEN)) as url:
        yield {"KUBEPROBE_URL": url, "KUBEPROBE_TOKEN": ADMIN_TOKEN, "COLUMNS": "200"}


def run(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.output


def test_plan_list_deny_approve_pause_resume(center: dict[str, str]) -> None:
    rem = json.loads(run(center, "remedy", "plan", "node-drain", "n1", "--cluster", "c1", "-o", "json"))
    assert (rem["state"], rem["mode"], rem["kind"]) == ("awaiting-approval", "approval", "Node")
    assert "awaiting-approval" in run(center, "remedy", "list")
    assert "denied" in run(center, "remedy", "deny", str(rem["id"]))
    assert "nothing changed" in run(center, "remedy", "approve", str(rem["id"]))
    assert "n1" in run(center, "remedy", "show", str(rem["id"]))
    assert "paused" in run(center, "remedy", "pause", "--cluster", "c1", "--reason", "review")
    assert "resumed" in run(center, "remedy", "resume", "--cluster", "c1")
    with pytest.raises(CenterClientError, match="404: nothing paused"):
        run(center, "remedy", "resume", "--cluster", "c1")
    with pytest.raises(CenterClientError, match="422: unknown action 'reboot'"):
        run(center, "remedy", "plan", "reboot", "n1", "--cluster", "c1")
    with pytest.raises(CenterClientError, match=r"404: .*c1"):  # a preview needs the cluster
        run(center, "remedy", "plan", "node-drain", "n1", "--cluster", "c1", "--dry-run")
    assert json.loads(run(center, "remedy", "list", "-o", "json"))[0]["id"] == rem["id"]  # none added
