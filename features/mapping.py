"""Export mappings: a declarative TOML file that turns another system's export into data contract v1 cells.

A mapping names, per contract table, the source file, column renames (source -> contract), constant
defaults for columns the file lacks, value maps, list separators and date formats; the last four are keyed
by contract column. It is applied before the contract, which then runs as for any export (load_export).
Decisions (tested in tests/features/test_mapping.py):
- Every non-blank cell of a value-mapped column must be listed in its map; blank cells stay blank.
- Problems of the mapping stage (unmapped values, unparsable dates, renamed columns the file lacks) are
  reported first, all of them; the contract's own checks run once the mapping stage is clean, because an
  untranslated cell would be reported twice otherwise.
- Violations name the source file and the source column, as the user's export holds them.
- A default fills a column only when the file lacks it: a present column's blank cells stay blank.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection, Sequence
from dataclasses import replace
from pathlib import Path, PurePath
from typing import Annotated, ClassVar, Self

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from features import schema as s
from features.contract import ValidatedExport, validate_export
from features.export_files import find_table_file, read_raw_table
from features.violations import ContractError, ViolationCollector

ISO_DATES = "ISO8601"  # the date format that takes any ISO 8601 date or timestamp (pandas' own name)
MAX_SEPARATOR = 8
MAX_DATE_FORMAT = 64
MAX_FILE_NAME = 255
# An unmapped-value report lists this many of the map's known values, so a long map stays readable.
MAX_KNOWN_SHOWN = 5

SourceName = Annotated[str, Field(min_length=1, max_length=s.MAX_NAME)]
ContractValue = Annotated[str, Field(max_length=s.MAX_TEXT)]
Separator = Annotated[str, Field(min_length=1, max_length=MAX_SEPARATOR)]
DateFormat = Annotated[str, Field(min_length=2, max_length=MAX_DATE_FORMAT)]


class MappingError(ValueError):
    """A mapping file that cannot be used; `problems` name the key (or line) of each."""

    def __init__(self, file: Path, problems: list[str]) -> None:
        self.file = file
        self.problems = problems
        super().__init__(self.report())

    def report(self) -> str:
        lines = [f"mapping {self.file} is not usable: {len(self.problems)} problem(s)"]
        lines.extend(f"{self.file}: {problem}" for problem in self.problems)
        return "\n".join(lines)


class TableMapping(BaseModel):
    """How one contract table is read from a source file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    table: ClassVar[str]

    file: str | None = Field(None, min_length=1, max_length=MAX_FILE_NAME)
    columns: dict[SourceName, str] = Field(default_factory=dict)
    defaults: dict[str, ContractValue] = Field(default_factory=dict)
    values: dict[str, dict[SourceName, ContractValue]] = Field(default_factory=dict)
    lists: dict[str, Separator] = Field(default_factory=dict)
    dates: dict[str, DateFormat] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _names_contract_columns(self) -> Self:
        problems = [*self._file_problems(), *self._column_problems()]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _file_problems(self) -> list[str]:
        if self.file is None:
            return []
        name = PurePath(self.file)
        if name.name != self.file or name.suffix not in s.EXPORT_SUFFIXES:
            return [f"file {self.file!r} must be a file name in the export folder ending in .csv or .parquet"]
        return []

    def _column_problems(self) -> list[str]:
        table, known = self.table, s.COLUMNS[self.table]
        lists, dates = s.LIST_COLUMNS[table], s.DATE_COLUMNS[table]
        problems = [
            f"columns.{_key(source)}: {target!r} is not a column of {table}"
            for source, target in self.columns.items()
            if target not in known
        ]
        targets = list(self.columns.values())
        twice = sorted({t for t in targets if targets.count(t) > 1})
        problems += [f"columns: more than one source column is renamed to {t!r}" for t in twice]
        for section, names, allowed, kind in (
            ("defaults", self.defaults, known, "a column"),
            ("values", self.values, [c for c in known if c not in lists and c not in dates], "a text column"),
            ("lists", self.lists, lists, "a list column"),
            ("dates", self.dates, dates, "a date column"),
        ):
            problems += [f"{section}.{_key(n)}: not {kind} of {table}" for n in names if n not in allowed]
        problems += [
            f"dates.{_key(name)}: {fmt!r} is neither {ISO_DATES} nor a strftime format (e.g. %m/%d/%Y)"
            for name, fmt in self.dates.items()
            if fmt != ISO_DATES and "%" not in fmt
        ]
        return problems


class PartnersMapping(TableMapping):
    table: ClassVar[str] = s.PARTNERS


class CertificationsMapping(TableMapping):
    table: ClassVar[str] = s.CERTIFICATIONS


class OpportunitiesMapping(TableMapping):
    table: ClassVar[str] = s.OPPORTUNITIES


class DealPartnersMapping(TableMapping):
    table: ClassVar[str] = s.DEAL_PARTNERS


