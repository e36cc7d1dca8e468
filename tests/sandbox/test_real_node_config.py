"""What real nodes are started with: the facts of this kind of machine are in their configuration."""

from __future__ import annotations

import json
from pathlib import Path

from kubeprobe.sandbox import network, realcluster, realnode
from kubeprobe.sandbox.network import SandboxNet


def test_containerd_socket_folder_stays_within_42_characters() -> None:
    # containerd silently drops its CRI plugin when the socket folder's path is longer.
    tag = network.tag_of(Path("/root/.cache/kubeprobe/sandboxes/" + "x" * 40))
    for index in range(8):
        assert len(str(realnode.socket_dir(tag, index))) <= 42


def test_addresses_of_a_slot_do_not_overlap_the_kwok_or_service_ranges() -> None:
    net = SandboxNet(slot=27, tag="abcdef")
    assert net.host_ip == "10.127.255.1"
    assert net.node(3).ip == "10.127.255.13"
    assert net.node(3).pod_cidr == "10.127.3.0/24"
    assert len(net.bridge) <= 15
    assert len(net.node(7).veth) <= 15


def test_configs_carry_what_this_machine_needs(tmp_path: Path) -> None:
    net = SandboxNet(slot=0, tag="abcdef")
    node = net.node(0)
    kubelet = realnode.kubelet_config(tmp_path, net.tag, node)
    assert kubelet["oomScoreAdj"] == 0  # no CAP_SYS_RESOURCE here
    assert kubelet["failCgroupV1"] is False
    assert kubelet["registerWithTaints"] == [
        {"key": realnode.TAINT_KEY, "value": "true", "effect": "NoSchedule"}
    ]
    assert kubelet["cgroupRoot"] == "/kp-abcdef-0"
    proxy = realnode.kube_proxy_config(tmp_path, net, node)
    assert proxy["oomScoreAdj"] == 0
    assert proxy["conntrack"]["maxPerCore"] == 0  # machine-wide: left alone
    containerd = realnode.containerd_config(tmp_path, net.tag, node)
    assert "restrict_oom_score_adj = true" in containerd
    assert f"sandbox = '{realnode.PAUSE_IMAGE}'" in containerd
    cni = realnode.cni_config(tmp_path, net, node)
    assert json.loads(json.dumps(cni))["plugins"][0]["ipam"]["ranges"] == [[{"subnet": "10.100.0.0/24"}]]


def test_api_server_listens_where_pods_reach_it_and_checks_kubelets(tmp_path: Path) -> None:
    argv = [
        "kube-apiserver",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        "--authorization-mode=RBAC",
    ]
    got = realcluster.apiserver_flags(argv, tmp_path, "10.100.255.1")
    assert "--bind-address=0.0.0.0" in got
    assert "--advertise-address=10.100.255.1" in got
    assert "--authorization-mode=Node,RBAC" in got
    assert "--kubelet-preferred-address-types=InternalIP" in got
    assert any(a.startswith("--kubelet-certificate-authority=") for a in got)


def test_node_components_run_inside_the_node_network_namespace(tmp_path: Path) -> None:
    net = SandboxNet(slot=0, tag="abcdef")
    argvs = realnode.argvs(tmp_path, Path("/bin-dir"), net, net.node(1))
    for argv in argvs.values():
        assert argv[:3] == ["nsenter", "--net=/run/netns/kp-abcdef-1", "--"]
    assert "--node-ip=10.100.255.11" in argvs["kubelet-1"]
