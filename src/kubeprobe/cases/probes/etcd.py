"""etcd black-box probe: put, get, delete and txn through etcd's v3 JSON gateway.

Each operation runs ``rounds`` times; the probe records its success ratio and latency as metrics
and fails below 100% success or above the latency threshold. Over https it presents a client
certificate (``cert_file``/``key_file``) and trusts ``ca_file``. Keys live under a per-run prefix
that is deleted at the end whatever happened.
"""

from __future__ import annotations

import base64
import contextlib
import ssl
import time
from typing import Any, Literal

import httpx
from pydantic import BaseModel, Field

from kubeprobe.cases.context import CaseContext, ProbeFailure, short_id
from kubeprobe.cases.registry import REGISTRY
from kubeprobe.kube.errors import KubeConfigError

Op = Literal["put", "get", "delete", "txn"]
OPS: tuple[Op, ...] = ("put", "get", "txn", "delete")


class EtcdProbeParams(BaseModel):
    """Parameters of the etcd probe: where etcd is, how to authenticate, thresholds."""

    endpoint: str = Field("https://127.0.0.1:2379", description="etcd client URL (http or https).")
    ca_file: str = Field("/etc/kubernetes/pki/etcd/ca.crt", description="CA bundle (https only).")
    cert_file: str = Field(
        "/etc/kubernetes/pki/etcd/healthcheck-client.crt", description="Client certificate (https only)."
    )
    key_file: str = Field(
        "/etc/kubernetes/pki/etcd/healthcheck-client.key", description="Client key (https only)."
    )
    key_prefix: str = Field("/kubeprobe/probe/", description="Prefix of the probe's keys.")
    rounds: int = Field(3, ge=1, le=100, description="How many times each operation runs.")
    op_timeout_seconds: float = Field(2, gt=0, description="Deadline of one operation.")
    latency_threshold_ms: float = Field(500, gt=0, description="Slowest acceptable operation.")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class EtcdGatewayError(Exception):
    """One gateway call failed; the message is etcd's own words or the transport's."""


