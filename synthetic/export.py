"""Minimal writer of EcosystemTables as a contract-v1 export folder (CSV or Parquet) through pyarrow."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from features import schema as s
from features.records import EcosystemTables

ExportFormat = Literal["csv", "parquet"]
_FLOATS = frozenset({s.PSAT, s.DEAL_SIZE})
_INTS = frozenset({s.CAPACITY})
_BOOLS = frozenset({s.SOURCED})


def _column(table: str, name: str, series: pd.Series, fmt: ExportFormat) -> pa.Array:
    if name in s.LIST_COLUMNS[table]:
        lists = pa.array(series.tolist(), pa.large_list(pa.string()))
        # CSV cells hold `;`-joined lists; Parquet keeps native lists (the contract loader reads both).
        return pc.binary_join(lists, s.LIST_SEPARATOR) if fmt == "csv" else lists
    if name in s.DATE_COLUMNS[table]:
        return pa.array(series.to_numpy(dtype="datetime64[ns]"), pa.timestamp("ns")).cast(pa.date32())
    if name in _FLOATS:
        values = series.to_numpy(dtype="float64", na_value=float("nan"))
        return pa.array(values, pa.float64(), from_pandas=True)
    if name in _INTS:
        return pa.array(series.astype("Int64"), pa.int64(), from_pandas=True)
    if name in _BOOLS:
        return pa.array(series.astype("boolean"), pa.bool_(), from_pandas=True)
    return pa.array(series.astype(object), pa.string(), from_pandas=True)


# Contract columns a table may leave out: written only when the frame has them.
_OPTIONAL = frozenset({s.REQUEST_ID})


def to_arrow(table: str, frame: pd.DataFrame, fmt: ExportFormat = "csv") -> pa.Table:
    """The contract columns of one table, in contract order, as an Arrow table ready to write.

    Optional columns (`request_id` of competing bids) are written when present: in contract order if the
    contract lists them, else last.
    """
    names = [c for c in s.COLUMNS[table] if c not in _OPTIONAL or c in frame.columns]
    names += [c for c in frame.columns if c in _OPTIONAL and c not in names]
    return pa.table([_column(table, name, frame[name], fmt) for name in names], names=names)


def write_tables(tables: EcosystemTables, directory: Path, fmt: ExportFormat = "csv") -> list[Path]:
    """Write the four tables as `<table>.csv|.parquet` under `directory`; returns the files written.

    CSV: header row, cells quoted only when needed, ISO dates, empty cells for missing values,
    booleans as true/false. Output is byte-identical for identical tables.
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"unknown export format {fmt!r} (expected csv or parquet)")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for table in s.TABLES:
        arrow = to_arrow(table, getattr(tables, table), fmt)
        path = directory / f"{table}.{fmt}"
        for other in s.EXPORT_SUFFIXES:  # a stale file of the other format would make the folder ambiguous
            stale = directory / f"{table}{other}"
            if stale != path and stale.exists():
                stale.unlink()
        if fmt == "csv":
            pcsv.write_csv(arrow, path, pcsv.WriteOptions(include_header=True, quoting_style="needed"))
        else:
            pq.write_table(arrow, path, compression="zstd")
        written.append(path)
    return written
