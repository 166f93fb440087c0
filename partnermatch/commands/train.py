"""`partnermatch train`: build features, fit the team ranker, log and register it in MLflow."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from core.settings import get_settings
from partnermatch.progress import progress_bars

if TYPE_CHECKING:
    from training.train import TrainResult

console = Console()


def train(
    config: Path | None = typer.Option(
        None, "--config", exists=True, dir_okay=False, help="TOML training config (default: built-in)."
    ),
    force: bool = typer.Option(
        False, "--force", help="Make the new version the champion even if it fails the evaluation gate."
    ),
    promote: bool = typer.Option(False, "--promote", hidden=True, help="Older name of --force."),
    export: Path | None = typer.Option(
        None,
        "--export",
        exists=True,
        file_okay=False,
        help="Generated export folder with truth/ for ground-truth metrics (default: the demo export).",
    ),
    # Annotated, so the Python defaults are real: notebooks call this function directly without them.
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="Build the training sets and trees on this dask.distributed scheduler, e.g. tcp://host:8786 "
            "(default: PM_DASK_SCHEDULER). Its workers need partnermatch installed.",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="Build them on a local Dask cluster of this many worker processes (default: "
            "PM_DASK_WORKERS; neither: in this process).",
        ),
    ] = None,
) -> None:
    """Train on the store's history (time split), register the model, report the test-period evaluation.

    The first model becomes the champion only if it beats the best baseline (the promotion gate's part
    (a)); it is registered either way and the command exits 0. Later models: `partnermatch promote`.
    """
    from pydantic import ValidationError

    from training import tracking
    from training.config import TrainConfig
    from training.report_files import summary_lines
    from training.train import train as run_training

    try:
        train_config = TrainConfig.from_file(config)
    except ValidationError as exc:
        console.print(f"[red]invalid training config {config}:[/red]\n{exc}")
        raise typer.Exit(2) from exc
    settings = get_settings()
    if scheduler or workers:
        # An option names the cluster for this run; a scheduler wins over local workers.
        settings = settings.model_copy(
            update={"dask_scheduler": scheduler, "dask_workers": None if scheduler else workers}
        )
    if settings.dask_scheduler or settings.dask_workers:
        import logging

        import distributed  # noqa: F401  (its import sets its loggers to INFO)

        # dask's own INFO lines (workers joining, clients closing) follow --log-level like ours.
        logging.getLogger("distributed").setLevel(logging.getLogger().getEffectiveLevel())
        where = settings.dask_scheduler or f"a local cluster of {settings.dask_workers} workers"
        console.print(f"training sets on the Dask cluster at {where}", markup=False)
    try:
        tracking.configure(settings)  # an unreachable tracking server is reported now, not after the fit
        with progress_bars() as bars:
            result = run_training(settings, train_config, progress=bars, truth_dir=export)
    except ValueError as exc:
        console.print(f"[red]cannot train:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"registered partner-team-ranker version {result.version} (run {result.run_id})")
    for name, value in sorted(result.metrics.items()):
        if not name.startswith("test_"):  # the test period's measures are the summary below
            console.print(f"  {name:40s} {value:.4f}")
    if result.report is not None:
        for line in summary_lines(result.report):
            console.print(line, markup=False)
    if (force or promote) and not result.champion:
        tracking.promote(tracking.configure(settings), result.version, reason="train --force")
        result.champion = True
        gate = f"gate: {_why(result)}" if result.gate_reasons else "gates skipped"
        console.print(f"version {result.version} is the champion (forced; {gate})", markup=False)
    elif result.champion:
        console.print(f"version {result.version} is the champion ({_why(result)})", markup=False)
    elif result.gate_passed is False:
        console.print(
            f"not promoted: {_why(result)}; use --force to promote anyway", markup=False, style="yellow"
        )
    else:
        console.print(
            f"version {result.version} is not the champion: run `partnermatch promote --version "
            f"{result.version}` to compare it with the champion",
            markup=False,
        )


def _why(result: TrainResult) -> str:
    return "; ".join(result.gate_reasons) or "no gate ran"
