"""Behaviour tests on a trained, saved and re-loaded bundle: invariance, direction, minimum functionality."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features import schema as s
from features.embedder_factory import make_embedder
from features.queries import queries_from_frame
from features.records import EcosystemTables, OpportunityQuery
from features.snapshot import FeatureSnapshot
from models.bundle import BundleManifest, load_bundle, save_bundle
from models.calibration import WinCalibrator
from models.ranker import TeamRanker
from models.recommender import TeamRecommender
from synthetic.ecosystem import generate_ecosystem
from tests.configs import search_config
from training.config import TrainConfig
from training.dataset import actual_team_examples, time_split
from training.pipeline import fit_ranker

CONFIG = """
seed = 7
[ranker]
objective = "binary"
num_boost_round = 60
num_leaves = 7
min_data_in_leaf = 20
[data]
max_train_opportunities = 1500
max_calibration_opportunities = 200
alternatives_per_opportunity = 15
[search]
max_candidates_per_role = 6
max_teams_scored = 200
beam_width = 10
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[EcosystemTables, TeamRanker]:
    """A ranker trained on a small generated history, saved as a bundle and loaded back."""
    root = tmp_path_factory.mktemp("bundle")
    (root / "train.toml").write_text(CONFIG)
    config = TrainConfig.from_file(root / "train.toml")
    tables = generate_ecosystem(120, 900, seed=5).tables
    snapshot = FeatureSnapshot.build(tables, make_embedder("hashing"))
    split = time_split(tables.opportunities, config.split())
    ranker, _ = fit_ranker(snapshot, split.train, tables.deal_partners, config)
    calibration = actual_team_examples(snapshot, split.calibration, tables.deal_partners)
    ranker.calibrate(WinCalibrator.fit(ranker.score(calibration.features), calibration.won))
    manifest = BundleManifest(
        feature_names=list(snapshot.feature_names),
        feature_version=snapshot.feature_version,
        feature_build_id="test",
        embedder_id=snapshot.embedder_id,
        embedder_kind="hashing",
        roles=list(snapshot.roles),
        trained_at="2026-01-01T00:00:00",
    )
    _, loaded = load_bundle(save_bundle(Path(root / "bundle"), ranker, manifest))
    return tables, loaded


def _recommender(tables: EcosystemTables, ranker: TeamRanker) -> TeamRecommender:
    snapshot = FeatureSnapshot.build(tables, make_embedder("hashing"))
    return TeamRecommender(snapshot, ranker, search_config(max_candidates_per_role=6, beam_width=10))


def _open_queries(tables: EcosystemTables, n: int) -> list[OpportunityQuery]:
    opps = tables.opportunities
    return queries_from_frame(opps[opps[s.OUTCOME] == s.OPEN].head(n))


def test_every_recommended_team_carries_a_win_probability(
    trained: tuple[EcosystemTables, TeamRanker],
) -> None:
    tables, ranker = trained
    recommendations = _recommender(tables, ranker).recommend(_open_queries(tables, 3), k=5)
    probabilities = [t.win_probability for found in recommendations for t in found.teams]
    assert probabilities and all(p is not None and 0.0 <= p <= 1.0 for p in probabilities)


def test_a_paraphrased_description_keeps_the_top_services_partner(
    trained: tuple[EcosystemTables, TeamRanker],
) -> None:
    tables, ranker = trained
    recommender = _recommender(tables, ranker)
    queries = _open_queries(tables, 5)
    # A paraphrase that keeps the content words: sentences reordered, filler words added.
    paraphrased = [
        replace(
            q, description="Customer request: " + " ".join(reversed(q.description.split(". "))) + " Thanks."
        )
        for q in queries
    ]
    before = [found.teams[0].members[s.SERVICES] for found in recommender.recommend(queries, k=1)]
    after = [found.teams[0].members[s.SERVICES] for found in recommender.recommend(paraphrased, k=1)]
    assert np.mean([a == b for a, b in zip(before, after, strict=True)]) >= 0.8


