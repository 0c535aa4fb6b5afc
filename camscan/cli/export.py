"""`camscan export`: a saved scan (JSON, NDJSON or an inventory id) in another format."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from camscan.cli.report import DbOption, _fail, _resolve
from camscan.cli.scan import OutputFormat
from camscan.models import Confidence
from camscan.output.exitcodes import USAGE_ERROR

# An output file's extension names the format when --format is not given.
FORMAT_BY_SUFFIX = {".json": OutputFormat.JSON, ".ndjson": OutputFormat.NDJSON,
                    ".jsonl": OutputFormat.NDJSON, ".csv": OutputFormat.CSV}

OnlyOption = Annotated[list[str] | None, typer.Option(
    "--only", help="Keep only devices of these makers or brands, comma-separated "
                   "(e.g. hikvision,dahua).")]
MinConfidenceOption = Annotated[Confidence | None, typer.Option(
    "--min-confidence", help="Keep only devices identified at least this surely.")]


def export_text(doc: dict[str, Any], fmt: OutputFormat) -> str:
    """The document in `fmt`, as text."""
    from camscan.output.csv import csv_text
    from camscan.output.jsonout import dumps_document
    from camscan.output.ndjson import document_ndjson

    if fmt is OutputFormat.JSON:
        return dumps_document(doc)
    if fmt is OutputFormat.NDJSON:
        return document_ndjson(doc)
    return csv_text(doc, "generic" if fmt is OutputFormat.CSV else fmt.value)


def export(
    scan: Annotated[str, typer.Argument(
        help="A saved scan: JSON or NDJSON file, or an inventory scan id.")],
    fmt: Annotated[OutputFormat | None, typer.Option(
        "--format", "-f", help="Output format (default: from -o's extension, else json).")
    ] = None,
    output: Annotated[str | None, typer.Option(
        "--output", "-o", help="Write here (replaced atomically); - or nothing for stdout.")
    ] = None,
    only: OnlyOption = None,
    min_confidence: MinConfidenceOption = None,
    db: DbOption = None,
) -> None:
    """Convert a saved scan without scanning again; optionally keep only some devices."""
    from camscan.output.jsonout import atomic_write_text
    from camscan.output.select import parse_only, select_devices

    path = None if output in (None, "-") else Path(output)
    if fmt is None:
        suffix = path.suffix.lower() if path is not None else ".json"
        if suffix not in FORMAT_BY_SUFFIX:
            raise _fail(f"-o {output}: cannot tell the format from {suffix or 'no extension'!r}; "
                        "give --format", USAGE_ERROR)
        fmt = FORMAT_BY_SUFFIX[suffix]
    if path is not None and path.is_dir():
        raise _fail(f"-o {output} is a directory; give a file name", USAGE_ERROR)
    doc = select_devices(_resolve(scan, db), parse_only(only), min_confidence)
    text = export_text(doc, fmt)
    if path is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        atomic_write_text(path, text)
    except OSError as exc:
        raise _fail(f"cannot write {output}: {exc.strerror or exc}") from None
    typer.echo(f"camscan: {len(doc['devices'])} devices written to {output} ({fmt.value})",
               err=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.command("export")(export)
