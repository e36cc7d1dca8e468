"""Center replicas as real processes on one PostgreSQL, for the HA tests and ``bench/ha.py``.

- :func:`start_replica` starts ``kubeprobe server`` with short leases (its output in a log file);
  :meth:`Replica.kill` is kill -9.
- :class:`DbProxy` is a TCP proxy between one replica and PostgreSQL that can be cut and restored:
  that replica loses its database while the others keep theirs.
- :func:`seed_fleet` registers clusters, a ledger case and one interval binding per cluster. The
  ledger case appends its run id to a file when it starts, sleeps, and reports success: a run id in
  the ledger twice is a run executed twice. By default the clusters' API servers are never asked;
  given a real cluster's kubeconfig and a namespace of it, the case also creates a ConfigMap named
  for its run there through its own ``KUBECONFIG`` (a run executed twice gets 409 the second time
  and fails): what ran reached the API server, and the API server keeps a ledger of its own.
"""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.center.helpers import KUBECONFIG

TOKEN = "kp_ha-test-admin-token"
LEDGER_CODE = (
    "import os, sys, time\n"
    "with open(sys.argv[1], 'a') as f: f.write(os.environ['KUBEPROBE_RUN_ID'] + '\\n')\n"
    "time.sleep(float(sys.argv[2]))\n"
    "from kubeprobe.sdk import report_success\n"
    "report_success()\n"
)
#: argv: ledger file, namespace. Light (no httpx): the stdlib's HTTPS client with the TLS context
#: of the run's kubeconfig (client certificate or token).
API_LEDGER_CODE = (
    "import http.client, json, os, sys, urllib.parse\n"
    "run = os.environ['KUBEPROBE_RUN_ID']\n"
    "with open(sys.argv[1], 'a') as f: f.write(run + '\\n')\n"
    "from kubeprobe.kube.config import load_kubeconfig\n"
    "from kubeprobe.sdk import report_failure, report_success\n"
    "conn = load_kubeconfig(os.environ['KUBECONFIG'])\n"
    "url = urllib.parse.urlsplit(conn.server)\n"
    "api = http.client.HTTPSConnection(url.hostname, url.port, context=conn.ssl_context(), timeout=30)\n"
    "labels = {'kubeprobe.io/cluster': os.environ['KUBEPROBE_CLUSTER']}\n"
    "body = {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'run-' + run, 'labels': labels}}\n"
    "headers = {'Content-Type': 'application/json'}\n"
    "if conn.token: headers['Authorization'] = 'Bearer ' + conn.token\n"
    "api.request('POST', f'/api/v1/namespaces/{sys.argv[2]}/configmaps', json.dumps(body), headers)\n"
    "resp = api.getresponse()\n"
    "text = resp.read().decode(errors='replace')\n"
    "if resp.status == 201: report_success()\n"
    "else: report_failure([f'create configmap run-{run}: {resp.status} {text[:300]}'])\n"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Replica:
    name: str
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def kill(self) -> None:
        """kill -9: no lease is given up, no run is ended."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_replica(
    name: str, db_url: str, workdir: Path, secret_key: str, *, lease: float = 3.0, renew: float = 1.0
) -> Replica:
    """Start a dispatching center replica named ``name`` and wait until it answers /readyz."""
    port = free_port()
    data = workdir / name
    data.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBEPROBE_")}
    env |= {
        "KUBEPROBE_DATABASE_URL": db_url,
        "KUBEPROBE_HOST": "127.0.0.1",
        "KUBEPROBE_PORT": str(port),
        "KUBEPROBE_DATA_DIR": str(data),
        "KUBEPROBE_SECRET_KEY": secret_key,
        "KUBEPROBE_ADMIN_TOKEN": TOKEN,
        "KUBEPROBE_HA_LEASE_SECONDS": str(lease),
        "KUBEPROBE_HA_RENEW_SECONDS": str(renew),
        "KUBEPROBE_HA_REPLICA": name,
        "KUBEPROBE_RUNNER_MODE": "local",
        "KUBEPROBE_ANALYSIS_VERIFY": "false",
    }
    log = workdir / f"{name}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kubeprobe.cli.main", "server"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    replica = Replica(name, f"http://127.0.0.1:{port}", proc, log)
    deadline = time.monotonic() + 90
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"replica {name} exited: {replica.output()[-3000:]}")
        try:
            if httpx.get(f"{replica.url}/readyz", timeout=2).status_code == 200:
                return replica
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            replica.stop()
            raise RuntimeError(f"replica {name} did not become ready: {replica.output()[-3000:]}")
        time.sleep(0.2)


async def seed_fleet(
    url: str,
    clusters: int,
    ledger: Path,
    *,
    sleep_s: float = 4.0,
    interval_s: float = 10.0,
    cases: int = 1,
    kubeconfig: str = KUBECONFIG,
    namespace: str = "",
) -> list[str]:
    """Clusters ``ha0``.. (each with ``kubeconfig``), ``cases`` ledger cases (``ledger``,
    ``ledger1`` ..) and a binding of each case to each cluster; the cluster names. With a
    ``namespace`` the case is :data:`API_LEDGER_CODE` (``sleep_s`` unused)."""
    names = [f"ha{i}" for i in range(clusters)]
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
    ) as api:
        template = {
            "name": "ha-ledger",
            "kind": "probe",
            "image": "kubeprobe/ha-ledger:test",  # never pulled: runner_mode local runs the command here
            "command": [sys.executable, "-c", API_LEDGER_CODE, str(ledger), namespace]
            if namespace
            else [sys.executable, "-c", LEDGER_CODE, str(ledger), str(sleep_s)],
            "timeout_seconds": 60,
        }
        resp = await api.post("/api/v1/templates", json=template)
        assert resp.status_code == 201, resp.text
        case_names = [f"ledger{i or ''}" for i in range(cases)]
        for case in case_names:
            resp = await api.post("/api/v1/cases", json={"name": case, "template": "ha-ledger"})
            assert resp.status_code == 201, resp.text
        for name in names:
            body = {"name": name, "kubeconfig": kubeconfig}
            resp = await api.post("/api/v1/clusters", json=body)
            assert resp.status_code == 201, resp.text
            for case in case_names:
                binding = {
                    "name": f"b-{name}-{case}",
                    "case": case,
                    "cluster": name,
                    "interval_seconds": interval_s,
                }
                resp = await api.post("/api/v1/bindings", json=binding)
                assert resp.status_code == 201, resp.text
    return names


def executions(ledger: Path) -> collections.Counter[str]:
    """How often each run id started executing."""
    if not ledger.exists():
        return collections.Counter()
    return collections.Counter(line for line in ledger.read_text().splitlines() if line)


@dataclass
class DbProxy:
    """A TCP proxy to PostgreSQL on its own port, in a thread; :meth:`cut` drops every connection
    and refuses new ones (the database is gone for whoever uses it), :meth:`restore` undoes it."""

    target_host: str
    target_port: int
    port: int = field(default_factory=free_port)
    bind: str = "127.0.0.1"  # where it listens (another address for pods of a real-node sandbox)
    _loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _thread: threading.Thread | None = None

    def start(self) -> DbProxy:
        self._thread = threading.Thread(target=self._loop.run_forever, name="db-proxy", daemon=True)
        self._thread.start()
        self.restore()
        return self

    def _call(self, coro: object) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)  # type: ignore[arg-type]

    def restore(self) -> None:
        async def listen() -> None:
            self._server = await asyncio.start_server(self._pipe, self.bind, self.port)

        self._call(listen())

    def cut(self) -> None:
        async def drop() -> None:
            if self._server is not None:
                self._server.close()
                self._server = None
            for writer in list(self._writers):
                writer.transport.abort()
            self._writers.clear()

        self._call(drop())

    def close(self) -> None:
        self.cut()

        async def drain() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self._call(drain())
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))
        self._writers -= {writer, up_writer}