def test_a_required_certification_does_not_lower_its_team(
    trained: tuple[EcosystemTables, TeamRanker],
) -> None:
    tables, ranker = trained
    query = _open_queries(tables, 1)[0]
    recommender = _recommender(tables, ranker)
    ranked = recommender.recommend([query], k=10)[0].teams
    team = ranked[-1].members
    partner = team[s.SERVICES]
    assert partner is not None
    extra = pd.DataFrame(
        {
            s.PARTNER_ID: [partner],
            s.CERTIFICATION: ["required-cert-under-test"],
            s.LEVEL: [None],
            s.ISSUED_AT: pd.to_datetime([date(2000, 1, 1)]).astype("datetime64[ns]"),
            s.EXPIRES_AT: pd.to_datetime([None]).astype("datetime64[ns]"),
        }
    )
    certified = replace(tables, certifications=pd.concat([tables.certifications, extra], ignore_index=True))
    teams = [t.members for t in ranked]
    opp = recommender.snapshot.prepare([query])[0]
    before = recommender.score_teams(opp, teams)
    after_recommender = _recommender(certified, ranker)
    after = after_recommender.score_teams(after_recommender.snapshot.prepare([query])[0], teams)
    position = len(teams) - 1
    rank_before = int(np.sum(before > before[position]))
    rank_after = int(np.sum(after > after[position]))
    assert rank_after <= rank_before


def _obvious_ecosystem(base: EcosystemTables) -> tuple[EcosystemTables, OpportunityQuery]:
    """Two services partners for a healthcare EHR deal in one region: one fits on every count, one on none."""
    partners = base.partners.head(0).copy()
    rows = [
        (
            "GOOD",
            s.SERVICES,
            "platinum",
            ["emea-north"],
            ["healthcare"],
            ["ehr", "compliance"],
            "Electronic health records (EHR) implementation and compliance for hospitals",
        ),
        (
            "POOR",
            s.SERVICES,
            "registered",
            ["latam"],
            ["retail"],
            ["ecommerce"],
            "Online storefronts for fashion retailers",
        ),
        ("INF", s.INFLUENCE, "gold", ["emea-north"], ["healthcare"], ["ehr"], "Healthcare IT advisory"),
        ("RES", s.RESELLER, "gold", ["emea-north"], ["healthcare"], ["ehr"], "Healthcare software reseller"),
    ]
    partners = pd.DataFrame(
        {
            s.PARTNER_ID: [r[0] for r in rows],
            s.NAME: [r[0].title() for r in rows],
            s.PARTNER_TYPE: [r[1] for r in rows],
            s.TIER: [r[2] for r in rows],
            s.REGIONS: [r[3] for r in rows],
            s.INDUSTRIES: [r[4] for r in rows],
            s.SKILLS: [r[5] for r in rows],
            s.DESCRIPTION: [r[6] for r in rows],
            s.CAPACITY: pd.array([None] * 4, dtype="Int64"),
            s.PSAT: [9.0, 4.0, 8.0, 8.0],
            s.JOINED_AT: pd.to_datetime(["2018-01-01"] * 4).astype("datetime64[ns]"),
            s.STATUS: ["active"] * 4,
        }
    )
    days = pd.date_range("2022-01-01", periods=12, freq="MS")
    opportunities = pd.DataFrame(
        {
            s.OPPORTUNITY_ID: [f"H{i}" for i in range(12)],
            s.CUSTOMER_ID: [f"C{i}" for i in range(12)],
            s.CUSTOMER_INDUSTRY: ["healthcare"] * 12,
            s.REGION: ["emea-north"] * 12,
            s.DEAL_SIZE: [150_000.0] * 12,
            s.REQUIRED_SKILLS: [["ehr"]] * 12,
            s.DESCRIPTION: ["EHR rollout"] * 12,
            s.CREATED_AT: days.astype("datetime64[ns]"),
            s.CLOSED_AT: (days + pd.Timedelta(days=40)).astype("datetime64[ns]"),
            # GOOD won its six deals, POOR lost its six.
            s.OUTCOME: [s.WON, s.LOST] * 6,
            s.REGISTERED_PARTNER_ID: [None] * 12,
        }
    )
    deal_partners = pd.DataFrame(
        {
            s.OPPORTUNITY_ID: [f"H{i}" for i in range(12)],
            s.PARTNER_ID: ["GOOD", "POOR"] * 6,
            s.ROLE: [s.SERVICES] * 12,
            s.SOURCED: pd.array([False] * 12, dtype="boolean"),
        }
    )
    certifications = base.certifications.head(0).copy()
    query = OpportunityQuery(
        as_of=date(2023, 6, 1),
        opportunity_id="NEW",
        customer_industry="healthcare",
        region="emea-north",
        deal_size=150_000.0,
        required_skills=("ehr",),
        description="Hospital group needs an EHR implementation",
    )
    return EcosystemTables(partners, certifications, opportunities, deal_partners), query


def test_the_obviously_right_services_partner_ranks_first(
    trained: tuple[EcosystemTables, TeamRanker],
) -> None:
    base, ranker = trained
    tables, query = _obvious_ecosystem(base)
    top = _recommender(tables, ranker).recommend([query], k=1)[0].teams[0]
    assert top.members[s.SERVICES] == "GOOD"
