"""`kubeprobe sandbox ...`: build, start, inspect, fault and stop local sandbox clusters."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from kubeprobe.sandbox import preflight, realcluster
from kubeprobe.sandbox.build import Builder
from kubeprobe.sandbox.cluster import Sandbox, list_sandboxes
from kubeprobe.sandbox.components import ORDER
from kubeprobe.sandbox.errors import SandboxError
from kubeprobe.sandbox.faults import Faults
from kubeprobe.sandbox.nodebuild import NodeBuilder
from kubeprobe.sandbox.nodefaults import NodeFaults

sandbox_app = typer.Typer(
    help=(
        "A real Kubernetes control plane on this machine (etcd, kube-apiserver, "
        "controller-manager, scheduler) with kwok-simulated nodes, for tests and demos. "
        "On kwok nodes pods never run containers (kwok moves them through their phases); "
        "`up --real-nodes N` adds real nodes (kubelet, containerd, CNI, kube-proxy, CoreDNS) where they do."
    ),
    no_args_is_help=True,
)
fault_app = typer.Typer(
    help="Inject a reversible fault into a sandbox (each fault has its undo).",
    no_args_is_help=True,
)
sandbox_app.add_typer(fault_app, name="fault")
out = Console()
err = Console(stderr=True, soft_wrap=True)

NameOpt = Annotated[str, typer.Option("--name", "-n", help="Sandbox name (several can run side by side).")]
ComponentArg = Annotated[str, typer.Argument(help=f"One of: {', '.join(ORDER)}.")]


def _say(message: str) -> None:
    err.print(f"[dim]›[/] {message}", highlight=False)


def build_binaries() -> Path:
    """Build (or find cached) sandbox binaries, with a spinner showing the current step."""
    with err.status("checking sandbox binaries", spinner="dots") as status:

        def report(message: str) -> None:
            status.update(message)
            _say(message)

        return Builder(report=report).build()


def build_node_binaries() -> Path:
    """Build (or find cached) the real nodes' binaries, with a spinner."""
    with err.status("checking real-node binaries", spinner="dots") as status:

        def report(message: str) -> None:
            status.update(message)
            _say(message)

        return NodeBuilder(report=report).build()


@sandbox_app.command()
def build(
    real_nodes: Annotated[
        bool, typer.Option("--real-nodes", help="Also kubelet, kube-proxy, containerd, ctr, CoreDNS, pause.")
    ] = False,
) -> None:
    """Build etcd, kube-apiserver, controller-manager, scheduler and kwok (pinned versions).

    Sources come from the Go module proxy; output goes to a per-user cache folder keyed by the
    versions, so a second call builds nothing. Needs Go >= 1.26.
    """
    path = build_binaries()
    out.print(str(path))
    if real_nodes:
        out.print(str(build_node_binaries()))


@sandbox_app.command("preflight")
def preflight_command() -> None:
    """Say whether this machine can run real nodes, and exactly what is missing if not."""
    problems = preflight.missing()
    if not problems:
        out.print("this machine can run real nodes")
        return
    preflight.check()


@sandbox_app.command("build-helm")
def build_helm_command() -> None:
    """Build helm (pinned, from the Go module proxy) into the cache once; print its path.

    The chart's tests and installs (deploy/helm) use it; HELM_BIN names another helm instead.
    """
    from kubeprobe.sandbox.helm import build_helm

    out.print(str(build_helm(report=_say)))


@sandbox_app.command()
def up(
    name: NameOpt = "default",
    nodes: Annotated[int, typer.Option("--nodes", min=0, help="kwok nodes to create.")] = 3,
    apiserver_port: Annotated[
        int | None, typer.Option(help="Fixed API server port (default: a free one).")
    ] = None,
    real_nodes: Annotated[
        int,
        typer.Option(
            "--real-nodes",
            min=0,
            max=8,
            help="Real nodes beside the kwok nodes (root; see `sandbox preflight`), tainted "
            "kubeprobe.io/real-node=true:NoSchedule, with CoreDNS and kube-proxy.",
        ),
    ] = 0,
) -> None:
    """Start a sandbox (building binaries first if needed); returns when it is ready.

    Idempotent: when the sandbox already runs, it says so and changes nothing.
    """
    if real_nodes:
        preflight.check()
    bin_dir = build_binaries()
    node_bin = build_node_binaries() if real_nodes else None
    sandbox = Sandbox(name)
    asyncio.run(
        sandbox.up(
            bin_dir,
            node_count=nodes,
            apiserver_port=apiserver_port,
            real_nodes=real_nodes,
            node_bin_dir=node_bin,
            report=_say,
        )
    )
    if sandbox.real_nodes:
        _say(
            f"pods reach this machine (the API server, CoreDNS, a center) at {sandbox.real_nodes['host_ip']}"
        )
    out.print(f"export KUBECONFIG={sandbox.kubeconfig}")


