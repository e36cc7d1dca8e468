"""The leader-leases probe on the sandbox: passes while the control plane's leaders renew their
leases, fails naming the one that stopped (a paused controller-manager) within its stale limit,
passes again once it renews; bad parameters are refused naming the field."""

from __future__ import annotations

import asyncio
import time

import pytest

from kubeprobe.kube.client import KubeClient
from kubeprobe.operator.probes import LEASE_STALE_S, LeaderLeasesProbe, ProbeFailure, registry
from kubeprobe.operator.spec import ProbeConfigSpec
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.faults import Faults


def spec(**params: object) -> ProbeConfigSpec:
    return ProbeConfigSpec("ns", "leases", "leader-leases", interval=1, timeout=2, params=dict(params))


async def _until_failure(probe: LeaderLeasesProbe, limit: float) -> tuple[str, float]:
    start = time.monotonic()
    while time.monotonic() - start < limit:
        try:
            await probe.run()
        except ProbeFailure as exc:
            return str(exc), time.monotonic() - start
        await asyncio.sleep(1.0)
    raise AssertionError(f"no failure in {limit:g}s")


async def test_a_paused_controller_manager_is_named_and_recovers(sandbox: Sandbox, kube: KubeClient) -> None:
    probe = registry.create(spec(), kube)  # the default stale limit, 4 s
    assert isinstance(probe, LeaderLeasesProbe)
    for _ in range(6):  # the leaders renew every 2 s: 5 s of readings, all fine
        await probe.run()
        await asyncio.sleep(1.0)
    faults = Faults(sandbox)
    faults.pause("kube-controller-manager")
    try:
        message, took = await _until_failure(probe, 30)
    finally:
        await faults.resume("kube-controller-manager")
    assert message.startswith("leader lease not renewed: kube-controller-manager (held by ")
    assert "kube-scheduler" not in message
    assert took <= LEASE_STALE_S + 2 + 3, took  # the stale limit, one renewal period, a reading's margin
    deadline = time.monotonic() + 60
    while True:  # renewed again (the supervisor may restart it to take its lease back)
        try:
            await probe.run()
            break
        except ProbeFailure:
            assert time.monotonic() < deadline, "the lease was not renewed after the resume"
            await asyncio.sleep(1.0)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"components": "kube-scheduler"}, "spec.params.components"),
        ({"components": []}, "spec.params.components"),
        ({"components": [""]}, "spec.params.components"),
        ({"staleSeconds": 1}, "spec.params.staleSeconds"),
        ({"staleSeconds": True}, "spec.params.staleSeconds"),
        ({"staleSeconds": "6"}, "spec.params.staleSeconds"),
    ],
)
def test_bad_parameters_name_their_field(params: dict[str, object], field: str, kube: KubeClient) -> None:
    with pytest.raises(ValueError, match=field):
        LeaderLeasesProbe(spec(**params), kube)
