"""Export files on disk: finding and reading each table's CSV or parquet file (every unreadable file a
violation, never an exception), and writing an export back in contract text."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow

from features import schema as s
from features.records import EcosystemTables
from features.violations import ViolationCollector

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def list_cell(cell: Any) -> list[str]:
    """A list cell's items: `;`-separated text or a sequence (parquet), stripped, blanks dropped."""
    if isinstance(cell, str):
        return [part.strip() for part in cell.split(s.LIST_SEPARATOR) if part.strip()]
    if isinstance(cell, list | tuple | np.ndarray):
        return [str(part).strip() for part in cell if part is not None and str(part).strip()]
    return []


def find_table_file(directory: Path, table: str, out: ViolationCollector) -> Path | None:
    candidates = (directory / f"{table}{suffix}" for suffix in s.EXPORT_SUFFIXES)
    found = [path for path in candidates if path.is_file()]
    if not found:
        out.add(f"{table}.csv|.parquet", None, "missing table file")
        return None
    if len(found) > 1:
        out.add(found[0].name, None, f"ambiguous: both {found[0].name} and {found[1].name} exist")
        return None
    return found[0]


def read_raw_table(path: Path, out: ViolationCollector) -> pd.DataFrame | None:
    """The file's cells, or None when it cannot be read as a table (the reasons are added to `out`)."""
    if path.suffix == ".csv":
        if not _scan_csv(path, out):
            return None
        try:
            # Everything as text: parsing is ours, so every unparsable cell can be reported, not just the
            # first. index_col=False: never take the first column as an index (the scan checked widths).
            return pd.read_csv(
                path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig", index_col=False
            )
        except (ValueError, UnicodeError, pd.errors.ParserError) as exc:
            out.add(path.name, None, f"unreadable CSV: {_first_line(exc)}")
            return None
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError, pyarrow.ArrowException) as exc:
        out.add(path.name, None, f"not a readable parquet file: {_first_line(exc)}")
        return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


def _scan_csv(path: Path, out: ViolationCollector) -> bool:
    """Check that a CSV file is UTF-8 text with a header and as many fields in every row as in the header.

    pandas fills a short row with empty cells and may drop or shift an extra field without a word, so the
    row shapes are checked here first, record by record (a C loop: about 1 s per million rows).
    """
    file = path.name
    with path.open("rb") as fh:
        head = fh.read(4)
    if not head:
        out.add(file, None, "empty file: no header row")
        return False
    if head.startswith(_UTF16_BOMS):
        out.add(file, None, "UTF-16 text: the contract wants UTF-8")
        return False
    row = 0  # 0-based data rows read so far
    short: dict[int, list[int]] = {}
    long: dict[int, list[int]] = {}
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            header = [name.strip() for name in next(reader, [])]
            if not header:
                out.add(file, None, "empty file: no header row")
                return False
            if any(s.NUL in name for name in header):
                out.add(file, None, "the header holds NUL characters (UTF-16 text? the contract wants UTF-8)")
                return False
            for name, count in Counter(header).items():
                if count > 1:
                    out.add(file, name, f"column appears {count} times in the header")
            width = len(header)
            for fields in reader:
                if not fields:  # a blank line, which pandas skips too
                    continue
                if len(fields) < width:
                    short.setdefault(len(fields), []).append(row)
                elif len(fields) > width:
                    long.setdefault(len(fields), []).append(row)
                row += 1
    except UnicodeDecodeError:
        line, column = _first_undecodable(path)
        if line <= 1:
            out.add(file, None, "the header is not UTF-8 text: the contract wants UTF-8")
        else:  # line 2 holds data row 1 (0-based row 0)
            out.add_rows(file, column, "not UTF-8 text: the contract wants UTF-8", [line - 2])
        return False
    except csv.Error as exc:
        out.add_rows(file, None, f"unreadable CSV: {exc}", [row])
        return False
    for count, rows in short.items():
        out.add_rows(file, header[count], f"the row has {count} of the header's {width} fields", rows)
    for count, rows in long.items():
        out.add_rows(file, None, f"the row has {count} fields, the header {width}", rows)
    return not (short or long or len(set(header)) < width)


def _first_undecodable(path: Path) -> tuple[int, str | None]:
    """1-based line of the first byte that is not UTF-8, and its column when the header is readable."""
    with path.open("rb") as fh:
        header: list[str] = []
        for number, raw in enumerate(fh, start=1):
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                try:
                    fields = next(csv.reader([raw.decode("utf-8", errors="replace")]), [])
                except csv.Error:  # e.g. a stray carriage return: the column cannot be told
                    fields = []
                at = next((i for i, f in enumerate(fields) if "\ufffd" in f), None)
                column = header[at] if at is not None and at < len(header) and number > 1 else None
                return number, column
            if number == 1:
                header = [name.strip() for name in next(csv.reader([text]), [])]
    return 1, None


def _csv_ready(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Cells rendered as contract text: `;`-joined lists, ISO dates, true/false."""
    out = frame.copy()
    for name in out.columns:
        col = out[name]
        if name in s.LIST_COLUMNS.get(table, ()):
            out[name] = [s.LIST_SEPARATOR.join(map(str, c)) if _is_sequence(c) else c for c in col.tolist()]
        elif pd.api.types.is_datetime64_any_dtype(col):
            out[name] = col.dt.strftime("%Y-%m-%d")
        elif pd.api.types.is_bool_dtype(col):
            out[name] = col.map({True: "true", False: "false"})
    return out


def _is_sequence(cell: Any) -> bool:
    return isinstance(cell, list | tuple | np.ndarray)


def _parquet_ready(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for name in s.LIST_COLUMNS.get(table, ()):
        if name in out.columns:
            out[name] = [list_cell(c) if _is_sequence(c) or c is None else c for c in out[name].tolist()]
    return out


def write_export(tables: EcosystemTables, directory: Path, fmt: Literal["csv", "parquet"] = "csv") -> None:
    """Write tables as an export folder (the inverse of load_export); columns are written as given."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for table in s.TABLES:
        frame: pd.DataFrame = getattr(tables, table)
        if fmt == "csv":
            _csv_ready(table, frame).to_csv(directory / f"{table}.csv", index=False)
        else:
            _parquet_ready(table, frame).to_parquet(directory / f"{table}.parquet", index=False)
