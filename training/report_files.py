"""The evaluation report as files and lines: JSON, PNG plots, and the CLI summary."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from training.evaluation import (
    IMITATION_NOTE,
    MODEL,
    MRR,
    PRECISION_AT_1,
    TOP1_TRUE_WIN,
    TRUTH_REFERENCE,
    EvaluationReport,
    true_ndcg_name,
)

REPORT_FILE = "evaluation.json"


def write_report(report: EvaluationReport, directory: Path) -> list[Path]:
    """The JSON report and PNG plots (reliability curve, metric bars with intervals); returns the files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    curve = report.calibration.get("reliability") or []
    if curve:
        fig, ax = plt.subplots(figsize=(5, 5))
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
        ax.plot(
            [c["mean_predicted"] for c in curve],
            [c["observed_win_rate"] for c in curve],
            marker="o",
            label="model",
        )
        ax.set_xlabel("predicted win probability")
        ax.set_ylabel("observed win rate (actual teams)")
        ax.set_title("Reliability on the test period")
        ax.legend()
        files.append(_save(fig, directory / "reliability.png"))
    colour = {MODEL: "tab:blue", TRUTH_REFERENCE: "tab:green"}
    for metric in (f"ndcg_at_{report.k}", true_ndcg_name(report.k), TOP1_TRUE_WIN):
        order = [MODEL, *(m for m in report.methods if m != MODEL)]
        values = {m: report.methods[m][metric] for m in order if metric in report.methods.get(m, {})}
        if not values:
            continue
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.bar(list(values), list(values.values()), color=[colour.get(m, "tab:grey") for m in values])
        if metric == TOP1_TRUE_WIN and report.truth:
            ax.axhline(report.truth["oracle_mean"], color="tab:green", linestyle="--", label="oracle")
            if "oracle_available_mean" in report.truth:
                ax.axhline(
                    report.truth["oracle_available_mean"],
                    color="tab:olive",
                    linestyle="-.",
                    label="oracle (available partners)",
                )
            ax.axhline(report.truth["historical_mean"], color="tab:red", linestyle=":", label="historical")
            ax.set_ylim(0.0, 1.0)  # a probability; the headroom above the oracle lines holds the legend
            ax.legend(loc="upper center", ncols=3, fontsize="small")
        ax.set_ylabel(metric)
        imitation = " (imitation: copies past routing)" if metric in report.imitation_metrics else ""
        ax.set_title(f"{metric} on the test period{imitation}")
        ax.tick_params(axis="x", rotation=30)
        files.append(_save(fig, directory / f"{metric}.png"))
    report.plots = [f.name for f in files]
    path = directory / REPORT_FILE
    path.write_text(json.dumps(report.to_dict(), indent=2, sort_keys=True, default=float))
    return [path, *files]


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _ci(ci: Mapping[str, float]) -> str:
    return f"[{ci['ci_low']:+.4f}, {ci['ci_high']:+.4f}]"


def summary_lines(report: EvaluationReport) -> Sequence[str]:
    """Human-readable lines for the CLI."""
    imitation = report.imitation_metrics
    lines = [
        f"{report.opportunities} test opportunities ({report.won_opportunities} won)",
        f"  [imitation]: {IMITATION_NOTE}",
    ]
    for method, values in report.methods.items():
        note = "  (reference: the pool ranked by true win probability)" if method == TRUTH_REFERENCE else ""
        shown = [f"{k}={v:.4f}" for k, v in values.items() if k not in imitation]
        shown += [f"[imitation] {k}={v:.4f}" for k, v in values.items() if k in imitation]
        lines.append(f"  {method:22s} " + "  ".join(shown) + note)
    for metric, per in report.lifts.items():
        tag = "[imitation] " if metric in imitation else ""
        for baseline, ci in per.items():
            lines.append(f"  {tag}lift {metric} vs {baseline:22s} {ci['mean']:+.4f} {_ci(ci)}")
    calibration = report.calibration
    if "log_loss" in calibration:
        lines.append(f"calibrated win probability of the {calibration['deals']} actual teams:")
        for name in ("log_loss", "brier", "auc"):
            if name in calibration:
                ci = calibration["intervals"][name]
                lines.append(f"  {name:8s} {calibration[name]:.4f} [{ci['ci_low']:.4f}, {ci['ci_high']:.4f}]")
    if report.replay:
        replay = report.replay
        lines.append(
            f"replay: deals whose actual team the method ranks in its top {replay['k']} "
            f"(base win rate {replay['base_rate']:.4f} over {replay['deals']} deals)"
        )
        for method, r in replay["methods"].items():
            lines.append(
                f"  {method:22s} matched={r['matched']:.1f}  win rate={r['win_rate']:.4f} "
                f"[{r['ci_low']:.4f}, {r['ci_high']:.4f}]  others={r['other_win_rate']:.4f}  "
                f"lift over base rate={r['lift_over_base_rate']:+.4f}"
            )
        for baseline, ci in replay["lift_over_baselines"].items():
            lines.append(f"  lift replay win rate vs {baseline:22s} {ci['mean']:+.4f} {_ci(ci)}")
    if report.competing_bids:
        bids = report.competing_bids
        lines.append(
            f"competing bids: {bids['requests']} requests with one won bid ({bids['bids']} bids; "
            f"{bids['requests_seen']} requests seen)"
        )
        for method, values in bids["methods"].items():
            lines.append(f"  {method:22s} precision@1={values[PRECISION_AT_1]:.4f}  mrr={values[MRR]:.4f}")
        for metric, per in bids["lift_over_baselines"].items():
            for baseline, ci in per.items():
                lines.append(f"  lift {metric} vs {baseline:22s} {ci['mean']:+.4f} {_ci(ci)}")
    for name, value in report.truth.items():
        lines.append(f"  truth {name}: {value if isinstance(value, Mapping) else round(float(value), 4)}")
    return lines
