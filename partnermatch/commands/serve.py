"""`partnermatch serve`: the HTTP API under uvicorn."""

from __future__ import annotations

import json

import typer
from rich.console import Console

from partnermatch.settings import get_settings

console = Console()

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


def serve(
    host: str | None = typer.Option(None, help="Interface to bind (default PM_HOST, 127.0.0.1)."),
    port: int | None = typer.Option(None, min=1, max=65535, help="Port (default PM_PORT, 8000)."),
    workers: int = typer.Option(1, min=1, max=16, help="Worker processes."),
) -> None:
    """Serve the champion model over HTTP."""
    import uvicorn

    settings = get_settings()
    bind_host = host or settings.host
    bind_port = port or settings.port
    url = f"http://{bind_host}:{bind_port}"
    console.print(f"partnermatch API on {url}  (docs: {url}/docs)")
    console.print("example request:")
    console.print(
        f"  curl -s -X POST {url}/v1/recommendations -H 'Content-Type: application/json' "
        f"-d '{json.dumps(EXAMPLE_REQUEST)}'",
        soft_wrap=True,
        highlight=False,
    )
    uvicorn.run("serving.main:app", host=bind_host, port=bind_port, workers=workers, log_level="info")