@sandbox_app.command("load-image")
def load_image(
    archive: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="OCI or Docker image archive.")
    ],
    name: NameOpt = "default",
) -> None:
    """Import an image archive (e.g. from `kubeprobe image build`) into every real node's containerd.

    Pods then use it by its name with imagePullPolicy IfNotPresent or Never.
    """
    sandbox = Sandbox(name)
    if not sandbox.real_nodes:
        raise SandboxError(
            f"sandbox {name!r} has no real nodes: start one with "
            f"`kubeprobe sandbox up --name {name} --real-nodes 1`"
        )
    nodes_done = realcluster.load_archive(sandbox.state, archive)
    _say(f"{archive.name} loaded into {', '.join(nodes_done)}")


@sandbox_app.command()
def down(name: NameOpt = "default") -> None:
    """Stop a sandbox's processes and delete its folder (no error if it does not exist)."""
    Sandbox(name).down(report=_say)


@sandbox_app.command()
def kubeconfig(name: NameOpt = "default") -> None:
    """Print the path of a sandbox's admin kubeconfig."""
    sandbox = Sandbox(name)
    _ = sandbox.state  # raises a clear error when it does not exist
    out.print(str(sandbox.kubeconfig))


@sandbox_app.command()
def status(
    name: Annotated[str | None, typer.Option("--name", "-n", help="One sandbox (default: all).")] = None,
    output: Annotated[str, typer.Option("--output", "-o", help="table or json.")] = "table",
) -> None:
    """Show each sandbox's components (process, health), version, nodes and folders."""
    names = [name] if name else list_sandboxes()
    if not names:
        err.print("no sandboxes; start one with `kubeprobe sandbox up`")
        return
    results = [asyncio.run(Sandbox(n).status()) for n in names]
    if output == "json":
        out.print_json(json.dumps(results))
        return
    for res in results:
        table = Table(title=f"sandbox {res['name']}  {res.get('version', '')}  {res['server']}")
        table.add_column("component")
        table.add_column("pid")
        table.add_column("process")
        table.add_column("healthy")
        for comp in res["components"]:
            mark = "[green]yes[/]" if comp["healthy"] else "[red]no[/]"
            table.add_row(comp["name"], str(comp["pid"] or "-"), str(comp["process"]), mark)
        out.print(table)
        if "nodes" in res:
            out.print(f"nodes: {res['nodes_ready']}/{res['nodes']} Ready")
        else:
            out.print(f"[red]API server: {res['api_error']}[/]")
        out.print(f"kubeconfig: {res['kubeconfig']}\nlogs: {res['logs']}")


@sandbox_app.command("add-nodes")
def add_nodes(
    count: Annotated[int, typer.Argument(min=1, help="How many kwok nodes to add.")],
    name: NameOpt = "default",
) -> None:
    """Add kwok nodes to a running sandbox and wait until they are Ready."""
    created = asyncio.run(Sandbox(name).add_nodes(count))
    _say(f"added {len(created)} nodes ({created[0]} … {created[-1]})")


# -- faults -----------------------------------------------------------------------------------
def _faults(name: str) -> Faults:
    return Faults(Sandbox(name))


@fault_app.command()
def pause(component: ComponentArg, name: NameOpt = "default") -> None:
    """SIGSTOP a component: it keeps its sockets and answers nothing. Undo: `resume`."""
    _faults(name).pause(component)
    _say(f"{component} paused")


