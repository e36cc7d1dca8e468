"""The local runner keeps cases apart from the center: no inherited secrets, no outliving it (issue 15)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from kubeprobe.model import CaseKind, CaseSpec
from kubeprobe.runners.local import LocalRunner
from tests.sdk.reportserver import report_server

from .test_local import request

REPORT_ENV = (
    "import os, json, urllib.request as u;"
    "m = json.dumps(dict(os.environ), sort_keys=True);"
    "b = json.dumps({'ok': True, 'messages': [m], 'steps': [], 'findings': [], 'metrics': {}}).encode();"
    "u.urlopen(u.Request(os.environ['KUBEPROBE_REPORT_URL'], data=b, method='POST'))"
)


async def test_case_gets_only_the_contract_and_the_allowlist(monkeypatch: pytest.MonkeyPatch) -> None:
    """Finding 5: a case that prints its environment showed the center's secrets to viewers."""
    monkeypatch.setenv("KUBEPROBE_SECRET_KEY", "fernet-key-of-the-center")
    monkeypatch.setenv("KUBEPROBE_ADMIN_TOKEN", "admin-token-of-the-center")
    monkeypatch.setenv("KUBEPROBE_DATABASE_URL", "postgresql://center:pw@db/center")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "cloud-secret")
    monkeypatch.setenv("LANG", "C.UTF-8")
    command = (sys.executable, "-c", REPORT_ENV)
    case = CaseSpec("env", "custom", CaseKind.PROBE, 30, params={"greeting": "hi"}, command=command)
    with report_server() as got:
        end = await LocalRunner().run(request(case, got.url))
    assert end.state == "exited", end
    env = json.loads(got.reports[0]["messages"][0])
    text = json.dumps(env)
    for secret in ("fernet-key", "admin-token", "center:pw", "cloud-secret"):
        assert secret not in text
    assert env["LANG"] == "C.UTF-8"  # allowlisted
    assert env["GREETING"] == "hi"  # a rendered parameter
    assert env["HOME"] != os.environ.get("HOME")  # its own temporary folder
    assert Path(env["KUBECONFIG"]).parent == Path(env["HOME"])
    unexpected = set(env) - LocalRunner().env_allowlist - {"HOME", "KUBECONFIG", "GREETING"}
    assert {n for n in unexpected if not n.startswith(("KUBEPROBE_", "KH_"))} <= {"PWD", "LC_CTYPE"}


async def test_a_stored_kubeconfig_naming_a_file_is_not_handed_to_the_case(tmp_path: Path) -> None:
    """Finding 1 for kubeconfigs stored before the check: the case would have read the file."""
    kubeconfig = f"""
clusters: [{{name: c, cluster: {{server: "https://127.0.0.1:1", certificate-authority: {tmp_path}/ca}}}}]
contexts: [{{name: c, context: {{cluster: c, user: u}}}}]
current-context: c
users: [{{name: u, user: {{token: x}}}}]
"""
    case = CaseSpec("env", "custom", CaseKind.PROBE, 30, command=(sys.executable, "-c", REPORT_ENV))
    end = await LocalRunner().run(request(case, "http://127.0.0.1:1/", kubeconfig))
    assert end.state == "error"
    assert "certificate-authority names a file" in end.reason


#: A case that starts a child of its own, records both pids, and reports after a while.
LINGERING_CASE = (
    "import os, subprocess, sys, time, urllib.request as u;"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']);"
    "open(os.environ['PIDS_FILE'], 'w').write(f'{os.getpid()} {child.pid}');"
    "time.sleep(float(os.environ['NAP']));"
    'b = b\'{"ok": true, "messages": [], "steps": [], "findings": [], "metrics": {}}\';'
    "u.urlopen(u.Request(os.environ['KUBEPROBE_REPORT_URL'], data=b, method='POST'))"
)

#: A stand-in for the center: runs one case through the local runner, then waits to be killed.
CENTER = """
import asyncio, datetime as dt, sys
from kubeprobe.model import CaseKind, CaseSpec
from kubeprobe.runners.base import RunRequest
from kubeprobe.runners.local import LocalRunner
case = CaseSpec("linger", "custom", CaseKind.PROBE, 300, params={"pids_file": sys.argv[1], "nap": "3"},
                command=(sys.executable, "-c", sys.argv[3]))
deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=300)
req = RunRequest("r-linger", case, "c", "", sys.argv[2], "tok", deadline)
asyncio.run(LocalRunner().run(req))
"""


def _pids(file: Path, deadline: float) -> list[int]:
    while time.monotonic() < deadline:
        if file.exists() and file.read_text().strip():
            return [int(p) for p in file.read_text().split()]
        time.sleep(0.05)
    raise AssertionError("the case never started")


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _survivors(pids: list[int], seconds: float) -> list[int]:
    """Poll until none of ``pids`` is alive or the time is up; the ones still alive."""
    deadline = time.monotonic() + seconds
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [p for p in pids if _alive(p)]


def test_cases_die_with_the_center(tmp_path: Path) -> None:
    """Finding 10: after `kill -9` of the center its cases (and their children) lived on and reported."""
    pids_file = tmp_path / "pids"
    with report_server() as got:
        center = subprocess.Popen([sys.executable, "-c", CENTER, str(pids_file), got.url, LINGERING_CASE])
        try:
            case_pids = _pids(pids_file, time.monotonic() + 30)
            center.send_signal(signal.SIGKILL)
            center.wait(timeout=10)
            survivors = _survivors(case_pids, 10)
            for pid in survivors:
                os.kill(pid, signal.SIGKILL)
            assert not survivors, "case processes outlived the center"
            assert got.reports == []  # and a dead case reports nothing later
        finally:
            if center.poll() is None:
                center.kill()


async def test_deadline_kills_the_case_and_its_children(tmp_path: Path) -> None:
    """A child that holds the output pipe open no longer delays the end by the drain time (5 s)."""
    case = CaseSpec(
        "linger",
        "custom",
        CaseKind.PROBE,
        1,
        params={"pids_file": str(tmp_path / "pids"), "nap": "60"},
        command=(sys.executable, "-c", LINGERING_CASE),
    )
    started = time.monotonic()
    end = await LocalRunner().run(request(case, "http://127.0.0.1:1/", seconds=2))
    assert end.state == "timed_out"
    assert time.monotonic() - started < 4.5
    assert _survivors([int(p) for p in (tmp_path / "pids").read_text().split()], 5) == []
