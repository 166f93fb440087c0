"""`partnermatch ingest DIR --mapping FILE`: the Salesforce and HubSpot examples load through the CLI."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from core.settings import get_settings
from features import schema as s
from features.store import Store
from tests.partnermatch.commands.conftest import invoke

EXAMPLES = Path(__file__).parents[3] / "examples" / "mappings"
COUNTS = {"partners": 3, "certifications": 2, "opportunities": 3, "deal_partners": 4}


@pytest.fixture
def sqlite_store() -> Iterator[Store]:
    """The fresh SQLite store the CLI writes to by default (under the test's own PM_HOME)."""
    url = get_settings().store_url
    assert url.startswith("sqlite")
    store = Store(url)
    yield store
    store.engine.dispose()


def example(name: str) -> tuple[str, str, str]:
    return str(EXAMPLES / name), "--mapping", str(EXAMPLES / f"{name}.toml")


def with_stage(tmp_path: Path, stage: str) -> Path:
    """A copy of the Salesforce example whose second opportunity is in a stage the mapping does not list."""
    folder = tmp_path / "salesforce"
    shutil.copytree(EXAMPLES / "salesforce", folder)
    path = folder / "Opportunity.csv"
    path.write_text(path.read_text(encoding="utf-8").replace(",Prospecting,", f",{stage},"), encoding="utf-8")
    return folder


@pytest.mark.parametrize("name", ["salesforce", "hubspot"])
def test_an_example_export_ingests_through_its_mapping(sqlite_store: Store, name: str) -> None:
    code, out, err = invoke(*example(name))
    assert code == 0, err
    assert "ingest summary" in out
    assert sqlite_store.counts() == COUNTS


def test_the_salesforce_example_lands_in_contract_terms(sqlite_store: Store) -> None:
    assert invoke(*example("salesforce"))[0] == 0
    opportunities = sqlite_store.load_tables().opportunities.set_index("opportunity_id")
    won = opportunities.loc["0065g00000OpPo1AAA"]
    assert won["outcome"] == "won"
    assert won["closed_at"] == pd.Timestamp("2023-04-20")
    assert won["required_skills"] == ["SAP", "Data Migration"]
    assert opportunities["outcome"].tolist().count("open") == 1


def test_the_hubspot_example_keeps_the_utc_date_of_a_timestamp(sqlite_store: Store) -> None:
    assert invoke(*example("hubspot"))[0] == 0
    opportunities = sqlite_store.load_tables().opportunities.set_index("opportunity_id")
    assert opportunities.loc["5101", "created_at"] == pd.Timestamp("2023-01-10")
    assert opportunities.loc["5101", "outcome"] == "won"


def test_an_unmapped_stage_fails_with_file_row_and_column_and_leaves_the_store_as_it_was(
    sqlite_store: Store, tmp_path: Path
) -> None:
    assert invoke(*example("salesforce"))[0] == 0
    before, counts = sqlite_store.load_tables(), sqlite_store.counts()
    folder = with_stage(tmp_path, "Renegotiation")
    code, _, err = invoke(str(folder), "--mapping", str(EXAMPLES / "salesforce.toml"))
    assert code == 1
    assert "Opportunity.csv, row 2, column StageName: unmapped value 'Renegotiation' for outcome" in err
    assert sqlite_store.counts() == counts
    after = sqlite_store.load_tables()
    for table in s.TABLES:
        pd.testing.assert_frame_equal(getattr(after, table), getattr(before, table))


def test_a_mapping_with_an_unknown_key_is_refused_before_the_store_is_touched(
    sqlite_store: Store, tmp_path: Path
) -> None:
    mapping = tmp_path / "typo.toml"
    mapping.write_text('[opportunities]\nfile = "Opportunity.csv"\ncolums = {}\n', encoding="utf-8")
    code, _, err = invoke(str(EXAMPLES / "salesforce"), "--mapping", str(mapping))
    assert code == 1
    assert f"{mapping}: unknown key opportunities.colums" in err
    assert not Path(sqlite_store.engine.url.database or "").exists()
