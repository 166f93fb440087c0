"""`partnermatch evaluate`: a registered model against the baselines on the store's latest period."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from core.settings import get_settings

console = Console()


def evaluate(
    version: str | None = typer.Option(None, "--version", help="Registered version (default: the champion)."),
    config: Path | None = typer.Option(
        None, "--config", exists=True, dir_okay=False, help="TOML config for the split and evaluation."
    ),
    export: Path | None = typer.Option(
        None,
        "--export",
        exists=True,
        file_okay=False,
        help="Generated export folder with truth/ (adds true win probabilities; default: the demo export).",
    ),
    out: Path = typer.Option(Path("evaluation"), "--out", help="Folder for evaluation.json and PNG plots."),
) -> None:
    """Time-split evaluation against baselines: calibration (log loss, Brier, AUC), replay of the actual
    teams, competing bids (with request_id), ground truth when generated; NDCG/recall/MRR of the won team
    are shown as imitation metrics (how closely a method copies past routing)."""
    from pydantic import ValidationError

    from models.bundle import BundleError
    from training.config import TrainConfig
    from training.promotion import evaluate_version
    from training.report_files import summary_lines, write_report
    from training.train import find_truth_dir

    try:
        train_config = TrainConfig.from_file(config)
    except ValidationError as exc:
        console.print(f"[red]invalid config {config}:[/red]\n{exc}")
        raise typer.Exit(2) from exc
    settings = get_settings()
    truth_dir = export or find_truth_dir(settings, train_config)
    try:
        used, report = evaluate_version(settings, version, train_config, truth_dir)
    except (BundleError, ValueError) as exc:
        console.print(f"[red]cannot evaluate:[/red] {exc}")
        raise typer.Exit(1) from exc
    files = write_report(report, out)
    console.print(f"model version {used}" + (f", ground truth from {truth_dir}" if report.truth else ""))
    for line in summary_lines(report):
        console.print(line, markup=False)
    console.print(f"wrote {', '.join(str(f) for f in files)}")
