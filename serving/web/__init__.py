"""The sales-rep page: server-rendered HTML on the API's own functions, served by the same app at `/`."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Mount the page's routes and its static files (CSS, script) on the app."""
    # Imported here: the page's modules import the API's routers, which import the app's pieces.
    from serving.web import overview, partners, signin, teams

    for module in (signin, teams, partners, overview):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
