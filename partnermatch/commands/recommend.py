"""`partnermatch recommend`: top-k teams for every open opportunity in a file, as JSON lines."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import typer
from rich.console import Console

from core.settings import get_settings

err = Console(stderr=True)


def recommend(
    opportunities: Path = typer.Option(
        ...,
        "--opportunities",
        exists=True,
        dir_okay=False,
        help="Opportunities file in contract v1 columns (.csv or .parquet); only `open` rows are ranked.",
    ),
    k: int = typer.Option(5, "--k", min=1, max=50, help="Teams per opportunity."),
    output: Path = typer.Option(Path("recs.jsonl"), "--output", help="JSON-lines file to write."),
    batch_size: int = typer.Option(256, "--batch-size", min=1, max=10000, help="Opportunities per batch."),
) -> None:
    """Rank teams for open opportunities with the champion model (the same engine as the API)."""
    from features import schema as s
    from features.contract import read_opportunities_file
    from features.queries import queries_from_frame
    from features.violations import ContractError
    from models.bundle import BundleError
    from models.registry import load_champion
    from partnermatch.progress import progress_bars

    try:
        frame = read_opportunities_file(opportunities)
    except ContractError as exc:
        err.print(f"[red]{opportunities} is not a valid opportunities file:[/red]\n{exc}")
        raise typer.Exit(1) from exc
    open_rows = frame[frame[s.OUTCOME] == s.OPEN]
    settings = get_settings()
    try:
        model = load_champion(settings)
    except BundleError as exc:
        err.print(f"[red]no model to serve:[/red] {exc}")
        raise typer.Exit(1) from exc
    queries = queries_from_frame(open_rows, as_of=date.today())
    written = 0
    tmp = output.with_name(output.name + ".tmp")
    with progress_bars() as bars, tmp.open("w") as sink:
        advance = bars("recommending", len(queries))
        for start in range(0, len(queries), batch_size):
            chunk = queries[start : start + batch_size]
            for query, found in zip(chunk, model.recommender.recommend(chunk, k=k), strict=True):
                record = {
                    "opportunity_id": query.opportunity_id,
                    "model_version": model.version,
                    "teams": [t.to_record() for t in found.teams],
                }
                sink.write(json.dumps(record) + "\n")
                written += 1
            advance(len(chunk))
    tmp.replace(output)
    err.print(f"wrote {written} opportunities to {output} (model version {model.version})")
