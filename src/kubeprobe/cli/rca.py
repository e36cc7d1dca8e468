"""`kubeprobe rca ...`: root-cause analysis from the command line."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from kubeprobe.center.settings import ClientSettings
from kubeprobe.cli.center_client import Output, OutputOpt, call, out, show

rca_app = typer.Typer(
    help="Root-cause analysis: name the cause of a failure with a confidence.", no_args_is_help=True
)


def model_cache_dir() -> Path | None:
    """Trained models are cached under the data dir (KUBEPROBE_DATA_DIR), unless it cannot be written."""
    folder = ClientSettings().data_dir / "models"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return folder if os.access(folder, os.W_OK) else None


@rca_app.command()
def classify(
    file: Annotated[Path | None, typer.Argument(help="JSON lines file (default: standard input).")] = None,
    feedback: Annotated[
        Path | None, typer.Option(help="Extra labeled lines (operators' corrections) to train on.")
    ] = None,
    rules: Annotated[bool, typer.Option("--rules/--no-rules", help="Use the rule tree too.")] = True,
) -> None:
    """Read `{"step", "messages", "events"}` per JSON line; print `{"cause", "confidence", ...}` per line.

    Lines that are not valid print `{"error": ...}` naming the line, so a labeled set can be scored
    line by line.
    """
    # Imported here: scikit-learn takes seconds to load, and every other command would pay for it.
    from kubeprobe.analysis.classifier import CorpusError, cached_classifier, feedback_samples
    from kubeprobe.analysis.diagnosis import diagnose
    from kubeprobe.analysis.rules import builtin_rules
    from kubeprobe.analysis.texts import FailureText

    try:
        extra = feedback_samples(feedback)
    except CorpusError as exc:
        raise typer.BadParameter(str(exc), param_hint="--feedback") from exc
    classifier = cached_classifier(extra, model_cache_dir())
    rule_list = builtin_rules() if rules else []
    stream = file.open() if file else sys.stdin
    with stream:
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                failure = FailureText.from_json(json.loads(line))
            except ValueError as exc:
                print(json.dumps({"line": number, "error": f"not a failure record: {exc}"}))
                continue
            print(json.dumps(diagnose(failure, classifier, rule_list).to_dict()))


@rca_app.command()
def feedback(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="The run's id.")],
    cause: Annotated[str, typer.Argument(metavar="CAUSE", help="The real cause: a root-cause label.")],
    output: OutputOpt = Output.TABLE,
) -> None:
    """Correct a failed run's cause (operator role). The center's classifier trains on corrections."""
    from kubeprobe.model import ROOT_CAUSES

    if cause not in ROOT_CAUSES:
        raise typer.BadParameter(
            f"{cause!r} is not a root-cause label; use one of: {', '.join(ROOT_CAUSES)}", param_hint="CAUSE"
        )
    stored = call("POST", f"/api/v1/runs/{run_id}/analysis/feedback", body={"cause": cause})
    if output is Output.JSON:
        show(stored, output, ())
        return
    out.print(f"run {stored['run_id']}: cause recorded as {stored['cause']}", highlight=False)


@rca_app.command("show")
def show_analysis(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="The run's id.")],
    output: OutputOpt = Output.TABLE,
) -> None:
    """A run's analysis: cause, confidence, source, priority, verification, and the evidence looked at."""
    found = call("GET", f"/api/v1/runs/{run_id}/analysis")
    if output is Output.JSON:
        show(found, output, ())
        return
    show(found, output, ("run_id", "state", "outcome", "cause", "confidence", "source", "priority", "action"))
    if found.get("reason"):
        out.print(f"  why: {found['reason']}", highlight=False)
    verification = found.get("verification") or {}
    if verification:
        rerun = (verification.get("rerun") or {}).get("state", "-")
        out.print(
            f"  verification: {verification.get('method')}, reproduced={verification.get('reproduced')}, "
            f"re-run {rerun}",
            highlight=False,
        )
    evidence = found.get("evidence") or {}
    for key in ("facts", "failing_around", "recent_changes", "run_events", "namespace_warnings", "gaps"):
        if evidence.get(key):
            out.print(f"  {key}: {json.dumps(evidence[key], default=str)[:500]}", highlight=False)
    for item in found.get("feedback") or []:
        out.print(f"  corrected to {item['cause']} by {item['by']} at {item['at']}", highlight=False)
    if found.get("error"):
        out.print(f"  analysis error: {found['error']}", highlight=False)
