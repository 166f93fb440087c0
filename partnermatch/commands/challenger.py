"""`partnermatch challenger`: set, clear or show the version servers score in the champion's shadow."""

from __future__ import annotations

import typer
from rich.console import Console

from core.settings import CHALLENGER_ALIAS, get_settings

console = Console()
app = typer.Typer(
    name="challenger",
    help="Shadow-score a registered version against the champion on live requests (never answering them).",
    no_args_is_help=True,
)

RELOAD_HINT = "servers pick it up at their next start or `POST /v1/admin/reload`"


@app.command("set")
def set_challenger(
    version: str = typer.Argument(..., help="Registered version to score in the champion's shadow."),
) -> None:
    """Point the `challenger` alias at a registered version."""
    from mlflow.exceptions import MlflowException

    from training import tracking

    if not version.isdigit():
        console.print(f"[red]error:[/red] a registered version is a number, not {version!r}")
        raise typer.Exit(2)
    client = tracking.configure(get_settings())
    try:
        tracking.set_challenger(client, version)
    except MlflowException as exc:
        console.print(f"[red]error:[/red] version {version} is not registered")
        raise typer.Exit(1) from exc
    console.print(f"version {version} is the {CHALLENGER_ALIAS}; {RELOAD_HINT}")


@app.command("clear")
def clear_challenger() -> None:
    """Remove the `challenger` alias: servers stop shadow scoring at their next start or reload."""
    from training import tracking

    old = tracking.clear_challenger(tracking.configure(get_settings()))
    if old is None:
        console.print(f"no {CHALLENGER_ALIAS} was set")
        return
    console.print(f"{CHALLENGER_ALIAS} cleared (was version {old}); {RELOAD_HINT}")


@app.command("show")
def show_challenger() -> None:
    """Print the challenger and champion versions."""
    from training import tracking

    client = tracking.configure(get_settings())
    challenger = tracking.challenger_version(client)
    champion = tracking.champion_version(client)
    console.print(f"{CHALLENGER_ALIAS}: {challenger or 'none'}; champion: {champion or 'none'}")
