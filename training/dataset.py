"""Training sets from history, in time order: graded candidate teams per deal, or the actual teams alone.

Two labellings, chosen by `[ranker] objective` in the config:

- `binary` (default): one row per closed deal, the team that actually worked it, labelled won (1) or
  lost (0), features as of the deal's `created_at`. The model estimates P(win | team features) directly
  from observed outcomes. Why default: on a generated 3k-partner / 30k-deal ecosystem it raised the top-1
  team's TRUE win probability to 0.463 against 0.408 for lambdarank (historical teams: 0.394); see
  bench/results/train-hashing-3k-30k-*.json.
- `lambdarank`: per deal a group of the actual team plus sampled assembled alternatives; won team grade 2,
  alternatives grade 1, lost team grade 0. Every group carries a signal whichever way the deal went, but
  only the actual team's outcome is observed, so "looks like a historically routed team" is rewarded in
  won groups and punished in lost ones; with ~40% of deals won the model drifts towards "unlike the
  routed team", which the ground truth showed is not the same as "wins more" (top-1 true win probability
  below random). Kept as an option for data whose routing is closer to the best teams.

Sampling: closed deals are split by `created_at` into three consecutive periods: train (the ranker),
calibration (the win-probability calibrator, fitted on the actual teams' outcomes there, so it sees scores
of a model that never trained on those deals) and test (evaluation). The most recent
`max_*_opportunities` of each period are kept, so a capped run still learns from the freshest history.
Lambdarank alternatives are a seeded uniform sample of the assembled teams (not the top of the retrieval
order), so the ranker also sees weak-but-plausible teams and cannot learn "retrieval rank" as a shortcut.
Each opportunity's sample is seeded by the run's seed and its own id, so a training set built in time
partitions on a cluster (training/distributed.py) equals the one built in one pass.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features import schema as s
from features.queries import actual_teams, queries_from_frame
from features.snapshot import FeatureSnapshot
from models.assembly import assemble_teams, team_key
from models.candidates import plan_candidates
from models.config import SearchConfig

logger = logging.getLogger(__name__)

WON_GRADE = 2
ALTERNATIVE_GRADE = 1
LOST_GRADE = 0


@dataclass(frozen=True)
class SplitConfig:
    """Time split: train | calibration | test by creation date (fractions of the closed deals)."""

    calibration_fraction: float = 0.15
    test_fraction: float = 0.15
    max_train_opportunities: int = 4000
    max_calibration_opportunities: int = 1500
    max_test_opportunities: int = 1000
    alternatives_per_opportunity: int = 40
    # Lambdarank groups of lost deals reward "unlike the routed team"; False keeps won deals only.
    lost_groups: bool = True
    seed: int = 7


@dataclass(frozen=True)
class TimeSplit:
    """Three consecutive periods of closed deals and the dates that separate them."""

    train: pd.DataFrame
    calibration: pd.DataFrame
    test: pd.DataFrame
    calibration_start: pd.Timestamp
    test_start: pd.Timestamp


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


def time_split(opportunities: pd.DataFrame, config: SplitConfig) -> TimeSplit:
    """Earliest deals train, the next calibrate, the latest test; the most recent of each period are kept."""
    closed = closed_opportunities(opportunities)
    if closed.empty:
        raise ValueError("no closed (won/lost) opportunities in the store: nothing to learn from")
    created = closed[s.CREATED_AT]
    test_start = pd.Timestamp(created.quantile(1.0 - config.test_fraction))  # type: ignore[arg-type]
    calibration_quantile = 1.0 - config.test_fraction - config.calibration_fraction
    calibration_start = pd.Timestamp(created.quantile(calibration_quantile))  # type: ignore[arg-type]
    train = closed[created < calibration_start].tail(config.max_train_opportunities)
    calibration = closed[(created >= calibration_start) & (created < test_start)]
    test = closed[created >= test_start].tail(config.max_test_opportunities)
    if train.empty or calibration.empty or test.empty:
        raise ValueError(
            f"time split left an empty period (train {len(train)}, calibration {len(calibration)}, "
            f"test {len(test)}): need more closed deals spread over time"
        )
    return TimeSplit(
        train=train,
        calibration=calibration.tail(config.max_calibration_opportunities),
        test=test,
        calibration_start=calibration_start,
        test_start=test_start,
    )


def alternatives_rng(seed: int, opportunity_id: str) -> np.random.Generator:
    """The sampler of one opportunity's alternatives: seeded by the run and the opportunity alone, so a group
    is the same whichever other opportunities share its batch (a time partition on a cluster, or all)."""
    return np.random.default_rng([seed, zlib.crc32(opportunity_id.encode())])


def example_groups(
    snapshot: FeatureSnapshot,
    opportunities: pd.DataFrame,
    deal_partners: pd.DataFrame,
    recommender_config: SearchConfig,
    config: SplitConfig,
    progress: Callable[[int], None] | None = None,
) -> TeamExamples:
    """`build_examples` without its check: no group at all is a valid answer for one slice of the deals."""
    roles = snapshot.roles
    worked = actual_teams(deal_partners, roles)
    queries = queries_from_frame(opportunities)
    prepared = snapshot.prepare(queries)
    known = snapshot.known_partner_ids()

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
        unknown = actual is None or not all(p in known for p in actual.values() if p is not None)
        if actual is None or unknown or (outcome != s.WON and not config.lost_groups):
            if progress:
                progress(1)
            continue
        # Alternatives come from the same retrieval and assembly the service runs.
        plan = plan_candidates(snapshot, opp, roles, recommender_config)
        assembled = assemble_teams(plan, recommender_config.max_teams_scored)
        actual_id = team_key(actual, roles)
        alternatives = [t for t in assembled if team_key(t, roles) != actual_id]
        if len(alternatives) > config.alternatives_per_opportunity:
            rng = alternatives_rng(config.seed, opportunity_id)
            picks = rng.choice(len(alternatives), config.alternatives_per_opportunity, replace=False)
            alternatives = [alternatives[i] for i in sorted(picks)]
        teams = [dict(actual), *alternatives]
        grade = WON_GRADE if outcome == s.WON else LOST_GRADE
        blocks.append(snapshot.team_features(opp, teams))
        labels.append(np.array([grade] + [ALTERNATIVE_GRADE] * len(alternatives), dtype=np.int32))
        actual_flags.append(np.array([True] + [False] * len(alternatives)))
        group_sizes.append(len(teams))
        ids.append(opportunity_id)
        outcomes.append(str(outcome))
        all_teams.extend(teams)
        if progress:
            progress(1)
    width = len(snapshot.feature_names)
    return TeamExamples(
        features=np.vstack(blocks) if blocks else np.zeros((0, width), np.float32),
        labels=np.concatenate(labels) if labels else np.zeros(0, np.int32),
        group_sizes=group_sizes,
        opportunity_ids=ids,
        is_actual=np.concatenate(actual_flags) if actual_flags else np.zeros(0, bool),
        outcomes=outcomes,
        teams=all_teams,
    )


def build_examples(
    snapshot: FeatureSnapshot,
    opportunities: pd.DataFrame,
    deal_partners: pd.DataFrame,
    recommender_config: SearchConfig,
    config: SplitConfig,
    progress: Callable[[int], None] | None = None,
) -> TeamExamples:
    """Candidate teams as of each opportunity's creation date, plus the team that actually worked it."""
    examples = example_groups(snapshot, opportunities, deal_partners, recommender_config, config, progress)
    return checked(examples)


