"""Reports as a person or a machine reads them: a table, JSON, or JUnit XML (one test per check)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Literal

from rich.console import Console
from rich.table import Table

from kubeprobe.cases.inspections.report import InspectionReport
from kubeprobe.model import Finding, Severity

OutputFormat = Literal["table", "json", "junit"]
FORMATS: tuple[str, ...] = ("table", "json", "junit")
_COLOURS = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def to_json(reports: Sequence[InspectionReport], fleet: Sequence[Finding] = ()) -> str:
    return json.dumps(
        {"clusters": [r.to_dict() for r in reports], "fleet_findings": [f.to_dict() for f in fleet]},
        indent=2,
    )


def to_junit(reports: Sequence[InspectionReport], fleet: Sequence[Finding] = ()) -> str:
    """A testsuite per cluster, a testcase per check: findings are failures, errors are errors."""
    root = ET.Element("testsuites", name="kubeprobe inspect")
    for report in reports:
        suite = ET.SubElement(
            root,
            "testsuite",
            name=report.cluster,
            tests=str(len(report.outcomes)),
            failures=str(sum(1 for o in report.outcomes if o.findings)),
            errors=str(sum(1 for o in report.outcomes if o.error)),
            skipped=str(sum(1 for o in report.outcomes if o.skipped)),
            time=f"{report.seconds:.3f}",
        )
        for outcome in report.outcomes:
            case = ET.SubElement(suite, "testcase", classname=report.cluster, name=outcome.check_id)
            if outcome.error:
                ET.SubElement(case, "error", message=outcome.error)
            elif outcome.skipped:
                ET.SubElement(case, "skipped", message=outcome.skipped)
            elif outcome.findings:
                mine = [f for f in report.findings if f.check_id == outcome.check_id]
                failure = ET.SubElement(
                    case, "failure", message=f"{len(mine)} finding(s): {outcome.title}", type="finding"
                )
                failure.text = "\n".join(f"[{f.severity}] {f.object or '-'}: {f.message}" for f in mine)
    if fleet:
        suite = ET.SubElement(root, "testsuite", name="fleet", tests="1", failures="1", errors="0")
        case = ET.SubElement(suite, "testcase", classname="fleet", name="config.drift")
        failure = ET.SubElement(case, "failure", message=f"{len(fleet)} fleet finding(s)", type="finding")
        failure.text = "\n".join(f"[{f.cluster}] {f.object or '-'}: {f.message}" for f in fleet)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def _findings_table(title: str, findings: Sequence[Finding], with_cluster: bool = False) -> Table:
    table = Table(title=title, show_lines=False)
    table.add_column("severity")
    if with_cluster:
        table.add_column("cluster")
    table.add_column("check")
    table.add_column("object", overflow="fold")
    table.add_column("message", overflow="fold")
    for f in findings:
        sev = f"[{_COLOURS[f.severity]}]{f.severity}[/]"
        cells = [sev, f.cluster or ""] if with_cluster else [sev]
        table.add_row(*cells, f.check_id, str(f.object or "-"), f.message)
    return table


def print_table(console: Console, reports: Sequence[InspectionReport], fleet: Sequence[Finding] = ()) -> None:
    for report in reports:
        if report.findings:
            console.print(_findings_table(f"cluster {report.cluster}", report.findings))
        ran = sum(1 for o in report.outcomes if not o.error and not o.skipped)
        console.print(
            f"cluster [bold]{report.cluster}[/]: {len(report.findings)} findings from {ran} checks "
            f"({report.excluded} excluded), {report.objects} objects in {report.lists} lists, "
            f"{report.seconds:.2f}s",
            highlight=False,
        )
        for outcome in report.outcomes:
            if outcome.error:
                console.print(f"  [red]could not run[/] {outcome.check_id}: {outcome.error}", highlight=False)
            elif outcome.skipped:
                console.print(f"  [dim]skipped {outcome.check_id}: {outcome.skipped}[/]", highlight=False)
        for what, why in report.failed_lists.items():
            console.print(f"  [yellow]could not list[/] {what}: {why}", highlight=False)
    if fleet:
        console.print(_findings_table("fleet", fleet, with_cluster=True))
