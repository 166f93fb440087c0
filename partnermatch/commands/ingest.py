"""`partnermatch ingest`: validate a PRM export against data contract v1 and load it into the store."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from core.settings import get_settings
from features import schema as s
from features.contract import ValidatedExport, load_export
from features.mapping import ExportMapping, MappingError, load_mapped_export
from features.store import IngestSummary, Store
from features.violations import ContractError


def _summary_table(summary: IngestSummary) -> Table:
    table = Table(title="ingest summary")
    for heading in ("table", "inserted", "updated", "unchanged", "deleted"):
        table.add_column(heading, justify="left" if heading == "table" else "right")
    for name in s.TABLES:
        counts = (summary.inserted, summary.updated, summary.unchanged, summary.deleted)
        table.add_row(name, *(str(c.get(name, 0)) for c in counts))
    return table


def ingest(
    directory: Annotated[
        Path,
        typer.Argument(
            help="Export folder holding partners, certifications, opportunities and deal_partners "
            "as .csv or .parquet (data contract v1).",
        ),
    ],
    mapping: Annotated[
        Path | None,
        typer.Option(
            "--mapping",
            dir_okay=False,
            help="TOML mapping from another system's export (file names, column renames, defaults, value "
            "maps, list separators, date formats) to contract v1; see examples/mappings/.",
        ),
    ] = None,
) -> None:
    """Validate an export folder, then load it into the store in one transaction (all or nothing)."""
    out = Console()
    err = Console(stderr=True)
    try:
        # Read before the store is touched: a broken mapping changes nothing, not even the schema.
        export_mapping = None if mapping is None else ExportMapping.from_file(mapping)
    except MappingError as e:
        err.print(e.report(), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    settings = get_settings()
    store = Store(settings.store_url)
    try:
        summary, warnings = _validate_and_ingest(store, directory, export_mapping, settings.roles, err)
    except ContractError as e:
        err.print(e.report(), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except SQLAlchemyError as e:
        err.print(
            f"store error, nothing written ({store!r}): {e}", markup=False, highlight=False, soft_wrap=True
        )
        raise typer.Exit(1) from None
    finally:
        store.engine.dispose()
    for warning in warnings:
        out.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    out.print(_summary_table(summary))
    # The export is the system of record: say when it overwrote deals that outcomes posted to the API closed.
    out.print(f"opportunities recorded through the API replaced by this export: {summary.replaced_api}")


def _validate_and_ingest(
    store: Store, directory: Path, mapping: ExportMapping | None, roles: Sequence[str], err: Console
) -> tuple[IngestSummary, list[str]]:
    with err.status("migrating the store schema"):
        store.migrate()
        partner_ids, opportunity_ids = store.known_ids()
    with err.status(f"validating {directory}"):
        export: ValidatedExport
        if mapping is None:
            export = load_export(
                directory, roles=roles, known_partner_ids=partner_ids, known_opportunity_ids=opportunity_ids
            )
        else:
            export = load_mapped_export(
                directory,
                mapping,
                roles=roles,
                known_partner_ids=partner_ids,
                known_opportunity_ids=opportunity_ids,
            )
    with err.status("ingesting (one transaction)"):
        summary = store.ingest(export)
    return summary, export.warnings