def checked(examples: TeamExamples) -> TeamExamples:
    """The examples, or a ValueError when no opportunity had a known team."""
    if not examples.group_sizes:
        raise ValueError("no opportunity had a known team: check deal_partners against partners")
    return examples


def concat_examples(parts: Sequence[TeamExamples], width: int) -> TeamExamples:
    """Groups of consecutive slices of the deals, in the slices' order (each slice's rows stay contiguous)."""
    return TeamExamples(
        features=np.vstack([p.features for p in parts]) if parts else np.zeros((0, width), np.float32),
        labels=np.concatenate([p.labels for p in parts]) if parts else np.zeros(0, np.int32),
        group_sizes=[n for p in parts for n in p.group_sizes],
        opportunity_ids=[i for p in parts for i in p.opportunity_ids],
        is_actual=np.concatenate([p.is_actual for p in parts]) if parts else np.zeros(0, bool),
        outcomes=[o for p in parts for o in p.outcomes],
        teams=[t for p in parts for t in p.teams],
    )


def group_offsets(group_sizes: Sequence[int]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(group_sizes)])


@dataclass
class ActualTeams:
    """The team that actually worked each closed deal, its features as of creation and its outcome."""

    features: np.ndarray
    won: np.ndarray
    opportunity_ids: list[str]
    teams: list[dict[str, str | None]]


def actual_team_examples(
    snapshot: FeatureSnapshot,
    opportunities: pd.DataFrame,
    deal_partners: pd.DataFrame,
    progress: Callable[[int], None] | None = None,
) -> ActualTeams:
    """One row per closed deal whose team is known: the input of the calibrator and the binary objective."""
    worked = actual_teams(deal_partners, snapshot.roles)
    known = snapshot.known_partner_ids()
    rows: list[np.ndarray] = []
    won: list[bool] = []
    ids: list[str] = []
    teams: list[dict[str, str | None]] = []
    for opp, outcome in zip(
        snapshot.prepare(queries_from_frame(opportunities)), opportunities[s.OUTCOME], strict=True
    ):
        opportunity_id = str(opp.query.opportunity_id)
        team = worked.get(opportunity_id)
        if progress:
            progress(1)
        if team is None or not all(p in known for p in team.values() if p is not None):
            continue
        rows.append(snapshot.team_features(opp, [team])[0])
        won.append(outcome == s.WON)
        ids.append(opportunity_id)
        teams.append(team)
    width = len(snapshot.feature_names)
    return ActualTeams(
        features=np.vstack(rows) if rows else np.zeros((0, width), np.float32),
        won=np.asarray(won, dtype=bool),
        opportunity_ids=ids,
        teams=teams,
    )


def concat_actual_teams(parts: Sequence[ActualTeams], width: int) -> ActualTeams:
    """Actual teams of consecutive slices of the deals, in the slices' order."""
    return ActualTeams(
        features=np.vstack([p.features for p in parts]) if parts else np.zeros((0, width), np.float32),
        won=np.concatenate([p.won for p in parts]) if parts else np.zeros(0, bool),
        opportunity_ids=[i for p in parts for i in p.opportunity_ids],
        teams=[t for p in parts for t in p.teams],
    )
