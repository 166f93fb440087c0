"""Data contract v1 enforcement: load, parse, validate and normalise a PRM export folder.

`validate_rows` applies the same rules to rows that enter by another door (outcomes posted to the API).

Reading and writing the files is `features/export_files.py`, the violation report `features/violations.py`.
Decisions the design leaves open (documented here, tested in tests/features/test_contract.py):
- A `won`/`lost` opportunity without `closed_at` is accepted with a warning (PRMs often omit close
  dates); downstream code falls back to `created_at` for its timing.
- Dates are calendar dates: an ISO time part is dropped after converting any time zone to UTC.
- Enumerations (roles, tiers, statuses, outcomes) are matched exactly, case included.
- Row numbers are 1-based data rows (the header is not counted; CSV line = row + 1 without quoted newlines).
- Bounds (dates, numbers, text and list lengths) are the ones in features/schema.py, which the API's
  schemas use too. An opportunity's created_at may not be more than MAX_CREATED_AHEAD_DAYS after today.
- `request_id` is optional (exports without it load as before); bids sharing one may hold at most one
  `won` outcome, every such won bid is reported.
- A CSV file must be UTF-8 (a byte-order mark is allowed) with as many fields in every row as in its header;
  a file that cannot be read at all (empty, not UTF-8, corrupt parquet) is reported, never raised.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from features import schema as s
from features.export_files import find_table_file, list_cell, read_raw_table
from features.records import EcosystemTables
from features.violations import ViolationCollector

log = logging.getLogger(__name__)

_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})

# Column kinds beyond plain strings; everything not listed here is a string column.
_FLOAT_COLUMNS = frozenset({s.PSAT, s.DEAL_SIZE})
_INT_COLUMNS = frozenset({s.CAPACITY})
_BOOL_COLUMNS = frozenset({s.SOURCED})
_DEFAULTS: dict[str, dict[str, str]] = {
    s.PARTNERS: {s.TIER: s.DEFAULT_TIER, s.STATUS: s.DEFAULT_PARTNER_STATUS},
}


@dataclass(frozen=True)
class ValidatedExport:
    """An export that passed the contract, normalised as EcosystemTables."""

    tables: EcosystemTables
    source: Path
    warnings: list[str] = field(default_factory=list)


def _is_text(col: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(col) or col.dtype == object


def _clean_text(col: pd.Series) -> pd.Series:
    """Strings stripped, blank cells missing; non-text parquet columns are rendered as text first."""
    text = col.astype("str").str.strip()
    return text.mask(text == "")


def _parse_dates(col: pd.Series, file: str, name: str, out: ViolationCollector) -> pd.Series:
    if _is_text(col):
        text = _clean_text(col)
        parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
        bad = text.notna() & parsed.isna()
        out.add_mask(file, name, "unparsable date {value} (expected ISO 8601)", bad, text)
    else:
        parsed = pd.to_datetime(col, errors="coerce", utc=True)
    # Checked before the cast to nanoseconds, which cannot hold years like 0001 or 2300.
    days = parsed.dt.tz_convert(None).dt.normalize()
    shown = days.dt.strftime("%Y-%m-%d")
    latest = _latest_date(name)
    outside = days.notna() & ((days < pd.Timestamp(s.EARLIEST_DATE)) | (days > pd.Timestamp(latest)))
    reason = f"date {{value}} is outside {s.EARLIEST_DATE}..{latest}"
    if name == s.CREATED_AT:
        reason += f" (at most {s.MAX_CREATED_AHEAD_DAYS} days after today)"
    out.add_mask(file, name, reason, outside, shown)
    return days.mask(outside).astype("datetime64[ns]")


def _latest_date(name: str) -> date:
    return s.latest_created_at() if name == s.CREATED_AT else s.LATEST_DATE


def _parse_numbers(col: pd.Series, file: str, name: str, out: ViolationCollector) -> pd.Series:
    if not _is_text(col):
        return col.astype("float64")
    text = _clean_text(col)
    parsed = pd.to_numeric(text, errors="coerce").astype("float64")
    out.add_mask(file, name, "unparsable number {value}", text.notna() & parsed.isna(), text)
    return parsed


def _parse_bools(col: pd.Series, file: str, name: str, out: ViolationCollector) -> pd.Series:
    if pd.api.types.is_bool_dtype(col):
        return col.astype("boolean")
    text = _clean_text(col).str.lower()
    parsed = pd.Series(pd.NA, index=col.index, dtype="boolean")
    parsed[text.isin(_TRUE)] = True
    parsed[text.isin(_FALSE)] = False
    bad = text.notna() & parsed.isna()
    out.add_mask(file, name, "unparsable boolean {value} (expected true/false)", bad, text)
    return parsed


def _parse_lists(col: pd.Series) -> pd.Series:
    # One Python list per cell is the target type, so building them is inherently per cell.
    return pd.Series([list_cell(cell) for cell in col.tolist()], index=col.index, dtype=object)


def _parse_table(
    table: str, raw: pd.DataFrame, file: str, out: ViolationCollector
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Typed columns in contract order; returns the frame and, per column, the rows that failed to parse."""
    failed: dict[str, np.ndarray] = {}
    columns: dict[str, pd.Series] = {}
    for name in s.COLUMNS[table]:
        if name not in raw.columns:
            col = pd.Series(pd.NA, index=raw.index, dtype=object)
        else:
            col = raw[name]
        findings_before = len(out.findings)
        if name in s.LIST_COLUMNS[table]:
            columns[name] = _parse_lists(col)
        elif name in s.DATE_COLUMNS[table]:
            columns[name] = _parse_dates(col, file, name, out)
        elif name in _FLOAT_COLUMNS or name in _INT_COLUMNS:
            columns[name] = _parse_numbers(col, file, name, out)
        elif name in _BOOL_COLUMNS:
            columns[name] = _parse_bools(col, file, name, out)
        else:
            columns[name] = _clean_text(col)
        for finding in out.findings[findings_before:]:
            if finding.rows is not None:
                failed[name] = np.union1d(failed.get(name, np.empty(0, dtype=np.int64)), finding.rows)
    frame = pd.DataFrame(columns, index=pd.RangeIndex(len(raw)))
    for name, default in _DEFAULTS.get(table, {}).items():
        frame[name] = frame[name].fillna(default)
    return frame, failed


