import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from models.calibration import CalibratorKind, WinCalibrator


def _logistic_sample(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores and outcomes with a known monotone link: P(win) = sigmoid(1.2 * score - 0.4)."""
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=n)
    return scores, rng.random(n) < 1 / (1 + np.exp(-(1.2 * scores - 0.4)))


def test_the_default_calibration_is_the_smooth_monotone_map() -> None:
    assert WinCalibrator.fit(*_logistic_sample(2000, 0)).kind == "pchip"


def test_smooth_calibration_is_strictly_increasing_inside_the_data() -> None:
    scores, won = _logistic_sample(2000, 0)
    calibrator = WinCalibrator.fit(scores, won)
    probabilities = calibrator.predict(np.linspace(scores.min(), scores.max(), 5000))
    assert np.all(np.diff(probabilities) > 0)


def test_smooth_calibration_keeps_rising_beyond_the_data_but_never_reaches_0_or_1() -> None:
    scores, won = _logistic_sample(2000, 0)
    calibrator = WinCalibrator.fit(scores, won)
    above = calibrator.predict(np.array([scores.max() + 0.5, scores.max() + 2.0, 1e6]))
    below = calibrator.predict(np.array([-1e6, scores.min() - 2.0, scores.min() - 0.5]))
    assert np.all(np.diff(above[:2]) > 0) and np.all(np.diff(below[1:]) > 0)
    assert 0.0 < below[0] and above[-1] < 1.0
    assert above[-1] <= 2 * above[0] / (1 + above[0])  # odds beyond the last knot at most double


def test_distinct_scores_never_share_a_probability() -> None:
    scores, won = _logistic_sample(1500, 3)
    calibrator = WinCalibrator.fit(scores, won)
    probabilities = calibrator.predict(np.unique(scores))
    assert np.unique(probabilities).size == np.unique(scores).size


def test_the_step_isotonic_map_ties_distinct_scores() -> None:
    # The problem the smooth map solves: a rep saw two different teams at the same probability.
    scores, won = _logistic_sample(1500, 3)
    step = WinCalibrator.fit(scores, won, kind="isotonic")
    assert np.unique(step.predict(np.unique(scores))).size < np.unique(scores).size // 2


def test_smooth_calibration_is_no_worse_than_the_step_map_on_later_data() -> None:
    scores, won = _logistic_sample(1500, 4)
    later, later_won = _logistic_sample(20000, 5)

    def brier_and_log_loss(calibrator: WinCalibrator) -> tuple[float, float]:
        p = np.clip(calibrator.predict(later), 1e-9, 1 - 1e-9)
        loss = -np.mean(later_won * np.log(p) + (1 - later_won) * np.log(1 - p))
        return float(np.mean((p - later_won) ** 2)), float(loss)

    smooth = brier_and_log_loss(WinCalibrator.fit(scores, won))
    step = brier_and_log_loss(WinCalibrator.fit(scores, won, kind="isotonic"))
    assert smooth[0] <= step[0] and smooth[1] <= step[1]


def test_scores_a_rounding_error_apart_count_as_one_score() -> None:
    # A ranker's scores can differ in the last bit for one team computed in two batches.
    base = np.repeat([-0.5, 0.5, 1.5], 100)
    scores = np.where(np.arange(300) % 2 == 0, base, np.nextafter(base, np.inf))
    won = np.random.default_rng(0).random(300) < np.repeat([0.2, 0.4, 0.7], 100)
    calibrator = WinCalibrator.fit(scores, won)
    assert len(calibrator.x) <= 3
    assert np.all(np.diff(calibrator.predict(np.linspace(-2, 3, 200))) > 0)


def test_few_examples_fall_back_to_a_platt_sigmoid() -> None:
    assert WinCalibrator.fit(np.array([0.0, 1.0, 2.0, 3.0]), np.array([0, 0, 1, 1])).kind == "platt"


def test_calibrated_probabilities_match_the_observed_rate_of_a_constant_score() -> None:
    calibrator = WinCalibrator.fit(np.zeros(400), np.arange(400) % 4 == 0)
    assert abs(float(calibrator.predict(np.zeros(1))[0]) - 0.25) < 1e-9


def test_a_constant_score_calibration_still_orders_other_scores() -> None:
    calibrator = WinCalibrator.fit(np.zeros(400), np.arange(400) % 4 == 0)
    assert np.all(np.diff(calibrator.predict(np.array([-2.0, -1.0, 1.0, 2.0]))) > 0)


def test_a_saved_calibrator_loads_back_from_json_unchanged(tmp_path: Path) -> None:
    scores, won = _logistic_sample(300, 1)
    calibrator = WinCalibrator.fit(scores, won)
    calibrator.save(tmp_path / "calibrator.json")
    loaded = WinCalibrator.load(tmp_path / "calibrator.json")
    assert loaded == calibrator
    grid = np.linspace(-5, 5, 101)
    np.testing.assert_array_equal(loaded.predict(grid), calibrator.predict(grid))


def test_a_saved_calibrator_is_plain_json_numbers(tmp_path: Path) -> None:
    WinCalibrator.fit(*_logistic_sample(300, 1)).save(tmp_path / "calibrator.json")
    raw = json.loads((tmp_path / "calibrator.json").read_text())
    assert raw["kind"] == "pchip"
    assert all(isinstance(v, float) for v in [*raw["x"], *raw["y"], *raw["tail_slopes"]])


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        # Files written before the smooth map (no tail fields): they predict exactly as they did.
        (
            {
                "kind": "isotonic",
                "x": [0.0, 1.0, 2.0],
                "y": [0.2, 0.2, 0.6],
                "a": 0.0,
                "b": 0.0,
                "n_examples": 400,
            },
            [0.2, 0.2, 0.2, 0.4, 0.6, 0.6],
        ),
        (
            {"kind": "platt", "x": [], "y": [], "a": 2.0, "b": -1.0, "n_examples": 50},
            list(1 / (1 + np.exp(-(2.0 * np.array([-1.0, 0.0, 0.5, 1.5, 2.0, 3.0]) - 1.0)))),
        ),
    ],
)
def test_calibrators_of_the_old_kinds_load_and_predict_as_before(
    tmp_path: Path, stored: dict[str, Any], expected: list[float]
) -> None:
    (tmp_path / "calibrator.json").write_text(json.dumps(stored))
    calibrator = WinCalibrator.load(tmp_path / "calibrator.json")
    assert calibrator.kind == stored["kind"]
    np.testing.assert_allclose(calibrator.predict(np.array([-1.0, 0.0, 0.5, 1.5, 2.0, 3.0])), expected)


def test_a_calibrator_file_with_decreasing_knots_is_refused(tmp_path: Path) -> None:
    stored = {
        "kind": "pchip",
        "x": [0.0, 1.0],
        "y": [0.6, 0.4],
        "tail_slopes": [1.0, 1.0],
        "tail_headroom": 0.7,
    }
    (tmp_path / "calibrator.json").write_text(json.dumps(stored))
    with pytest.raises(ValueError, match="strictly increasing"):
        WinCalibrator.load(tmp_path / "calibrator.json")


def test_a_small_all_won_top_block_does_not_promise_certain_wins() -> None:
    rng = np.random.default_rng(0)
    scores = np.concatenate([rng.normal(0, 1, 400), np.full(5, 10.0)])
    won = np.concatenate([(rng.random(400) < 0.3).astype(float), np.ones(5)])
    kinds: tuple[CalibratorKind, ...] = ("pchip", "isotonic")
    for kind in kinds:
        calibrator = WinCalibrator.fit(scores, won, kind=kind)
        top = float(calibrator.predict(np.array([50.0]))[0])
        assert 0.3 < top < 0.9, kind