@fault_app.command()
def resume(component: ComponentArg, name: NameOpt = "default") -> None:
    """SIGCONT a paused component."""
    asyncio.run(_faults(name).resume(component))
    _say(f"{component} resumed")


@fault_app.command()
def stop(component: ComponentArg, name: NameOpt = "default") -> None:
    """Stop a component's process. Undo: `start`."""
    _faults(name).stop(component)
    _say(f"{component} stopped")


@fault_app.command()
def start(component: ComponentArg, name: NameOpt = "default") -> None:
    """Start a stopped component again and wait until it is healthy."""
    asyncio.run(_faults(name).start(component))
    _say(f"{component} started")


@fault_app.command("node-not-ready")
def node_not_ready(
    node: str,
    name: NameOpt = "default",
    undo: Annotated[bool, typer.Option("--undo", help="Make the node Ready again.")] = False,
) -> None:
    """Make one node NotReady (kwok's node-not-ready stage)."""
    faults = _faults(name)
    asyncio.run(faults.node_ready(node) if undo else faults.node_not_ready(node))
    _say(f"node {node} {'Ready' if undo else 'NotReady'}")


@fault_app.command()
def taint(
    node: str,
    taint_spec: Annotated[str, typer.Argument(metavar="KEY[=VALUE]:EFFECT")],
    name: NameOpt = "default",
    undo: Annotated[bool, typer.Option("--undo", help="Remove the taint with this key.")] = False,
) -> None:
    """Taint a node, e.g. `taint kwok-node-0 dedicated=infra:NoSchedule`."""
    match = re.fullmatch(r"([^=:]+)(?:=([^:]*))?(?::(NoSchedule|PreferNoSchedule|NoExecute))?", taint_spec)
    if not match or (not undo and not match.group(3)):
        raise SandboxError(
            f"bad taint {taint_spec!r}: write KEY[=VALUE]:EFFECT with EFFECT one of "
            "NoSchedule, PreferNoSchedule, NoExecute"
        )
    key, value, effect = match.group(1), match.group(2) or "", match.group(3) or ""
    faults = _faults(name)
    asyncio.run(faults.untaint(node, key) if undo else faults.taint(node, key, value, effect))
    _say(f"node {node}: taint {key} {'removed' if undo else 'set'}")


@fault_app.command()
def cordon(
    node: str,
    name: NameOpt = "default",
    undo: Annotated[bool, typer.Option("--undo", help="Uncordon.")] = False,
) -> None:
    """Mark a node unschedulable."""
    asyncio.run(_faults(name).cordon(node, on=not undo))
    _say(f"node {node} {'uncordoned' if undo else 'cordoned'}")


@fault_app.command()
def webhook(
    name: NameOpt = "default",
    namespace: Annotated[
        str | None, typer.Option(help="Only this namespace (default: all but kube-system).")
    ] = None,
    undo: Annotated[bool, typer.Option("--undo", help="Remove the webhook.")] = False,
) -> None:
    """Install a validating webhook on pod creation that always fails (failurePolicy Fail)."""
    faults = _faults(name)
    asyncio.run(faults.remove_failing_webhook() if undo else faults.failing_webhook(namespace))
    _say(f"failing webhook {'removed' if undo else 'installed'}")


@fault_app.command()
def quota(
    namespace: str,
    name: NameOpt = "default",
    undo: Annotated[bool, typer.Option("--undo", help="Remove the quota.")] = False,
) -> None:
    """Exhaust a namespace's ResourceQuota: no further pod can be created there."""
    faults = _faults(name)
    asyncio.run(faults.restore_quota(namespace) if undo else faults.exhaust_quota(namespace))
    _say(f"quota in {namespace} {'removed' if undo else 'exhausted'}")


def _parse_duration(text: str) -> dt.timedelta:
    match = re.fullmatch(r"(-?\d+)([smhd])", text)
    if not match:
        raise SandboxError(f"bad duration {text!r}: write e.g. 30s, 10m, 12h, 7d (negative for the past)")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    return dt.timedelta(**{unit: int(match.group(1))})