# Rules ---------------------------------------------------------------------------------------


def _schemas(roles: Sequence[str]) -> dict[str, pa.DataFrameSchema]:
    def required() -> pa.Column:
        return pa.Column(nullable=False)

    def one_of(values: Sequence[str], *, nullable: bool = False) -> pa.Column:
        return pa.Column(
            nullable=nullable,
            checks=pa.Check.isin(list(values), error=f"not one of: {', '.join(values)}"),
        )

    def schema(columns: dict[str, pa.Column], table: str) -> pa.DataFrameSchema:
        return pa.DataFrameSchema(columns, unique=list(s.KEYS[table]), report_duplicates="exclude_first")

    return {
        s.PARTNERS: schema(
            {
                s.PARTNER_ID: required(),
                s.NAME: required(),
                s.PARTNER_TYPE: one_of(roles),
                s.TIER: one_of(s.TIERS),
                s.STATUS: one_of(s.PARTNER_STATUSES),
                s.CAPACITY: pa.Column(
                    nullable=True,
                    checks=[
                        pa.Check.in_range(0, s.MAX_CAPACITY, error=f"must be within 0-{s.MAX_CAPACITY}"),
                        pa.Check(lambda c: c.isna() | (c % 1 == 0), error="must be a whole number"),
                    ],
                ),
                s.PSAT: pa.Column(
                    nullable=True,
                    checks=pa.Check.in_range(
                        s.MIN_PSAT, s.MAX_PSAT, error=f"must be within {s.MIN_PSAT:g}-{s.MAX_PSAT:g}"
                    ),
                ),
            },
            s.PARTNERS,
        ),
        s.CERTIFICATIONS: schema({s.PARTNER_ID: required(), s.CERTIFICATION: required()}, s.CERTIFICATIONS),
        s.OPPORTUNITIES: schema(
            {
                s.OPPORTUNITY_ID: required(),
                s.CREATED_AT: required(),
                s.OUTCOME: one_of(s.OUTCOMES),
                s.DEAL_SIZE: pa.Column(
                    nullable=True,
                    checks=pa.Check.in_range(
                        0, s.MAX_DEAL_SIZE, error=f"must be within 0-{s.MAX_DEAL_SIZE:g}"
                    ),
                ),
            },
            s.OPPORTUNITIES,
        ),
        s.DEAL_PARTNERS: schema(
            {
                s.OPPORTUNITY_ID: required(),
                s.PARTNER_ID: required(),
                s.ROLE: one_of(roles),
            },
            s.DEAL_PARTNERS,
        ),
    }


