"""`partnermatch train`: what it says and does when the first model passes or fails the baseline gate."""

from __future__ import annotations

from typing import Any

import pytest

from partnermatch.commands.train import train
from tests.partnermatch.commands.cli import run_command
from training.train import TrainResult

REFUSED = (
    "the model's top-1 true win probability 0.410 does not beat most_earlier_wins 0.440 "
    "(lift -0.030 [-0.050, -0.010])"
)


@pytest.fixture
def promoted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Versions `tracking.promote` was asked to make champion (MLflow itself is not touched)."""
    calls: list[str] = []
    monkeypatch.setattr("training.tracking.configure", lambda settings: object())
    monkeypatch.setattr("training.tracking.promote", lambda client, version, reason: calls.append(version))
    return calls


def _trained(monkeypatch: pytest.MonkeyPatch, *, passed: bool | None, champion: bool) -> None:
    result = TrainResult(
        version="1",
        run_id="r",
        feature_build_id="b",
        metrics={"fit_seconds": 1.0},
        champion=champion,
        gate_passed=passed,
        gate_reasons=[REFUSED] if passed is False else ["the model beats random"],
    )

    def fake_training(*args: Any, **kwargs: Any) -> TrainResult:
        return result

    monkeypatch.setattr("training.train.train", fake_training)


def _invoke(*args: str) -> tuple[int, str]:
    return run_command(train, *args)


def test_train_exits_zero_and_says_why_a_first_model_that_loses_to_a_baseline_is_not_promoted(
    monkeypatch: pytest.MonkeyPatch, promoted: list[str]
) -> None:
    _trained(monkeypatch, passed=False, champion=False)
    code, output = _invoke()
    assert code == 0
    assert f"not promoted: {REFUSED}; use --force to promote anyway" in " ".join(output.split())
    assert promoted == []


def test_train_force_promotes_a_first_model_the_gate_refused(
    monkeypatch: pytest.MonkeyPatch, promoted: list[str]
) -> None:
    _trained(monkeypatch, passed=False, champion=False)
    code, output = _invoke("--force")
    assert code == 0 and promoted == ["1"]
    assert "version 1 is the champion (forced" in output


def test_train_reports_a_first_model_that_passed_the_gate_as_the_champion(
    monkeypatch: pytest.MonkeyPatch, promoted: list[str]
) -> None:
    _trained(monkeypatch, passed=True, champion=True)
    code, output = _invoke()
    assert code == 0 and "version 1 is the champion (the model beats random)" in output
    assert promoted == []  # train() itself promoted it
