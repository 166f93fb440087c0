"""Fitting the cycle-time model on won deals and judging it on later ones against per-segment medians."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features import schema as s
from features.snapshot import FeatureSnapshot
from models.cycle_time import MIN_DAYS, CycleTimeModel, CycleTimeParams
from training.dataset import actual_team_examples
from training.intervals import bootstrap_lift

logger = logging.getLogger(__name__)

# Fewer won deals with a known team and close date than this in the training period: no cycle-time model
# (the bundle then serves no days to close) rather than one fitted on a handful of deals.
MIN_TRAIN_DEALS = 50
# Deal-size bands of the baseline: quartiles of the earlier won deals' sizes (missing sizes are a band).
SIZE_BANDS = 4
# A segment with fewer earlier won deals than this uses the overall median: a median of two deals is noise.
MIN_SEGMENT_DEALS = 5
BOOTSTRAP_SAMPLES = 1000
BOOTSTRAP_SEED = 7
UNKNOWN = "(unknown)"


@dataclass(frozen=True)
class CycleExamples:
    """Won deals whose team is known: their team feature rows as of creation and their days to close."""

    features: np.ndarray
    days: np.ndarray
    opportunity_ids: list[str]


def days_to_close(opportunities: pd.DataFrame) -> pd.Series:
    """Days from creation to close of each won, closed deal, indexed by opportunity id."""
    won = opportunities[(opportunities[s.OUTCOME] == s.WON) & opportunities[s.CLOSED_AT].notna()]
    days = (pd.to_datetime(won[s.CLOSED_AT]) - pd.to_datetime(won[s.CREATED_AT])).dt.days
    return pd.Series(
        np.maximum(days.to_numpy(dtype=np.float64), MIN_DAYS), index=won[s.OPPORTUNITY_ID].astype(str)
    )


def cycle_examples(
    snapshot: FeatureSnapshot, opportunities: pd.DataFrame, deal_partners: pd.DataFrame
) -> CycleExamples:
    """The ranker's team features of each won deal's actual team (point in time), with its duration."""
    days = days_to_close(opportunities)
    won = opportunities[opportunities[s.OPPORTUNITY_ID].astype(str).isin(days.index)]
    actual = actual_team_examples(snapshot, won, deal_partners)
    return CycleExamples(
        features=actual.features,
        days=days.loc[actual.opportunity_ids].to_numpy(dtype=np.float64),
        opportunity_ids=list(actual.opportunity_ids),
    )


def fit_cycle_time(
    snapshot: FeatureSnapshot,
    train_opps: pd.DataFrame,
    deal_partners: pd.DataFrame,
    params: CycleTimeParams | None = None,
) -> CycleTimeModel | None:
    """The cycle-time model on the training period's won deals (same features as the ranker); None when
    fewer than `MIN_TRAIN_DEALS` won deals have a known team and a close date (the export's `closed_at` is
    optional)."""
    examples = cycle_examples(snapshot, train_opps, deal_partners)
    if examples.days.size < MIN_TRAIN_DEALS:
        logger.warning(
            "only %d won deals with a team and a close date in the training period: no cycle-time model",
            examples.days.size,
        )
        return None
    return CycleTimeModel(params).fit(examples.features, examples.days, snapshot.feature_names)


def _size_band(sizes: pd.Series, edges: np.ndarray) -> pd.Series:
    values = pd.to_numeric(sizes, errors="coerce")
    bands = np.searchsorted(edges, values.to_numpy(dtype=np.float64), side="right").astype(str)
    return pd.Series(np.where(values.notna(), bands, UNKNOWN), index=sizes.index)


def segment_median_baseline(
    history: pd.DataFrame, later: pd.DataFrame
) -> tuple[np.ndarray, dict[str, float]]:
    """Each later deal's baseline days: the median of earlier won deals of its industry x deal-size band.

    Segments with fewer than `MIN_SEGMENT_DEALS` earlier deals fall back to the overall median. The band
    edges are quartiles of the earlier deals' sizes, so nothing about the later deals sets the baseline.
    """
    past = days_to_close(history)
    earlier = history.set_index(history[s.OPPORTUNITY_ID].astype(str)).loc[past.index]
    if past.empty:
        raise ValueError("no earlier won deal: the per-segment baseline needs history")
    sizes = pd.to_numeric(earlier[s.DEAL_SIZE], errors="coerce").dropna()
    edges = np.quantile(sizes, np.linspace(0, 1, SIZE_BANDS + 1)[1:-1]) if len(sizes) else np.zeros(0)

    def segment(frame: pd.DataFrame) -> pd.Series:
        industry = frame[s.CUSTOMER_INDUSTRY].astype("string").fillna(UNKNOWN).astype(str)
        return industry + " x " + _size_band(frame[s.DEAL_SIZE], edges)

    grouped = past.groupby(segment(earlier).to_numpy())
    medians = grouped.median()[grouped.size() >= MIN_SEGMENT_DEALS]
    overall = float(past.median())
    keys = segment(later)
    found = keys.map(medians)
    baseline = found.fillna(overall).to_numpy(dtype=np.float64)
    return baseline, {
        "cycle_history_deals": float(len(past)),
        "cycle_segments": float(len(medians)),
        "cycle_baseline_fallback_share": float(found.isna().mean()) if len(found) else 0.0,
        "cycle_overall_median_days": overall,
    }


def _bootstrap_median_gain(baseline_err: np.ndarray, model_err: np.ndarray) -> dict[str, float]:
    """Median absolute error of the baseline minus the model's, with a paired percentile 95% interval."""
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    rows = rng.integers(0, model_err.size, size=(BOOTSTRAP_SAMPLES, model_err.size))
    gains = np.median(baseline_err[rows], axis=1) - np.median(model_err[rows], axis=1)
    low, high = np.percentile(gains, [2.5, 97.5])
    return {
        "mean": float(np.median(baseline_err) - np.median(model_err)),
        "ci_low": float(low),
        "ci_high": float(high),
    }


