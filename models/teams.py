"""Team records and staged team assembly from per-role candidate lists."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

Team = Mapping[str, str | None]  # role -> partner id (None = role left empty)


@dataclass(frozen=True)
class RankedTeam:
    """One suggested team with its ranker score."""

    rank: int
    score: float
    members: dict[str, str | None]
    win_probability: float | None = None


@dataclass(frozen=True)
class AssemblyPlan:
    """Per-role candidate lists in retrieval order; a locked role holds exactly one partner."""

    roles: tuple[str, ...]
    candidates: dict[str, list[str]]
    locked: dict[str, str] = field(default_factory=dict)


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
