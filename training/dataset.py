"""Training sets from history, in time order: graded candidate teams grouped per closed opportunity.

Labelling (why): only the team that actually worked a deal has an observed outcome. A won team is the
best evidence we have of a good team, so it gets grade 2; a lost team is evidence of a weak one, grade 0.
The assembled alternatives are unobserved: they get grade 1, i.e. they are treated as negatives below a
winner and as plausible options above a known loser. Every group therefore carries a signal, whichever
way its deal went, and the ranker learns both what wins and what loses instead of only imitating how
teams were picked historically. Alternatives are sampled from the same retrieval and assembly the service
uses, so training sees the same candidate distribution as serving.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features import schema as s
from features.engine import FeatureEngine
from features.queries import actual_teams, queries_from_frame
from models.recommender import RecommenderConfig, plan_candidates
from models.teams import assemble_teams, team_key

logger = logging.getLogger(__name__)

WON_GRADE = 2
ALTERNATIVE_GRADE = 1
LOST_GRADE = 0


@dataclass(frozen=True)
class SplitConfig:
    """Time split: train on deals created before the cut-off quantile, validate on the later ones."""

    valid_fraction: float = 0.2
    max_train_opportunities: int = 4000
    max_valid_opportunities: int = 1000
    alternatives_per_opportunity: int = 40
    seed: int = 7


@dataclass
class TeamExamples:
    """Grouped examples: rows of one opportunity are contiguous."""

    features: np.ndarray
    labels: np.ndarray
    group_sizes: list[int]
    opportunity_ids: list[str]
    is_actual: np.ndarray  # True on the row of the team that actually worked the deal
    outcomes: list[str]
    teams: list[dict[str, str | None]]


def closed_opportunities(opportunities: pd.DataFrame) -> pd.DataFrame:
    closed = opportunities[opportunities[s.OUTCOME].isin([s.WON, s.LOST])]
    return closed.sort_values([s.CREATED_AT, s.OPPORTUNITY_ID], kind="stable")


def time_split(
    opportunities: pd.DataFrame, config: SplitConfig
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp]:
    """Earlier deals train, later deals validate; the most recent ones of each side are kept."""
    closed = closed_opportunities(opportunities)
    if closed.empty:
        raise ValueError("no closed (won/lost) opportunities in the store: nothing to learn from")
    cutoff = pd.Timestamp(closed[s.CREATED_AT].quantile(1.0 - config.valid_fraction))
    train = closed[closed[s.CREATED_AT] < cutoff].tail(config.max_train_opportunities)
    valid = closed[closed[s.CREATED_AT] >= cutoff].tail(config.max_valid_opportunities)
    return train, valid, cutoff


def build_examples(
    engine: FeatureEngine,
    opportunities: pd.DataFrame,
    deal_partners: pd.DataFrame,
    recommender_config: RecommenderConfig,
    config: SplitConfig,
    progress: Callable[[int], None] | None = None,
) -> TeamExamples:
    """Candidate teams as of each opportunity's creation date, plus the team that actually worked it."""
    roles = engine.roles
    worked = actual_teams(deal_partners, roles)
    rng = np.random.default_rng(config.seed)
    queries = queries_from_frame(opportunities)
    prepared = engine.prepare(queries)
    known = engine.known_partner_ids()

    blocks: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    actual_flags: list[np.ndarray] = []
    group_sizes: list[int] = []
    ids: list[str] = []
    outcomes: list[str] = []
    all_teams: list[dict[str, str | None]] = []
    for opp, outcome in zip(prepared, opportunities[s.OUTCOME], strict=True):
        opportunity_id = str(opp.query.opportunity_id)
        actual = worked.get(opportunity_id)
        if actual is None or not all(p in known for p in actual.values() if p is not None):
            if progress:
                progress(1)
            continue
        # Alternatives come from the same retrieval and assembly the service runs.
        plan = plan_candidates(engine, opp, roles, recommender_config)
        assembled = assemble_teams(plan, recommender_config.max_teams_scored)
        actual_id = team_key(actual, roles)
        alternatives = [t for t in assembled if team_key(t, roles) != actual_id]
        if len(alternatives) > config.alternatives_per_opportunity:
            picks = rng.choice(len(alternatives), config.alternatives_per_opportunity, replace=False)
            alternatives = [alternatives[i] for i in sorted(picks)]
        teams = [dict(actual), *alternatives]
        grade = WON_GRADE if outcome == s.WON else LOST_GRADE
        blocks.append(engine.team_features(opp, teams))
        labels.append(np.array([grade] + [ALTERNATIVE_GRADE] * len(alternatives), dtype=np.int32))
        actual_flags.append(np.array([True] + [False] * len(alternatives)))
        group_sizes.append(len(teams))
        ids.append(opportunity_id)
        outcomes.append(str(outcome))
        all_teams.extend(teams)
        if progress:
            progress(1)
    if not blocks:
        raise ValueError("no opportunity had a known team: check deal_partners against partners")
    return TeamExamples(
        features=np.vstack(blocks),
        labels=np.concatenate(labels),
        group_sizes=group_sizes,
        opportunity_ids=ids,
        is_actual=np.concatenate(actual_flags),
        outcomes=outcomes,
        teams=all_teams,
    )


def group_offsets(group_sizes: Sequence[int]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(group_sizes)])
