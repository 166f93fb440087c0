"""One scheduled retraining: under the store's lock, train on everything, gate against the champion, report.

Safe to run from cron: a second run while one holds the lock does nothing; a failure before promotion
leaves the champion as it was; every run that took the lock leaves a `retrain_runs` row and a report.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from sqlalchemy import insert, update

from core.settings import REGISTERED_MODEL_NAME, Settings
from features import tables as t
from features.job_lock import JobLock, LockBusy, hold
from features.store import Store
from training import tracking
from training.config import TrainConfig
from training.data_window import NewData, TrainingData, new_between
from training.pipeline import Progress, no_progress
from training.promotion import GateDecision, decide
from training.retrain_report import Report, report_stem, write_report
from training.train import TrainResult, find_truth_dir, train

logger = logging.getLogger(__name__)

RETRAIN_LOCK = "retrain"
REPORT_ARTIFACT_DIR = "retrain"
RUNNING = "running"


class RetrainStatus(StrEnum):
    PROMOTED = "promoted"
    KEPT = "kept"  # the gate refused the candidate, the test period was too small, or nothing was new
    FAILED = "failed"
    BUSY = "busy"  # another run holds the lock; nothing was done


@dataclass(frozen=True)
class RetrainOutcome:
    status: RetrainStatus
    reasons: list[str]
    run_id: int | None = None  # the `retrain_runs` row (none when busy)
    candidate: str | None = None
    champion: str | None = None  # the champion when the run started
    report: Report = field(default_factory=dict)
    report_files: list[Path] = field(default_factory=list)
    error: str | None = None


@dataclass
class _Run:
    """What one run has learned so far; its report whatever step it stops at."""

    started_at: datetime
    champion: str | None = None
    candidate: TrainResult | None = None
    then: TrainingData | None = None
    new: NewData | None = None
    decision: GateDecision | None = None
    promoted: bool = False
    reasons: list[str] = field(default_factory=list)
    reload: str | None = None
    error: str | None = None

    def report(self, status: RetrainStatus) -> Report:
        candidate = self.candidate
        now = TrainingData.from_params(candidate.params) if candidate else None
        decision = self.decision
        return {
            "status": str(status),
            "started_at": _stamp(self.started_at),
            "finished_at": _stamp(_utcnow()),
            "candidate": candidate.version if candidate else None,
            "candidate_run_id": candidate.run_id if candidate else None,
            "champion_before": self.champion,
            "champion_after": candidate.version if self.promoted and candidate else self.champion,
            "data": {
                "candidate": now.to_dict() if now else None,
                "champion": self.then.to_dict() if self.then else None,
                "new": self.new.to_dict() if self.new else None,
            },
            "gate": {
                "passed": decision.passed if decision else None,
                "too_small": decision.too_small if decision else False,
                "reasons": self.reasons,
            },
            "metrics": {
                "candidate": decision.candidate_metrics if decision else {},
                "champion": decision.champion_metrics if decision else {},
            },
            "reload": self.reload,
            "error": self.error,
        }


def retrain(
    settings: Settings,
    config: TrainConfig,
    *,
    progress: Progress = no_progress,
    truth_dir: Path | None = None,
    on_promoted: Callable[[str], None] | None = None,
    always_train: bool = False,
    holder: str | None = None,
) -> RetrainOutcome:
    """Train a candidate on the whole store and make it champion only if it passes the promotion gate.

    `on_promoted(version)` runs after a promotion (e.g. asking the servers to reload); its failure is
    reported, not raised: the promotion stands. Unless `always_train`, a run finding no closed deals or
    feedback newer than the champion's data keeps the champion without training.
    """
    store = Store(settings.store_url)
    store.migrate()
    ttl = timedelta(seconds=settings.retrain_lock_ttl_seconds)
    try:
        with hold(store, RETRAIN_LOCK, ttl, holder) as lock:
            return _locked(settings, config, store, lock, progress, truth_dir, on_promoted, always_train)
    except LockBusy as busy:
        logger.info("%s", busy)
        return RetrainOutcome(RetrainStatus.BUSY, [f"another retrain is running: {busy}"])


def _locked(
    settings: Settings,
    config: TrainConfig,
    store: Store,
    lock: JobLock,
    progress: Progress,
    truth_dir: Path | None,
    on_promoted: Callable[[str], None] | None,
    always_train: bool,
) -> RetrainOutcome:
    run = _Run(started_at=_utcnow())
    run_id = _start_row(store, run.started_at)
    try:
        status = _steps(settings, config, store, lock, run, progress, truth_dir, always_train)
    except Exception as exc:
        if not run.promoted:
            logger.info("retrain failed", exc_info=True)  # the traceback, for --log-level INFO
            run.error = one_line(exc)
            status = RetrainStatus.FAILED
        else:  # after the promotion only reporting is left: the promotion stands
            logger.warning("retrain promoted version but could not finish: %s", one_line(exc))
            status = RetrainStatus.PROMOTED
    except BaseException:  # interrupted: the row must not stay "running"
        run.error = "interrupted"
        _finish_row(store, run_id, RetrainStatus.FAILED, run, run.report(RetrainStatus.FAILED))
        raise
    if status is RetrainStatus.PROMOTED and run.candidate is not None:
        run.reload = _announce(on_promoted, run.candidate.version)
    report = run.report(status)
    files = _write_files(settings, report, run)
    _finish_row(store, run_id, status, run, report)
    return RetrainOutcome(
        status,
        run.reasons if status is not RetrainStatus.FAILED else [run.error or "failed"],
        run_id=run_id,
        candidate=run.candidate.version if run.candidate else None,
        champion=run.champion,
        report=report,
        report_files=files,
        error=run.error,
    )


def _steps(
    settings: Settings,
    config: TrainConfig,
    store: Store,
    lock: JobLock,
    run: _Run,
    progress: Progress,
    truth_dir: Path | None,
    always_train: bool,
) -> RetrainStatus:
    client = tracking.configure(settings)
    run.champion = tracking.champion_version(client)
    since: datetime | None = None
    if run.champion is not None:
        params, registered_at = _version_run(client, run.champion)
        run.then = TrainingData.from_params(params)
        # A champion trained before its data was recorded: its registration is just after its snapshot.
        since = run.then.snapshot_at if run.then else registered_at
        if not always_train:
            waiting = new_between(store, since, datetime.now().replace(microsecond=0))
            if waiting.empty:
                run.new = waiting
                run.reasons = ["nothing new since the champion's data: not trained"]
                return RetrainStatus.KEPT
    truth = truth_dir or find_truth_dir(settings, config)
    run.candidate = candidate = train(settings, config, progress=progress, truth_dir=truth)
    now = TrainingData.from_params(candidate.params)
    if since is not None and now is not None:
        run.new = new_between(store, since, now.snapshot_at)
    if run.champion is None:
        # The first model: train() applied gate (a) and promoted it if it passed, as `partnermatch train`.
        run.promoted = candidate.champion
        run.reasons = [f"vs best baseline: {why}" for why in candidate.gate_reasons]
        metrics = candidate.report.flat_metrics() if candidate.report else {}
        run.decision = GateDecision(
            candidate.version,
            None,
            bool(candidate.gate_passed),
            run.reasons,
            metrics,
            {},
            too_small=_too_small(candidate),
        )
        return RetrainStatus.PROMOTED if run.promoted else RetrainStatus.KEPT
    lock.ensure_held()  # a run that lost its lock while training must not spend time on the gate
    run.decision = decision = decide(settings, candidate.version, config, truth)
    run.reasons = list(decision.reasons)
    if not decision.passed:
        return RetrainStatus.KEPT
    lock.ensure_held()  # nobody else may have promoted since: we still hold the lock
    tracking.promote(client, candidate.version, reason="retrain; " + "; ".join(decision.reasons))
    run.promoted = True
    return RetrainStatus.PROMOTED


def _too_small(candidate: TrainResult) -> bool:
    return any(reason.startswith("too small to tell") for reason in candidate.gate_reasons)


def _version_run(client: MlflowClient, version: str) -> tuple[dict[str, str], datetime]:
    """The params of the run that trained `version`, and when it was registered (the store's clock)."""
    model_version = client.get_model_version(REGISTERED_MODEL_NAME, version)
    registered_at = datetime.fromtimestamp(model_version.creation_timestamp / 1000).replace(microsecond=0)
    if not model_version.run_id:
        return {}, registered_at
    return dict(client.get_run(model_version.run_id).data.params), registered_at


def _announce(on_promoted: Callable[[str], None] | None, version: str) -> str:
    if on_promoted is None:
        return "reload not requested"
    try:
        on_promoted(version)
    except Exception as exc:
        logger.warning("could not ask the servers to reload version %s: %s", version, one_line(exc))
        return f"reload request FAILED ({one_line(exc)}): restart the servers to serve version {version}"
    return f"asked to reload version {version}"


def _write_files(settings: Settings, report: Report, run: _Run) -> list[Path]:
    """The report under <home>/reports, and on the candidate's MLflow run; a failure here is only logged."""
    try:
        files = write_report(report, settings.home / "reports", report_stem(run.started_at))
    except OSError as exc:
        logger.warning("could not write the retrain report: %s", exc)
        return []
    if run.candidate is not None:
        try:
            client = MlflowClient()
            for path in files:
                client.log_artifact(run.candidate.run_id, str(path), REPORT_ARTIFACT_DIR)
        except Exception as exc:
            logger.warning("could not log the retrain report to MLflow: %s", one_line(exc))
    return files


def _start_row(store: Store, started_at: datetime) -> int:
    with store.writing() as conn:
        result = conn.execute(insert(t.retrain_runs), {"started_at": started_at, "status": RUNNING})
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def _finish_row(store: Store, run_id: int, status: RetrainStatus, run: _Run, report: Report) -> None:
    values: dict[str, Any] = {
        "finished_at": _utcnow(),
        "status": str(status),
        "candidate_version": run.candidate.version if run.candidate else None,
        "champion_version": run.champion,
        "report": _json_ready(report),
    }
    with store.writing() as conn:
        conn.execute(update(t.retrain_runs).where(t.retrain_runs.c.id == run_id).values(values))


def _json_ready(value: Any) -> Any:
    """NaN and infinities as null: PostgreSQL's JSON type refuses them (a metric without data is NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(item) for item in value]
    return value


def one_line(exc: BaseException) -> str:
    """An error as one line for a person: our own ValueError messages as they are, others with their type."""
    text = " ".join(str(exc).split())
    if isinstance(exc, ValueError) and text:  # our own messages for the user; anything else names its type
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _utcnow() -> datetime:
    # retrain_runs and the report name are in UTC (naive in the table), like the lock.
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _stamp(moment: datetime) -> str:
    return moment.isoformat() + "Z"
