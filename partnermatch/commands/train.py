"""`partnermatch train`: build features, fit the team ranker, log and register it in MLflow."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from core.settings import get_settings
from partnermatch.progress import progress_bars

console = Console()


def train(
    config: Path | None = typer.Option(
        None, "--config", exists=True, dir_okay=False, help="TOML training config (default: built-in)."
    ),
    promote: bool = typer.Option(
        False, "--promote", help="Make the new version the champion without the evaluation gate."
    ),
    export: Path | None = typer.Option(
        None,
        "--export",
        exists=True,
        file_okay=False,
        help="Generated export folder with truth/ for ground-truth metrics (default: the demo export).",
    ),
) -> None:
    """Train on the store's history (time split), register the model, report validation metrics."""
    from pydantic import ValidationError

    from training import tracking
    from training.config import TrainConfig
    from training.train import train as run_training

    try:
        train_config = TrainConfig.from_file(config)
    except ValidationError as exc:
        console.print(f"[red]invalid training config {config}:[/red]\n{exc}")
        raise typer.Exit(2) from exc
    settings = get_settings()
    try:
        with progress_bars() as bars:
            result = run_training(settings, train_config, progress=bars, truth_dir=export)
    except ValueError as exc:
        console.print(f"[red]cannot train:[/red] {exc}")
        raise typer.Exit(1) from exc
    if promote and not result.champion:
        tracking.promote(tracking.configure(settings), result.version, reason="train --promote")
        result.champion = True
    console.print(f"registered partner-team-ranker version {result.version} (run {result.run_id})")
    for name, value in sorted(result.metrics.items()):
        console.print(f"  {name:40s} {value:.4f}")
    if result.champion:
        console.print(f"version {result.version} is the champion")
