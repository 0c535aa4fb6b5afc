"""`camscan inventory …`: put saved scans into the inventory that `diff` and `report` read."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from camscan.cli.report import DbOption, _fail, _read_scan
from camscan.inventory import InventoryError, store_document

app = typer.Typer(no_args_is_help=True)


@app.callback()
def inventory() -> None:
    """The scan inventory (SQLite) that `history`, `diff`, `report` and `export` read by id."""


@app.command("add")
def add(
    files: Annotated[
        list[Path],
        typer.Argument(help="Saved scans to store: JSON or NDJSON files.", dir_okay=False),
    ],
    db: DbOption = None,
) -> None:
    """Store existing scan documents; prints each new scan id on stdout."""
    docs = [_read_scan(f) for f in files]  # every file readable before any is stored
    for name, doc in zip(files, docs, strict=True):
        try:
            scan_id = store_document(doc, db)
        except (InventoryError, OSError) as exc:
            raise _fail(f"{name} not stored: {exc}") from None
        typer.echo(str(scan_id))
        typer.echo(f"camscan: {name} stored as scan {scan_id}", err=True)
