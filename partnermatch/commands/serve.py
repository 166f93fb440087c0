"""`partnermatch serve`: the HTTP API under uvicorn (creates a read-only demo key when none exists)."""

from __future__ import annotations

import json
import os
from collections.abc import MutableMapping
from pathlib import Path

import typer
from rich.console import Console
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from core.settings import get_serving_settings, get_settings
from serving.auth import Scope, create_key
from serving.metrics import MULTIPROC_ENV
from serving.persistence import ApiStore

console = Console()

DEMO_KEY_NAME = "demo (created by serve)"
EXAMPLE_REQUEST = {
    "opportunity": {
        "customer_industry": "financial-services",
        "region": "emea-north",
        "deal_size": 250000,
        "required_skills": ["aws cloud migration"],
        "description": "Bank wants to exit its datacentre to AWS with a zero-trust network.",
    },
    "k": 3,
}


def _key_header() -> str:
    """The header for the printed example: a fresh read-only key when the store has no active key.

    Opening the store also migrates it here, once, before several workers could race to do it.
    """
    from serving.app import store_url  # the API's own timeouts; imported late: it pulls in FastAPI

    api_store = ApiStore.open(store_url(get_settings(), get_serving_settings()))
    try:
        if get_serving_settings().auth_disabled:
            console.print("[yellow]warning:[/yellow] PM_AUTH_DISABLED=true: requests need no API key")
            return ""
        if api_store.has_active_key():
            console.print("send an API key in X-API-Key (`partnermatch keys create --name N --scopes read`)")
            return " -H 'X-API-Key: <your key>'"
        _, key = create_key(api_store, DEMO_KEY_NAME, [Scope.READ.value])
    finally:
        api_store.engine.dispose()
    console.print("no API key existed: created a read-only demo key (shown once; see `partnermatch keys`):")
    console.print(f"  {key}", highlight=False, soft_wrap=True)
    return f" -H 'X-API-Key: {key}'"


def prepare_multiprocess_metrics(
    workers: int, home: Path, environ: MutableMapping[str, str] = os.environ
) -> Path | None:
    """Point several workers at one emptied metrics folder under home; returns the folder in use, if any.

    The variable is set here, before uvicorn spawns the workers, so each one imports prometheus_client
    with it (it is read once, at import). An operator's own setting is kept as it is.
    """
    if environ.get(MULTIPROC_ENV):
        # Created if missing (a worker cannot start without it), never emptied: it may not be ours.
        own = Path(environ[MULTIPROC_ENV])
        own.mkdir(parents=True, exist_ok=True)
        return own
    if workers == 1:
        return None
    folder = (home / "prometheus-multiproc").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    # Files left by an earlier run would be added to this run's counts.
    for stale in folder.glob("*.db"):
        stale.unlink()
    environ[MULTIPROC_ENV] = str(folder)
    return folder


def serve(
    host: str | None = typer.Option(None, help="Interface to bind (default PM_HOST, 127.0.0.1)."),
    port: int | None = typer.Option(None, min=1, max=65535, help="Port (default PM_PORT, 8000)."),
    workers: int = typer.Option(
        1, min=1, max=16, help="Worker processes (several: /metrics sums them, see PROMETHEUS_MULTIPROC_DIR)."
    ),
) -> None:
    """Serve the champion model over HTTP."""
    import uvicorn

    settings = get_settings()
    bind_host = host or settings.host
    bind_port = port or settings.port
    url = f"http://{bind_host}:{bind_port}"
    try:
        header = _key_header()
    except SQLAlchemyError as exc:
        # One line an operator can act on, not a driver traceback: which store, and what it said.
        where = make_url(settings.store_url).render_as_string(hide_password=True)
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        console.print(
            f"[red]error:[/red] cannot open the store at {where}: {reason}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(1) from None
    metrics_folder = prepare_multiprocess_metrics(workers, settings.home)
    if metrics_folder is not None:
        console.print(f"/metrics aggregates every worker through {MULTIPROC_ENV}={metrics_folder}")
    console.print(f"partnermatch API on {url}  (docs: {url}/docs)")
    console.print("example request:")
    console.print(
        f"  curl -s -X POST {url}/v1/recommendations -H 'Content-Type: application/json'{header} "
        f"-d '{json.dumps(EXAMPLE_REQUEST)}'",
        soft_wrap=True,
        highlight=False,
    )
    uvicorn.run(
        "serving.main:app",
        host=bind_host,
        port=bind_port,
        workers=workers,
        log_level="info",
        timeout_worker_healthcheck=settings.worker_start_timeout,
    )
