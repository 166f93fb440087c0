"""Hostile exports through `partnermatch ingest`: a report naming file, row and column, never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from features import schema as s
from features.store import Store
from tests.features.conftest import WriteExport, tiny_tables
from tests.partnermatch.commands.conftest import invoke


def edit(name: str, change: Callable[[str], str]) -> Callable[[Path], None]:
    """Rewrite one CSV file of the export as UTF-8 text."""

    def apply(folder: Path) -> None:
        path = folder / name
        path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8", newline="")

    return apply


def replace_in(name: str, old: str, new: str) -> Callable[[Path], None]:
    def change(text: str) -> str:
        assert old in text, f"{old!r} not in {name}"
        return text.replace(old, new, 1)

    return edit(name, change)


def append_to(name: str, line: str) -> Callable[[Path], None]:
    return edit(name, lambda text: text + line + "\n")


def raw_bytes(name: str, make: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        path = folder / name
        path.write_bytes(make(path.read_bytes()))

    return apply


def huge_description(folder: Path) -> None:
    replace_in("partners.csv", "SAP integrator", "x" * 50_000_000)(folder)


def duplicate_name_column(text: str) -> str:
    header, *rows = text.splitlines()
    return "\n".join([header + ",name", *(row + ",again" for row in rows)]) + "\n"


@dataclass(frozen=True)
class Case:
    """A valid CSV export broken by `breakage`; the report must hold every `expected` text."""

    id: str
    breakage: Callable[[Path], None]
    expected: tuple[str, ...]


CASES = [
    Case(
        "latin-1 file",
        raw_bytes("partners.csv", lambda b: b.replace(b"SAP integrator", "Café".encode("latin-1"))),
        ("partners.csv, row 1, column description: not UTF-8 text",),
    ),
    Case(
        "UTF-16 file",
        raw_bytes("partners.csv", lambda b: b.decode().encode("utf-16")),
        ("partners.csv: UTF-16 text",),
    ),
    Case(
        "UTF-16 file without a byte-order mark",
        raw_bytes("partners.csv", lambda b: b.decode().encode("utf-16-le")),
        ("partners.csv: the header holds NUL characters",),
    ),
    Case(
        "row with an extra field",
        append_to("deal_partners.csv", "O1,P2,services,true,extra"),
        ("deal_partners.csv, row 4: the row has 5 fields, the header 4",),
    ),
    Case(
        "truncated row",
        append_to("partners.csv", '"PX3","n","services"'),
        ("partners.csv, row 4, column tier: the row has 3 of the header's 12 fields",),
    ),
    Case(
        "0-byte file",
        raw_bytes("certifications.csv", lambda _: b""),
        ("certifications.csv: empty file: no header row",),
    ),
    Case(
        "binary garbage",
        raw_bytes("opportunities.csv", lambda _: bytes(range(256)) * 64),
        ("opportunities.csv", "not UTF-8 text"),
    ),
    Case(
        "capacity 1e30",
        replace_in("partners.csv", ",3,8.5,", ",1e30,8.5,"),
        ("partners.csv, row 1, column capacity: 1e+30 must be within 0-1000000",),
    ),
    Case(
        "negative capacity",
        replace_in("partners.csv", ",3,8.5,", ",-2,8.5,"),
        ("partners.csv, row 1, column capacity: -2.0 must be within 0-1000000",),
    ),
    Case(
        "psat 11",
        replace_in("partners.csv", ",3,8.5,", ",3,11,"),
        ("partners.csv, row 1, column psat: 11.0 must be within 0-10",),
    ),
    Case(
        "NaN as a number",
        replace_in("partners.csv", ",3,8.5,", ",3,NaN,"),
        ("partners.csv, row 1, column psat: unparsable number 'NaN'",),
    ),
    Case(
        "NUL byte in a cell",
        replace_in("partners.csv", "Acme Services", "Acme\x00Services"),
        ("partners.csv, row 1, column name: contains a NUL character",),
    ),
    Case(
        "NUL byte in a list item",
        replace_in("partners.csv", "sap;data-migration", "sap;data\x00migration"),
        ("partners.csv, row 1, column skills: an item contains a NUL character",),
    ),
    Case(
        "duplicate header",
        edit("partners.csv", duplicate_name_column),
        ("partners.csv, column name: column appears 2 times in the header",),
    ),
    Case(
        "empty required value",
        replace_in("partners.csv", "Acme Services", ""),
        ("partners.csv, row 1, column name: required value is empty",),
    ),
    Case(
        "unknown role",
        replace_in("deal_partners.csv", "O1,P2,influence", "O1,P2,architect"),
        ("deal_partners.csv, row 2, column role: 'architect' not one of: services, influence, reseller",),
    ),
    Case(
        "dangling reference",
        replace_in("deal_partners.csv", "O1,P2,influence", "O1,P404,influence"),
        ("deal_partners.csv, row 2, column partner_id: unknown partner_id 'P404'",),
    ),
    Case(
        "huge list cell",
        replace_in("partners.csv", "sap;data-migration", ";".join(f"s{i}" for i in range(500))),
        ("partners.csv, row 1, column skills: 500 items, more than the limit of 200",),
    ),
    Case(
        "list item too long",
        replace_in("partners.csv", "sap;data-migration", "sap;" + "d" * 200),
        ("partners.csv, row 1, column skills: an item of 200 characters, more than the limit of 120",),
    ),
    Case(
        "description too long",
        replace_in("partners.csv", "SAP integrator", "x" * 6000),
        ("partners.csv, row 1, column description: text of 6000 characters, more than the limit of 5000",),
    ),
    Case(
        "50 MB description",
        huge_description,
        ("partners.csv, row 1: unreadable CSV: field larger than field limit",),
    ),
    Case(
        "deal_size inf",
        replace_in("opportunities.csv", "250000", "inf"),
        ("opportunities.csv, row 1, column deal_size: inf must be within 0-1e+12",),
    ),
    Case(
        "deal_size 1e400",
        replace_in("opportunities.csv", "250000", "1e400"),
        ("opportunities.csv, row 1, column deal_size: inf must be within 0-1e+12",),
    ),
    Case(
        "created_at in 2099",
        replace_in("opportunities.csv", "2023-01-10", "2099-01-10"),
        ("opportunities.csv, row 1, column created_at: date '2099-01-10' is outside 1900-01-01..",),
    ),
    Case(
        "created_at in year 1",
        replace_in("opportunities.csv", "2023-01-10", "0001-01-10"),
        ("opportunities.csv, row 1, column created_at: date '0001-01-10' is outside 1900-01-01..",),
    ),
    Case(
        "joined_at 0001-01-01",
        replace_in("partners.csv", "2019-04-01", "0001-01-01"),
        ("partners.csv, row 1, column joined_at: date '0001-01-01' is outside 1900-01-01..2100-12-31",),
    ),
    Case(
        "joined_at 9999-12-31",
        replace_in("partners.csv", "2019-04-01", "9999-12-31"),
        ("partners.csv, row 1, column joined_at: date '9999-12-31' is outside 1900-01-01..2100-12-31",),
    ),
    Case(
        "joined_at in 2300",
        replace_in("partners.csv", "2019-04-01", "2300-04-01"),
        ("partners.csv, row 1, column joined_at: date '2300-04-01' is outside 1900-01-01..2100-12-31",),
    ),
    Case(
        "certification issued in 1500",
        replace_in("certifications.csv", "2022-01-01", "1500-01-01"),
        ("certifications.csv, row 1, column issued_at: date '1500-01-01' is outside",),
    ),
    Case(
        "certification expiring in 2999",
        replace_in("certifications.csv", "2026-01-01", "2999-01-01"),
        ("certifications.csv, row 1, column expires_at: date '2999-01-01' is outside",),
    ),
    Case(
        "unparsable date",
        replace_in("certifications.csv", "2026-01-01", "01/01/2026"),
        ("certifications.csv, row 1, column expires_at: unparsable date '01/01/2026'",),
    ),
]


@pytest.fixture
def stored(cli_store: Store, write: WriteExport) -> Store:  # noqa: F811 - the imported fixture
    """The store after one valid ingest, so that an unchanged store is not just an empty one."""
    assert invoke(str(write(tiny_tables())))[0] == 0
    return cli_store


def assert_unchanged(store: Store, before: tuple[dict[str, int], pd.DataFrame]) -> None:
    counts, partners = before
    assert store.counts() == counts
    pd.testing.assert_frame_equal(store.load_tables().partners, partners)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_broken_export_gets_a_report_naming_where_and_the_store_is_unchanged(
    stored: Store, write: WriteExport, case: Case
) -> None:
    before = (stored.counts(), stored.load_tables().partners)
    folder = write(tiny_tables())
    case.breakage(folder)
    code, out, err = invoke(str(folder))
    assert code == 1
    assert "Traceback" not in out + err
    assert "export breaks data contract v1" in err
    for expected in case.expected:
        assert expected in err
    assert_unchanged(stored, before)


def test_a_corrupt_parquet_file_gets_a_report_and_the_store_is_unchanged(
    stored: Store, write: WriteExport
) -> None:
    before = (stored.counts(), stored.load_tables().partners)
    folder = write(tiny_tables(), "parquet")
    path = folder / "partners.parquet"
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    code, out, err = invoke(str(folder))
    assert code == 1
    assert "Traceback" not in out + err
    assert "partners.parquet: not a readable parquet file" in err
    assert_unchanged(stored, before)


def test_a_parquet_date_in_year_one_gets_a_report_naming_the_cell(stored: Store, write: WriteExport) -> None:
    folder = write(tiny_tables(), "parquet")
    partners = pd.read_parquet(folder / "partners.parquet")
    partners["joined_at"] = [date(1, 1, 1), None, date(2021, 1, 15)]
    partners.to_parquet(folder / "partners.parquet", index=False)
    code, _, err = invoke(str(folder))
    assert code == 1
    assert "partners.parquet, row 1, column joined_at: date '0001-01-01' is outside 1900-01-01" in err


ACCEPTED = [
    Case("byte-order mark", raw_bytes("partners.csv", lambda b: b"\xef\xbb\xbf" + b), ()),
    Case("CRLF line ends", raw_bytes("partners.csv", lambda b: b.replace(b"\n", b"\r\n")), ()),
    Case("quoted newline in a cell", replace_in("partners.csv", "SAP integrator", '"SAP\nintegrator"'), ()),
    Case("blank line", raw_bytes("partners.csv", lambda b: b.replace(b"\n", b"\n\n", 1)), ()),
]


@pytest.mark.parametrize("case", ACCEPTED, ids=[c.id for c in ACCEPTED])
def test_a_well_formed_variant_of_csv_is_ingested(
    cli_store: Store,
    write: WriteExport,
    case: Case,  # noqa: F811 - the imported fixture
) -> None:
    folder = write(tiny_tables())
    case.breakage(folder)
    code, _, err = invoke(str(folder))
    assert code == 0, err
    assert cli_store.counts()[s.PARTNERS] == 3
