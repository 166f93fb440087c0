"""Team records and staged team assembly from per-role candidate lists."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from models.rules import DroppedPartner

Team = Mapping[str, str | None]  # role -> partner id (None = role left empty)
# Scores a batch of teams in one call (features + native LightGBM); higher is better.
TeamScorer = Callable[[list[dict[str, str | None]]], np.ndarray]
TeamFilter = Callable[[Mapping[str, str | None]], bool]
# The best partial teams (or first-role candidates) whose members look for companions: a request's latency
# grows with each anchor, and companions of the weaker beam teams rarely reach the top k.
COMPANION_ANCHORS = 5
# (members already chosen, role) -> partners of that role that work well with them.
Companions = Callable[[Sequence[str], str], list[str]]


@dataclass(frozen=True)
class FeatureContribution:
    """One signed term of a team's score from LightGBM `pred_contrib`, with a readable description."""

    feature: str
    description: str
    value: float
    contribution: float


@dataclass(frozen=True)
class TeamMember:
    """One member of a suggested team, with what a person needs to judge it."""

    partner_id: str
    role: str
    name: str
    cold_start: bool
    credit_share: float | None
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class RankedTeam:
    """One suggested team: ranker score, calibrated win probability, value, credit split and members."""

    rank: int
    score: float
    members: dict[str, str | None]
    win_probability: float | None = None
    expected_value: float | None = None
    credit_shares: dict[str, float] = field(default_factory=dict)
    contributions: list[FeatureContribution] = field(default_factory=list)
    # The team's feature row, in the snapshot's `feature_names` order.
    features: np.ndarray | None = field(default=None, repr=False, compare=False)
    # Members in role order with names, cold-start flags and plain-sentence reasons.
    details: tuple[TeamMember, ...] = ()
    # From the bundle's cycle-time model (None without one): days to a won close, and P(win) x size / days.
    expected_days_to_close: float | None = None
    expected_value_per_day: float | None = None

    def to_record(self) -> dict[str, Any]:
        """The team as plain JSON values: the one serialisation batch output and the MLflow model share."""
        return {
            "rank": self.rank,
            "score": self.score,
            "win_probability": self.win_probability,
            "expected_value": self.expected_value,
            "expected_days_to_close": self.expected_days_to_close,
            "expected_value_per_day": self.expected_value_per_day,
            "members": [asdict(m) | {"reasons": list(m.reasons)} for m in self.details],
        }


@dataclass(frozen=True)
class AssemblyPlan:
    """Per-role candidate lists in retrieval order; a locked role holds exactly one partner."""

    roles: tuple[str, ...]
    candidates: dict[str, list[str]]
    locked: dict[str, str] = field(default_factory=dict)
    dropped: tuple[DroppedPartner, ...] = ()
    # Whether a partner found later (a companion of chosen members) passes the request's rules.
    eligible: Callable[[str], bool] | None = field(default=None, compare=False, repr=False)


def candidates_per_role(n_roles: int, max_teams: int, ceiling: int) -> int:
    """How many candidates each role may bring so that the full product stays within `max_teams`."""
    if n_roles <= 0:
        return 0
    per_role = int(math.floor(max_teams ** (1.0 / n_roles) + 1e-9))
    return max(1, min(ceiling, per_role))


def assemble_teams(plan: AssemblyPlan, max_teams: int) -> list[dict[str, str | None]]:
    """Every combination of one candidate per role, best retrieval ranks first, at most `max_teams`.

    Combinations are ordered by the sum of the members' retrieval positions so that, when the product
    is larger than the budget, the teams dropped are those built from the weakest candidates.
    """
    lists: list[list[str]] = []
    for role in plan.roles:
        if role in plan.locked:
            lists.append([plan.locked[role]])
        else:
            lists.append(plan.candidates.get(role, []))
    if any(not options for options in lists):
        # A role with no eligible partner stays empty rather than blocking every team.
        lists = [options if options else [] for options in lists]
    index_ranges = [range(len(options)) if options else range(1) for options in lists]
    combos = sorted(itertools.product(*index_ranges), key=sum)[:max_teams]
    teams: list[dict[str, str | None]] = []
    for combo in combos:
        team: dict[str, str | None] = {}
        for role, options, position in zip(plan.roles, lists, combo, strict=True):
            team[role] = options[position] if options else None
        teams.append(team)
    return teams


