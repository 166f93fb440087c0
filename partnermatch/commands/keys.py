"""`partnermatch keys`: create, revoke and list API keys (stored hashed; a key is shown once)."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from core.settings import get_settings
from serving.auth import ALL_SCOPES, create_key, parse_scopes
from serving.persistence import ApiStore

console = Console()
app = typer.Typer(name="keys", help="Manage API keys for the HTTP API.", no_args_is_help=True)


def _store() -> ApiStore:
    return ApiStore.open(get_settings().store_url)


@app.command("create")
def create(
    name: str = typer.Option(..., "--name", help="Who or what the key is for, e.g. prm-sync."),
    scopes: str = typer.Option(
        "read", "--scopes", help=f"Comma-separated scopes from: {', '.join(ALL_SCOPES)}."
    ),
) -> None:
    """Create a key and print it once: only its hash is stored."""
    try:
        wanted = parse_scopes(scopes)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if not name.strip() or len(name) > 255:
        console.print("[red]error:[/red] --name must be 1-255 characters")
        raise typer.Exit(2)
    record, key = create_key(_store(), name.strip(), wanted)
    console.print(f"created key [bold]{record.key_id}[/bold] ({record.name}; scopes {', '.join(wanted)})")
    console.print("store it now, it is not shown again:")
    typer.echo(key)


@app.command("revoke")
def revoke(
    key_id: str = typer.Argument(..., help="The key id shown by `keys list` (not the secret)."),
) -> None:
    """Revoke a key; requests with it get 401 within seconds (PM_KEY_CACHE_SECONDS)."""
    if not _store().revoke_key(key_id.strip()):
        console.print(f"[red]error:[/red] no active key with id {key_id!r}")
        raise typer.Exit(1)
    console.print(f"revoked key {key_id}")


@app.command("list")
def list_keys() -> None:
    """List keys (ids, names, scopes, dates); secrets are never stored, so never shown."""
    table = Table("key id", "name", "scopes", "created", "revoked")
    for record in _store().list_keys():
        table.add_row(
            record.key_id,
            record.name,
            ",".join(record.scopes),
            record.created_at.isoformat(sep=" "),
            record.revoked_at.isoformat(sep=" ") if record.revoked_at else "",
        )
    console.print(table)
