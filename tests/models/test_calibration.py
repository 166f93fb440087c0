import numpy as np

from models.calibration import WinCalibrator


def test_isotonic_calibration_is_monotone_in_the_score() -> None:
    rng = np.random.default_rng(0)
    scores = rng.normal(size=2000)
    won = rng.random(2000) < 1 / (1 + np.exp(-2 * scores))
    calibrator = WinCalibrator.fit(scores, won)
    probabilities = calibrator.predict(np.linspace(-3, 3, 50))
    assert calibrator.kind == "isotonic"
    assert np.all(np.diff(probabilities) >= 0)


def test_few_examples_fall_back_to_a_platt_sigmoid() -> None:
    assert WinCalibrator.fit(np.array([0.0, 1.0, 2.0, 3.0]), np.array([0, 0, 1, 1])).kind == "platt"


def test_calibrated_probabilities_match_the_observed_rate_of_a_constant_score() -> None:
    calibrator = WinCalibrator.fit(np.zeros(400), np.arange(400) % 4 == 0)
    assert abs(float(calibrator.predict(np.zeros(1))[0]) - 0.25) < 1e-9


def test_a_saved_calibrator_loads_back_from_json_unchanged(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(1)
    calibrator = WinCalibrator.fit(rng.normal(size=300), rng.random(300) < 0.4)
    calibrator.save(tmp_path / "calibrator.json")
    assert WinCalibrator.load(tmp_path / "calibrator.json") == calibrator


def test_a_small_all_won_top_block_does_not_promise_certain_wins() -> None:
    rng = np.random.default_rng(0)
    scores = np.concatenate([rng.normal(0, 1, 400), np.full(5, 10.0)])
    won = np.concatenate([(rng.random(400) < 0.3).astype(float), np.ones(5)])
    calibrator = WinCalibrator.fit(scores, won, kind="isotonic")
    top = float(calibrator.predict(np.array([50.0]))[0])
    assert 0.3 < top < 0.9