class ExportMapping(BaseModel):
    """A whole mapping file: one optional section per contract table (a table not named is read as is)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    partners: PartnersMapping | None = None
    certifications: CertificationsMapping | None = None
    opportunities: OpportunitiesMapping | None = None
    deal_partners: DealPartnersMapping | None = None

    @classmethod
    def from_file(cls, path: Path) -> ExportMapping:
        """The mapping in a TOML file; MappingError names the file and every bad key."""
        try:
            with Path(path).open("rb") as handle:
                data = tomllib.load(handle)
        except OSError as exc:
            raise MappingError(path, [f"cannot be read: {exc.strerror or exc}"]) from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise MappingError(path, [f"not valid TOML: {exc}"]) from None
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise MappingError(path, [_problem(error) for error in exc.errors()]) from None

    def for_table(self, table: str) -> TableMapping | None:
        """The section for one contract table, None when the mapping leaves it as the contract names it."""
        mapping: TableMapping | None = getattr(self, table)
        return mapping


def _key(part: str | int) -> str:
    """One part of a dotted TOML key, quoted when it is not a bare key (e.g. "Account.Industry")."""
    text = str(part)
    return text if re.fullmatch(r"[A-Za-z0-9_-]+", text) else f'"{text}"'


def _problem(error: ErrorDetails) -> str:
    key = ".".join(_key(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        return f"unknown key {key}"
    message = error["msg"].removeprefix("Value error, ")
    return f"{key}: {message}" if key else message


# Applying -------------------------------------------------------------------------------------


def _text(col: pd.Series) -> pd.Series:
    """Cells as stripped text, blank or missing cells as NA."""
    text = col.astype("string").str.strip()
    return text.mask(text == "").astype(object)


def _translate(
    col: pd.Series, known: dict[str, str], file: str, column: str, target: str, out: ViolationCollector
) -> pd.Series:
    text = _text(col)
    mapped = text.map(known)
    unmapped = text.notna() & mapped.isna()
    listed = ", ".join(repr(value) for value in list(known)[:MAX_KNOWN_SHOWN])
    more = ", ..." if len(known) > MAX_KNOWN_SHOWN else ""
    reason = f"unmapped value {{value}} for {target} (the mapping lists {listed}{more})"
    out.add_mask(file, column, reason, unmapped, text)
    return mapped.fillna("")


def _split(col: pd.Series, separator: str) -> pd.Series:
    # A Python list per cell is what the contract takes for list columns, so this is per cell by nature.
    def items(cell: object) -> object:
        if isinstance(cell, str):
            return [part.strip() for part in cell.split(separator) if part.strip()]
        return cell

    return pd.Series([items(cell) for cell in col.tolist()], index=col.index, dtype=object)


def _dates(col: pd.Series, fmt: str, file: str, column: str, out: ViolationCollector) -> pd.Series:
    if not (pd.api.types.is_string_dtype(col) or col.dtype == object):
        return col  # a parquet timestamp column needs no format
    text = _text(col)
    parsed = pd.to_datetime(text, format=fmt, errors="coerce", utc=True)
    out.add_mask(
        file, column, f"unparsable date {{value}} (expected {fmt})", text.notna() & parsed.isna(), text
    )
    # ISO with the UTC offset: the contract then takes the calendar date as it does for any export.
    return parsed.dt.strftime("%Y-%m-%dT%H:%M:%S+00:00").fillna("")


def apply_mapping(rule: TableMapping, raw: pd.DataFrame, file: str, out: ViolationCollector) -> pd.DataFrame:
    """A source file's cells as contract cells (renamed, translated, defaulted); problems go to `out`."""
    frame = raw.rename(columns=lambda name: str(name).strip())
    for source, target in rule.columns.items():
        if source not in frame.columns:
            out.add(file, source, f"column missing (the mapping renames it to {target})")
        elif target != source and target in frame.columns:
            out.add(file, target, f"the file holds {target} and {source}, which the mapping renames to it")
    frame = frame.rename(columns=rule.columns)
    source_of = {target: source for source, target in rule.columns.items()}
    for name, known in rule.values.items():
        if name in frame.columns:
            frame[name] = _translate(frame[name], known, file, source_of.get(name, name), name, out)
    for name, separator in rule.lists.items():
        if name in frame.columns:
            frame[name] = _split(frame[name], separator)
    for name, fmt in rule.dates.items():
        if name in frame.columns:
            frame[name] = _dates(frame[name], fmt, file, source_of.get(name, name), out)
    for name, value in rule.defaults.items():
        if name not in frame.columns:
            frame[name] = value
    return frame


def load_mapped_export(
    directory: Path,
    mapping: ExportMapping,
    *,
    roles: Sequence[str] = s.DEFAULT_ROLES,
    known_partner_ids: Collection[str] = (),
    known_opportunity_ids: Collection[str] = (),
) -> ValidatedExport:
    """Read an export folder through a mapping, then validate it as load_export does (all violations)."""
    directory = Path(directory)
    out = ViolationCollector()
    if not directory.is_dir():
        out.add(str(directory), None, "export folder does not exist")
        raise out.error()
    cells: dict[str, pd.DataFrame] = {}
    files: dict[str, str] = {}
    source_names: dict[str, dict[str, str]] = {}
    for table in s.TABLES:
        rule = mapping.for_table(table)
        path = _source_file(directory, table, rule, out)
        raw = None if path is None else read_raw_table(path, out)
        if path is None or raw is None:
            continue
        files[table] = path.name
        cells[table] = raw if rule is None else apply_mapping(rule, raw, path.name, out)
        if rule is not None:
            source_names[path.name] = {target: source for source, target in rule.columns.items()}
    if out.findings:
        raise out.error()
    try:
        return validate_export(
            cells,
            files,
            directory,
            roles=roles,
            known_partner_ids=known_partner_ids,
            known_opportunity_ids=known_opportunity_ids,
        )
    except ContractError as err:
        raise _in_source_terms(err, source_names) from None


def _source_file(
    directory: Path, table: str, rule: TableMapping | None, out: ViolationCollector
) -> Path | None:
    if rule is None or rule.file is None:
        return find_table_file(directory, table, out)
    path = directory / rule.file
    if not path.is_file():
        out.add(rule.file, None, f"missing table file (the mapping reads {table} from it)")
        return None
    return path


def _in_source_terms(err: ContractError, source_names: dict[str, dict[str, str]]) -> ContractError:
    """The contract's violations with the source column names the user's files hold."""
    violations = [
        replace(v, column=source_names.get(v.file, {}).get(v.column, v.column)) if v.column else v
        for v in err.violations
    ]
    return ContractError(violations, err.total)