def cycle_time_report(
    model: CycleTimeModel | None,
    snapshot: FeatureSnapshot,
    test_opps: pd.DataFrame,
    deal_partners: pd.DataFrame,
    history_opps: pd.DataFrame,
) -> dict[str, float]:
    """Error in days of the model and of the per-segment median baseline on the test period's won deals.

    `history_opps` may hold every deal: only won deals closed before the test period's first creation date
    feed the baseline. Improvements are baseline error minus model error (positive = the model is better),
    each with a bootstrap 95% interval over deals. Keys are prefixed `cycle_`: ready for MLflow and JSON.
    Without a model (see `fit_cycle_time`) there is nothing to report: an empty dict.
    """
    if model is None:
        return {}
    examples = cycle_examples(snapshot, test_opps, deal_partners)
    n = int(examples.days.size)
    if n == 0:
        return {"cycle_test_deals": 0.0}
    test_start = pd.to_datetime(test_opps[s.CREATED_AT]).min()
    closed_before = pd.to_datetime(history_opps[s.CLOSED_AT]) < test_start
    by_id = test_opps.set_index(test_opps[s.OPPORTUNITY_ID].astype(str))
    baseline, counts = segment_median_baseline(
        history_opps[closed_before], by_id.loc[examples.opportunity_ids]
    )
    model_err = np.abs(model.predict(examples.features) - examples.days)
    baseline_err = np.abs(baseline - examples.days)
    mae_gain = bootstrap_lift(baseline_err - model_err, BOOTSTRAP_SAMPLES, BOOTSTRAP_SEED)
    median_gain = _bootstrap_median_gain(baseline_err, model_err)
    return {
        "cycle_test_deals": float(n),
        "cycle_mae_days": float(model_err.mean()),
        "cycle_mae_days_baseline": float(baseline_err.mean()),
        "cycle_mae_improvement_days": mae_gain["mean"],
        "cycle_mae_improvement_ci_low": mae_gain["ci_low"],
        "cycle_mae_improvement_ci_high": mae_gain["ci_high"],
        "cycle_median_ae_days": float(np.median(model_err)),
        "cycle_median_ae_days_baseline": float(np.median(baseline_err)),
        "cycle_median_ae_improvement_days": median_gain["mean"],
        "cycle_median_ae_improvement_ci_low": median_gain["ci_low"],
        "cycle_median_ae_improvement_ci_high": median_gain["ci_high"],
        "cycle_test_median_days": float(np.median(examples.days)),
        **counts,
    }
