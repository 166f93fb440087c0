"""The contract's violation report: every broken rule with file, row and column, listed up to a cap."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features import schema as s

# A report lists at most this many violations (it counts them all).
MAX_LISTED_VIOLATIONS = 1000


@dataclass(frozen=True)
class Violation:
    """One broken rule: where (file, 1-based data row, column) and why."""

    file: str
    row: int | None
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.reason}"


class ContractError(Exception):
    """An export broke the contract; `violations` lists up to MAX_LISTED_VIOLATIONS, `total` counts all."""

    def __init__(self, violations: list[Violation], total: int | None = None) -> None:
        self.violations = violations
        self.total = len(violations) if total is None else total
        super().__init__(self.report())

    def report(self) -> str:
        lines = [f"export breaks data contract v{s.CONTRACT_VERSION}: {self.total} violation(s)"]
        lines.extend(str(v) for v in self.violations)
        if self.total > len(self.violations):
            lines.append(f"... and {self.total - len(self.violations)} more violation(s) not listed")
        return "\n".join(lines)


@dataclass
class _Finding:
    """Violations of one rule in one column, kept as row positions until the report is formatted."""

    file: str
    column: str | None
    reason: str  # may contain "{value}"
    rows: np.ndarray | None = None  # 0-based positions; None = a file-level violation
    values: np.ndarray | None = None

    @property
    def size(self) -> int:
        return 1 if self.rows is None else len(self.rows)


class ViolationCollector:
    """Collects every violation cheaply; only the listed ones become Violation objects."""

    def __init__(self) -> None:
        self.findings: list[_Finding] = []

    def add(self, file: str, column: str | None, reason: str) -> None:
        self.findings.append(_Finding(file, column, reason))

    def add_mask(
        self, file: str, column: str | None, reason: str, mask: pd.Series, values: pd.Series | None = None
    ) -> None:
        flags = mask.to_numpy(dtype=bool, na_value=False)
        if not flags.any():
            return
        rows = np.flatnonzero(flags)
        vals = None if values is None else values.to_numpy(dtype=object)[rows]
        self.findings.append(_Finding(file, column, reason, rows, vals))

    def add_rows(
        self,
        file: str,
        column: str | None,
        reason: str,
        rows: Sequence[int],
        values: Sequence[Any] | None = None,
    ) -> None:
        """Violations at these 0-based data rows."""
        vals = None if values is None else np.asarray(values, dtype=object)
        self.findings.append(_Finding(file, column, reason, np.asarray(rows, dtype=np.int64), vals))

    @property
    def total(self) -> int:
        return sum(f.size for f in self.findings)

    def error(self) -> ContractError:
        listed: list[Violation] = []
        for f in self.findings:
            room = MAX_LISTED_VIOLATIONS - len(listed)
            if room <= 0:
                break
            if f.rows is None:
                listed.append(Violation(f.file, None, f.column, f.reason))
                continue
            for i, row in enumerate(f.rows[:room]):
                value = None if f.values is None else f.values[i]
                listed.append(Violation(f.file, int(row) + 1, f.column, f.reason.format(value=_show(value))))
        order = {t: i for i, t in enumerate(s.TABLES)}
        listed.sort(key=lambda v: (order.get(Path(v.file).stem, -1), v.row or 0, v.column or ""))
        return ContractError(listed, self.total)


def _show(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "<empty>"
    return repr(value)
