from pathlib import Path

import numpy as np
import pytest

from models.cycle_time import CycleTimeModel

FEATURES = ("log_deal_size", "noise_a", "noise_b")


def _deals(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Won deals whose days to close grow with deal size: days = 45 x (size / median size)^0.25 x noise."""
    rng = np.random.default_rng(seed)
    log_size = rng.normal(12.0, 1.5, n)
    x = np.column_stack([log_size, rng.normal(size=n), rng.normal(size=n)]).astype(np.float32)
    days = np.round(np.exp(np.log(45.0) + 0.25 * (log_size - 12.0) + rng.normal(0, 0.3, n)))
    return x, days


def _row(log_size: float) -> np.ndarray:
    return np.array([[log_size, 0.0, 0.0]], dtype=np.float32)


def test_the_cycle_time_model_learns_that_bigger_deals_take_longer() -> None:
    model = CycleTimeModel().fit(*_deals(), FEATURES)
    small, large = model.predict(np.vstack([_row(10.0), _row(14.0)]))
    assert large > 1.3 * small


def test_predictions_are_days_on_the_scale_of_the_observed_durations() -> None:
    x, days = _deals()
    predicted = float(CycleTimeModel().fit(x, days, FEATURES).predict(_row(12.0))[0])
    assert abs(predicted - 45.0) < 6.0


def test_a_deal_closed_on_its_creation_day_counts_as_one_day() -> None:
    x, _ = _deals(200)
    model = CycleTimeModel().fit(x, np.zeros(200), FEATURES)
    assert np.all(model.predict(x[:5]) == 1.0)


def test_cycle_time_training_is_deterministic() -> None:
    x, days = _deals()
    first = CycleTimeModel().fit(x, days, FEATURES).predict(x[:50])
    np.testing.assert_array_equal(first, CycleTimeModel().fit(x, days, FEATURES).predict(x[:50]))


def test_a_saved_cycle_time_model_loads_and_predicts_identically(tmp_path: Path) -> None:
    x, days = _deals()
    model = CycleTimeModel().fit(x, days, FEATURES)
    model.save(tmp_path / "cycle_time.txt")
    loaded = CycleTimeModel.load(tmp_path / "cycle_time.txt", FEATURES)
    np.testing.assert_array_equal(loaded.predict(x[:50]), model.predict(x[:50]))


def test_a_cycle_time_file_for_other_features_is_refused(tmp_path: Path) -> None:
    model = CycleTimeModel().fit(*_deals(300), FEATURES)
    model.save(tmp_path / "cycle_time.txt")
    with pytest.raises(ValueError, match="trained on features"):
        CycleTimeModel.load(tmp_path / "cycle_time.txt", ("a", "b", "c"))


def test_negative_durations_are_refused() -> None:
    x, days = _deals(100)
    with pytest.raises(ValueError, match="non-negative"):
        CycleTimeModel().fit(x, -days, FEATURES)
