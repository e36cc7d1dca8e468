"""Evidence from the cluster for a failed run: component health and leader leases, node states.

Facts are plain values so rules can test them: ``apiserver_ready`` (bool), ``apiserver_answer``
(``"timed out"`` when the API server accepts connections but answers nothing, not even
``/livez/ping``: a hung process; when it answers the ping but its readiness times out, the wait is
on etcd and ``etcd_healthy`` is false),
``etcd_healthy`` (bool, from the API server's own etcd check: ``/readyz/etcd`` alone first, with
``ETCD_CHECK_S`` once ``/livez/ping`` answered, then in its verbose ``/readyz``),
``readyz_failed`` (the checks ``/readyz`` names as failed), ``stale_leases`` (components whose
leader lease was not renewed for ``LEASE_STALE_S``: a live leader renews every two seconds),
``not_ready_nodes`` and ``pressured_nodes`` (names), ``node_not_ready_taints`` (some node carries
the not-ready or unreachable taint), ``node_pressure_taints`` (some node carries a memory, disk or
PID pressure taint) and ``node_count``. A fact that could not be read is left out,
never guessed; a cluster that does not answer at all gives only ``unreachable`` (the center not
reaching it is no proof the API server is down). An API server that does not answer ends the
collection at once: every further request would wait out its timeout for nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from typing import Any

import httpx

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.errors import KubeAPIError, KubeConnectionError, KubeError

LEASED = ("kube-scheduler", "kube-controller-manager")
PRESSURES = ("MemoryPressure", "DiskPressure", "PIDPressure")
NODE_PAGE = 2000
NOT_READY_TAINTS = {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"}
PRESSURE_TAINTS = {f"node.kubernetes.io/{kind}-pressure" for kind in ("memory", "disk", "pid")}
#: A leader renews its lease every retry period (2 s by default) and gives up leadership when it
#: could not for its renew deadline (10 s): a lease not renewed for two retry periods and a margin
#: belongs to a leader that is not working (read only when a run failed, never as an alarm).
LEASE_STALE_S = 5.0
#: Each health request's limit: a healthy API server answers /readyz in milliseconds.
CHECK_TIMEOUT_S = 3.0
#: The limit of the API server's etcd check once /livez/ping answered (a healthy etcd answers it in
#: milliseconds; a hung one makes the API server wait its own 2 s limit for nothing).
ETCD_CHECK_S = 1.0
TIMED_OUT = "timed out"


async def _check(kube: KubeClient, path: str, timeout: float) -> tuple[bool | None, str]:
    """(True, "") ready; (False, the failed checks) an error status; (False, "timed out") a server
    that accepts but does not answer; (None, why) when nothing answers at all (refused, no route):
    then nothing can be said."""
    try:
        await kube.request("GET", path, params={"verbose": "true"}, timeout=timeout)
    except KubeAPIError as exc:
        failed = [
            line[3:].split(" failed")[0] for line in str(exc.message).splitlines() if line.startswith("[-]")
        ]
        return False, ", ".join(failed) or f"{exc.status} {exc.reason}"
    except KubeConnectionError as exc:
        cause = exc.__cause__
        if isinstance(cause, httpx.ConnectTimeout) and await _accepts(kube.conn.server, timeout):
            return False, TIMED_OUT  # the TCP connection opens, TLS never answers: a hung process
        if isinstance(cause, httpx.TimeoutException) and not isinstance(cause, httpx.ConnectTimeout):
            return False, TIMED_OUT
        return None, str(exc)
    return True, ""


async def _etcd_check(kube: KubeClient, timeout: float) -> str:
    """Why the API server's own etcd check (``/readyz/etcd``) fails: "timed out", or its 5xx
    answer; "" when it passes or says nothing either way (a 403 or 404: no such check here)."""
    try:
        await kube.request("GET", "/readyz/etcd", timeout=timeout)
    except KubeAPIError as exc:
        return f"failed ({exc.status}: {str(exc.message)[:200]})" if exc.status >= 500 else ""
    except KubeConnectionError as exc:
        cause = exc.__cause__
        timed_out = isinstance(cause, httpx.TimeoutException) and not isinstance(cause, httpx.ConnectTimeout)
        return TIMED_OUT if timed_out else ""
    return ""


async def _accepts(server: str, timeout: float) -> bool:
    """Whether the server's address accepts a TCP connection: a hung API server's kernel still
    does (its listen backlog), a network that drops packets or a host that is gone does not."""
    url = httpx.URL(server)
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(url.host, url.port or 443), min(timeout, 2.0)
        )
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


def _parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


async def component_evidence(
    kube: KubeClient, now: dt.datetime | None = None, timeout: float = CHECK_TIMEOUT_S
) -> dict[str, Any]:
    now = now or dt.datetime.now(dt.UTC)
    facts: dict[str, Any] = {}
    # /livez/ping first: it needs nothing behind it and answers in milliseconds, so when it times
    # out (1 s) the process is hung and /readyz could not answer either: waiting out its longer
    # limit would only delay the analysis of a hung API server. (Not both at once: cancelling a
    # request in its TLS handshake leaves the transport open.)
    _, ping_why = await _check(kube, "/livez/ping", min(timeout, 1.0))
    if ping_why == TIMED_OUT:
        return {"apiserver_ready": False, "apiserver_answer": TIMED_OUT}
    # The process answers: its etcd check alone next, with a short limit. /readyz runs its two etcd
    # checks one after the other, each with the API server's own 2 s limit: with etcd hung it
    # answers after 4 s, while a healthy etcd answers this one in milliseconds.
    etcd_down = await _etcd_check(kube, min(timeout, ETCD_CHECK_S))
    if etcd_down:
        return {
            "apiserver_ready": False,
            "readyz_failed": f"etcd: {etcd_down} (the API server answers /livez/ping)",
            "etcd_healthy": False,
        }
    ready, why = await _check(kube, "/readyz", timeout)
    if ready is None:
        return {"unreachable": True, "error": f"the API server does not answer: {why}"[:400]}
    facts["apiserver_ready"] = ready
    if why == TIMED_OUT:
        # The process answers a check that needs nothing behind it, but not its readiness, whose
        # slow part is the storage check: etcd does not answer the API server.
        facts["readyz_failed"] = "etcd: timed out (the API server answers /livez/ping)"
        facts["etcd_healthy"] = False
        return facts
    if ready:
        facts["etcd_healthy"] = True  # /readyz includes the etcd check
    else:
        facts["readyz_failed"] = why
        checks = why.split(", ")
        if any(" " not in c for c in checks):  # names of failed checks (not a bare status)
            # the verbose answer names every failed check: etcd (or etcd-readiness) among them?
            facts["etcd_healthy"] = not any(c.startswith("etcd") for c in checks)
    facts["stale_leases"] = await _stale_leases(kube, now, timeout)
    try:
        # One bounded page: at fleet scale the first NODE_PAGE nodes say enough about node health.
        nodes = (
            await kube.request("GET", "/api/v1/nodes", params={"limit": NODE_PAGE}, timeout=3 * timeout)
        ).get("items") or []
    except KubeError:
        return facts
    not_ready, pressured = [], []
    tainted = pressure_tainted = False
    for node in nodes:
        keys = {t.get("key") for t in (node.get("spec") or {}).get("taints") or []}
        tainted = tainted or bool(keys & NOT_READY_TAINTS)
        pressure_tainted = pressure_tainted or bool(keys & PRESSURE_TAINTS)
        conds = {c.get("type"): c.get("status") for c in (node.get("status") or {}).get("conditions") or []}
        if conds.get("Ready") != "True":
            not_ready.append(node["metadata"]["name"])
        if any(conds.get(p) == "True" for p in PRESSURES):
            pressured.append(node["metadata"]["name"])
    facts["not_ready_nodes"] = not_ready
    facts["pressured_nodes"] = pressured
    facts["node_not_ready_taints"] = tainted
    facts["node_pressure_taints"] = pressure_tainted
    facts["node_count"] = len(nodes)
    return facts


async def _stale_leases(kube: KubeClient, now: dt.datetime, timeout: float) -> list[str]:
    stale = []
    for name in LEASED:
        try:
            lease = await kube.request(
                "GET", f"/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/{name}", timeout=timeout
            )
        except KubeError:
            continue
        spec = lease.get("spec") or {}
        renewed = _parse_time(spec.get("renewTime"))
        limit = min(float(spec.get("leaseDurationSeconds") or 15), LEASE_STALE_S)
        if renewed is None or (now - renewed).total_seconds() > limit:
            stale.append(name)
    return stale
