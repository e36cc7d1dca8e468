"""`kubeprobe inspect`: run the inspection catalog against one cluster or a fleet.

Exit status: 0 when every check ran and no finding reached ``--fail-on``; 3 when one did; 2 when
a check could not run (its outcome is unknown); 1 on bad input or an unreachable cluster.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from kubeprobe.cases.inspections.check import CheckContext
from kubeprobe.cases.inspections.engine import SweepOptions, compare_fleet, inspect
from kubeprobe.cases.inspections.errors import InspectionError
from kubeprobe.cases.inspections.exclusions import Exclusion, load_exclusions
from kubeprobe.cases.inspections.output import FORMATS, print_table, to_json, to_junit
from kubeprobe.cases.inspections.registry import CATALOG
from kubeprobe.cases.inspections.report import InspectionReport
from kubeprobe.cases.inspections.settings import load_settings
from kubeprobe.center.errors import CenterError
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.config import ClusterConnection, load_kubeconfig
from kubeprobe.kube.errors import KubeError
from kubeprobe.model import Finding, Severity
from kubeprobe.sandbox.errors import SandboxError

out = Console()
err = Console(stderr=True)


@dataclasses.dataclass(frozen=True)
class Target:
    name: str
    connection: ClusterConnection


def _targets(
    kubeconfig: Path | None, contexts: list[str], sandboxes: list[str], clusters: Sequence[str] = ()
) -> list[Target]:
    targets: list[Target] = []
    if clusters:  # the center's database stack is imported only for this
        from kubeprobe.cli.inspect_center import center_connections

        targets.extend(Target(name, conn) for name, conn in center_connections(clusters))
    if kubeconfig is not None:
        for context in contexts or [None]:  # type: ignore[list-item]
            conn = load_kubeconfig(kubeconfig, context)
            targets.append(Target(conn.context, conn))
    elif contexts:
        raise InspectionError("--context needs --kubeconfig FILE")
    if sandboxes:
        from kubeprobe.sandbox.cluster import Sandbox  # only here: it imports the sandbox's PKI
    for name in sandboxes:
        box = Sandbox(name)
        _ = box.state  # a clear error when the sandbox does not exist
        targets.append(Target(name, load_kubeconfig(box.kubeconfig)))
    if not targets:
        raise InspectionError(
            "say which cluster to inspect: --cluster NAME (registered in the center), "
            "--kubeconfig FILE [--context C] or --sandbox NAME"
        )
    names = [t.name for t in targets]
    if len(set(names)) != len(names):
        raise InspectionError(f"two targets share a name: {names}")
    return targets


def _list_checks() -> None:
    for check in CATALOG:
        out.print(f"[bold]{check.id:32}[/] {check.severity:8} {check.title}", highlight=False)


async def _run(
    targets: list[Target],
    *,
    check_ids: list[str],
    settings_ctx: CheckContext,
    exclusions: list[Exclusion],
    options: SweepOptions,
    baseline: str | None,
) -> tuple[list[InspectionReport], list[Finding], dict[str, str]]:
    checks = CATALOG.select(check_ids)
    reports: list[InspectionReport] = []
    failures: dict[str, str] = {}
    for target in targets:
        ctx = dataclasses.replace(settings_ctx, cluster=target.name, connection=target.connection)
        try:
            async with KubeClient(target.connection) as kube:
                reports.append(await inspect(kube, checks, ctx, exclusions=exclusions, options=options))
        except KubeError as exc:
            failures[target.name] = str(exc)
    fleet = compare_fleet(reports, checks, settings_ctx, baseline=baseline, exclusions=exclusions)
    return reports, fleet, failures


def inspect_command(  # noqa: PLR0917 (typer maps each parameter to an option)
    kubeconfig: Annotated[
        Path | None, typer.Option("--kubeconfig", help="Kubeconfig of the cluster(s) to inspect.")
    ] = None,
    context: Annotated[
        list[str] | None,
        typer.Option("--context", help="Context of --kubeconfig (repeat for a fleet; default: current)."),
    ] = None,
    sandbox: Annotated[
        list[str] | None, typer.Option("--sandbox", help="A sandbox by name (repeat for a fleet).")
    ] = None,
    cluster: Annotated[
        list[str] | None,
        typer.Option(
            "--cluster",
            help="A cluster registered in the center, by name (repeat for a fleet); its kubeconfig is "
            "read from the center's store (KUBEPROBE_DATABASE_URL, KUBEPROBE_SECRET_KEY).",
        ),
    ] = None,
    check: Annotated[
        list[str] | None, typer.Option("--check", "-c", help="Check id or glob (repeat; default: all).")
    ] = None,
    output: Annotated[str, typer.Option("--output", "-o", help="table, json or junit.")] = "table",
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", help="Silence findings: check=ID,namespace=NS,name=GLOB,label=K=V."),
    ] = None,
    exclusions_file: Annotated[
        Path | None, typer.Option("--exclusions", help="YAML list of exclusion rules.")
    ] = None,
    settings_file: Annotated[
        Path | None, typer.Option("--settings", help="YAML file of check thresholds and inputs.")
    ] = None,
    inventory: Annotated[
        str | None, typer.Option(help="Node inventory: CSV file or http(s) JSON URL.")
    ] = None,
    ipam: Annotated[str | None, typer.Option(help="IPAM export: CSV/JSON file or JSON URL.")] = None,
    baseline: Annotated[
        str | None, typer.Option(help="Fleet drift against this cluster (default: the majority).")
    ] = None,
    fail_on: Annotated[
        str | None, typer.Option("--fail-on", help="Exit 3 on a finding at least this severe.")
    ] = None,
    page_size: Annotated[
        int,
        typer.Option(
            min=1,
            help="About this many objects per page for the checks (LISTs stream in whole, cut into pages).",
        ),
    ] = 500,
    list_checks: Annotated[bool, typer.Option("--list", help="List the checks and exit.")] = False,
) -> None:
    """Scan clusters for known risks with the inspection catalog (each resource listed once)."""
    try:
        if list_checks:
            _list_checks()
            return
        if output not in FORMATS:
            raise InspectionError(f"unknown output {output!r}; use one of {', '.join(FORMATS)}")
        threshold = None
        if fail_on is not None:
            try:
                threshold = Severity(fail_on)
            except ValueError:
                raise InspectionError(
                    f"unknown severity {fail_on!r}; use one of {', '.join(s.value for s in Severity)}"
                ) from None
        CATALOG.select(check or [])  # unknown ids fail before any cluster is contacted
        settings = load_settings(settings_file, {"inventory": inventory, "ipam": ipam})
        rules = [Exclusion.parse(text) for text in exclude or []]
        if exclusions_file is not None:
            rules.extend(load_exclusions(exclusions_file))
        targets = _targets(kubeconfig, context or [], sandbox or [], cluster or [])
        reports, fleet, failures = asyncio.run(
            _run(
                targets,
                check_ids=check or [],
                settings_ctx=CheckContext(cluster="fleet", settings=settings),
                exclusions=rules,
                options=SweepOptions(page_size=page_size),
                baseline=baseline,
            )
        )
    except (InspectionError, KubeError, SandboxError, CenterError) as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(1) from exc
    if output == "json":
        typer.echo(to_json(reports, fleet))
    elif output == "junit":
        typer.echo(to_junit(reports, fleet))
    else:
        print_table(out, reports, fleet)
    for name, why in failures.items():
        err.print(f"[bold red]error:[/] cluster {name}: {why}", highlight=False)
    if failures:
        raise typer.Exit(1)
    findings = [f for r in reports for f in r.findings] + list(fleet)
    if threshold is not None and any(f.severity.rank <= threshold.rank for f in findings):
        raise typer.Exit(3)
    if any(r.errors for r in reports):
        raise typer.Exit(2)
