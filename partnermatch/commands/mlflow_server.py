"""`partnermatch mlflow-server`: the team's shared MLflow tracking server, one documented command."""

from __future__ import annotations

import os
import shlex
import socket
import sys
from pathlib import Path
from urllib.parse import urlparse

import typer
from rich.console import Console
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

console = Console()

# The server's GenAI job runner (prompt optimisation, scorers) starts eight more Python processes;
# partnermatch uses none of it. An operator's own setting of the variable is kept.
JOB_EXECUTION_ENV = "MLFLOW_SERVER_ENABLE_JOB_EXECUTION"
# The project ships psycopg 3; SQLAlchemy 2.0 reads a bare `postgresql://` as psycopg2 (not installed).
POSTGRES_DRIVER = "postgresql+psycopg"


def backend_store_url(database_url: str) -> URL:
    """The server's backend store: a PostgreSQL URL gets the installed driver, any other URL is kept."""
    url = make_url(database_url)
    if url.drivername in ("postgresql", "postgres"):
        return url.set(drivername=POSTGRES_DRIVER)
    return url


def artifacts_destination(artifacts: str) -> str:
    """An object store URI as given (s3://, gs://, ...); a local folder as an absolute path."""
    if len(urlparse(artifacts).scheme) > 1:  # one letter is a Windows drive, not a scheme
        return artifacts
    return str(Path(artifacts).expanduser().resolve())


def server_command(
    backend: URL,
    artifacts: str,
    host: str,
    port: int,
    workers: int | None,
    allowed_hosts: str | None,
    hide_password: bool = False,
) -> list[str]:
    """The `mlflow server` argv: a SQL backend store and artifacts proxied by the server
    (`--serve-artifacts`), so clients upload and download models over HTTP and need no storage access."""
    program = Path(sys.executable).with_name("mlflow")
    argv = [str(program)] if program.is_file() else [sys.executable, "-m", "mlflow"]
    argv += [
        "server",
        "--backend-store-uri",
        backend.render_as_string(hide_password=hide_password),
        "--serve-artifacts",
        "--artifacts-destination",
        artifacts,
        "--host",
        host,
        "--port",
        str(port),
    ]
    if workers is not None:
        argv += ["--workers", str(workers)]
    if allowed_hosts:
        argv += ["--allowed-hosts", allowed_hosts]
    return argv


def mlflow_server(
    database_url: str = typer.Option(
        ...,
        "--database-url",
        help="Backend store for runs and the model registry, e.g. postgresql://mlflow@db-host/mlflow "
        "(the database must exist; MLflow creates its tables).",
    ),
    artifacts: str = typer.Option(
        ..., "--artifacts", help="Where model files are kept: a folder on this machine, or s3://bucket/path."
    ),
    host: str = typer.Option("127.0.0.1", help="Interface to bind; 0.0.0.0 to accept the team's machines."),
    port: int = typer.Option(5000, min=1, max=65535, help="Port to listen on."),
    workers: int | None = typer.Option(None, min=1, max=64, help="Server worker processes (MLflow: 4)."),
    allowed_hosts: str | None = typer.Option(
        None,
        "--allowed-hosts",
        help="Host names clients use, comma-separated (e.g. mlflow.example.com,mlflow.example.com:5000); "
        "MLflow refuses other Host headers than localhost and private IPs.",
    ),
    print_only: bool = typer.Option(
        False, "--print-only", help="Print the command (password hidden) and exit, for a service unit."
    ),
) -> None:
    """Run the shared MLflow tracking server: PostgreSQL for runs and registry, artifacts served over HTTP.

    Clients then set MLFLOW_TRACKING_URI=http://HOST:PORT for train, promote, rollback, retrain and serve.
    """
    try:
        backend = backend_store_url(database_url)
    except ArgumentError as exc:
        console.print(f"[red]not a database URL:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    destination = artifacts_destination(artifacts)
    shown = server_command(backend, destination, host, port, workers, allowed_hosts, hide_password=True)
    env = dict(os.environ)
    env.setdefault(JOB_EXECUTION_ENV, "false")
    console.print(
        f"{JOB_EXECUTION_ENV}={env[JOB_EXECUTION_ENV]} {shlex.join(shown)}",
        soft_wrap=True,
        markup=False,
        highlight=False,
    )
    if print_only:
        return
    # A wildcard bind is not an address clients can use: they use this machine's name.
    reach = socket.gethostname() if host in ("0.0.0.0", "::") else host
    console.print(f"clients: export MLFLOW_TRACKING_URI=http://{reach}:{port}", highlight=False)
    argv = server_command(backend, destination, host, port, workers, allowed_hosts)
    sys.stdout.flush()
    sys.stderr.flush()
    # Replaced by MLflow's process: a service manager's signals and the exit status reach it directly.
    os.execve(argv[0], argv, env)
