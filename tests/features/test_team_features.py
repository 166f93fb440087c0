"""The team feature set: names, descriptions and the vectorised assembly on hand-built inputs."""

from __future__ import annotations

import numpy as np
import pytest

from features.schema import SERVICES
from features.team_features import (
    DAYS_CAP,
    FEATURE_DESCRIPTIONS,
    FEATURE_NAMES,
    MEMBER_FEATURES,
    TeamInputs,
    assemble,
    feature_names,
)

BASE_RATE = 0.4


def inputs(slots: list[list[int]], skill_similarity: np.ndarray) -> TeamInputs:
    n_members = skill_similarity.shape[0]
    member = {suffix: np.full(n_members, 0.7) for suffix in MEMBER_FEATURES if suffix != "present"}
    member["text_similarity"] = np.linspace(0.1, 0.9, n_members)
    teams = np.asarray(slots)
    pairs = teams.shape[1] * (teams.shape[1] - 1) // 2
    return TeamInputs(
        slots=teams,
        member=member,
        skill_similarity=skill_similarity,
        pair_deals=np.zeros((len(teams), pairs)),
        pair_rates=np.full((len(teams), pairs), np.nan),
        registered_on_team=np.zeros(len(teams)),
        log_deal_size=0.0,
        base_rate=BASE_RATE,
    )


def column(matrix: np.ndarray, names: tuple[str, ...], name: str) -> np.ndarray:
    return matrix[:, names.index(name)]


def test_every_feature_has_a_unique_name_and_a_plain_english_description() -> None:
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
    assert set(FEATURE_DESCRIPTIONS) == set(FEATURE_NAMES)
    assert FEATURE_DESCRIPTIONS["services_industry_win_rate"].startswith(
        "services partner's record in this industry"
    )


def test_feature_names_follow_the_requested_roles() -> None:
    names = feature_names([SERVICES])
    assert "services_present" in names
    assert not any(n.startswith("influence_") for n in names)


def test_skill_coverage_takes_the_best_member_per_skill() -> None:
    # Member 0 covers skill 0 well, member 1 covers skill 1 well.
    skills = np.array([[0.9, 0.1], [0.2, 0.6]])
    names = feature_names(["a", "b"])
    matrix = assemble(inputs([[0, 1]], skills))
    assert column(matrix, names, "skill_coverage_mean")[0] == pytest.approx(0.75)
    assert column(matrix, names, "skill_coverage_min")[0] == pytest.approx(0.6)


def test_an_empty_role_reads_as_absent_with_neutral_values() -> None:
    names = feature_names(["a", "b"])
    matrix = assemble(inputs([[0, -1]], np.array([[0.5], [0.5]])))
    assert not np.isnan(matrix).any()
    assert column(matrix, names, "b_present")[0] == 0
    assert column(matrix, names, "b_win_rate")[0] == pytest.approx(BASE_RATE)
    assert column(matrix, names, "b_days_since_last_win")[0] == pytest.approx(DAYS_CAP)
    assert column(matrix, names, "team_size")[0] == 1


def test_a_team_with_no_members_still_gets_finite_features() -> None:
    matrix = assemble(inputs([[-1, -1]], np.zeros((0, 2))))
    assert matrix.shape == (1, len(feature_names(["a", "b"])))
    assert np.isfinite(matrix).all()
