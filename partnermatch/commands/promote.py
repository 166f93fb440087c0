"""`partnermatch promote` and `partnermatch rollback`: move the `champion` alias, gated and reversible."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from core.settings import get_settings

console = Console()


def promote(
    version: str | None = typer.Option(
        None, "--version", help="Registered version to promote (default: the newest)."
    ),
    config: Path | None = typer.Option(
        None, "--config", exists=True, dir_okay=False, help="TOML config holding the [gate] thresholds."
    ),
    export: Path | None = typer.Option(
        None, "--export", exists=True, file_okay=False, help="Generated export with truth/ for the gate."
    ),
    force: bool = typer.Option(False, "--force", help="Skip the evaluation gate."),
) -> None:
    """Make a version the champion if it passes the evaluation gate against the current champion."""
    from pydantic import ValidationError

    from models.bundle import BundleError
    from training import tracking
    from training.config import TrainConfig
    from training.promotion import decide, latest_version
    from training.train import find_truth_dir

    try:
        train_config = TrainConfig.from_file(config)
    except ValidationError as exc:
        console.print(f"[red]invalid config {config}:[/red]\n{exc}")
        raise typer.Exit(2) from exc
    settings = get_settings()
    candidate = version or latest_version(settings)
    if candidate is None:
        console.print("[red]no registered versions:[/red] run `partnermatch train` first")
        raise typer.Exit(1)
    client = tracking.configure(settings)
    if force:
        old = tracking.promote(client, candidate, reason="forced")
        console.print(f"version {candidate} is the champion (was {old}); gate skipped")
        return
    try:
        decision = decide(settings, candidate, train_config, export or find_truth_dir(settings, train_config))
    except (BundleError, ValueError) as exc:
        console.print(f"[red]cannot evaluate version {candidate}:[/red] {exc}")
        raise typer.Exit(1) from exc
    for reason in decision.reasons:
        console.print(f"  {reason}", markup=False)
    if not decision.passed:
        console.print(
            f"[red]version {candidate} did not pass the gate; champion stays {decision.champion}[/red]"
        )
        raise typer.Exit(3)
    old = tracking.promote(client, candidate, reason="; ".join(decision.reasons))
    console.print(f"version {candidate} is the champion (previous: {old})")


def rollback() -> None:
    """Move `champion` back to the previous champion (and keep the swapped one as previous)."""
    from training import tracking

    client = tracking.configure(get_settings())
    try:
        current, previous = tracking.rollback(client)
    except ValueError as exc:
        console.print(f"[red]cannot roll back:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"champion moved back from version {current} to version {previous}")