def _check_values(
    table: str,
    frame: pd.DataFrame,
    schema: pa.DataFrameSchema,
    file: str,
    parse_failed: dict[str, np.ndarray],
    missing: Collection[str],
    out: ViolationCollector,
) -> None:
    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors as err:
        cases = err.failure_cases
        cases = cases[cases["index"].notna()]
        key = list(s.KEYS[table])
        dup = cases["check"] == "multiple_fields_uniqueness"
        # A missing required column is one violation, not one per row.
        cases = cases[~dup & ~cases["column"].isin(missing)]
        cases = cases.drop_duplicates(subset=["column", "index"])
        # A cell that failed to parse is already reported; its emptiness is not a second violation.
        already = pd.Series(False, index=cases.index)
        for column, rows in parse_failed.items():
            already |= (cases["column"] == column) & cases["index"].isin(rows)
        cases = cases[~already]
        for (column, check), group in cases.groupby(["column", "check"], sort=False):
            reason = "required value is empty" if check == "not_nullable" else f"{{value}} {check}"
            mask = pd.Series(False, index=frame.index)
            mask[group["index"].astype(int).to_numpy()] = True
            out.add_mask(file, str(column), reason, mask, frame[str(column)])
        if dup.any():
            mask = frame.duplicated(subset=key, keep="first") & frame[key].notna().all(axis=1)
            shown = frame[key].astype(str).agg("/".join, axis=1) if len(key) > 1 else frame[key[0]]
            out.add_mask(file, ",".join(key), "duplicate key {value}", mask, shown)


def _check_sizes(table: str, frame: pd.DataFrame, file: str, out: ViolationCollector) -> None:
    """Text and list lengths within the schema's bounds, and no NUL characters (PostgreSQL refuses them)."""
    for name in s.COLUMNS[table]:
        col = frame[name]
        if name in s.LIST_COLUMNS[table]:
            limit = s.MAX_ITEMS[name]
            sizes = col.map(len)
            out.add_mask(file, name, f"{{value}} items, more than the limit of {limit}", sizes > limit, sizes)
            longest = col.map(lambda cell: max(map(len, cell), default=0))
            out.add_mask(
                file,
                name,
                f"an item of {{value}} characters, more than the limit of {s.MAX_TAG}",
                longest > s.MAX_TAG,
                longest,
            )
            nul = col.map(lambda cell: any(s.NUL in item for item in cell))
            out.add_mask(file, name, "an item contains a NUL character", nul)
        elif name in s.MAX_CHARS and _is_text(col):
            limit = s.MAX_CHARS[name]
            chars = col.str.len()
            out.add_mask(
                file,
                name,
                f"text of {{value}} characters, more than the limit of {limit}",
                chars > limit,
                chars.astype("Int64"),
            )
            out.add_mask(file, name, "contains a NUL character", col.str.contains(s.NUL, regex=False))


def _check_reference(
    frame: pd.DataFrame, column: str, universe: pd.Index, file: str, out: ViolationCollector
) -> None:
    col = frame[column]
    out.add_mask(file, column, "unknown " + column + " {value}", col.notna() & ~col.isin(universe), col)


def _check_requests(opp: pd.DataFrame, file: str, out: ViolationCollector) -> None:
    """Bids sharing a request_id compete for one customer request, so at most one of them is won."""
    won = opp[s.REQUEST_ID].notna() & (opp[s.OUTCOME] == s.WON)
    per_request = opp.loc[won, s.REQUEST_ID].value_counts()
    twice = won & opp[s.REQUEST_ID].isin(per_request.index[per_request > 1])
    reason = "request {value} has more than one won bid (its bids compete: at most one can be won)"
    out.add_mask(file, s.REQUEST_ID, reason, twice, opp[s.REQUEST_ID])


def _id_universe(frame: pd.DataFrame | None, column: str, known: Collection[str]) -> pd.Index:
    ids = pd.Index([] if frame is None else frame[column].dropna().to_numpy(dtype=object), dtype=object)
    return ids.append(pd.Index(list(known), dtype=object)).unique()


def _load_table(
    path: Path, table: str, schema: pa.DataFrameSchema, out: ViolationCollector, warnings: list[str]
) -> pd.DataFrame | None:
    """One table file parsed and checked on its own (no cross-table rules); None if it is unreadable."""
    raw = read_raw_table(path, out)
    if raw is None:
        return None
    return _check_table(raw, table, schema, path.name, out, warnings)


