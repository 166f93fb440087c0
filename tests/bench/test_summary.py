"""The benchmark summary: figures read from reports, targets judged only at the sizes they name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.summary import Figure, figures_of, markdown


def _api_report(partners: int, p50: float, p99: float) -> dict[str, Any]:
    server = {"p50_ms": p50, "p99_ms": p99, "start_seconds": 5.0}
    return {"homes": [{"partners": partners, "api": server, "mlflow_baseline": {**server, "p50_ms": 99.0}}]}


def _write(folder: Path, name: str, report: dict[str, Any]) -> Path:
    path = folder / name
    path.write_text(json.dumps(report))
    return path


def test_api_latency_at_100k_partners_is_judged_against_its_target(tmp_path: Path) -> None:
    latency = figures_of(_write(tmp_path, "api.json", _api_report(100_000, 30.0, 40.0)))[0]
    assert latency.met is False


def test_api_latency_at_a_size_without_a_target_gets_no_verdict(tmp_path: Path) -> None:
    latency = figures_of(_write(tmp_path, "api.json", _api_report(10_000, 30.0, 40.0)))[0]
    assert latency.met is None


def test_the_baseline_of_the_same_run_is_shown_beside_the_figure(tmp_path: Path) -> None:
    latency = figures_of(_write(tmp_path, "api.json", _api_report(100_000, 20.0, 40.0)))[0]
    assert "99.0" in latency.baseline


def test_a_report_missing_a_field_is_named_in_the_table_not_dropped(tmp_path: Path) -> None:
    figures = figures_of(_write(tmp_path, "fuzz.json", {"totals": {}}))
    assert figures[0].figure == "unreadable report fuzz.json"


def test_a_report_the_summary_does_not_know_adds_no_rows(tmp_path: Path) -> None:
    assert figures_of(_write(tmp_path, "notes.json", {"anything": 1})) == []


def test_the_table_lists_every_missed_target_under_it() -> None:
    missed = Figure("api", "p99", "60 ms", "≤ 50", met=False)
    text = markdown([missed, Figure("fuzz", "failures", "0", "0", met=True)], "## run")
    assert "1 targets met, 1 missed:\n- api: p99: 60 ms against ≤ 50" in text
