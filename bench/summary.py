"""The figures of each benchmark's JSON report, with their targets and same-run baselines, as one table."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Targets of the design note (../shared/design/README.md section 5) and of the issues that set them.
API_P50_MS_100K = 25.0
API_P99_MS_100K = 50.0
API_P99_MS_1M = 100.0
THROUGHPUT_2_WORKERS_10K = 100.0
COLD_START_S_100K = 10.0
COLD_START_S_1M = 30.0
GENERATE_S_100K_1M = 120.0
FEATURE_BUILD_S_1M_ROWS = 120.0
TRAIN_S_1M_ROWS = 600.0
SHARE_OF_ORACLE_MEAN = 0.85
SHARE_OF_ORACLE_WORST = 0.80
RECALL_AT_100 = 0.95
EMBED_100K_S = 600.0
EMBED_RECALL_AT_50 = 0.95
OUTAGE_503_S = 3.0


@dataclass(frozen=True)
class Figure:
    """One row of the summary: a measured value, what it must reach, and what it is compared with."""

    benchmark: str
    figure: str
    value: str
    target: str = "—"
    baseline: str = "—"
    met: bool | None = None  # None: no target, or the run's size is not the target's

    @property
    def verdict(self) -> str:
        return {True: "met", False: "**missed**", None: "—"}[self.met]


def _num(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


def _ms(value: float) -> str:
    return f"{value:.1f} ms"


def _share(value: float) -> str:
    return f"{value:.3f}×"


def _at_most(value: float, limit: float) -> bool:
    return value <= limit


def _generator(report: dict[str, Any]) -> Iterator[Figure]:
    partners, opportunities = report["partners"], report["opportunities"]
    full_size = partners >= 100_000 and opportunities >= 1_000_000
    yield Figure(
        "generator",
        f"generate + write {partners:,} partners / {opportunities:,} opportunities",
        f"{_num(report['total_seconds'])} s",
        f"≤ {GENERATE_S_100K_1M:.0f} s at 100k / 1M",
        f"write alone {_num(report['write_seconds'])} s",
        _at_most(report["total_seconds"], GENERATE_S_100K_1M) if full_size else None,
    )
    yield Figure(
        "generator",
        "oracle minus historical true win probability (room the truth leaves)",
        _num(report["oracle_minus_historical"], 3),
        "> 0",
        f"historical {_num(report['historical_mean_true_p_sample'], 3)}",
        report["oracle_minus_historical"] > 0,
    )


def _features(report: dict[str, Any]) -> Iterator[Figure]:
    history = report.get("history")
    if history:
        per_million = 1_000_000 / history["rows_per_second_build_plus_stats"]
        yield Figure(
            "features",
            f"history build + stats, per 1M deal rows ({history['deal_partner_rows']:,} measured)",
            f"{_num(per_million)} s",
            f"≤ {FEATURE_BUILD_S_1M_ROWS:.0f} s",
            "—",
            _at_most(per_million, FEATURE_BUILD_S_1M_ROWS),
        )
    index = report.get("index")
    if index:
        for size, row in index["sizes"].items():
            best = min(
                (ef for ef, r in row["hnsw_by_ef_search"].items() if r["recall_at_100"] >= RECALL_AT_100),
                key=int,
                default=None,
            )
            if best is None:
                continue
            hnsw = row["hnsw_by_ef_search"][best]
            yield Figure(
                "features",
                f"HNSW recall@100 vs exact at {int(size):,} vectors (efSearch {best}), p99",
                f"{hnsw['recall_at_100']:.3f}, {_ms(hnsw['p99_ms'])}",
                f"recall ≥ {RECALL_AT_100}",
                f"exact p99 {_ms(row['exact']['p99_ms'])}",
                True,
            )
    embedding = report.get("embedding")
    if embedding:
        rates = embedding["texts_per_second"]["threads_2"]
        yield Figure(
            "features",
            "MiniLM fp32 profiles per second (2 threads), 100k profiles",
            f"{_num(rates['sentence_transformers_encode_fp32'])}/s, "
            f"{_num(100_000 / rates['sentence_transformers_encode_fp32'] / 60)} min",
            f"≤ {EMBED_100K_S / 60:.0f} min",
            f"int8 ONNX {_num(rates['onnx_int8'])}/s",
            _at_most(100_000 / rates["sentence_transformers_encode_fp32"], EMBED_100K_S),
        )


def _train(report: dict[str, Any]) -> Iterator[Figure]:
    metrics = report["metrics"]
    model = metrics.get("test_model_top1_true_win_probability")
    oracle = metrics.get("test_oracle_top1_true_win_probability") or metrics.get("test_truth_oracle_mean")
    name = report["name"]
    if model is not None and oracle:
        baselines = {
            key.removeprefix("test_").removesuffix("_top1_true_win_probability"): value
            for key, value in metrics.items()
            if key.endswith("_top1_true_win_probability")
            and key.startswith("test_")
            and not any(word in key for word in ("model", "oracle", "ground_truth", "truth"))
        }
        best = max(baselines, key=lambda b: baselines[b]) if baselines else None
        yield Figure(
            "train",
            f"top-1 true win probability, share of the oracle ({name})",
            _share(model / oracle),
            f"≥ {SHARE_OF_ORACLE_MEAN}× (generated)",
            f"{best} {_share(baselines[best] / oracle)}" if best else "—",
            model / oracle >= SHARE_OF_ORACLE_MEAN,
        )
    if "test_auc" in metrics:
        yield Figure("train", f"test AUC of the win probability ({name})", _num(metrics["test_auc"], 3))
    rows = report.get("store_rows", {}).get("deal_partners")
    big = rows is not None and rows >= 1_000_000
    yield Figure(
        "train",
        f"train + evaluate wall time ({name}, {rows or 0:,} deal rows)",
        f"{_num(report['wall_seconds'])} s",
        f"≤ {TRAIN_S_1M_ROWS:.0f} s at 1M deal rows",
        "—",
        _at_most(report["wall_seconds"], TRAIN_S_1M_ROWS) if big else None,
    )


def _scenarios(report: dict[str, Any]) -> Iterator[Figure]:
    summary, runs = report["summary"], report["runs"]
    label = f"{report['set']} scenarios, {report['split']} slices, {summary['runs']} runs"
    holdout = report["set"] == "holdout"
    best_baseline = [r["methods"][r["best_baseline"]]["share_of_oracle"] for r in runs]
    mean_baseline = sum(best_baseline) / len(best_baseline) if best_baseline else float("nan")
    yield Figure(
        "scenarios",
        f"mean top-1 share of the oracle ({label})",
        _share(summary["mean_share_of_oracle"]),
        f"≥ {SHARE_OF_ORACLE_MEAN}× (holdout)",
        f"best baseline per run, mean {_share(mean_baseline)}",
        summary["mean_share_of_oracle"] >= SHARE_OF_ORACLE_MEAN if holdout else None,
    )
    yield Figure(
        "scenarios",
        f"worst top-1 share of the oracle ({label}: {summary['worst']})",
        _share(summary["worst_share_of_oracle"]),
        f"≥ {SHARE_OF_ORACLE_WORST}× (holdout)",
        "—",
        summary["worst_share_of_oracle"] >= SHARE_OF_ORACLE_WORST if holdout else None,
    )
    yield Figure(
        "scenarios",
        f"runs above every baseline, 95% interval above 0 ({label})",
        f"{sum(r['beats_every_baseline'] for r in runs)} of {len(runs)}",
        "all",
        "—",
        summary["all_beat_every_baseline"],
    )


def _api(report: dict[str, Any]) -> Iterator[Figure]:
    for home in report["homes"]:
        n, api, base = home["partners"], home["api"], home["mlflow_baseline"]
        p50_target, p99_target = (
            (API_P50_MS_100K, API_P99_MS_100K)
            if n == 100_000
            else (None, API_P99_MS_1M if n >= 1e6 else None)
        )
        target = " / ".join(f"≤ {t:.0f}" if t is not None else "—" for t in (p50_target, p99_target))
        met = None
        if p99_target is not None:
            met = api["p99_ms"] <= p99_target and (p50_target is None or api["p50_ms"] <= p50_target)
        yield Figure(
            "api",
            f"POST /v1/recommendations p50 / p99 at {n:,} partners (k=5, 3 roles)",
            f"{api['p50_ms']:.1f} / {api['p99_ms']:.1f} ms",
            target if met is not None else "—",
            f"mlflow models serve {base['p50_ms']:.1f} / {base['p99_ms']:.1f} ms",
            met,
        )
        cold_target = COLD_START_S_100K if n == 100_000 else COLD_START_S_1M if n >= 1e6 else None
        yield Figure(
            "api",
            f"cold start to ready at {n}",
            f"{_num(api['start_seconds'])} s",
            f"≤ {cold_target:.0f} s" if cold_target else "—",
            f"mlflow models serve {_num(base['start_seconds'])} s",
            _at_most(api["start_seconds"], cold_target) if cold_target else None,
        )
        two = api.get("two_workers")
        if two:
            rate = two.get("wrk_requests_per_second", two.get("requests_per_second"))
            client = "wrk" if "wrk_requests_per_second" in two else "httpx"
            base_two = base.get("two_workers", {})
            base_rate = base_two.get("wrk_requests_per_second", base_two.get("requests_per_second"))
            yield Figure(
                "api",
                f"throughput, 2 workers at {n:,} partners ({client})",
                f"{_num(rate)} req/s",
                f"≥ {THROUGHPUT_2_WORKERS_10K:.0f} req/s at 10k" if n == 10_000 else "—",
                f"mlflow models serve {_num(base_rate)} req/s" if base_rate is not None else "—",
                rate >= THROUGHPUT_2_WORKERS_10K if n == 10_000 else None,
            )


def _shadow(report: dict[str, Any]) -> Iterator[Figure]:
    for home in report["homes"]:
        plain = home["api_no_shadow"]
        for key, run in home.items():
            if key.startswith("api_shadow_"):
                rate = key.removeprefix("api_shadow_")
                yield Figure(
                    "api-shadow",
                    f"p50 / p99 with shadow scoring of {rate} of requests at {home['partners']:,} partners",
                    f"{run['p50_ms']:.1f} / {run['p99_ms']:.1f} ms",
                    "—",
                    f"no shadow {plain['p50_ms']:.1f} / {plain['p99_ms']:.1f} ms",
                )


def _page(report: dict[str, Any]) -> Iterator[Figure]:
    page, api = report["page_post_teams"], report["api_post_recommendations"]
    yield Figure(
        "page",
        f"sales-rep page submission p50 ({report['partners']:,} partners)",
        _ms(page["p50_ms"]),
        "API call + rendering",
        f"same API call {_ms(api['p50_ms'])} (+{report['page_minus_api_p50_ms']:.1f} ms)",
    )


def _concurrency(report: dict[str, Any]) -> Iterator[Figure]:
    backends = sorted({run["backend"] for run in report["runs"]})
    lost = report["total_lost_changes"] + report["durability_lost_changes"]
    yield Figure(
        "concurrency",
        f"failed acknowledged writes / lost changes ({', '.join(backends)}; beside readers, reload, restart)",
        f"{report['total_failed_writes']} / {lost}",
        "0 / 0",
        "—",
        report["total_failed_writes"] == 0
        and report["total_lost_changes"] == 0
        and report["durability_lost_changes"] == 0,
    )


def _outages(report: dict[str, Any]) -> Iterator[Figure]:
    verdict = report["verdict"]
    yield Figure(
        "outages",
        f"slowest 503 during a Redis/PostgreSQL outage ({verdict['outage_answers']} outage answers)",
        f"{verdict['max_seconds']:.2f} s",
        f"≤ {OUTAGE_503_S:.0f} s, all 503",
        "—",
        bool(verdict["target_met"]),
    )


def _partner_writes(report: dict[str, Any]) -> Iterator[Figure]:
    for home in report["homes"]:
        previous = home.get("previous_code")
        yield Figure(
            "partner-writes",
            f"PUT /v1/partners until served, p50 / p90 at {home['partners']:,} partners",
            f"{home['api']['p50_ms']:.0f} / {home['api']['p90_ms']:.0f} ms",
            "—",
            f"previous code {previous['p50_ms']:.0f} / {previous['p90_ms']:.0f} ms" if previous else "—",
        )


def _prior(report: dict[str, Any]) -> Iterator[Figure]:
    for home in report["homes"]:
        yield Figure(
            "prior-retrieval",
            f"shortlist recall@{home['n']} of the prior, ms per request at {home['partners']:,} partners",
            f"{home['recall_at_n_mean']:.3f}, {_ms(home['shortlist_ms_per_request'])}",
            "—",
            f"exact scoring {_ms(home['exact_ms_per_request'])}",
        )


def _half_precision(report: dict[str, Any]) -> Iterator[Figure]:
    for home in report["homes"]:
        ms = home["ms_per_request_best_of_rounds"]
        yield Figure(
            "index-precision",
            f"recommend ms, half-precision index, {home['partners']:,} partners (identical top-5 share)",
            f"{_ms(ms['flat16']['recommend'])} ({home['identical_top5_share']:.2f})",
            "—",
            f"float32 {_ms(ms['flat']['recommend'])}",
        )


def _calibration(report: dict[str, Any]) -> Iterator[Figure]:
    ecosystems = report["ecosystems"]
    smooth = sum(e["pchip"]["log_loss"] for e in ecosystems) / len(ecosystems)
    step = sum(e["isotonic"]["log_loss"] for e in ecosystems) / len(ecosystems)
    ties = max(e["pchip"]["tied_neighbours"] for e in ecosystems)
    # Issue 12's bar: no ties between neighbouring teams, at no cost in log loss (the 95% interval of the
    # difference to the step calibrator reaches 0 or below on every ecosystem).
    no_worse = all(e["pchip"]["log_loss_minus_step"]["ci_low"] <= 0 for e in ecosystems)
    yield Figure(
        "calibration",
        f"later-deal log loss, smooth calibrator (mean of {len(ecosystems)} ecosystems); tied neighbours",
        f"{smooth:.4f}; {ties:.2f}",
        "no ties; not worse than step (95% CI)",
        f"step isotonic {step:.4f}",
        no_worse and ties == 0,
    )


def _cycle_time(report: dict[str, Any]) -> Iterator[Figure]:
    runs = report["runs"]
    mae = sum(r["cycle_mae_days"] for r in runs) / len(runs)
    base = sum(r["cycle_mae_days_baseline"] for r in runs) / len(runs)
    yield Figure(
        "cycle-time",
        f"days-to-close MAE on later deals (mean of {len(runs)} ecosystems)",
        f"{mae:.2f} days",
        "≤ baseline",
        f"per-segment median {base:.2f} days",
        mae <= base,
    )


def _fuzz(report: dict[str, Any]) -> Iterator[Figure]:
    totals = report["totals"]
    yield Figure(
        "fuzz",
        f"schemathesis failures ({totals['operations']} operations, {totals['examples']:,} examples)",
        str(totals["failures"]),
        "0",
        "—",
        totals["failures"] == 0,
    )


def _setup(report: dict[str, Any]) -> Iterator[Figure]:
    if "make_run_clean_clone_to_first_answer_seconds" in report:
        yield Figure(
            "setup",
            "`make run` from a clean clone to the first answered request",
            f"{report['make_run_clean_clone_to_first_answer_seconds']:.0f} s",
        )


def _dask_scale(report: dict[str, Any]) -> Iterator[Figure]:
    for size in report["sizes"]:
        runs = {mode: size[mode] for mode in ("single", "dask") if mode in size}
        if len(runs) < 2:
            continue
        one, cluster, ratio = runs["single"], runs["dask"], size["overhead_ratio"]
        rows = size["deal_rows"]
        yield Figure(
            "dask-scale",
            f"fit_model wall / CPU, LocalCluster of {report['workers']} over one process, {rows:,} deal rows",
            f"{ratio['total']:.2f}× / {ratio['cpu_seconds']:.2f}×",
            "—",
            f"one process {_num(one['total_seconds'])} s",
        )
        yield Figure(
            "dask-scale",
            f"peak memory, process tree, cluster / one process, {rows:,} deal rows",
            f"{cluster['peak_rss_mb_process_tree_sampled'] / 1024:.2f} GB",
            "—",
            f"one process {one['peak_rss_mb_process_tree_sampled'] / 1024:.2f} GB",
        )
        yield Figure(
            "dask-scale",
            f"test AUC trained on the cluster, {rows:,} deal rows",
            f"{cluster['test_auc']:.3f}",
            "within noise of one process",
            f"one process {one['test_auc']:.3f}",
            abs(cluster["test_auc"] - one["test_auc"]) <= 0.02,
        )


def _embedding_scale(report: dict[str, Any]) -> Iterator[Figure]:
    encoders = report["encoders"]
    base = encoders["fp32_torch"]
    # The target is judged on the fastest shipped encoder that keeps retrieval; the others are the trade-off.
    shipped = {
        n: r for n, r in encoders.items() if n != "fp32_torch" and not r["embedder_setting"].startswith("(")
    }
    keeping = [n for n, r in shipped.items() if r["recall_at_50_vs_fp32"] >= EMBED_RECALL_AT_50]
    judged = min(keeping, key=lambda n: shipped[n]["extrapolated_100k_seconds"], default=None)
    for name, row in encoders.items():
        if name == "fp32_torch" or row.get("embedder_setting", "").startswith("("):
            continue  # the baseline itself, and trade-off points that are not shipped
        seconds, recall = row["extrapolated_100k_seconds"], row["recall_at_50_vs_fp32"]
        yield Figure(
            "embedding",
            f"100k profiles on 2 cores, recall@50 vs fp32 (`{row['embedder_setting']}`, from per-core rate)",
            f"{seconds / 60:.1f} min, {recall:.3f}",
            f"≤ {EMBED_100K_S / 60:.0f} min, ≥ {EMBED_RECALL_AT_50}",
            f"fp32 torch {base['extrapolated_100k_seconds'] / 60:.1f} min",
            seconds <= EMBED_100K_S and recall >= EMBED_RECALL_AT_50 if name == judged else None,
        )
    real = report.get("as_run", {}).get("bf16_torch_2_worker_processes_100000_profiles")
    if real:
        yield Figure(
            "embedding",
            "100k profiles embedded for real (`minilm-bf16`, 2 worker processes)",
            f"{real['wall_seconds'] / 60:.1f} min",
            f"≤ {EMBED_100K_S / 60:.0f} min",
            "—",
            real["wall_seconds"] <= EMBED_100K_S,
        )


def _scale_curve(report: dict[str, Any]) -> Iterator[Figure]:
    for size in report["sizes"]:
        n, serving = size["partners"], size["serving"]
        million = n >= 1_000_000
        embedder = size.get("embedder", "hashing")
        at = f"{n:,} partners ({embedder} embedder)"
        yield Figure(
            "scale-curve",
            f"request p50 / p99 at {at}, 1 worker",
            f"{serving['p50_ms']:.1f} / {serving['p99_ms']:.1f} ms",
            f"p99 ≤ {API_P99_MS_1M:.0f} ms at 1M" if million else "—",
            "—",
            serving["p99_ms"] <= API_P99_MS_1M if million else None,
        )
        yield Figure(
            "scale-curve",
            f"cold start to ready at {at}",
            f"{_num(serving['cold_start_seconds'])} s",
            f"≤ {COLD_START_S_1M:.0f} s at 1M" if million else "—",
            "—",
            _at_most(serving["cold_start_seconds"], COLD_START_S_1M) if million else None,
        )
        roles = size["index"]["roles"].values()
        recall = min(role["recall_at_100"] for role in roles)
        approximate = [r for r in roles if r["served_kind"] not in ("flat", "flat16")]
        exact_p99 = max(role["exact_search"]["p99_ms"] for role in roles)
        yield Figure(
            "scale-curve",
            f"recall@100 of the approximate index vs exact, worst role, {at}",
            f"{recall:.3f}",
            f"≥ {RECALL_AT_100}" if approximate else "— (exact served)",
            f"exact search p99 {_ms(exact_p99)}",
            recall >= RECALL_AT_100 if approximate else None,
        )
        memory = serving.get("memory_two_workers", {}).get("workers")
        if memory:
            yield Figure(
                "scale-curve",
                f"memory per worker, 2 workers, RSS / PSS, {at}",
                f"{memory[0]['rss_mb'] / 1024:.2f} / {memory[0]['pss_mb'] / 1024:.2f} GB",
            )


Extractor = Callable[[dict[str, Any]], Iterator[Figure]]
# Result file name (or its prefix, for files named per run) -> the figures read from it.
EXTRACTORS: dict[str, Extractor] = {
    "generator.json": _generator,
    "features.json": _features,
    "train-": _train,
    "scenarios-": _scenarios,
    "api.json": _api,
    "api-shadow": _shadow,
    "page.json": _page,
    "concurrency.json": _concurrency,
    "outages.json": _outages,
    "partner-writes.json": _partner_writes,
    "prior-retrieval.json": _prior,
    "index-half-precision.json": _half_precision,
    "calibration.json": _calibration,
    "cycle-time.json": _cycle_time,
    "fuzz.json": _fuzz,
    "setup.json": _setup,
    "dask-scale": _dask_scale,
    "embedding-scale": _embedding_scale,
    "scale-curve": _scale_curve,
}


def extractor_for(name: str) -> Extractor | None:
    for key, extractor in EXTRACTORS.items():
        if name == key if key.endswith(".json") else name.startswith(key) and name.endswith(".json"):
            return extractor
    return None


def figures_of(path: Path) -> list[Figure]:
    """The figures of one result file; a report this table cannot read is named, not skipped silently."""
    extractor = extractor_for(path.name)
    if extractor is None:
        return []
    try:
        return list(extractor(json.loads(path.read_text())))
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
        return [Figure(path.stem, f"unreadable report {path.name}", f"{type(exc).__name__}: {exc}")]


def markdown(figures: list[Figure], header: str) -> str:
    """The summary table (the README's benchmark section is this text)."""
    lines = [
        header,
        "",
        "| benchmark | figure | this run | target | baseline, same run | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for f in figures:
        lines.append(f"| {f.benchmark} | {f.figure} | {f.value} | {f.target} | {f.baseline} | {f.verdict} |")
    met = sum(f.met is True for f in figures)
    missed = [f for f in figures if f.met is False]
    lines += ["", f"{met} targets met, {len(missed)} missed" + (":" if missed else ".")]
    lines += [f"- {f.benchmark}: {f.figure}: {f.value} against {f.target}" for f in missed]
    return "\n".join(lines) + "\n"
