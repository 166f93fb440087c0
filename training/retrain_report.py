"""The report of one `partnermatch retrain`: a JSON record, a short markdown page and the CLI's summary."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

Report = dict[str, Any]

# The candidate's and champion's measures shown side by side on the page (the JSON keeps them all): the
# model's own rows of the flat test metrics (the gate reads one of them), its calibration and replay.
_MODEL_PREFIXES = ("test_model_", "test_bids_model_")
_ALSO_SHOWN = (
    "test_log_loss",
    "test_brier",
    "test_auc",
    "test_replay_model_win_rate",
    "test_replay_model_matched",
)
_DATA_ROWS = (
    ("snapshot_at", "store read at (store clock)"),
    ("opportunities", "opportunities"),
    ("closed_deals", "closed deals"),
    ("first_created_at", "first created"),
    ("latest_created_at", "latest created"),
    ("latest_closed_at", "latest closed"),
    ("feedback_rows", "feedback rows"),
)


def report_stem(started_at: datetime) -> str:
    """`retrain-<UTC timestamp>`: sorts by time; runs cannot share one (they hold the lock in turn)."""
    return f"retrain-{started_at:%Y%m%dT%H%M%SZ}"


def write_report(report: Report, directory: Path, stem: str) -> list[Path]:
    """`<stem>.json` and `<stem>.md` in `directory` (created if missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    json_path, md_path = directory / f"{stem}.json", directory / f"{stem}.md"
    json_path.write_text(json.dumps(report, indent=2, sort_keys=True, default=str) + "\n")
    md_path.write_text(markdown(report))
    return [json_path, md_path]


def headline(report: Report) -> str:
    status, candidate = report["status"], report.get("candidate")
    before = report.get("champion_before")
    if status == "promoted":
        return f"promoted: version {candidate} is the champion (was {before or 'unset'})"
    if status == "kept":
        kept = f"champion stays {before or 'unset'}"
        if candidate is None:
            return f"not promoted: nothing trained; {kept}"
        why = "the test period is too small to tell" if report["gate"]["too_small"] else "the gate refused it"
        return f"not promoted: version {candidate} registered, {why}; {kept}"
    return f"failed: {report.get('error')}; champion stays {before or 'unset'}"


def new_data_line(report: Report) -> str:
    new = report["data"].get("new")
    if new is None:
        return "new data: no champion to compare with (first model)"
    since = f"the champion's data ({new['since']})"
    if report["data"].get("champion") is None:  # trained before its data was recorded with its run
        since = f"the champion's registration ({new['since']}; its training data was not recorded)"
    return (
        f"new since {since}: {new['closed_deals']} closed deals "
        f"(of which {new['closed_deals_from_api']} from the API), {new['feedback_rows']} feedback rows"
    )


def summary_lines(report: Report) -> list[str]:
    """What the CLI prints: the verdict, the new data, the gate's reasons."""
    lines = [headline(report)]
    if report["status"] != "failed" or report["data"].get("new") is not None:
        lines.append(new_data_line(report))
    lines += [f"  {reason}" for reason in report["gate"]["reasons"]]
    if report.get("reload"):
        lines.append(f"servers: {report['reload']}")
    return lines


def markdown(report: Report) -> str:
    started = report["started_at"]
    lines = [f"# Retrain {started}: {report['status']}", "", headline(report), ""]
    lines += ["## Data", "", new_data_line(report), ""]
    lines += _data_table(report)
    lines += ["", "## Gate", ""]
    lines += [f"- {reason}" for reason in report["gate"]["reasons"]] or ["- no gate ran"]
    metrics = report.get("metrics", {})
    if metrics.get("candidate"):
        lines += ["", "## Test-period measures", ""]
        lines += _metrics_table(metrics["candidate"], metrics.get("champion") or {})
    if report.get("reload"):
        lines += ["", f"Servers: {report['reload']}."]
    return "\n".join(lines) + "\n"


def _data_table(report: Report) -> list[str]:
    champion, candidate = report["data"].get("champion") or {}, report["data"].get("candidate") or {}
    if not champion and not candidate:
        return []
    before = f"champion (v{report['champion_before']})" if report.get("champion_before") else "champion"
    after = f"candidate (v{report['candidate']})" if report.get("candidate") else "candidate"
    lines = [f"| | {before} | {after} |", "|---|---|---|"]
    for key, label in _DATA_ROWS:
        lines.append(f"| {label} | {_cell(champion.get(key))} | {_cell(candidate.get(key))} |")
    return lines


def _metrics_table(candidate: Mapping[str, float], champion: Mapping[str, float]) -> list[str]:
    names = sorted(n for n in candidate if n.startswith(_MODEL_PREFIXES) or n in _ALSO_SHOWN)
    lines = ["| measure | candidate | champion |", "|---|---|---|"]
    lines += [f"| {n} | {_cell(candidate.get(n))} | {_cell(champion.get(n))} |" for n in names]
    return lines


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if isinstance(value, float) else str(value)