def tls_context(params: EtcdProbeParams) -> ssl.SSLContext:
    try:
        ctx = ssl.create_default_context(cafile=params.ca_file)
        ctx.load_cert_chain(params.cert_file, params.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise KubeConfigError(
            f"etcd probe: cannot load TLS material (ca_file={params.ca_file}, cert_file="
            f"{params.cert_file}, key_file={params.key_file}): {exc}; set the parameters to readable files"
        ) from exc
    return ctx


class EtcdGateway:
    """The few calls of etcd's v3 JSON gateway the probe makes."""

    def __init__(self, http: httpx.AsyncClient, endpoint: str, timeout: float) -> None:
        self.http = http
        self.endpoint = endpoint.rstrip("/")
        self.timeout = timeout

    async def call(self, api: str, body: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.endpoint}/v3/{api}"
        try:
            resp = await self.http.post(url, json=body, timeout=self.timeout)
        except httpx.TimeoutException as exc:
            raise EtcdGatewayError(
                f"{url}: no answer within {self.timeout:g}s (context deadline exceeded)"
            ) from exc
        except (httpx.TransportError, ssl.SSLError) as exc:
            # Under TLS 1.3 a refused client certificate surfaces on the first read, and httpx
            # lets that ssl.SSLError through unwrapped.
            raise EtcdGatewayError(f"{url}: {exc or type(exc).__name__}") from exc
        try:
            data: dict[str, Any] = resp.json()
        except ValueError:
            data = {"message": resp.text[:300]}
        if resp.status_code >= 400 or "error" in data:
            raise EtcdGatewayError(f"{url}: HTTP {resp.status_code}: {data.get('message') or data}")
        return data

    async def op(self, op: Op, key: str, value: str) -> None:
        """One operation, checked: a get must read back what was put, a txn must take its branch."""
        if op == "put":
            await self.call("kv/put", {"key": _b64(key), "value": _b64(value)})
        elif op == "get":
            data = await self.call("kv/range", {"key": _b64(key)})
            kvs = data.get("kvs") or []
            got = base64.b64decode(kvs[0].get("value", "")).decode() if kvs else None
            if got != value:
                raise EtcdGatewayError(f"get of {key} returned {got!r}, expected {value!r}")
        elif op == "txn":
            data = await self.call(
                "kv/txn",
                {
                    "compare": [
                        {"key": _b64(key), "result": "EQUAL", "target": "VALUE", "value": _b64(value)}
                    ],
                    "success": [{"requestPut": {"key": _b64(key), "value": _b64(value + "-txn")}}],
                    "failure": [],
                },
            )
            if not data.get("succeeded"):
                raise EtcdGatewayError(f"txn comparing {key} == {value!r} took the failure branch")
        else:
            data = await self.call("kv/deleterange", {"key": _b64(key)})
            if str(data.get("deleted", "0")) != "1":
                raise EtcdGatewayError(f"delete of {key} deleted {data.get('deleted', 0)} keys, expected 1")


@REGISTRY.probe("etcd-probe", params=EtcdProbeParams, timeout_seconds=120)
async def etcd_probe(ctx: CaseContext, params: EtcdProbeParams) -> None:
    """Put, get, txn and delete keys through etcd's v3 gateway; success rate and latency per operation."""
    verify: ssl.SSLContext | bool = tls_context(params) if params.endpoint.startswith("https") else False
    prefix = f"{params.key_prefix.rstrip('/')}/{short_id(ctx.run_id)}/"
    latencies: dict[Op, list[float]] = {op: [] for op in OPS}
    errors: dict[Op, list[str]] = {op: [] for op in OPS}
    async with httpx.AsyncClient(verify=verify) as http:
        gateway = EtcdGateway(http, params.endpoint, params.op_timeout_seconds)
        try:
            with ctx.report.step("operations"):
                for round_ in range(params.rounds):
                    key, value = f"{prefix}{round_}", f"{ctx.run_id}-{round_}"
                    for op in OPS:
                        start = time.monotonic()
                        try:
                            await gateway.op(op, key, value if op != "delete" else "")
                        except EtcdGatewayError as exc:
                            errors[op].append(str(exc))
                            if op in ("put", "get"):
                                # Without the key the remaining operations of the round say nothing new.
                                break
                            continue
                        latencies[op].append((time.monotonic() - start) * 1000)
                for op in OPS:
                    done = len(latencies[op])
                    ctx.report.metrics[f"{op}_success_ratio"] = round(done / params.rounds, 3)
                    if done:
                        ctx.report.metrics[f"{op}_latency_ms_max"] = round(max(latencies[op]), 2)
                        ctx.report.metrics[f"{op}_latency_ms_mean"] = round(sum(latencies[op]) / done, 2)
                failing = [op for op in OPS if len(latencies[op]) < params.rounds]
                if failing:
                    detail = "; ".join(
                        f"{op} {len(latencies[op])}/{params.rounds} ok"
                        + (f" ({errors[op][-1]})" if errors[op] else " (not attempted)")
                        for op in failing
                    )
                    raise ProbeFailure(f"etcd at {params.endpoint}: {detail}")
            with ctx.report.step("latency"):
                slow = {
                    op: max(latencies[op]) for op in OPS if max(latencies[op]) > params.latency_threshold_ms
                }
                if slow:
                    detail = ", ".join(f"{op} {ms:.0f}ms" for op, ms in slow.items())
                    raise ProbeFailure(
                        f"etcd at {params.endpoint} is slow: {detail} "
                        f"(threshold {params.latency_threshold_ms:g}ms)"
                    )
        finally:
            with contextlib.suppress(EtcdGatewayError):
                await gateway.call(
                    "kv/deleterange", {"key": _b64(prefix), "range_end": _b64(prefix[:-1] + "0")}
                )
