"""`partnermatch ingest`: summary on success; the full report, exit 1 and an untouched store on error."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from features import schema as s
from features.contract import load_export
from features.records import EcosystemTables
from features.store import Store
from tests.features.conftest import WriteExport, tiny_tables, with_table
from tests.partnermatch.commands.conftest import invoke


def missing_column(t: EcosystemTables) -> EcosystemTables:
    return with_table(t, opportunities=t.opportunities.drop(columns=["outcome"]))


def bad_enum(t: EcosystemTables) -> EcosystemTables:
    return with_table(t, partners=t.partners.assign(tier=["gold", "bronze", ""]))


def duplicate_id(t: EcosystemTables) -> EcosystemTables:
    return with_table(t, opportunities=t.opportunities.assign(opportunity_id=["O1", "O1"]))


def dangling_partner(t: EcosystemTables) -> EcosystemTables:
    return with_table(t, certifications=t.certifications.assign(partner_id=["P1", "P404"]))


def negative_deal_size(t: EcosystemTables) -> EcosystemTables:
    return with_table(t, opportunities=t.opportunities.assign(deal_size=["250000", "-1"]))


BROKEN: list[tuple[Callable[[EcosystemTables], EcosystemTables], str]] = [
    (missing_column, "opportunities.csv, column outcome: missing required column"),
    (bad_enum, "partners.csv, row 2, column tier:"),
    (duplicate_id, "opportunities.csv, row 2, column opportunity_id: duplicate key 'O1'"),
    (dangling_partner, "certifications.csv, row 2, column partner_id: unknown partner_id 'P404'"),
    (negative_deal_size, "opportunities.csv, row 2, column deal_size:"),
]


def changed(t: EcosystemTables) -> EcosystemTables:
    """A newer export: every row different, so a partial write would show."""
    return with_table(
        t,
        partners=t.partners.assign(name=["a", "b", "c"]),
        opportunities=t.opportunities.assign(description=["x", "y"]),
    )


def test_ingest_loads_a_valid_export_and_prints_a_summary(cli_store: Store, write: WriteExport) -> None:
    code, out, _ = invoke(str(write(tiny_tables())))
    assert code == 0
    assert "deal_partners" in out and "inserted" in out
    assert cli_store.counts() == {"partners": 3, "certifications": 2, "opportunities": 2, "deal_partners": 3}


@pytest.mark.parametrize(("breakage", "expected_line"), BROKEN, ids=[b.__name__ for b, _ in BROKEN])
def test_ingest_rejects_a_broken_export_and_leaves_the_store_unchanged(
    cli_store: Store,
    write: WriteExport,
    breakage: Callable[[EcosystemTables], EcosystemTables],
    expected_line: str,
) -> None:
    assert invoke(str(write(tiny_tables())))[0] == 0
    before, counts = cli_store.load_tables(), cli_store.counts()
    code, _, err = invoke(str(write(breakage(changed(tiny_tables())))))
    assert code == 1
    assert expected_line in err
    assert cli_store.counts() == counts
    after = cli_store.load_tables()
    for name in s.TABLES:
        pd.testing.assert_frame_equal(getattr(after, name), getattr(before, name))


def test_ingest_reports_three_errors_at_once_with_the_count(cli_store: Store, write: WriteExport) -> None:
    broken = dangling_partner(negative_deal_size(bad_enum(tiny_tables())))
    code, _, err = invoke(str(write(broken)))
    assert code == 1
    assert "3 violation(s)" in err
    assert len([line for line in err.splitlines() if ", row " in line]) == 3
    assert cli_store.is_empty()


def test_ingest_warns_about_an_unknown_column_and_still_ingests(cli_store: Store, write: WriteExport) -> None:
    tables = tiny_tables()
    code, out, _ = invoke(str(write(with_table(tables, partners=tables.partners.assign(crm_owner="kim")))))
    assert code == 0
    assert "crm_owner" in out
    assert cli_store.counts()["partners"] == 3


def test_ingest_accepts_a_parquet_export(cli_store: Store, write: WriteExport) -> None:
    folder = write(tiny_tables(), "parquet")
    assert invoke(str(folder))[0] == 0
    assert cli_store.counts()["opportunities"] == 2
    expected = load_export(folder).tables.partners
    pd.testing.assert_frame_equal(cli_store.load_tables().partners, expected)


def test_ingest_rejects_a_missing_folder(cli_store: Store, tmp_path: Path) -> None:
    code, _, err = invoke(str(tmp_path / "nowhere"))
    assert code == 1
    assert "does not exist" in err