@fault_app.command("cert-secret")
def cert_secret(
    namespace: str,
    secret: str,
    expires_in: Annotated[
        str, typer.Option(help="When the certificate ends: 30s, 12h, 7d, -1d (expired).")
    ] = "7d",
    name: NameOpt = "default",
) -> None:
    """Create a TLS Secret whose certificate expires at a given time."""
    when = dt.datetime.now(dt.UTC) + _parse_duration(expires_in)
    asyncio.run(_faults(name).expiring_tls_secret(namespace, secret, when))
    _say(f"secret {namespace}/{secret}: certificate expires {when:%Y-%m-%dT%H:%M:%SZ}")


# -- node-side faults (sandboxes with real nodes) --------------------------------------------------
NodeOpt = Annotated[int, typer.Option("--node", min=0, help="Index of the real node (real-node-N).")]
UndoOpt = Annotated[bool, typer.Option("--undo", help="Undo the fault.")]


def _node_faults(name: str) -> NodeFaults:
    return NodeFaults(Sandbox(name))


@fault_app.command("stop-runtime")
def stop_runtime(name: NameOpt = "default", node: NodeOpt = 0, undo: UndoOpt = False) -> None:
    """Stop a real node's containerd (its containers run on; new pods get no sandbox)."""
    faults = _node_faults(name)
    asyncio.run(faults.start_runtime(node)) if undo else faults.stop_runtime(node)
    _say(f"containerd of real-node-{node} {'started' if undo else 'stopped'}")


@fault_app.command("stop-kubelet")
def stop_kubelet(name: NameOpt = "default", node: NodeOpt = 0, undo: UndoOpt = False) -> None:
    """Stop a real node's kubelet (the node goes NotReady after its grace period)."""
    faults = _node_faults(name)
    asyncio.run(faults.start_kubelet(node)) if undo else faults.stop_kubelet(node)
    _say(f"kubelet of real-node-{node} {'started' if undo else 'stopped'}")


@fault_app.command("stop-kube-proxy")
def stop_kube_proxy(name: NameOpt = "default", node: NodeOpt = 0, undo: UndoOpt = False) -> None:
    """Stop a real node's kube-proxy and flush its rules (Services stop working there)."""
    faults = _node_faults(name)
    asyncio.run(faults.start_kube_proxy(node)) if undo else faults.stop_kube_proxy(node)
    _say(f"kube-proxy of real-node-{node} {'started' if undo else 'stopped, its rules flushed'}")


@fault_app.command("stop-dns")
def stop_dns(name: NameOpt = "default", undo: UndoOpt = False) -> None:
    """Stop CoreDNS (cluster DNS names stop resolving)."""
    faults = _node_faults(name)
    asyncio.run(faults.start_dns()) if undo else faults.stop_dns()
    _say(f"CoreDNS {'started' if undo else 'stopped'}")


@fault_app.command("remove-image")
def remove_image(image: str, name: NameOpt = "default") -> None:
    """Remove an image from every real node. Undo: `sandbox load-image ARCHIVE`."""
    removed = _node_faults(name).remove_image(image)
    _say(f"{image} removed from {', '.join(removed) or 'no node (it was not there)'}")


@fault_app.command("crash-loop")
def crash_loop(
    namespace: str,
    name: NameOpt = "default",
    image: Annotated[str | None, typer.Option(help="An image with python3 (default: KubeProbe's).")] = None,
    undo: UndoOpt = False,
) -> None:
    """A Deployment on a real node whose container keeps exiting (CrashLoopBackOff)."""
    from kubeprobe.sandbox.image import default_tag

    faults = _node_faults(name)
    if undo:
        asyncio.run(faults.remove_crash_loop(namespace))
    else:
        asyncio.run(faults.crash_loop(namespace, image or default_tag()))
    _say(f"crash-looping deployment in {namespace} {'removed' if undo else 'created'}")


@fault_app.command("disk-pressure")
def disk_pressure(name: NameOpt = "default", node: NodeOpt = 0, undo: UndoOpt = False) -> None:
    """Make a real node report DiskPressure (kubelet's eviction threshold above what is free)."""
    faults = _node_faults(name)
    asyncio.run(faults.relieve_pressure(node) if undo else faults.disk_pressure(node))
    _say(f"real-node-{node} {'has no DiskPressure' if undo else 'reports DiskPressure'}")