def _check_table(
    raw: pd.DataFrame,
    table: str,
    schema: pa.DataFrameSchema,
    file: str,
    out: ViolationCollector,
    warnings: list[str],
) -> pd.DataFrame:
    """One table's cells (as an export holds them) parsed and checked on their own (no cross-table rules)."""
    raw.columns = [str(c).strip() for c in raw.columns]
    missing = [c for c in s.REQUIRED_COLUMNS[table] if c not in raw.columns]
    for column in missing:
        out.add(file, column, "missing required column")
    extra = [c for c in raw.columns if c not in s.COLUMNS[table]]
    if extra:
        warnings.append(f"{file}: ignored unknown column(s): {', '.join(extra)}")
    frame, parse_failed = _parse_table(table, raw, file, out)
    _check_values(table, frame, schema, file, parse_failed, missing, out)
    _check_sizes(table, frame, file, out)
    return frame


# Public API ----------------------------------------------------------------------------------


def read_opportunities_file(path: Path) -> pd.DataFrame:
    """One `opportunities` table (.csv or .parquet) checked and normalised on its own, e.g. to rank.

    References (registered_partner_id) are not resolved here: the caller decides what an unknown one means.
    """
    path = Path(path)
    out = ViolationCollector()
    warnings: list[str] = []
    if not path.is_file() or path.suffix not in s.EXPORT_SUFFIXES:
        out.add(str(path), None, f"not a {' or '.join(s.EXPORT_SUFFIXES)} file")
        raise out.error()
    frame = _load_table(path, s.OPPORTUNITIES, _schemas(s.DEFAULT_ROLES)[s.OPPORTUNITIES], out, warnings)
    if frame is not None:
        _check_requests(frame, path.name, out)
    if out.findings or frame is None:
        raise out.error()
    for warning in warnings:
        log.warning(warning)
    return normalise_table(s.OPPORTUNITIES, frame)


def _validated(
    frames: dict[str, pd.DataFrame],
    files: Mapping[str, str],
    source: Path,
    known_partner_ids: Collection[str],
    known_opportunity_ids: Collection[str],
    out: ViolationCollector,
    warnings: list[str],
) -> ValidatedExport:
    """The checks across tables, then every violation raised at once, or the normalised export."""
    _check_across(frames, files, known_partner_ids, known_opportunity_ids, out, warnings)
    if out.findings:
        raise out.error()
    for warning in warnings:
        log.warning(warning)
    tables = EcosystemTables(**{table: normalise_table(table, frames[table]) for table in s.TABLES})
    return ValidatedExport(tables=tables, source=source.resolve(), warnings=warnings)


def load_export(
    directory: Path,
    *,
    roles: Sequence[str] = s.DEFAULT_ROLES,
    known_partner_ids: Collection[str] = (),
    known_opportunity_ids: Collection[str] = (),
) -> ValidatedExport:
    """Read and validate an export folder; raise ContractError listing every violation found."""
    directory = Path(directory)
    out = ViolationCollector()
    warnings: list[str] = []
    if not directory.is_dir():
        out.add(str(directory), None, "export folder does not exist")
        raise out.error()
    schemas = _schemas(roles)
    frames: dict[str, pd.DataFrame] = {}
    files: dict[str, str] = {}
    for table in s.TABLES:
        path = find_table_file(directory, table, out)
        if path is None:
            continue
        files[table] = path.name
        frame = _load_table(path, table, schemas[table], out, warnings)
        if frame is not None:
            frames[table] = frame

    return _validated(frames, files, Path(directory), known_partner_ids, known_opportunity_ids, out, warnings)


def validate_export(
    cells: Mapping[str, pd.DataFrame],
    files: Mapping[str, str],
    source: Path,
    *,
    roles: Sequence[str] = s.DEFAULT_ROLES,
    known_partner_ids: Collection[str] = (),
    known_opportunity_ids: Collection[str] = (),
) -> ValidatedExport:
    """Cells read from export files by another reader (e.g. a mapping), checked exactly as load_export does.

    `files` names each table's file in violations and warnings; a table missing from `cells` is a violation.
    """
    out = ViolationCollector()
    warnings: list[str] = []
    schemas = _schemas(roles)
    frames: dict[str, pd.DataFrame] = {}
    for table in s.TABLES:
        if table not in cells:
            out.add(files.get(table, table), None, "missing table file")
            continue
        frames[table] = _check_table(cells[table].copy(), table, schemas[table], files[table], out, warnings)
    return _validated(frames, files, Path(source), known_partner_ids, known_opportunity_ids, out, warnings)


