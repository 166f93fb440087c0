"""`partnermatch promote` and `partnermatch rollback`: move the `champion` alias, gated and reversible."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from core.settings import get_settings

console = Console()


def promote(
    version_argument: str | None = typer.Argument(
        None, metavar="[VERSION]", help="Registered version to promote (same as --version)."
    ),
    version: str | None = typer.Option(
        None, "--version", help="Registered version to promote (default: the newest)."
    ),
    config: Path | None = typer.Option(
        None, "--config", exists=True, dir_okay=False, help="TOML config holding the [gate] thresholds."
    ),
    export: Path | None = typer.Option(
        None, "--export", exists=True, file_okay=False, help="Generated export with truth/ for the gate."
    ),
    force: bool = typer.Option(False, "--force", help="Promote even if the evaluation gate refuses."),
) -> None:
    """Make a version the champion if it passes the evaluation gate; exits 3 when the gate refuses.

    The gate (training/promotion.py) evaluates on the store's latest test period: (a) the candidate must
    beat the best baseline on the primary measure, (b) it must do as well as the current champion.
    """
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
    if version_argument and version and version_argument != version:
        console.print(f"[red]two versions given:[/red] {version_argument} and --version {version}")
        raise typer.Exit(2)
    settings = get_settings()
    try:
        client = tracking.configure(settings)
    except ValueError as exc:  # a tracking server that does not answer
        console.print(f"[red]cannot promote:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    candidate = version_argument or version or latest_version(settings)
    if candidate is None:
        console.print("[red]no registered versions:[/red] run `partnermatch train` first")
        raise typer.Exit(1)
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
        verdict = "the test period is too small to tell" if decision.too_small else "it did not pass the gate"
        console.print(
            f"not promoted: {verdict}; champion stays {decision.champion or 'unset'}; "
            "use --force to promote anyway",
            markup=False,
            style="red",
        )
        raise typer.Exit(3)
    old = tracking.promote(client, candidate, reason="; ".join(decision.reasons))
    console.print(f"version {candidate} is the champion (previous: {old})")


def rollback() -> None:
    """Move `champion` back to the previous champion (and keep the swapped one as previous)."""
    from training import tracking

    try:
        current, previous = tracking.rollback(tracking.configure(get_settings()))
    except ValueError as exc:  # nothing to roll back to, or a tracking server that does not answer
        console.print(f"[red]cannot roll back:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from exc
    console.print(f"champion moved back from version {current} to version {previous}")