def team_key(team: Team, roles: Sequence[str]) -> tuple[str | None, ...]:
    """A hashable identity of a team over the given roles."""
    return tuple(team.get(role) for role in roles)


def role_options(plan: AssemblyPlan, optional_roles: Sequence[str]) -> list[list[str | None]]:
    """Per role: the locked partner, or the candidates plus "leave empty" when the role is optional."""
    options: list[list[str | None]] = []
    for role in plan.roles:
        if role in plan.locked:
            options.append([plan.locked[role]])
            continue
        listed: list[str | None] = list(plan.candidates.get(role, []))
        if role in optional_roles or not listed:
            listed.append(None)
        options.append(listed)
    return options


def beam_stage_sizes(sizes: Sequence[int], beam_width: int) -> list[int]:
    """Teams scored at each stage: first two roles crossed, then the beam crossed with each next role."""
    if not sizes:
        return []
    if len(sizes) == 1:
        return [sizes[0]]
    stages = [sizes[0] * sizes[1]]
    for size in sizes[2:]:
        stages.append(min(beam_width, stages[-1]) * size)
    return stages


def fit_options_to_budget(
    options: list[list[str | None]], beam_width: int, max_teams: int
) -> list[list[str | None]]:
    """Drop the weakest retrieved candidates (longest list first) until all stages fit in `max_teams`."""
    trimmed = [list(o) for o in options]
    while sum(beam_stage_sizes([len(o) for o in trimmed], beam_width)) > max_teams:
        real = [sum(p is not None for p in o) for o in trimmed]
        longest = int(np.argmax(real))
        if real[longest] <= 1:
            break
        last_real = max(i for i, p in enumerate(trimmed[longest]) if p is not None)
        del trimmed[longest][last_real]
    return trimmed


def beam_search(
    plan: AssemblyPlan,
    score: TeamScorer,
    *,
    beam_width: int,
    max_teams: int,
    optional_roles: Sequence[str] = (),
    allowed: TeamFilter | None = None,
    companions: Companions | None = None,
) -> tuple[list[dict[str, str | None]], np.ndarray, int]:
    """Staged beam search; returns the final stage's teams, their scores and how many teams were scored.

    Stage 1 scores every pair of the first two roles' options; the best `beam_width` partial teams are then
    crossed with the next role's options and scored again, and so on. Each stage is one batch call to
    `score`, and the stages together score at most `max_teams` teams (weak candidates are trimmed first).
    Partial teams are scored with later roles empty, which the feature set represents natively.
    With `companions`, each later role's options also get the partners that win with the members already
    chosen (the first role's best candidates for stage 1, the beam's members after that), so a team can
    be built around who works well together, not only around who matches the opportunity.
    """
    if not plan.roles:
        return [], np.zeros(0), 0
    options = fit_options_to_budget(role_options(plan, optional_roles), beam_width, max_teams)
    roles = plan.roles
    first = [0] if len(roles) == 1 else [0, 1]

    def add_companions(stage_role: int, anchors: Sequence[str | None]) -> None:
        if companions is None or roles[stage_role] in plan.locked:
            return
        chosen = list(dict.fromkeys(p for p in anchors if p is not None))
        found = companions(chosen, roles[stage_role]) if chosen else []
        listed = set(options[stage_role])
        fresh = [p for p in found if p not in listed and (plan.eligible is None or plan.eligible(p))]
        # Before "leave empty" (None, always last when present).
        tail = [None] if options[stage_role] and options[stage_role][-1] is None else []
        options[stage_role] = [p for p in options[stage_role] if p is not None] + fresh + tail

    if len(roles) > 1:
        add_companions(1, options[0][:COMPANION_ANCHORS])
    teams = [
        {role: (combo[i] if i < len(combo) else None) for i, role in enumerate(roles)}
        for combo in itertools.product(*(options[i] for i in first))
    ]
    scored = 0
    stage = len(first)
    while True:
        if allowed is not None:
            teams = [t for t in teams if allowed(t)]
        scores = score(teams) if teams else np.zeros(0)
        scored += len(teams)
        if stage >= len(roles) or not teams:
            return teams, scores, scored
        order = np.argsort(-scores, kind="stable")[:beam_width]
        role = roles[stage]
        add_companions(stage, [p for i in order[:COMPANION_ANCHORS] for p in teams[i].values()])
        teams = [{**teams[i], role: option} for i in order for option in options[stage]]
        stage += 1
