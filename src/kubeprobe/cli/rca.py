"""`kubeprobe rca ...`: root-cause analysis from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

rca_app = typer.Typer(
    help="Root-cause analysis: name the cause of a failure with a confidence.", no_args_is_help=True
)


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
    from kubeprobe.analysis.classifier import default_classifier
    from kubeprobe.analysis.diagnosis import diagnose
    from kubeprobe.analysis.rules import builtin_rules
    from kubeprobe.analysis.texts import FailureText

    classifier = default_classifier(feedback)
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
