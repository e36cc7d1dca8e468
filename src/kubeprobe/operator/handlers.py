"""The kopf glue: one kopf daemon per ProbeConfig hands its spec to :class:`ProbeOperator`.

Why a daemon: kopf stops daemons when peering pauses this replica (another one with a higher
priority is alive) and starts them again when it resumes, so two replicas never probe one config
twice; our loop lives exactly as long as the daemon does. Login uses our own kubeconfig loader
(or the pod's service account), so kopf and the probes see the same cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from typing import Any

import kopf
from kopf._core.engines.peering import Identity  # kopf.operator's type, not re-exported

from kubeprobe.kube.client import KubeClient, resource_path
from kubeprobe.kube.config import ClusterConnection
from kubeprobe.kube.errors import KubeError
from kubeprobe.operator.runtime import ProbeOperator
from kubeprobe.operator.settings import OperatorSettings
from kubeprobe.operator.spec import API_VERSION, GROUP, PLURAL, VERSION, SpecError, parse_spec

log = logging.getLogger(__name__)
SPEC_POLL_SECONDS = 1.0


def build_registry(conn: ClusterConnection, config: OperatorSettings) -> kopf.OperatorRegistry:
    """A kopf registry (no process-wide default) with login, startup, cleanup and the daemon."""
    reg = kopf.OperatorRegistry()
    state: dict[str, ProbeOperator] = {}

    @kopf.on.login(registry=reg)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(
            server=conn.server,
            ca_data=conn.ca_pem,
            insecure=conn.insecure_skip_tls_verify or None,
            token=conn.token,
            scheme="Bearer" if conn.token else None,
            certificate_data=conn.client_cert_pem,
            private_key_data=conn.client_key_pem,
        )

    @kopf.on.startup(registry=reg)
    async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.posting.level = logging.WARNING
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="kubeprobe.io")
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix="kubeprobe.io", key="last-handled-configuration"
        )
        settings.persistence.finalizer = "kubeprobe.io/operator"
        settings.watching.server_timeout = 300
        settings.peering.lifetime = config.peering_lifetime_seconds
        kube = KubeClient(conn, timeout=10.0, connections=config.api_connections)
        state["op"] = op = ProbeOperator(kube, config)
        await op.start()

    @kopf.on.cleanup(registry=reg)
    async def cleanup(**_: Any) -> None:
        op = state.pop("op", None)
        if op is not None:
            await op.stop()
            await op.kube.close()
            op.buffer.close()

    @kopf.daemon(GROUP, VERSION, PLURAL, registry=reg, cancellation_timeout=5.0)  # type: ignore[arg-type]
    async def probe_config(
        namespace: str, name: str, spec: Any, stopped: kopf.DaemonStopped, **_: Any
    ) -> None:
        op = state["op"]
        key = f"{namespace}/{name}"
        last: Any = None
        try:
            while not stopped:
                current = dict(spec)
                if current != last:
                    last = current
                    try:
                        await op.upsert(parse_spec(namespace, name, current))
                    except (SpecError, ValueError) as exc:
                        await op.remove(key)
                        await _status_error(op.kube, namespace, name, str(exc))
                await stopped.wait(SPEC_POLL_SECONDS)
        finally:
            await asyncio.shield(op.remove(key))

    return reg


async def _status_error(kube: KubeClient, namespace: str, name: str, message: str) -> None:
    log.error("probe config %s/%s: %s", namespace, name, message)
    with contextlib.suppress(KubeError):
        await kube.patch(
            resource_path(API_VERSION, PLURAL, namespace, name, "status"),
            {"status": {"state": "unknown", "error": message[:1000]}},
        )


def peer_identity(settings: OperatorSettings) -> Identity:
    """This process's name among its peers. kopf's own default asks for the user's login name,
    which fails in the image (user 65532 has no passwd entry: ``KeyError: 'getpwuid(): uid not
    found'``, the operator died at start in every pod); the pod's name, or host and pid, is unique."""
    return Identity(settings.identity or f"{socket.gethostname()}/{os.getpid()}")


async def run_operator(
    conn: ClusterConnection, settings: OperatorSettings, stop_flag: asyncio.Event | None = None
) -> None:
    """Run until ``stop_flag`` is set (or forever)."""
    reg = build_registry(conn, settings)
    namespaces = settings.namespaces
    await kopf.operator(
        registry=reg,
        identity=peer_identity(settings),
        clusterwide=not namespaces,
        namespaces=namespaces,
        standalone=settings.standalone,
        priority=settings.priority,
        peering_name=None if settings.standalone else settings.peering,
        stop_flag=stop_flag,
    )
