"""Run one `partnermatch` command function through Typer, as the CLI would, for the command tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer
from typer.testing import CliRunner


def run_command(command: Callable[..., Any], *args: str) -> tuple[int, str]:
    """Exit code and output of `command` given these arguments (wide terminal: no wrapped messages)."""
    app = typer.Typer()
    app.command()(command)
    result = CliRunner().invoke(app, list(args), terminal_width=400)
    return result.exit_code, result.output
