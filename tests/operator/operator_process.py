"""Start `kubeprobe operator run` as a real process (kill -9 included), and ProbeConfig builders."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from kubeprobe.kube.client import KubeClient, resource_path
from kubeprobe.kube.waiting import WaitTimeout, wait_for
from kubeprobe.operator.spec import API_VERSION, PLURAL
from tests.operator.conftest import ADMIN_TOKEN, CLUSTER, CenterServer

#: `kubeprobe operator` without importing every other subcommand (faster start on a busy machine).
ENTRY = "from kubeprobe.cli.operator import operator_app; operator_app(prog_name='kubeprobe operator')"


class OperatorProcess:
    def __init__(
        self,
        kubeconfig: Path,
        center: CenterServer,
        buffer: Path,
        log: Path,
        *,
        namespace: str,
        identity: str = "op-test",
        standalone: bool = True,
        env: dict[str, str] | None = None,
    ) -> None:
        self.args = [
            sys.executable,
            "-c",
            ENTRY,
            "run",
            "--kubeconfig",
            str(kubeconfig),
            "--cluster",
            CLUSTER,
            "--center-url",
            center.url,
            "--center-token",
            ADMIN_TOKEN,
            "--buffer",
            str(buffer),
            "--namespace",
            namespace,
            "--identity",
            identity,
            "--verbose",
        ]
        if standalone:
            self.args.append("--standalone")
        self.log = log
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.args, stdout=out, stderr=subprocess.STDOUT, env=self.env)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    async def stop(self, timeout: float = 30) -> None:
        """SIGTERM and wait without blocking the loop (the center may be served by this process)."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        proc = self.proc

        async def exited() -> int | None:
            return proc.poll()

        try:
            await wait_for(
                exited, lambda rc: rc is not None, timeout=timeout, interval=0.1, what="operator exit"
            )
        except WaitTimeout:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None


def probe_config(name: str, probe: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "ProbeConfig",
        "metadata": {"name": name, "labels": {"kubeprobe.io/test": "true"}},
        "spec": {"probe": probe, **spec},
    }


async def create_config(kube: KubeClient, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
    return await kube.create(resource_path(API_VERSION, PLURAL, namespace), body)


async def get_config(kube: KubeClient, namespace: str, name: str) -> dict[str, Any]:
    return await kube.get(resource_path(API_VERSION, PLURAL, namespace, name))


async def drop_finalizers(kube: KubeClient, namespace: str) -> None:
    """After the operator is gone, let the test namespace go (kopf's daemons hold a finalizer)."""
    for obj in await kube.list_all(resource_path(API_VERSION, PLURAL, namespace)):
        path = resource_path(API_VERSION, PLURAL, namespace, obj["metadata"]["name"])
        await kube.patch(path, {"metadata": {"finalizers": None}})
