"""Data contract v1: what load_export accepts, normalises and rejects."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features import contract
from features import schema as s
from features.contract import load_export
from features.export_files import write_export
from features.records import EcosystemTables
from features.violations import MAX_LISTED_VIOLATIONS, ContractError, Violation
from tests.features.conftest import WriteExport, tiny_tables, with_table


def violations_of(folder: Path, **kwargs: object) -> list[Violation]:
    with pytest.raises(ContractError) as info:
        load_export(folder, **kwargs)  # type: ignore[arg-type]
    return info.value.violations


def test_a_valid_export_loads_with_the_contract_dtypes(write: WriteExport) -> None:
    tables = load_export(write(tiny_tables())).tables
    partners = tables.partners
    assert list(partners.columns) == list(contract.s.COLUMNS["partners"])
    assert partners["capacity"].dtype == "Int64"
    assert partners["joined_at"].dtype == "datetime64[ns]"
    assert tables.deal_partners["sourced"].dtype == "boolean"
    assert partners.loc[0, "regions"] == ["emea-north", "north-america"]
    assert tables.opportunities.loc[0, "deal_size"] == 250000.0


def test_empty_optional_cells_take_the_contract_defaults(write: WriteExport) -> None:
    partners = load_export(write(tiny_tables())).tables.partners.set_index("partner_id")
    assert partners.loc["P3", "tier"] == "registered"
    assert partners.loc["P2", "status"] == "active"
    assert partners.loc["P3", "skills"] == []
    assert partners["capacity"].isna().tolist() == [False, True, False]


def test_load_rejects_a_missing_required_column(write: WriteExport) -> None:
    tables = tiny_tables()
    found = violations_of(write(with_table(tables, partners=tables.partners.drop(columns=["name"]))))
    assert found == [Violation("partners.csv", None, "name", "missing required column")]


def test_load_rejects_a_partner_type_outside_the_roles(write: WriteExport) -> None:
    tables = tiny_tables()
    partners = tables.partners.assign(partner_type=["services", "influence", "distributor"])
    [found] = violations_of(write(with_table(tables, partners=partners)))
    assert (found.file, found.row, found.column) == ("partners.csv", 3, "partner_type")
    assert "'distributor'" in found.reason


def test_load_accepts_the_configured_role_set(write: WriteExport) -> None:
    tables = tiny_tables()
    partners = tables.partners.assign(partner_type=["services", "influence", "distributor"])
    deals = tables.deal_partners.assign(role=["services", "influence", "distributor"])
    folder = write(with_table(tables, partners=partners, deal_partners=deals))
    loaded = load_export(folder, roles=("services", "influence", "distributor"))
    assert loaded.tables.partners["partner_type"].tolist()[2] == "distributor"


def test_load_rejects_a_bad_tier_status_and_outcome(write: WriteExport) -> None:
    tables = tiny_tables()
    partners = tables.partners.assign(tier=["gold", "diamond", ""], status=["active", "", "paused"])
    opportunities = tables.opportunities.assign(outcome=["won", "pending"])
    found = violations_of(write(with_table(tables, partners=partners, opportunities=opportunities)))
    assert {(v.file, v.row, v.column) for v in found} == {
        ("partners.csv", 2, "tier"),
        ("partners.csv", 3, "status"),
        ("opportunities.csv", 2, "outcome"),
    }


def test_load_rejects_a_duplicate_partner_id(write: WriteExport) -> None:
    tables = tiny_tables()
    partners = tables.partners.assign(partner_id=["P1", "P2", "P2"])
    deals = tables.deal_partners.assign(partner_id=["P1", "P2", "P2"])
    [found] = violations_of(write(with_table(tables, partners=partners, deal_partners=deals)))
    assert (found.file, found.row, found.column) == ("partners.csv", 3, "partner_id")
    assert "duplicate" in found.reason


def test_load_rejects_a_duplicate_composite_key(write: WriteExport) -> None:
    tables = tiny_tables()
    certs = tables.certifications.assign(certification=["sap-s4", "sap-s4"])
    [found] = violations_of(write(with_table(tables, certifications=certs)))
    assert (found.file, found.row, found.column) == ("certifications.csv", 2, "partner_id,certification")


def test_load_rejects_a_dangling_partner_id_in_deal_partners(write: WriteExport) -> None:
    tables = tiny_tables()
    deals = tables.deal_partners.assign(partner_id=["P1", "P2", "P9"])
    [found] = violations_of(write(with_table(tables, deal_partners=deals)))
    assert (found.file, found.row, found.column) == ("deal_partners.csv", 3, "partner_id")
    assert "'P9'" in found.reason


def test_references_resolve_against_ids_already_in_the_store(write: WriteExport) -> None:
    tables = tiny_tables()
    deals = tables.deal_partners.assign(partner_id=["P1", "P2", "P9"], opportunity_id=["O1", "O1", "O7"])
    loaded = load_export(
        write(with_table(tables, deal_partners=deals)), known_partner_ids={"P9"}, known_opportunity_ids={"O7"}
    )
    assert loaded.tables.deal_partners["partner_id"].tolist() == ["P1", "P2", "P9"]


def test_load_rejects_a_negative_deal_size(write: WriteExport) -> None:
    tables = tiny_tables()
    opportunities = tables.opportunities.assign(deal_size=["-5", ""])
    [found] = violations_of(write(with_table(tables, opportunities=opportunities)))
    assert (found.file, found.row, found.column) == ("opportunities.csv", 1, "deal_size")


def test_load_rejects_unparsable_dates_and_numbers(write: WriteExport) -> None:
    tables = tiny_tables()
    opportunities = tables.opportunities.assign(
        created_at=["2023-01-10", "June 1st"], deal_size=["1e3", "lots"]
    )
    found = violations_of(write(with_table(tables, opportunities=opportunities)))
    assert {(v.row, v.column) for v in found} == {(2, "created_at"), (2, "deal_size")}


def test_load_rejects_capacity_that_is_negative_or_fractional(write: WriteExport) -> None:
    tables = tiny_tables()
    partners = tables.partners.assign(capacity=["-1", "2.5", "4"])
    found = violations_of(write(with_table(tables, partners=partners)))
    assert [(v.row, v.column) for v in found] == [(1, "capacity"), (2, "capacity")]


def test_load_rejects_psat_outside_zero_to_ten(write: WriteExport) -> None:
    tables = tiny_tables()
    partners = tables.partners.assign(psat=["10", "10.5", "0"])
    [found] = violations_of(write(with_table(tables, partners=partners)))
    assert (found.row, found.column) == (2, "psat")


def test_load_rejects_closed_at_before_created_at(write: WriteExport) -> None:
    tables = tiny_tables()
    opportunities = tables.opportunities.assign(closed_at=["2022-12-31", ""])
    [found] = violations_of(write(with_table(tables, opportunities=opportunities)))
    assert (found.row, found.column) == (1, "closed_at")


def test_a_won_opportunity_without_closed_at_is_accepted_with_a_warning(write: WriteExport) -> None:
    tables = tiny_tables()
    opportunities = tables.opportunities.assign(closed_at=["", ""])
    loaded = load_export(write(with_table(tables, opportunities=opportunities)))
    assert any("without closed_at" in w for w in loaded.warnings)


def test_load_rejects_a_missing_required_value(write: WriteExport) -> None:
    tables = tiny_tables()
    deals = tables.deal_partners.assign(role=["services", "", "reseller"])
    [found] = violations_of(write(with_table(tables, deal_partners=deals)))
    assert (found.row, found.column, found.reason) == (2, "role", "required value is empty")


def test_load_reports_every_violation_in_one_report(write: WriteExport) -> None:
    tables = tiny_tables()
    broken = with_table(
        tables,
        partners=tables.partners.assign(partner_type=["services", "influence", "nobody"]),
        opportunities=tables.opportunities.assign(deal_size=["-1", ""]),
        deal_partners=tables.deal_partners.assign(opportunity_id=["O1", "O1", "O404"]),
    )
    with pytest.raises(ContractError) as info:
        load_export(write(broken))
    assert [(v.file, v.column) for v in info.value.violations] == [
        ("partners.csv", "partner_type"),
        ("opportunities.csv", "deal_size"),
        ("deal_partners.csv", "opportunity_id"),
    ]
    assert "3 violation(s)" in str(info.value)


def test_the_report_lists_at_most_the_cap_and_counts_the_rest(write: WriteExport) -> None:
    tables = tiny_tables()
    many = pd.DataFrame({"partner_id": [f"X{i}" for i in range(1005)], "certification": "c"})
    with pytest.raises(ContractError) as info:
        load_export(write(with_table(tables, certifications=many)))
    assert len(info.value.violations) == MAX_LISTED_VIOLATIONS
    assert info.value.total == 1005
    assert "5 more" in str(info.value)


def test_load_rejects_a_missing_table_file(write: WriteExport) -> None:
    folder = write(tiny_tables())
    (folder / "certifications.csv").unlink()
    [found] = violations_of(folder)
    assert found.file.startswith("certifications") and "missing table file" in found.reason


def test_an_unknown_column_is_ignored_with_a_warning(write: WriteExport) -> None:
    tables = tiny_tables()
    loaded = load_export(write(with_table(tables, partners=tables.partners.assign(crm_owner="kim"))))
    assert "crm_owner" not in loaded.tables.partners.columns
    assert any("crm_owner" in w for w in loaded.warnings)


def test_parquet_and_csv_exports_load_to_the_same_tables(write: WriteExport) -> None:
    from_csv = load_export(write(tiny_tables(), "csv")).tables
    from_parquet = load_export(write(tiny_tables(), "parquet")).tables
    for name in contract.s.TABLES:
        pd.testing.assert_frame_equal(getattr(from_parquet, name), getattr(from_csv, name))


def test_parquet_accepts_native_lists_dates_and_booleans(write: WriteExport, tmp_path: Path) -> None:
    typed = load_export(write(tiny_tables())).tables  # lists, datetimes and booleans, not text
    write_export(typed, tmp_path / "typed", "parquet")
    loaded = load_export(tmp_path / "typed")
    assert loaded.tables.partners.loc[0, "regions"] == ["emea-north", "north-america"]
    assert loaded.tables.deal_partners["sourced"].tolist()[:2] == [True, False]
    assert loaded.tables.opportunities.loc[0, "created_at"] == pd.Timestamp("2023-01-10")


def test_a_time_part_is_dropped_from_iso_dates(write: WriteExport) -> None:
    tables = tiny_tables()
    opportunities = tables.opportunities.assign(
        created_at=["2023-01-10T15:30:00Z", "2023-06-01T00:00:00+00:00"]
    )
    loaded = load_export(write(with_table(tables, opportunities=opportunities)))
    assert loaded.tables.opportunities.loc[0, "created_at"] == pd.Timestamp("2023-01-10")


def test_read_opportunities_file_returns_the_normalised_table(write: WriteExport) -> None:
    frame = contract.read_opportunities_file(write(tiny_tables()) / "opportunities.csv")
    assert frame["opportunity_id"].tolist() == ["O1", "O2"]
    assert frame.loc[0, "required_skills"] == ["sap", "data-migration"]


def test_read_opportunities_file_rejects_a_bad_outcome(write: WriteExport) -> None:
    tables = tiny_tables()
    folder = write(with_table(tables, opportunities=tables.opportunities.assign(outcome=["won", "maybe"])))
    with pytest.raises(ContractError) as info:
        contract.read_opportunities_file(folder / "opportunities.csv")
    assert [(v.row, v.column) for v in info.value.violations] == [(2, "outcome")]


def _bids(request_ids: list[str], outcomes: list[str]) -> EcosystemTables:
    """The tiny export with both opportunities closed, as bids of these requests with these outcomes."""
    tables = tiny_tables()
    opportunities = tables.opportunities.assign(
        request_id=request_ids, outcome=outcomes, closed_at=["2023-04-20", "2023-07-01"]
    )
    return with_table(tables, opportunities=opportunities)


def test_an_export_without_request_id_loads_with_an_empty_request_id(write: WriteExport) -> None:
    loaded = load_export(write(tiny_tables()))
    assert loaded.tables.opportunities[s.REQUEST_ID].isna().all()
    assert loaded.warnings == []


def test_an_export_without_request_id_loads_the_other_columns_as_before(write: WriteExport) -> None:
    without = load_export(write(tiny_tables())).tables.opportunities
    tables = tiny_tables()
    with_empty = with_table(tables, opportunities=tables.opportunities.assign(request_id=["", ""]))
    loaded = load_export(write(with_empty)).tables.opportunities
    pd.testing.assert_frame_equal(loaded, without)


def test_the_request_id_is_read_as_text(write: WriteExport) -> None:
    loaded = load_export(write(_bids(["R1", "R1"], ["won", "lost"]))).tables.opportunities
    assert loaded[s.REQUEST_ID].tolist() == ["R1", "R1"]


def test_two_won_bids_of_one_request_are_rejected_row_by_row(write: WriteExport) -> None:
    found = violations_of(write(_bids(["R1", "R1"], ["won", "won"])))
    assert [(v.file, v.row, v.column) for v in found] == [
        ("opportunities.csv", 1, "request_id"),
        ("opportunities.csv", 2, "request_id"),
    ]
    assert "'R1' has more than one won bid" in found[0].reason


def test_won_bids_of_different_requests_are_accepted(write: WriteExport) -> None:
    load_export(write(_bids(["R1", "R2"], ["won", "won"])))


def test_read_opportunities_file_rejects_two_won_bids_of_one_request(write: WriteExport) -> None:
    folder = write(_bids(["R1", "R1"], ["won", "won"]))
    with pytest.raises(ContractError) as info:
        contract.read_opportunities_file(folder / "opportunities.csv")
    assert [(v.row, v.column) for v in info.value.violations] == [(1, "request_id"), (2, "request_id")]


def test_a_request_id_longer_than_an_id_is_rejected(write: WriteExport) -> None:
    [found] = violations_of(write(_bids(["R" * (s.MAX_ID + 1), "R1"], ["won", "lost"])))
    assert (found.row, found.column) == (1, "request_id")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_the_request_id_round_trips_through_an_export(write: WriteExport, fmt: str) -> None:
    loaded = load_export(write(_bids(["R1", ""], ["won", "lost"]))).tables
    again = load_export(write(loaded, fmt)).tables.opportunities  # typed tables written back, then read
    pd.testing.assert_frame_equal(again, loaded.opportunities)
    assert again[s.REQUEST_ID].iloc[0] == "R1" and pd.isna(again[s.REQUEST_ID].iloc[1])
