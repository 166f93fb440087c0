"""What each scenario knob does to a generated ecosystem: its export, its history and its hidden truth."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features import schema as s
from features.contract import load_export
from synthetic import Scenario, SyntheticEcosystem, generate_ecosystem, write
from synthetic.latent import camp_relation
from synthetic.text import CUSTOMER_TERMS, OPP_PHRASES, OPP_TAGS, PARTNER_TAGS
from synthetic.vocabulary import SKILLS
from tests.synthetic.helpers import contract_columns, historical_members

# sha256 of the four tables (as CSV text) and the truth arrays of generate_ecosystem(300, 2000, seed=5),
# computed with the generator as it was before scenarios existed (numpy 2 / pandas 2 on x86-64 Linux).
PRE_SCENARIO_FINGERPRINT = "33a5c004e81247e177c14271c5aab283d0298a0857578d30b21fe070008ad8b0"
PRE_SCENARIO_TRUTH_ARRAYS = (
    "partner_ids",
    "partner_role",
    "proficiency",
    "execution",
    "industry_expertise",
    "region_cover",
    "active",
    "synergy_keys",
    "synergy_values",
    "opportunity_ids",
    "opp_industry",
    "opp_region",
    "needs",
    "need_weights",
    "log_size",
    "difficulty",
)
PARTNERS, OPPORTUNITIES, SEED = 300, 3000, 13


@cache
def _eco(scenario: Scenario) -> SyntheticEcosystem:
    return generate_ecosystem(PARTNERS, OPPORTUNITIES, seed=SEED, scenario=scenario)


def _fingerprint(eco: SyntheticEcosystem) -> str:
    digest = hashlib.sha256()
    for table in s.TABLES:
        digest.update(getattr(eco.tables, table).to_csv(index=False).encode())
    arrays = eco.truth._arrays()
    for name in PRE_SCENARIO_TRUTH_ARRAYS:
        array = np.ascontiguousarray(arrays[name])
        for part in (name, str(array.dtype), str(array.shape)):
            digest.update(part.encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _tag_skill(tags: pd.Series, table: np.ndarray) -> pd.DataFrame:
    """(row, skill) of every tag in a list column, through a wording table of skills."""
    skill_of = {str(w): k for k in range(table.shape[0]) for w in table[k]}
    exploded = tags.explode().dropna()
    return pd.DataFrame({"row": exploded.index, "skill": exploded.map(skill_of).to_numpy()})


def test_the_default_scenario_reproduces_the_generator_before_scenarios() -> None:
    eco = generate_ecosystem(300, 2000, seed=5, scenario=Scenario())
    assert _fingerprint(eco) == PRE_SCENARIO_FINGERPRINT


def test_a_scenario_with_every_knob_turned_is_still_decided_by_its_seed(tmp_path: Path) -> None:
    scenario = Scenario(
        tag_noise=0.5,
        cert_signal=0.5,
        vocabulary_distance=0.5,
        quality_strength=1.5,
        compatibility=1.5,
        camps=3,
        influence_weight=2.0,
        size_interaction=0.5,
        routing_bias=1.3,
        noise=1.1,
        bidders=3,
    )
    for folder in ("a", "b"):
        write(generate_ecosystem(60, 300, seed=5, scenario=scenario), tmp_path / folder, "csv")
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) == 6
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)


def test_tag_noise_makes_claimed_tags_stop_reflecting_real_skills() -> None:
    def precision(scenario: Scenario) -> float:
        eco = _eco(scenario)
        tags = _tag_skill(eco.tables.partners[s.SKILLS], PARTNER_TAGS)
        real = eco.truth.proficiency[tags["row"].to_numpy(), tags["skill"].to_numpy(int)] >= 0.35
        return float(real.mean())

    assert precision(Scenario()) > 0.6 and precision(Scenario(tag_noise=1.0)) < 0.15


def test_tag_noise_adds_fake_tags() -> None:
    tag_count = _eco(Scenario(tag_noise=1.0)).tables.partners[s.SKILLS].map(len).sum()
    assert tag_count > _eco(Scenario()).tables.partners[s.SKILLS].map(len).sum()


def test_cert_signal_zero_places_certifications_independently_of_real_skill() -> None:
    def on_strengths(scenario: Scenario) -> float:
        eco = _eco(scenario)
        skill_of = {k.certification: i for i, k in enumerate(SKILLS)}
        certs = eco.tables.certifications
        rows = pd.Index(eco.truth.partner_ids).get_indexer(certs[s.PARTNER_ID])
        skills = certs[s.CERTIFICATION].map(skill_of).to_numpy(int)
        return float((eco.truth.proficiency[rows, skills] >= 0.35).mean())

    base_rate = float((_eco(Scenario()).truth.proficiency >= 0.35).mean())
    assert on_strengths(Scenario()) > 0.8
    assert on_strengths(Scenario(cert_signal=0.0)) == pytest.approx(base_rate, abs=0.03)


def test_no_tiers_or_certs_gives_no_certifications_and_only_the_registered_tier() -> None:
    eco = _eco(Scenario(no_tiers_or_certs=True))
    assert eco.tables.certifications.empty
    assert set(eco.tables.partners[s.TIER]) == {s.DEFAULT_TIER}


def test_vocabulary_distance_replaces_customer_words_by_far_phrasings() -> None:
    opps = _eco(Scenario(vocabulary_distance=0.5)).tables.opportunities
    tags = opps[s.REQUIRED_SKILLS].explode().dropna()
    far_share = tags.isin(set(CUSTOMER_TERMS.ravel())).mean()
    assert 0.4 < far_share < 0.6
    assert not tags.isin(set(PARTNER_TAGS.ravel())).any()
    phrase = str(CUSTOMER_TERMS[0, 0])
    assert opps[s.DESCRIPTION].str.contains(phrase, regex=False).any()


def test_full_vocabulary_distance_leaves_no_usual_customer_wording() -> None:
    opps = _eco(Scenario(vocabulary_distance=1.0)).tables.opportunities
    tags = opps[s.REQUIRED_SKILLS].explode().dropna()
    assert not tags.isin(set(OPP_TAGS.ravel())).any()
    usual = "|".join(str(p) for p in set(OPP_PHRASES.ravel()))
    assert not opps[s.DESCRIPTION].str.contains(usual, regex=True).any()


def test_vocabulary_distance_keeps_the_partner_wording() -> None:
    far = _eco(Scenario(vocabulary_distance=1.0)).tables.partners
    pd.testing.assert_frame_equal(far, _eco(Scenario()).tables.partners)


def test_every_customer_phrasing_avoids_the_words_of_partner_tags() -> None:
    partner_words = {w for tag in PARTNER_TAGS.ravel() for w in str(tag).replace("-", " ").split()}
    shared = {"a", "and", "as", "for", "of", "on", "the", "to", "with"}
    customer_words = {w for p in CUSTOMER_TERMS.ravel() for w in str(p).lower().replace("-", " ").split()}
    assert not (customer_words & partner_words) - shared


def test_camps_make_same_camp_pairs_win_more_than_rival_pairs() -> None:
    truth = _eco(Scenario(camps=3, compatibility=2.0)).truth
    rng = np.random.default_rng(0)
    services = np.flatnonzero(truth.partner_role == 0)
    influence = np.flatnonzero(truth.partner_role == 1)
    teams = np.full((20_000, 3), -1)
    teams[:, 0], teams[:, 1] = rng.choice(services, 20_000), rng.choice(influence, 20_000)
    p = truth.probabilities(rng.integers(0, OPPORTUNITIES, 20_000), teams)
    same, rival = camp_relation(truth.camp[teams[:, 0]], truth.camp[teams[:, 1]], 3)
    assert p[same].mean() > p[rival].mean() + 0.1


def test_camps_stay_hidden_from_the_export() -> None:
    tables = _eco(Scenario(camps=3)).tables
    for table in s.TABLES:
        assert tuple(getattr(tables, table).columns) == contract_columns(table)


def test_todays_routing_keeps_teams_in_camp_more_often_than_chance() -> None:
    eco = _eco(Scenario(camps=3))
    members, camp = historical_members(eco), eco.truth.camp
    both = (members[:, 0] >= 0) & (members[:, 1] >= 0)
    same, _ = camp_relation(camp[members[both, 0]], camp[members[both, 1]], 3)
    in_camps = (camp >= 0).mean()
    assert same.mean() > 1.15 * in_camps**2 / 3


def test_quality_strength_widens_the_gap_between_good_and_poor_executors() -> None:
    def gap(scenario: Scenario) -> tuple[float, float]:
        truth = _eco(scenario).truth
        services = np.flatnonzero(truth.partner_role == 0)
        execution = truth.execution[services]
        teams = np.array([[services[np.argmax(execution)], -1, -1], [services[np.argmin(execution)], -1, -1]])
        logits = truth.logits(np.zeros(2, np.int64), teams)
        return float(logits[0] - logits[1]), float(execution.max() - execution.min())

    # Same partners and opportunity in both worlds: only the execution coefficient differs (0.9 -> 1.8).
    (today, spread), (strong, _) = gap(Scenario()), gap(Scenario(quality_strength=2.0))
    assert strong - today == pytest.approx(0.9 * 0.5 * spread, rel=1e-5)


def test_size_interaction_costs_each_member_the_log_size_it_cannot_carry() -> None:
    eco = _eco(Scenario(size_interaction=0.8))
    truth, members = eco.truth, historical_members(eco)
    rows = np.arange(OPPORTUNITIES)
    without = replace(truth, model=replace(truth.model, size_interaction=0.0))
    lacking = np.zeros(OPPORTUNITIES)
    for r, weight in enumerate(truth.model.size_role_weights):
        present = members[:, r] >= 0
        gap = np.maximum(truth.log_size - truth.scale[np.maximum(members[:, r], 0)], 0.0)
        lacking += weight * gap * present
    expected = without.logits(rows, members) - 0.8 * lacking
    np.testing.assert_allclose(truth.logits(rows, members), expected, atol=1e-9)
    assert (lacking > 0).mean() > 0.3


def test_a_partners_hidden_scale_grows_with_its_tier() -> None:
    eco = _eco(Scenario())
    tier = eco.tables.partners[s.TIER].map(s.TIER_RANK).to_numpy(float)
    assert np.corrcoef(tier, eco.truth.scale)[0, 1] > 0.3


def test_noise_sets_the_spread_of_the_unseen_difficulty() -> None:
    assert _eco(Scenario(noise=1.3)).truth.difficulty.std() == pytest.approx(1.3, rel=0.05)


def test_routing_bias_zero_spreads_deals_more_evenly_over_partners() -> None:
    def concentration(scenario: Scenario) -> float:
        share = _eco(scenario).tables.deal_partners[s.PARTNER_ID].value_counts(normalize=True)
        return float((share**2).sum())

    assert concentration(Scenario(routing_bias=0.0)) < 0.7 * concentration(Scenario())
    assert concentration(Scenario(routing_bias=2.0)) > concentration(Scenario())


def test_solo_deals_have_exactly_one_services_partner() -> None:
    eco = _eco(Scenario(team_shape="solo"))
    per_deal = eco.tables.deal_partners.groupby(s.OPPORTUNITY_ID)[s.ROLE].agg(["size", "first"])
    assert len(per_deal) == OPPORTUNITIES
    assert (per_deal["size"] == 1).all() and (per_deal["first"] == s.SERVICES).all()
    assert set(eco.tables.partners[s.PARTNER_TYPE]) == {s.SERVICES}


def test_a_solo_partner_with_better_skills_and_execution_wins_more() -> None:
    eco = _eco(Scenario(team_shape="solo"))
    truth, members = eco.truth, historical_members(eco)
    p = truth.probabilities(np.arange(OPPORTUNITIES), members)
    oracle = [truth.oracle_team(str(truth.opportunity_ids[i]))[1] for i in range(0, OPPORTUNITIES, 100)]
    assert np.mean(oracle) > p.mean() + 0.2


def test_deals_without_bids_have_no_request_column() -> None:
    assert s.REQUEST_ID not in _eco(Scenario()).tables.opportunities.columns


def test_bids_add_the_request_column_in_contract_order(tmp_path: Path) -> None:
    eco = _eco(Scenario(bidders=4))
    assert tuple(eco.tables.opportunities.columns) == contract_columns(s.OPPORTUNITIES, with_requests=True)
    write(eco, tmp_path, "csv")
    header = (tmp_path / "opportunities.csv").read_text().splitlines()[0]
    assert header.replace('"', "").split(",")[-1] == s.REQUEST_ID


def test_bids_of_a_request_share_customer_industry_region_size_and_skills() -> None:
    opps = _eco(Scenario(bidders=4)).tables.opportunities
    assert opps[s.REQUEST_ID].nunique() < len(opps) == OPPORTUNITIES
    opps = opps.assign(skills=opps[s.REQUIRED_SKILLS].map(tuple))
    shared = [s.CUSTOMER_ID, s.CUSTOMER_INDUSTRY, s.REGION, s.DEAL_SIZE, "skills"]
    assert (opps.groupby(s.REQUEST_ID)[shared].nunique(dropna=False) == 1).all().all()
    created = opps.groupby(s.REQUEST_ID)[s.CREATED_AT].agg(["min", "max"])
    assert ((created["max"] - created["min"]).dt.days < 7).all()


def test_a_request_holds_between_one_and_n_bids() -> None:
    sizes = _eco(Scenario(bidders=4)).tables.opportunities[s.REQUEST_ID].value_counts()
    assert sizes.min() == 1 and sizes.max() == 4


def test_at_most_one_bid_per_request_wins() -> None:
    opps = _eco(Scenario(bidders=4)).tables.opportunities
    wins = (opps[s.OUTCOME] == s.WON).groupby(opps[s.REQUEST_ID]).sum()
    assert wins.max() == 1 and (wins == 0).any()


def test_bids_of_one_request_close_together() -> None:
    opps = _eco(Scenario(bidders=4)).tables.opportunities
    assert (opps.groupby(s.REQUEST_ID)[s.CLOSED_AT].nunique(dropna=False) == 1).all()
    open_share = (opps[s.OUTCOME] == s.OPEN).groupby(opps[s.REQUEST_ID]).mean()
    assert open_share.isin([0.0, 1.0]).all()


def test_each_bid_is_led_and_registered_by_its_own_services_partner() -> None:
    eco = _eco(Scenario(bidders=4))
    dp = eco.tables.deal_partners
    leads = dp[dp[s.ROLE] == s.SERVICES].set_index(s.OPPORTUNITY_ID)[s.PARTNER_ID]
    opps = eco.tables.opportunities.set_index(s.OPPORTUNITY_ID)
    assert (opps[s.REGISTERED_PARTNER_ID] == leads.reindex(opps.index)).all()
    assert not opps.assign(lead=leads).duplicated([s.REQUEST_ID, "lead"]).any()


def test_the_best_team_of_a_request_wins_more_often_than_its_rivals() -> None:
    eco = _eco(Scenario(bidders=4))
    opps = eco.tables.opportunities
    logit = eco.truth.logits(np.arange(OPPORTUNITIES), historical_members(eco))
    closed = opps[opps[s.OUTCOME] != s.OPEN].assign(logit=logit[opps[s.OUTCOME] != s.OPEN])
    contested = closed[closed.groupby(s.REQUEST_ID)[s.REQUEST_ID].transform("size") > 1]
    best = contested["logit"] == contested.groupby(s.REQUEST_ID)["logit"].transform("max")
    won = contested[s.OUTCOME] == s.WON
    assert won[best].mean() > won[~best].mean() + 0.1


def test_an_export_with_bids_passes_the_contract_loader(tmp_path: Path) -> None:
    eco = _eco(Scenario(bidders=3, team_shape="solo"))
    write(eco, tmp_path, "parquet")
    loaded = load_export(tmp_path)
    assert not loaded.warnings
    requests = loaded.tables.opportunities[s.REQUEST_ID].tolist()
    assert requests == eco.tables.opportunities[s.REQUEST_ID].tolist()
