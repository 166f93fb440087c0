"""ASGI entry point for uvicorn workers: `serving.main:app`."""

from __future__ import annotations

from partnermatch.logging_setup import configure_logging
from serving.app import create_app

configure_logging()
app = create_app()
