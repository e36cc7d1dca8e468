"""`kubeprobe cluster|group|template|case|suite|binding ...` and `kubeprobe bind`: the center's setup."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from kubeprobe.cli.center_client import Output, OutputOpt, all_pages, call, out, pairs, seconds, show
from kubeprobe.kube.config import inline_kubeconfig, load_kubeconfig

cluster_app = typer.Typer(help="Register clusters and see their health.", no_args_is_help=True)
group_app = typer.Typer(help="Cluster groups: label selectors over clusters.", no_args_is_help=True)
template_app = typer.Typer(
    help="Case templates: what a probe or inspection runs, its parameters.", no_args_is_help=True
)
case_app = typer.Typer(help="Cases: a template plus rendered parameters.", no_args_is_help=True)
suite_app = typer.Typer(help="Suites: named sets of cases.", no_args_is_help=True)
binding_app = typer.Typer(help="Bindings made with `kubeprobe bind`: list and show.", no_args_is_help=True)

CLUSTER_COLUMNS = ("name", "labels", "server", "state", "version")
LabelOpt = Annotated[list[str] | None, typer.Option("--label", "-l", help="k=v; repeat for several.")]


def _read_document(path: Path) -> Any:
    try:
        text = path.read_text()
    except OSError as exc:
        raise typer.BadParameter(f"{path}: {exc.strerror}", param_hint="-f") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise typer.BadParameter(f"{path}: not YAML or JSON: {exc}", param_hint="-f") from exc


# --- clusters --------------------------------------------------------------------------------


@cluster_app.command("add")
def cluster_add(
    name: str,
    *,
    kubeconfig: Annotated[Path, typer.Option("--kubeconfig", help="The cluster's kubeconfig file.")],
    context: Annotated[str | None, typer.Option(help="Context in it (default: current-context).")] = None,
    label: LabelOpt = None,
    check: Annotated[bool, typer.Option(help="Connect once and record state and version.")] = True,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Register a cluster. The kubeconfig is checked here and by the center, stored encrypted.

    The center accepts self-contained kubeconfigs only (inline data and tokens): when this one
    names local files (certificate-authority, client-certificate, client-key, tokenFile), they are
    read here and the context is uploaded with their contents inline, and this says so.
    """
    load_kubeconfig(kubeconfig, context)  # clear message before anything is sent
    text, inlined = inline_kubeconfig(kubeconfig, context)
    if inlined:
        typer.echo(
            f"{kubeconfig} names local files or fields the center does not accept: uploading its "
            f"context {context or '(current)'} alone, with the files' contents inline",
            err=True,
        )
    body = {
        "name": name,
        "kubeconfig": text,
        "context": context,
        "labels": pairs(label, "--label"),
    }
    created = call("POST", "/api/v1/clusters", body=body)
    if check:
        created = call("POST", f"/api/v1/clusters/{name}/check")
    show(created, output, CLUSTER_COLUMNS)


@cluster_app.command("list")
def cluster_list(label: LabelOpt = None, output: OutputOpt = Output.TABLE) -> None:
    """Registered clusters (filter by labels)."""
    show(all_pages("/api/v1/clusters", {"label": label or None, "limit": 1000}), output, CLUSTER_COLUMNS)


@cluster_app.command("check")
def cluster_check(name: str, output: OutputOpt = Output.TABLE) -> None:
    """Connect to a cluster now; record whether it answers and its version."""
    show(call("POST", f"/api/v1/clusters/{name}/check"), output, (*CLUSTER_COLUMNS, "state_message"))


