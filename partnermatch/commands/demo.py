"""`partnermatch demo-data`: a generated demo ecosystem, ingested only when the store is empty."""

from __future__ import annotations

import typer
from rich.console import Console

from core.settings import get_settings

console = Console()


def demo_data(
    partners: int = typer.Option(2000, min=10, max=2_000_000, help="Partners to generate."),
    opportunities: int = typer.Option(15000, min=10, max=20_000_000, help="Opportunities to generate."),
    seed: int = typer.Option(42, help="Generator seed."),
) -> None:
    """Generate and ingest the demo ecosystem unless the store already holds partners."""
    from features.contract import load_export
    from features.store import Store
    from synthetic import generate_ecosystem, write

    settings = get_settings()
    store = Store(settings.store_url)
    store.migrate()
    if not store.is_empty():
        console.print(f"store already holds data ({store.counts()}); keeping it")
        return
    out = settings.demo_data_dir
    console.print(
        f"generating a demo ecosystem ({partners} partners, {opportunities} opportunities) in {out}"
    )
    write(generate_ecosystem(partners, opportunities, seed=seed), out, "parquet")
    summary = store.ingest(load_export(out, roles=settings.roles))
    console.print(f"ingested: {summary.inserted}")