def validate_rows(
    cells: Mapping[str, pd.DataFrame],
    *,
    roles: Sequence[str] = s.DEFAULT_ROLES,
    known_partner_ids: Collection[str] = (),
    known_opportunity_ids: Collection[str] = (),
) -> EcosystemTables:
    """Rows from another door than an export (e.g. an outcome posted to the API), checked by the same rules.

    `cells` maps table names to frames holding cells as an export file would (text, `;`-separated lists,
    blank = missing); tables not given are empty. Violations name the table (as their file), the 1-based
    row and the column; ContractError lists them all. Rows are checked together, so references and rules
    across rows (duplicate keys, one won bid per request) see every row given.
    """
    out = ViolationCollector()
    warnings: list[str] = []
    schemas = _schemas(roles)
    frames = {
        table: _check_table(cells[table].copy(), table, schemas[table], table, out, warnings)
        for table in s.TABLES
        if table in cells
    }
    files = {table: table for table in frames}
    _check_across(frames, files, known_partner_ids, known_opportunity_ids, out, warnings)
    if out.findings:
        raise out.error()
    return EcosystemTables(
        **{table: normalise_table(table, frames.get(table, pd.DataFrame())) for table in s.TABLES}
    )


def _check_across(
    frames: Mapping[str, pd.DataFrame],
    files: Mapping[str, str],
    known_partner_ids: Collection[str],
    known_opportunity_ids: Collection[str],
    out: ViolationCollector,
    warnings: list[str],
) -> None:
    """Rules across tables and rows: references resolve, closes follow creation, one won bid per request."""
    partner_ids = _id_universe(frames.get(s.PARTNERS), s.PARTNER_ID, known_partner_ids)
    opportunity_ids = _id_universe(frames.get(s.OPPORTUNITIES), s.OPPORTUNITY_ID, known_opportunity_ids)
    references = [
        (s.CERTIFICATIONS, s.PARTNER_ID, partner_ids),
        (s.OPPORTUNITIES, s.REGISTERED_PARTNER_ID, partner_ids),
        (s.DEAL_PARTNERS, s.OPPORTUNITY_ID, opportunity_ids),
        (s.DEAL_PARTNERS, s.PARTNER_ID, partner_ids),
    ]
    for table, column, universe in references:
        if table in frames:
            _check_reference(frames[table], column, universe, files[table], out)

    if s.OPPORTUNITIES in frames:
        opp = frames[s.OPPORTUNITIES]
        file = files[s.OPPORTUNITIES]
        out.add_mask(
            file,
            s.CLOSED_AT,
            "closed_at {value} is before created_at",
            opp[s.CLOSED_AT] < opp[s.CREATED_AT],
            opp[s.CLOSED_AT].dt.strftime("%Y-%m-%d"),
        )
        _check_requests(opp, file, out)
        no_close = int((opp[s.OUTCOME].isin([s.WON, s.LOST]) & opp[s.CLOSED_AT].isna()).sum())
        if no_close:
            warnings.append(f"{file}: {no_close} won/lost opportunit(ies) without closed_at")


def normalise_table(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Contract columns in contract order with the EcosystemTables dtypes; extra columns dropped.

    Expects already-valid values (from load_export or the store); missing optional columns are added empty.
    """
    columns: dict[str, pd.Series] = {}
    n = len(frame)
    index = pd.RangeIndex(n)
    for name in s.COLUMNS[table]:
        if name in frame.columns:
            col = frame[name].reset_index(drop=True)
        else:
            col = pd.Series([None] * n, index=index)
        if name in s.LIST_COLUMNS[table]:
            cells = col.tolist()
            if not all(type(cell) is list for cell in cells):
                cells = [list_cell(cell) for cell in cells]
            col = pd.Series(cells, index=index, dtype=object)
        elif name in s.DATE_COLUMNS[table]:
            col = pd.to_datetime(col).astype("datetime64[ns]")
        elif name in _FLOAT_COLUMNS:
            col = col.astype("float64")
        elif name in _INT_COLUMNS:
            col = col.astype("float64").astype("Int64")
        elif name in _BOOL_COLUMNS:
            col = col.astype("boolean")
        else:
            col = col.astype("str")
        columns[name] = col
    result = pd.DataFrame(columns, index=index)
    for name, default in _DEFAULTS.get(table, {}).items():
        result[name] = result[name].fillna(default)
    return result