@cluster_app.command("health")
def cluster_health(
    name: str,
    window: Annotated[int, typer.Option(help="Hours to look back.")] = 24,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Per case: last state, success ratio, latency."""
    data = call("GET", f"/api/v1/clusters/{name}/health", params={"window_hours": window})
    if output is Output.JSON:
        show(data, output, ())
        return
    cols = (
        "case",
        "last_state",
        "runs",
        "failures",
        "errors",
        "success_ratio",
        "latency_avg_ms",
        "latency_p95_ms",
    )
    show(data["cases"], output, cols, title=f"{name} ({data['state']}), last {window}h")


@cluster_app.command("delete")
def cluster_delete(name: str) -> None:
    """Remove a cluster with its runs."""
    call("DELETE", f"/api/v1/clusters/{name}")
    out.print(f"deleted cluster {name}")


# --- groups ----------------------------------------------------------------------------------


@group_app.command("add")
def group_add(
    name: str,
    selector: Annotated[list[str], typer.Option("--selector", "-s", help="k=v a member must have; repeat.")],
    output: OutputOpt = Output.TABLE,
) -> None:
    """A cluster group: every cluster whose labels match all of the selector."""
    show(
        call("POST", "/api/v1/groups", body={"name": name, "selector": pairs(selector, "--selector")}),
        output,
        ("name", "selector", "clusters"),
    )


@group_app.command("list")
def group_list(output: OutputOpt = Output.TABLE) -> None:
    show(all_pages("/api/v1/groups", {"limit": 1000}), output, ("name", "selector", "clusters"))


# --- templates, cases, suites ----------------------------------------------------------------


@template_app.command("add")
def template_add(
    file: Annotated[
        Path, typer.Option("--file", "-f", help="YAML or JSON: name, kind, entry_point|image, ...")
    ],
    output: OutputOpt = Output.TABLE,
) -> None:
    """Add a case template from a file (see README: The center)."""
    doc = _read_document(file)
    if not isinstance(doc, dict):
        raise typer.BadParameter(f"{file}: expected a mapping with name, kind, ...", param_hint="-f")
    show(
        call("POST", "/api/v1/templates", body=doc),
        output,
        ("name", "kind", "entry_point", "image", "timeout_seconds"),
    )


@template_app.command("list")
def template_list(output: OutputOpt = Output.TABLE) -> None:
    show(
        all_pages("/api/v1/templates", {"limit": 1000}),
        output,
        ("name", "kind", "entry_point", "image", "timeout_seconds", "builtin"),
    )


@case_app.command("add")
def case_add(
    name: str,
    template: Annotated[str, typer.Option("--template", "-t", help="The case template.")],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="k=v (value read as YAML: 3 is a number).")
    ] = None,
    output: OutputOpt = Output.TABLE,
) -> None:
    """A case: a template plus parameters, checked against the template's schema."""
    params = {k: yaml.safe_load(v) if v else v for k, v in pairs(param, "--param").items()}
    show(
        call("POST", "/api/v1/cases", body={"name": name, "template": template, "params": params}),
        output,
        ("name", "template", "kind", "params"),
    )


@case_app.command("list")
def case_list(output: OutputOpt = Output.TABLE) -> None:
    show(all_pages("/api/v1/cases", {"limit": 1000}), output, ("name", "template", "kind", "params"))


@suite_app.command("add")
def suite_add(
    name: str,
    case: Annotated[list[str], typer.Option("--case", "-c", help="A case; repeat, in order.")],
    output: OutputOpt = Output.TABLE,
) -> None:
    """A suite: a named set of cases."""
    show(call("POST", "/api/v1/suites", body={"name": name, "cases": case}), output, ("name", "cases"))


@suite_app.command("list")
def suite_list(output: OutputOpt = Output.TABLE) -> None:
    show(all_pages("/api/v1/suites", {"limit": 1000}), output, ("name", "cases"))


# --- bind ------------------------------------------------------------------------------------

WATCH_FORMAT = "RESOURCE[.VERSION][.GROUP]/NAMESPACE[/NAME][?SELECTOR]"


def parse_watch(text: str) -> dict[str, Any]:
    """``deployments.apps/kube-system[/coredns][?k8s-app=kube-dns]`` → a binding's watch entry.

    The resource is its plural, optionally with the version and group as kubectl writes them
    (``deployments.v1.apps``; the version defaults to v1); namespace ``*`` is every namespace (or
    a cluster-scoped resource such as ``nodes/*``)."""
    where, _, selector = text.partition("?")
    parts = where.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise typer.BadParameter(
            f"{text!r} is not {WATCH_FORMAT}, e.g. daemonsets.apps/kube-system", param_hint="--watch"
        )
    resource, _, group = parts[0].partition(".")
    version = "v1"
    first, _, rest = group.partition(".")
    if first[:1] == "v" and first[1:2].isdigit():
        version, group = first, rest
    watch: dict[str, Any] = {"resource": resource, "api_version": f"{group}/{version}" if group else version}
    if parts[1] != "*":
        watch["namespace"] = parts[1]
    if len(parts) == 3:
        watch["name"] = parts[2]
    if selector:
        watch["label_selector"] = selector
    return watch


def bind(
    name: str,
    *,
    case: Annotated[str | None, typer.Option(help="Bind this case ...")] = None,
    suite: Annotated[str | None, typer.Option(help="... or this suite")] = None,
    cluster: Annotated[str | None, typer.Option(help="to this cluster ...")] = None,
    group: Annotated[str | None, typer.Option(help="... or this cluster group.")] = None,
    every: Annotated[str | None, typer.Option(help="Interval: 30s, 5m, 1h.")] = None,
    jitter: Annotated[str | None, typer.Option(help="Random delay added to each start.")] = None,
    cron: Annotated[str | None, typer.Option(help="Cron schedule instead of --every.")] = None,
    event: Annotated[list[str] | None, typer.Option(help="Change-event type that triggers; repeat.")] = None,
    watch: Annotated[
        list[str] | None,
        typer.Option(
            help="Run when the spec of these objects changes (status, label and annotation updates "
            "do not count): "
            + WATCH_FORMAT.replace("[", "\\[")
            + ", e.g. daemonsets.apps/kube-system or deployments.apps/kube-system/coredns; "
            "namespace * is all. Repeat."
        ),
    ] = None,
    timeout: Annotated[str | None, typer.Option(help="Override the template's timeout.")] = None,
    concurrency: Annotated[str, typer.Option(help="forbid, replace or allow overlapping runs.")] = "forbid",
    severity: Annotated[str, typer.Option(help="critical, high, medium, low or info.")] = "medium",
    output: OutputOpt = Output.TABLE,
) -> None:
    """Bind a case or suite to a cluster or group, with its triggers."""
    body: dict[str, Any] = {
        "name": name,
        "case": case,
        "suite": suite,
        "cluster": cluster,
        "group": group,
        "interval_seconds": seconds(every, "--every"),
        "jitter_seconds": seconds(jitter, "--jitter") or 0.0,
        "cron": cron,
        "events": event or [],
        "watch": [parse_watch(w) for w in watch or []],
        "timeout_seconds": seconds(timeout, "--timeout"),
        "concurrency": concurrency,
        "severity": severity,
    }
    show(call("POST", "/api/v1/bindings", body=body), output, BINDING_COLUMNS)


BINDING_COLUMNS = (
    "name",
    "case",
    "suite",
    "cluster",
    "group",
    "interval_seconds",
    "cron",
    "events",
    "watch",
    "concurrency",
    "severity",
)


@binding_app.command("list")
def binding_list(output: OutputOpt = Output.TABLE) -> None:
    """All bindings; ERROR says why the scheduler skips one (empty: it is scheduled)."""
    columns = ("name", "case", "suite", "cluster", "group", "interval_seconds", "cron", "enabled", "error")
    show(all_pages("/api/v1/bindings", {"limit": 1000}), output, columns)


@binding_app.command("show")
def binding_show(name: str, output: OutputOpt = Output.TABLE) -> None:
    """One binding; ERROR says why the scheduler skips it (a cron that no longer validates)."""
    binding = call("GET", f"/api/v1/bindings/{name}")
    show(binding, output, (*BINDING_COLUMNS, "timeout_seconds", "enabled", "created", "error"))
