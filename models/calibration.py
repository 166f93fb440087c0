"""Win-probability calibration of ranker scores: isotonic (or Platt) maps stored as plain numbers."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np

CalibratorKind = Literal["isotonic", "platt"]
# Below this many calibration examples an isotonic step function overfits; a two-parameter sigmoid does not.
MIN_ISOTONIC_EXAMPLES = 200


# Pseudo-examples at the base rate added to every isotonic block. Recommended teams often score above
# every historical team, where isotonic regression clips to its last block; a last block of five won
# deals would otherwise promise a win probability of 1.0.
BLOCK_PRIOR_STRENGTH = 10.0


def _shrink_blocks(fitted: np.ndarray, won: np.ndarray, knot_values: np.ndarray) -> np.ndarray:
    """Each isotonic block's rate pulled towards the base rate by its size, kept non-decreasing."""
    values, block = np.unique(fitted, return_inverse=True)
    counts = np.bincount(block)
    wins = np.bincount(block, weights=won)
    base = float(won.mean())
    shrunk = (wins + BLOCK_PRIOR_STRENGTH * base) / (counts + BLOCK_PRIOR_STRENGTH)
    per_knot = shrunk[np.clip(np.searchsorted(values, knot_values), 0, values.size - 1)]
    return np.maximum.accumulate(per_knot)


@dataclass(frozen=True)
class WinCalibrator:
    """Score -> P(win). Isotonic: piecewise-linear through (x, y) knots; Platt: sigmoid(a * score + b).

    Stored as JSON numbers (never pickled) so a bundle stays readable and safe to load.
    """

    kind: CalibratorKind
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()
    a: float = 0.0
    b: float = 0.0
    n_examples: int = 0

    @classmethod
    def fit(cls, scores: np.ndarray, won: np.ndarray, kind: CalibratorKind | None = None) -> WinCalibrator:
        """Fit on the outcomes of teams that actually worked deals (a later slice than the ranker's)."""
        scores = np.asarray(scores, dtype=np.float64)
        target = np.asarray(won, dtype=np.float64)
        if scores.size == 0:
            raise ValueError("cannot calibrate on zero examples")
        chosen = kind or ("isotonic" if scores.size >= MIN_ISOTONIC_EXAMPLES else "platt")
        if chosen == "isotonic":
            from sklearn.isotonic import IsotonicRegression

            model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(scores, target)
            knots_y = _shrink_blocks(model.predict(scores), target, np.asarray(model.y_thresholds_))
            return cls(
                kind="isotonic",
                x=tuple(float(v) for v in model.X_thresholds_),
                y=tuple(float(v) for v in knots_y),
                n_examples=int(scores.size),
            )
        from sklearn.linear_model import LogisticRegression

        if np.unique(target).size < 2:
            rate = float(np.clip(target.mean(), 1e-3, 1 - 1e-3))
            return cls(kind="platt", a=0.0, b=float(np.log(rate / (1 - rate))), n_examples=int(scores.size))
        lr = LogisticRegression(C=1e4).fit(scores.reshape(-1, 1), target)
        return cls(
            kind="platt", a=float(lr.coef_[0, 0]), b=float(lr.intercept_[0]), n_examples=int(scores.size)
        )

    def predict(self, scores: np.ndarray) -> np.ndarray:
        values = np.asarray(scores, dtype=np.float64)
        if self.kind == "isotonic":
            if not self.x:
                return np.full(values.shape, 0.5)
            return np.interp(values, np.asarray(self.x), np.asarray(self.y))
        return 1.0 / (1.0 + np.exp(-(self.a * values + self.b)))

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2, sort_keys=True))

    @classmethod
    def load(cls, path: Path) -> WinCalibrator:
        raw = json.loads(path.read_text())
        if raw.get("kind") not in ("isotonic", "platt"):
            raise ValueError(f"{path}: unknown calibrator kind {raw.get('kind')!r}")
        return cls(
            kind=raw["kind"],
            x=tuple(float(v) for v in raw.get("x", ())),
            y=tuple(float(v) for v in raw.get("y", ())),
            a=float(raw.get("a", 0.0)),
            b=float(raw.get("b", 0.0)),
            n_examples=int(raw.get("n_examples", 0)),
        )
