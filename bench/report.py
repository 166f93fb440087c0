"""Printing and saving a benchmark's JSON report (for the scripts run as `python -m bench.<name>`)."""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    """What every report states about where it ran."""
    return {"cpus": 2, "python": platform.python_version()}


def publish(report: dict[str, Any], out: Path) -> None:
    """Print the report as JSON and write it to `out` (its folder created if needed)."""
    text = json.dumps(report, indent=2)
    print(text)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
