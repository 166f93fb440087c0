"""Export mappings: the file is checked key by key; applying it renames, translates and reports per cell."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features import schema as s
from features.mapping import (
    ExportMapping,
    MappingError,
    OpportunitiesMapping,
    PartnersMapping,
    apply_mapping,
    load_mapped_export,
)
from features.violations import ContractError, ViolationCollector
from tests.features.conftest import WriteExport, tiny_tables

EXAMPLES = Path(__file__).parents[2] / "examples" / "mappings"


def mapping_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mapping.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(MappingError) as caught:
        ExportMapping.from_file(path)
    return caught.value.problems


def opportunities(**cells: list[str]) -> pd.DataFrame:
    return pd.DataFrame(cells, dtype=object)


def reasons(out: ViolationCollector) -> list[str]:
    return [str(v) for v in out.error().violations]


# The mapping file ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["salesforce", "hubspot"])
def test_the_example_mappings_are_valid(name: str) -> None:
    mapping = ExportMapping.from_file(EXAMPLES / f"{name}.toml")
    assert all(mapping.for_table(table) is not None for table in s.TABLES)


def test_an_unknown_key_is_refused_with_the_file_and_key_named(tmp_path: Path) -> None:
    path = mapping_file(tmp_path, '[opportunities]\nfile = "Opportunity.csv"\nrenames = {}\n')
    with pytest.raises(MappingError) as caught:
        ExportMapping.from_file(path)
    assert caught.value.problems == ["unknown key opportunities.renames"]
    assert f"{path}: unknown key opportunities.renames" in caught.value.report()


def test_an_unknown_table_is_refused(tmp_path: Path) -> None:
    assert problems(mapping_file(tmp_path, "[accounts]\n")) == ["unknown key accounts"]


def test_a_rename_to_a_column_the_contract_lacks_is_refused(tmp_path: Path) -> None:
    path = mapping_file(tmp_path, '[opportunities.columns]\n"Opportunity.Id" = "opportunity"\n')
    assert problems(path) == [
        "opportunities: columns.\"Opportunity.Id\": 'opportunity' is not a column of opportunities"
    ]


def test_a_separator_for_a_column_that_is_not_a_list_is_refused(tmp_path: Path) -> None:
    path = mapping_file(tmp_path, '[opportunities.lists]\noutcome = ";"\n')
    assert problems(path) == ["opportunities: lists.outcome: not a list column of opportunities"]


def test_a_date_format_without_directives_is_refused(tmp_path: Path) -> None:
    path = mapping_file(tmp_path, '[opportunities.dates]\ncreated_at = "MM/DD/YYYY"\n')
    assert "neither ISO8601 nor a strftime format" in problems(path)[0]


def test_a_file_outside_the_export_folder_is_refused(tmp_path: Path) -> None:
    path = mapping_file(tmp_path, '[partners]\nfile = "../secrets.csv"\n')
    assert "must be a file name in the export folder" in problems(path)[0]


def test_a_file_that_is_not_toml_is_refused(tmp_path: Path) -> None:
    assert problems(mapping_file(tmp_path, "[partners\n"))[0].startswith("not valid TOML")


def test_a_missing_mapping_file_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path / "nowhere.toml")[0].startswith("cannot be read")


# Applying it ----------------------------------------------------------------------------------------


def test_columns_are_renamed_from_source_to_contract_names() -> None:
    rule = OpportunitiesMapping(columns={"Opportunity.Id": "opportunity_id"})
    frame = apply_mapping(
        rule, opportunities(**{"Opportunity.Id": ["O1"]}), "Opportunity.csv", ViolationCollector()
    )
    assert frame["opportunity_id"].tolist() == ["O1"]


def test_a_default_fills_a_column_the_file_lacks() -> None:
    frame = apply_mapping(
        PartnersMapping(defaults={"status": "active"}),
        opportunities(name=["a", "b"]),
        "A.csv",
        ViolationCollector(),
    )
    assert frame["status"].tolist() == ["active", "active"]


def test_a_default_leaves_a_column_the_file_holds_alone() -> None:
    frame = apply_mapping(
        PartnersMapping(defaults={"status": "active"}),
        opportunities(status=["inactive"]),
        "A.csv",
        ViolationCollector(),
    )
    assert frame["status"].tolist() == ["inactive"]


def test_a_value_map_translates_listed_values_and_keeps_blanks_blank() -> None:
    rule = OpportunitiesMapping(
        columns={"StageName": "outcome"}, values={"outcome": {"Closed Won": "won", "Prospecting": "open"}}
    )
    out = ViolationCollector()
    frame = apply_mapping(rule, opportunities(StageName=["Closed Won", " Prospecting ", ""]), "O.csv", out)
    assert frame["outcome"].tolist() == ["won", "open", ""]
    assert not out.findings


def test_every_unmapped_value_is_reported_with_file_row_and_source_column() -> None:
    rule = OpportunitiesMapping(columns={"StageName": "outcome"}, values={"outcome": {"Closed Won": "won"}})
    out = ViolationCollector()
    apply_mapping(rule, opportunities(StageName=["Renegotiation", "Closed Won", "On Hold"]), "O.csv", out)
    found = reasons(out)
    assert len(found) == 2
    assert found[0].startswith("O.csv, row 1, column StageName: unmapped value 'Renegotiation' for outcome")
    assert found[1].startswith("O.csv, row 3, column StageName: unmapped value 'On Hold' for outcome")


def test_a_list_column_is_split_on_its_separator() -> None:
    rule = OpportunitiesMapping(lists={"required_skills": ","})
    frame = apply_mapping(
        rule, opportunities(required_skills=["SAP, Data Migration", ""]), "O.csv", ViolationCollector()
    )
    assert frame["required_skills"].tolist() == [["SAP", "Data Migration"], []]


def test_a_date_is_read_with_its_format() -> None:
    rule = OpportunitiesMapping(dates={"created_at": "%m/%d/%Y"})
    out = ViolationCollector()
    frame = apply_mapping(rule, opportunities(created_at=["4/1/2019", ""]), "O.csv", out)
    assert frame["created_at"].tolist() == ["2019-04-01T00:00:00+00:00", ""]
    assert not out.findings


def test_every_date_that_does_not_fit_its_format_is_reported() -> None:
    rule = OpportunitiesMapping(columns={"CloseDate": "closed_at"}, dates={"closed_at": "%m/%d/%Y"})
    out = ViolationCollector()
    apply_mapping(rule, opportunities(CloseDate=["2019-04-01", "13/01/2020", "01/13/2020"]), "O.csv", out)
    assert reasons(out) == [
        "O.csv, row 1, column CloseDate: unparsable date '2019-04-01' (expected %m/%d/%Y)",
        "O.csv, row 2, column CloseDate: unparsable date '13/01/2020' (expected %m/%d/%Y)",
    ]


def test_a_renamed_column_the_file_lacks_is_reported() -> None:
    out = ViolationCollector()
    apply_mapping(OpportunitiesMapping(columns={"Amount": "deal_size"}), opportunities(x=["1"]), "O.csv", out)
    assert reasons(out) == ["O.csv, column Amount: column missing (the mapping renames it to deal_size)"]


# A whole export ------------------------------------------------------------------------------------


def test_an_unmapped_table_is_read_as_the_contract_names_it(write: WriteExport) -> None:
    folder = write(tiny_tables())
    export = load_mapped_export(folder, ExportMapping())
    assert len(export.tables.partners) == 3


def test_contract_violations_name_the_source_column(write: WriteExport) -> None:
    tables = tiny_tables()
    folder = write(tables)
    (folder / "opportunities.csv").unlink()
    tables.opportunities.assign(deal_size=["250000", "-1"]).rename(columns={"deal_size": "Amount"}).to_csv(
        folder / "Opportunity.csv", index=False
    )
    mapping = ExportMapping(
        opportunities=OpportunitiesMapping(file="Opportunity.csv", columns={"Amount": "deal_size"})
    )
    with pytest.raises(ContractError) as caught:
        load_mapped_export(folder, mapping)
    assert [str(v).split(":")[0] for v in caught.value.violations] == [
        "Opportunity.csv, row 2, column Amount"
    ]


def test_a_file_named_by_the_mapping_that_is_missing_is_reported(write: WriteExport) -> None:
    mapping = ExportMapping(opportunities=OpportunitiesMapping(file="Opportunity.csv"))
    with pytest.raises(ContractError) as caught:
        load_mapped_export(write(tiny_tables()), mapping)
    assert (
        str(caught.value.violations[0])
        == "Opportunity.csv: missing table file (the mapping reads opportunities from it)"
    )
