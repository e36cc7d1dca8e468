"""The fault suite's result file: per-scenario rows summed up into the figures issue 16 names,
with its targets (see :mod:`bench.fault_suite`)."""

from __future__ import annotations

import argparse
import json
import os
import statistics
from typing import Any

from bench.common import RESULTS, write_result


def p95(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]


def summarise(
    rows: list[dict[str, Any]],
    free: dict[str, Any] | None,
    args: argparse.Namespace,
    probes: dict[str, Any],
) -> None:
    """Write the result file: ``rows`` after those of ``--rows-from`` (runs of the other node
    kind, or earlier runs whose scenarios this one repeats), the fault-free period (this run's or
    ``--fault-free-from``'s), targets as the issue states them. ``probes``: what was bound."""
    for source in reversed(args.rows_from or []):  # a scenario run again here replaces its row
        kept = json.loads((RESULTS / f"{source}.json").read_text())["params"]["per_scenario"]
        names = {r["name"] for r in rows}
        rows = [r for r in kept if r["name"] not in names] + rows
    n = len(rows)

    def ttd(resident: bool) -> float | None:  # an undetected scenario counts as --detect-s
        return p95(
            [
                r["right_incident_s"] if r["right_incident_s"] is not None else args.detect_s
                for r in rows
                if r["resident"] is resident
            ]
        )

    results: dict[str, Any] = {
        "scenarios": n,
        "detected_ratio": round(sum(r["detected"] for r in rows) / n, 3) if n else 0.0,
        "right_cause_only_ratio": round(sum(r["right_cause_only"] for r in rows) / n, 3) if n else 0.0,
        "stale_cause_incidents": sum(r["stale_cause_incidents"] for r in rows),
        "ttd_incident_p95_s_resident": ttd(True),
        "ttd_incident_p95_s_periodic": ttd(False),
        "ttd_first_failed_run_median_s": statistics.median(
            [r["first_failed_run_s"] for r in rows if r["first_failed_run_s"] is not None] or [0.0]
        ),
        "incidents_per_scenario_mean": round(sum(len(r["incidents"]) for r in rows) / n, 2) if n else 0.0,
    }
    source = RESULTS / f"{args.fault_free_from}.json"
    if free is None and args.fault_free_from and source.exists():  # measured by a run of its own
        free = json.loads(source.read_text())["params"].get("fault_free")
    if free is not None:
        results["fault_free_incidents"] = len(free["fault_free_incidents"])
        results["fault_free_failed_runs"] = len(free["fault_free_bad_runs"])
        results["fault_free_s"] = free["fault_free_s"]
    params = {
        "sandbox_nodes": 3,
        "real_nodes": 1 if args.real_nodes else 0,
        "rows_from": args.rows_from or None,  # list of result names
        "periodic_interval_s": args.interval_s,
        **probes,
        "resident_timing": "operator defaults (interval, timeout, failure rule)",
        "detect_s": args.detect_s,
        "settle_s": args.settle_s,
        "recover_s": args.recover_s,
        "fault_free_s_requested": args.fault_free_s,
        "load_avg_1m_end": round(os.getloadavg()[0], 2),
        "per_scenario": rows,
        **({"fault_free": free} if free else {}),
    }
    targets = {
        "detected_ratio": ["==", 1.0],
        "right_cause_only_ratio": [">=", 0.9],
        "stale_cause_incidents": ["==", 0],
        "ttd_incident_p95_s_resident": ["<=", 10],
        "ttd_incident_p95_s_periodic": ["<=", args.interval_s],
        "fault_free_incidents": ["==", 0],
        "fault_free_failed_runs": ["==", 0],
        "fault_free_s": [">=", 1200],
        "scenarios": [">=", 25],
    }
    write_result(args.result, params, results, targets)
