"""`partnermatch generate`: write a synthetic PRM export (contract v1) plus its hidden ground truth."""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from features import schema as s
from synthetic import generate_ecosystem, write


class ExportFormatOption(StrEnum):
    csv = "csv"
    parquet = "parquet"


def generate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the export into (created if missing).")],
    partners: Annotated[int, typer.Option("--partners", help="Number of partners to generate.")] = 1_000,
    opportunities: Annotated[
        int, typer.Option("--opportunities", help="Number of opportunities (deals) to generate.")
    ] = 20_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; same seed, byte-identical files.")] = 0,
    fmt: Annotated[
        ExportFormatOption, typer.Option("--format", help="File format of the four contract tables.")
    ] = ExportFormatOption.csv,
    years: Annotated[int, typer.Option("--years", help="Years of deal history before the as-of date.")] = 4,
) -> None:
    """Generate a synthetic partner ecosystem with a hidden win model (truth in OUT/truth/)."""
    console = Console()
    if partners < 3:
        console.print("[red]--partners must be at least 3[/red]")
        raise typer.Exit(2)
    if opportunities < 1:
        console.print("[red]--opportunities must be at least 1[/red]")
        raise typer.Exit(2)
    if not 1 <= years <= 30:
        console.print("[red]--years must be between 1 and 30[/red]")
        raise typer.Exit(2)
    if out.exists() and not out.is_dir():
        console.print(f"[red]--out {out} exists and is not a folder[/red]")
        raise typer.Exit(2)
    started = time.perf_counter()
    with console.status(f"Generating {partners:,} partners and {opportunities:,} opportunities..."):
        eco = generate_ecosystem(partners, opportunities, seed=seed, years=years)
    generated = time.perf_counter()
    with console.status(f"Writing {fmt.value} export to {out}..."):
        try:
            files = write(eco, out, "csv" if fmt is ExportFormatOption.csv else "parquet")
        except OSError as err:
            console.print(f"[red]cannot write to {out}: {err}[/red]")
            raise typer.Exit(1) from err
    finished = time.perf_counter()
    opps = eco.tables.opportunities
    closed = opps[opps[s.OUTCOME] != s.OPEN]
    win_rate = float((closed[s.OUTCOME] == s.WON).mean()) if len(closed) else float("nan")
    for path in files:
        console.print(f"wrote {path}")
    console.print(f"wrote {out / 'truth'} (hidden win model)")
    console.print(
        f"{len(eco.tables.partners):,} partners, {len(eco.tables.certifications):,} certifications, "
        f"{len(opps):,} opportunities ({len(opps) - len(closed):,} open), "
        f"{len(eco.tables.deal_partners):,} deal partners; historical win rate {win_rate:.1%}; "
        f"generated in {generated - started:.1f}s, written in {finished - generated:.1f}s"
    )
