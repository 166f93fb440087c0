"""Printing and saving a benchmark's JSON report (for the scripts run as `python -m bench.<name>`)."""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
RESULTS_ENV = "PM_BENCH_RESULTS"


def results_dir() -> Path:
    """Where reports are written: bench/results, or $PM_BENCH_RESULTS (the quick profile's own folder)."""
    return Path(os.environ.get(RESULTS_ENV) or BENCH / "results")


def machine() -> dict[str, Any]:
    """What every report states about where it ran."""
    return {"cpus": 2, "python": platform.python_version()}


def home_arguments(doc: str | None, requests: int, out: Path) -> argparse.Namespace:
    """Arguments of a benchmark over prepared homes: --home (repeatable), --requests, --out."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--home", action="append", type=Path, required=True)
    parser.add_argument("--requests", type=int, default=requests)
    parser.add_argument("--out", type=Path, default=out)
    return parser.parse_args()


def publish(report: dict[str, Any], out: Path) -> None:
    """Print the report as JSON and write it to `out` (its folder created if needed)."""
    text = json.dumps(report, indent=2)
    print(text)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
