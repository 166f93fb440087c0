from collections.abc import Mapping

import numpy as np

from models.assembly import AssemblyPlan, beam_search, beam_stage_sizes, fit_options_to_budget

ROLES = ("services", "influence", "reseller")


def _plan(n: int = 5) -> AssemblyPlan:
    return AssemblyPlan(roles=ROLES, candidates={r: [f"{r[0]}{i}" for i in range(n)] for r in ROLES})


def _scorer(weights: Mapping[str, float]):  # type: ignore[no-untyped-def]
    calls: list[int] = []

    def score(teams: list[dict[str, str | None]]) -> np.ndarray:
        calls.append(len(teams))
        return np.array([sum(weights.get(p or "", 0.0) for p in t.values()) for t in teams])

    return score, calls


def test_stage_sizes_cross_the_first_two_roles_then_extend_the_beam() -> None:
    assert beam_stage_sizes([10, 11, 12], beam_width=4) == [110, 48]


def test_budget_trimming_keeps_the_leave_empty_option() -> None:
    options = fit_options_to_budget([["s1", "s2", "s3"], ["i1", "i2", None]], beam_width=5, max_teams=4)
    assert sum(beam_stage_sizes([len(o) for o in options], 5)) <= 4
    assert None in options[1]


def test_beam_search_finds_the_best_team_when_scores_are_additive() -> None:
    score, _ = _scorer({"s3": 1.0, "i4": 2.0, "r2": 0.5})
    teams, scores, _ = beam_search(_plan(), score, beam_width=3, max_teams=2000)
    assert teams[int(np.argmax(scores))] == {"services": "s3", "influence": "i4", "reseller": "r2"}


def test_beam_search_scores_each_stage_in_one_batch_within_the_budget() -> None:
    score, calls = _scorer({})
    _, _, scored = beam_search(_plan(20), score, beam_width=10, max_teams=300, optional_roles=("reseller",))
    assert len(calls) == 2
    assert scored == sum(calls) <= 300


def test_an_optional_role_stays_empty_when_every_candidate_lowers_the_score() -> None:
    score, _ = _scorer({"s0": 1.0, "r0": -1.0, "r1": -1.0, "r2": -1.0, "r3": -1.0, "r4": -1.0})
    teams, scores, _ = beam_search(
        _plan(), score, beam_width=5, max_teams=2000, optional_roles=("influence", "reseller")
    )
    assert teams[int(np.argmax(scores))]["reseller"] is None


def test_a_required_role_is_never_left_empty_when_it_has_candidates() -> None:
    score, _ = _scorer({"s0": -5.0, "s1": -5.0, "s2": -5.0, "s3": -5.0, "s4": -5.0})
    teams, _, _ = beam_search(_plan(), score, beam_width=5, max_teams=2000, optional_roles=("reseller",))
    assert all(t["services"] is not None for t in teams)


def test_the_team_filter_removes_conflicting_teams_before_scoring() -> None:
    score, _ = _scorer({"s0": 1.0, "i0": 1.0})
    teams, _, _ = beam_search(
        _plan(),
        score,
        beam_width=5,
        max_teams=2000,
        allowed=lambda t: not (t["services"] == "s0" and t["influence"] == "i0"),
    )
    assert not any(t["services"] == "s0" and t["influence"] == "i0" for t in teams)


def _pair_scorer(bonus: Mapping[frozenset[str], float]):  # type: ignore[no-untyped-def]
    def score(teams: list[dict[str, str | None]]) -> np.ndarray:
        members = [[p for p in t.values() if p is not None] for t in teams]
        return np.array(
            [sum(bonus.get(frozenset((a, b)), 0.0) for a in m for b in m if a < b) for m in members]
        )

    return score


def test_companions_of_the_chosen_members_join_the_next_roles_candidates() -> None:
    # "r-ally" is nobody's retrieval candidate; it wins with s0 and is found only as s0's companion.
    score = _pair_scorer({frozenset(("s0", "r-ally")): 5.0, frozenset(("s0", "i0")): 1.0})

    def companions(chosen: list[str], role: str) -> list[str]:
        return ["r-ally"] if role == "reseller" and "s0" in chosen else []

    teams, scores, _ = beam_search(_plan(), score, beam_width=3, max_teams=2000, companions=companions)
    assert teams[int(np.argmax(scores))]["reseller"] == "r-ally"


def test_a_companion_that_breaks_the_requests_rules_is_not_added() -> None:
    score = _pair_scorer({frozenset(("s0", "r-ally")): 5.0})
    plan = AssemblyPlan(
        roles=ROLES,
        candidates=_plan().candidates,
        eligible=lambda pid: pid != "r-ally",
    )
    teams, _, _ = beam_search(
        plan, score, beam_width=3, max_teams=2000, companions=lambda chosen, role: ["r-ally"]
    )
    assert all(t["reseller"] != "r-ally" for t in teams)
