"""Tables produced by the synthetic generator: contract shape, references, outcomes, noisy signals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features import schema as s
from features.contract import load_export
from synthetic import SyntheticEcosystem, generate_ecosystem, write
from synthetic.vocabulary import SKILLS
from tests.synthetic.helpers import contract_columns


def _files(directory: Path) -> dict[str, bytes]:
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    return {str(p.relative_to(directory)): p.read_bytes() for p in files}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_the_same_seed_writes_byte_identical_files(tmp_path: Path, fmt: str) -> None:
    write(generate_ecosystem(60, 300, seed=5), tmp_path / "a", fmt)  # type: ignore[arg-type]
    write(generate_ecosystem(60, 300, seed=5), tmp_path / "b", fmt)  # type: ignore[arg-type]
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert len(a) == 6 and a == b


def test_different_seeds_give_different_opportunities() -> None:
    one = generate_ecosystem(60, 300, seed=5).tables.opportunities
    two = generate_ecosystem(60, 300, seed=6).tables.opportunities
    assert not one[s.DESCRIPTION].equals(two[s.DESCRIPTION])


def test_every_table_has_exactly_the_contract_columns_in_order(eco: SyntheticEcosystem) -> None:
    for table in s.TABLES:
        assert tuple(getattr(eco.tables, table).columns) == contract_columns(table)


def test_csv_headers_are_the_contract_columns(eco: SyntheticEcosystem, tmp_path: Path) -> None:
    write(eco, tmp_path, "csv")
    for table in s.TABLES:
        header = (tmp_path / f"{table}.csv").read_text().splitlines()[0]
        assert tuple(header.replace('"', "").split(",")) == contract_columns(table)


def test_keys_are_unique(eco: SyntheticEcosystem) -> None:
    for table in s.TABLES:
        frame = getattr(eco.tables, table)
        assert not frame.duplicated(subset=list(s.KEYS[table])).any(), table


def test_every_reference_resolves(eco: SyntheticEcosystem) -> None:
    partner_ids = set(eco.tables.partners[s.PARTNER_ID])
    opp_ids = set(eco.tables.opportunities[s.OPPORTUNITY_ID])
    registered = eco.tables.opportunities[s.REGISTERED_PARTNER_ID].dropna()
    assert set(eco.tables.certifications[s.PARTNER_ID]) <= partner_ids
    assert set(eco.tables.deal_partners[s.PARTNER_ID]) <= partner_ids
    assert set(eco.tables.deal_partners[s.OPPORTUNITY_ID]) <= opp_ids
    assert len(registered) > 0 and set(registered) <= partner_ids


def test_a_deal_partner_plays_its_own_partner_type(eco: SyntheticEcosystem) -> None:
    types = eco.tables.partners.set_index(s.PARTNER_ID)[s.PARTNER_TYPE]
    dp = eco.tables.deal_partners
    assert (dp[s.PARTNER_ID].map(types) == dp[s.ROLE]).all()


def test_outcomes_are_only_won_lost_or_open(eco: SyntheticEcosystem) -> None:
    assert set(eco.tables.opportunities[s.OUTCOME]) == {s.WON, s.LOST, s.OPEN}


def test_closed_at_is_set_exactly_when_the_deal_is_not_open(eco: SyntheticEcosystem) -> None:
    opps = eco.tables.opportunities
    assert (opps[s.CLOSED_AT].isna() == (opps[s.OUTCOME] == s.OPEN)).all()
    closed = opps.dropna(subset=[s.CLOSED_AT])
    assert (closed[s.CLOSED_AT] >= closed[s.CREATED_AT]).all()


def test_open_deals_are_the_recent_ones(eco: SyntheticEcosystem) -> None:
    opps = eco.tables.opportunities
    is_open = opps[s.OUTCOME] == s.OPEN
    assert opps.loc[is_open, s.CREATED_AT].min() > opps.loc[~is_open, s.CREATED_AT].median()


def test_history_spans_the_requested_years() -> None:
    created = generate_ecosystem(60, 2000, seed=1, years=2).tables.opportunities[s.CREATED_AT]
    span_days = (created.max() - created.min()).days
    assert 600 < span_days <= 731


def test_about_thirty_percent_of_opportunities_have_no_skill_tags(eco: SyntheticEcosystem) -> None:
    empty = eco.tables.opportunities[s.REQUIRED_SKILLS].map(len) == 0
    assert 0.22 < empty.mean() < 0.38


def test_opportunity_tags_never_reuse_partner_tag_wording(eco: SyntheticEcosystem) -> None:
    opp_tags = set(eco.tables.opportunities[s.REQUIRED_SKILLS].explode().dropna())
    partner_tags = set(eco.tables.partners[s.SKILLS].explode().dropna())
    assert opp_tags and partner_tags and not opp_tags & partner_tags


def test_the_vocabulary_has_forty_to_sixty_skills_with_paraphrases() -> None:
    assert 40 <= len(SKILLS) <= 60
    assert all(len(k.partner_tags) >= 2 and len(k.opp_phrases) >= 2 for k in SKILLS)


def test_list_columns_hold_python_lists_and_dates_are_datetimes(eco: SyntheticEcosystem) -> None:
    for table in s.TABLES:
        frame = getattr(eco.tables, table)
        for name in s.LIST_COLUMNS[table]:
            assert all(isinstance(cell, list) for cell in frame[name])
        for name in s.DATE_COLUMNS[table]:
            assert frame[name].dtype == np.dtype("datetime64[ns]")


def test_enumerations_follow_the_contract(eco: SyntheticEcosystem) -> None:
    partners = eco.tables.partners
    assert set(partners[s.PARTNER_TYPE]) == set(s.DEFAULT_ROLES)
    assert set(partners[s.TIER]) == set(s.TIERS)
    assert set(partners[s.STATUS]) == set(s.PARTNER_STATUSES)
    assert set(eco.tables.deal_partners[s.ROLE]) == set(s.DEFAULT_ROLES)


def test_some_partners_have_unknown_or_zero_capacity(eco: SyntheticEcosystem) -> None:
    capacity = eco.tables.partners[s.CAPACITY]
    assert capacity.isna().any() and (capacity == 0).any() and (capacity.dropna() >= 0).all()


def test_some_certifications_have_expired(eco: SyntheticEcosystem) -> None:
    expires = eco.tables.certifications[s.EXPIRES_AT]
    as_of = pd.Timestamp(eco.as_of)
    assert (expires < as_of).any() and (expires >= as_of).any()


def test_some_historical_teams_lack_the_influence_or_reseller_role(eco: SyntheticEcosystem) -> None:
    roles_per_deal = eco.tables.deal_partners.groupby(s.OPPORTUNITY_ID)[s.ROLE].nunique()
    assert (roles_per_deal < 3).mean() > 0.2


def test_registered_partners_are_usually_sourcing_team_members(eco: SyntheticEcosystem) -> None:
    opps = eco.tables.opportunities.dropna(subset=[s.REGISTERED_PARTNER_ID])
    dp = eco.tables.deal_partners
    sourced = dp[dp[s.SOURCED].astype(bool)]
    pairs = set(zip(sourced[s.OPPORTUNITY_ID], sourced[s.PARTNER_ID], strict=True))
    registrations = zip(opps[s.OPPORTUNITY_ID], opps[s.REGISTERED_PARTNER_ID], strict=True)
    by_sourcer = [pair in pairs for pair in registrations]
    assert np.mean(by_sourcer) > 0.8


def test_historical_win_rate_is_between_25_and_45_percent(eco: SyntheticEcosystem) -> None:
    outcome = eco.tables.opportunities[s.OUTCOME]
    closed = outcome[outcome != s.OPEN]
    assert 0.25 < (closed == s.WON).mean() < 0.45


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_generator_output_passes_the_contract_loader(
    eco: SyntheticEcosystem, tmp_path: Path, fmt: str
) -> None:
    write(eco, tmp_path, fmt)  # type: ignore[arg-type]
    loaded = load_export(tmp_path)
    assert not loaded.warnings
    assert len(loaded.tables.deal_partners) == len(eco.tables.deal_partners)
    assert loaded.tables.partners[s.SKILLS].tolist() == eco.tables.partners[s.SKILLS].tolist()
