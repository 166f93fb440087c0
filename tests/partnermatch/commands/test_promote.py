"""`partnermatch promote`: exits non-zero when the gate refuses, promotes when it passes or is forced."""

from __future__ import annotations

from typing import Any

import pytest

from partnermatch.commands.promote import promote
from tests.partnermatch.commands.cli import run_command
from training.promotion import GateDecision


@pytest.fixture
def promoted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Versions `tracking.promote` was asked to make champion (MLflow itself is not touched)."""
    calls: list[str] = []

    def fake_promote(client: Any, version: str, reason: str) -> str:
        calls.append(version)
        return "1"

    monkeypatch.setattr("training.tracking.configure", lambda settings: object())
    monkeypatch.setattr("training.tracking.promote", fake_promote)
    monkeypatch.setattr("training.train.find_truth_dir", lambda settings, config: None)
    return calls


def _decided(monkeypatch: pytest.MonkeyPatch, passed: bool, *, too_small: bool = False) -> None:
    reasons = (
        ["vs best baseline: too small to tell: 12 test deals, at least 50 needed"]
        if too_small
        else [
            "vs best baseline: the model's replay win rate 0.300 does not beat most_active 0.350 (lift ...)"
        ]
    )
    decision = GateDecision("2", "1", passed, reasons, {}, {}, too_small=too_small)
    monkeypatch.setattr("training.promotion.decide", lambda *args, **kwargs: decision)


def _invoke(*args: str) -> tuple[int, str]:
    return run_command(promote, *args)


def test_promote_exits_non_zero_and_keeps_the_champion_when_the_gate_refuses(
    monkeypatch: pytest.MonkeyPatch, promoted: list[str]
) -> None:
    _decided(monkeypatch, passed=False)
    code, output = _invoke("2")
    assert code == 3 and promoted == []
    assert "does not beat most_active" in output and "champion stays 1" in output


def test_promote_says_when_the_test_period_is_too_small_to_tell(
    monkeypatch: pytest.MonkeyPatch, promoted: list[str]
) -> None:
    _decided(monkeypatch, passed=False, too_small=True)
    code, output = _invoke("--version", "2")
    assert code == 3 and "too small to tell" in output


def test_promote_makes_a_version_that_passes_both_gates_the_champion(
    monkeypatch: pytest.MonkeyPatch, promoted: list[str]
) -> None:
    _decided(monkeypatch, passed=True)
    code, _ = _invoke("2")
    assert code == 0 and promoted == ["2"]


def test_promote_force_overrides_a_refusing_gate(
    monkeypatch: pytest.MonkeyPatch, promoted: list[str]
) -> None:
    _decided(monkeypatch, passed=False)
    code, _ = _invoke("2", "--force")
    assert code == 0 and promoted == ["2"]
