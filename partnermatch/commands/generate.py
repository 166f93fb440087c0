"""`partnermatch generate`: write a synthetic PRM export (contract v1) plus its hidden ground truth."""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from features import schema as s
from synthetic import Scenario, ScenarioFileError, generate_ecosystem, load_scenarios, write
from synthetic.scenario import DEFAULT_SCENARIO

# Sizes without a scenario file (a scenario brings its own unless given explicitly).
DEFAULT_PARTNERS = 1_000
DEFAULT_OPPORTUNITIES = 20_000
DEFAULT_YEARS = 4


class ExportFormatOption(StrEnum):
    csv = "csv"
    parquet = "parquet"


def _scenario(console: Console, scenario_file: Path | None, name: str | None) -> Scenario | None:
    """The named scenario of the file, None without one; exits with a one-line reason on any problem."""
    if scenario_file is None and name is None:
        return None
    if scenario_file is None or name is None:
        console.print("[red]--scenario-file and --scenario go together[/red]")
        raise typer.Exit(2)
    try:
        specs = load_scenarios(scenario_file)
    except ScenarioFileError as err:
        console.print(f"[red]bad scenario file: {escape(str(err))}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None
    if name not in specs:
        known = ", ".join(sorted(specs)) or "none"
        message = f"unknown scenario {name!r} in {scenario_file} (known: {known})"
        console.print(f"[red]{escape(message)}[/red]", soft_wrap=True)
        raise typer.Exit(2)
    spec = specs[name]
    console.print(escape(f"scenario {spec.name} ({spec.set}): {spec.description}"), soft_wrap=True)
    return spec.scenario


def generate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the export into (created if missing).")],
    partners: Annotated[
        int | None,
        typer.Option(
            "--partners", help=f"Number of partners (default: the scenario's, else {DEFAULT_PARTNERS})."
        ),
    ] = None,
    opportunities: Annotated[
        int | None,
        typer.Option(
            "--opportunities",
            help=f"Number of opportunities (bids, with competing bids) (default: the scenario's, else "
            f"{DEFAULT_OPPORTUNITIES}).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; same seed, byte-identical files.")] = 0,
    fmt: Annotated[
        ExportFormatOption, typer.Option("--format", help="File format of the four contract tables.")
    ] = ExportFormatOption.csv,
    years: Annotated[
        int | None,
        typer.Option(
            "--years", help=f"Years of deal history (default: the scenario's, else {DEFAULT_YEARS})."
        ),
    ] = None,
    scenario_file: Annotated[
        Path | None,
        typer.Option("--scenario-file", help="TOML file of scenarios (like bench/scenarios.toml)."),
    ] = None,
    scenario_name: Annotated[
        str | None, typer.Option("--scenario", help="Name of the scenario in --scenario-file to generate.")
    ] = None,
) -> None:
    """Generate a synthetic partner ecosystem with a hidden win model (truth in OUT/truth/)."""
    console = Console()
    scenario = _scenario(console, scenario_file, scenario_name)
    if partners is None:
        partners = scenario.partners if scenario else DEFAULT_PARTNERS
    if opportunities is None:
        opportunities = scenario.opportunities if scenario else DEFAULT_OPPORTUNITIES
    if years is None:
        years = scenario.years if scenario else DEFAULT_YEARS
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
        eco = generate_ecosystem(
            partners, opportunities, seed=seed, years=years, scenario=scenario or DEFAULT_SCENARIO
        )
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
