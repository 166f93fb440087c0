"""`partnermatch retrain`: scheduled retraining under a lock, gated promotion, reload, report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer
from rich.console import Console

from core.settings import Settings, get_settings
from partnermatch.progress import progress_bars

# soft_wrap: cron mails and logs keep each line whole (paths and reasons stay greppable).
console = Console(soft_wrap=True)

EXIT_PROMOTED = 0
EXIT_FAILED = 1
EXIT_INVALID_CONFIG = 2
EXIT_NOT_PROMOTED = 3
EXIT_BUSY = 4
# The origin of the reload events this command publishes (servers replay every origin but their own).
EVENT_ORIGIN = "partnermatch-retrain"


def retrain(
    config: Path | None = typer.Option(
        None,
        "--config",
        exists=True,
        dir_okay=False,
        help="TOML training config, gate thresholds included (default: built-in).",
    ),
    export: Path | None = typer.Option(
        None,
        "--export",
        exists=True,
        file_okay=False,
        help="Generated export with truth/ for the gate's true win measures (default: the demo export).",
    ),
    no_reload: bool = typer.Option(
        False, "--no-reload", help="Do not ask the running servers to reload a newly promoted champion."
    ),
    always_train: bool = typer.Option(
        False,
        "--always-train",
        help="Train even when no closed deal or feedback is newer than the champion's data.",
    ),
) -> None:
    """Retrain on everything the store holds; promote only through the gate.

    Safe to run from cron. It holds a lock in the store while it runs (a crashed
    run's lock expires after PM_RETRAIN_LOCK_TTL_SECONDS), evaluates the candidate
    and the champion on the same latest test period, promotes the candidate only
    if it passes the promotion gate, asks the running servers to reload, and
    writes PM_HOME/reports/retrain-<UTC time>.json and .md.
    A failure before promotion leaves the champion as it is.

    Exit codes:
    0 promoted;
    3 not promoted: the gate refused, too little data to tell, or nothing new;
    4 another retrain holds the lock: nothing done;
    1 failed: nothing promoted, the run recorded as failed;
    2 invalid config.
    """
    from pydantic import ValidationError

    from training.config import TrainConfig
    from training.retrain import RetrainStatus, one_line
    from training.retrain import retrain as run_retrain
    from training.retrain_report import summary_lines

    try:
        train_config = TrainConfig.from_file(config)
    except ValidationError as exc:
        console.print(f"[red]invalid training config {config}:[/red]\n{exc}")
        raise typer.Exit(EXIT_INVALID_CONFIG) from exc
    settings = get_settings()
    try:
        with progress_bars() as bars:
            outcome = run_retrain(
                settings,
                train_config,
                progress=bars,
                truth_dir=export,
                on_promoted=None if no_reload else _ask_servers_to_reload(settings),
                always_train=always_train,
            )
    except Exception as exc:  # before the run could record itself (e.g. the store is unreachable)
        console.print(f"retrain failed: {one_line(exc)}", markup=False, style="red")
        raise typer.Exit(EXIT_FAILED) from None
    if outcome.status is RetrainStatus.BUSY:
        console.print(f"not run: {'; '.join(outcome.reasons)}", markup=False, style="yellow")
        raise typer.Exit(EXIT_BUSY)
    for line in summary_lines(outcome.report):
        console.print(line, markup=False, style="red" if outcome.status is RetrainStatus.FAILED else None)
    for path in outcome.report_files:
        console.print(f"report: {path}", markup=False)
    if outcome.status is RetrainStatus.FAILED:
        raise typer.Exit(EXIT_FAILED)
    if outcome.status is RetrainStatus.KEPT:
        raise typer.Exit(EXIT_NOT_PROMOTED)


def _ask_servers_to_reload(settings: Settings) -> Callable[[str], None]:
    """Publish a RELOAD event: every server following `serving_events` loads the new champion."""

    def publish(version: str) -> None:
        from features.store import Store
        from serving.persistence import ApiStore
        from serving.sync import RELOAD

        ApiStore(Store(settings.store_url)).add_event(EVENT_ORIGIN, RELOAD, {"version": version})

    return publish
