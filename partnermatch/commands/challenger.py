"""`partnermatch challenger`: set, clear or show the version servers score in the champion's shadow."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.console import Console

from core.settings import CHALLENGER_ALIAS, get_settings

if TYPE_CHECKING:
    from mlflow import MlflowClient

console = Console()
app = typer.Typer(
    name="challenger",
    help="Shadow-score a registered version against the champion on live requests (never answering them).",
    no_args_is_help=True,
)

RELOAD_HINT = "servers pick it up at their next start or `POST /v1/admin/reload`"


def _registry() -> MlflowClient:
    """The registry's client; a tracking server that does not answer is one line and exit code 1."""
    from training import tracking

    try:
        return tracking.configure(get_settings())
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


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
    client = _registry()
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

    old = tracking.clear_challenger(_registry())
    if old is None:
        console.print(f"no {CHALLENGER_ALIAS} was set")
        return
    console.print(f"{CHALLENGER_ALIAS} cleared (was version {old}); {RELOAD_HINT}")


@app.command("show")
def show_challenger() -> None:
    """Print the challenger and champion versions."""
    from training import tracking

    client = _registry()
    challenger = tracking.challenger_version(client)
    champion = tracking.champion_version(client)
    console.print(f"{CHALLENGER_ALIAS}: {challenger or 'none'}; champion: {champion or 'none'}")
