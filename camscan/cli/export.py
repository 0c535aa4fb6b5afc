"""`camscan export`: a saved scan (JSON, NDJSON or an inventory id) in another format."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from camscan.cli.common import OutputFormat
from camscan.cli.report import DbOption, _fail, _resolve
from camscan.models import Confidence
from camscan.output.exitcodes import USAGE_ERROR

# An output file's extension names the format when --format is not given.
FORMAT_BY_SUFFIX = {
    ".json": OutputFormat.JSON,
    ".ndjson": OutputFormat.NDJSON,
    ".jsonl": OutputFormat.NDJSON,
    ".csv": OutputFormat.CSV,
}

OnlyOption = Annotated[
    list[str] | None,
    typer.Option(
        "--only",
        help="Keep only devices of these makers or brands, comma-separated (e.g. hikvision,dahua).",
    ),
]
MinConfidenceOption = Annotated[
    Confidence | None,
    typer.Option("--min-confidence", help="Keep only devices identified at least this surely."),
]


def export(
    scan: Annotated[
        str, typer.Argument(help="A saved scan: JSON or NDJSON file, or an inventory scan id.")
    ],
    fmt: Annotated[
        OutputFormat | None,
        typer.Option(
            "--format", "-f", help="Output format (default: from -o's extension, else json)."
        ),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            "--output", "-o", help="Write here (replaced atomically); - or nothing for stdout."
        ),
    ] = None,
    only: OnlyOption = None,
    min_confidence: MinConfidenceOption = None,
    netbox_ids: Annotated[
        Path | None,
        typer.Option(
            "--netbox-ids",
            help="NetBox's device export (CSV with ID and Asset tag): rows of "
            "devices NetBox already holds get their id and update them.",
            dir_okay=False,
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="An earlier scan already imported into NetBox: leave out the site, "
            "manufacturer, role and device-type rows it created.",
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Convert a saved scan without scanning again; optionally keep only some devices."""
    from camscan.output.formats import import_order_note, render
    from camscan.output.jsonout import atomic_write_text
    from camscan.output.netbox import read_netbox_ids
    from camscan.output.select import parse_only, select_devices

    path = None if output in (None, "-") else Path(output)
    if fmt is None:
        suffix = path.suffix.lower() if path is not None else ".json"
        if suffix not in FORMAT_BY_SUFFIX:
            raise _fail(
                f"-o {output}: cannot tell the format from {suffix or 'no extension'!r}; "
                "give --format",
                USAGE_ERROR,
            )
        fmt = FORMAT_BY_SUFFIX[suffix]
    if fmt is OutputFormat.GLPI and output is not None and output.endswith("/"):
        try:  # `-o glpi/`: one file per device in that directory (Path drops the slash)
            Path(output).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _fail(f"cannot create {output}: {exc.strerror or exc}") from None
    if path is not None and path.is_dir() and fmt is not OutputFormat.GLPI:
        raise _fail(f"-o {output} is a directory; give a file name", USAGE_ERROR)
    if (netbox_ids or since) and fmt is not OutputFormat.NETBOX:
        raise _fail("--netbox-ids and --since apply to --format netbox", USAGE_ERROR)
    ids = None
    if netbox_ids is not None:
        try:
            ids = read_netbox_ids(netbox_ids.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise _fail(f"--netbox-ids {netbox_ids}: {exc}") from None
    keep = parse_only(only), min_confidence
    doc = select_devices(_resolve(scan, db), *keep)
    earlier = select_devices(_resolve(since, db), *keep) if since is not None else None
    files = render(doc, fmt.value, path, netbox_ids=ids, since=earlier)
    for target, text in files:
        if target is None:
            sys.stdout.write(text)
            sys.stdout.flush()
            continue
        try:
            atomic_write_text(target, text)
        except OSError as exc:
            raise _fail(f"cannot write {target}: {exc.strerror or exc}") from None
    if path is not None:
        typer.echo(
            f"camscan: {len(doc['devices'])} devices written to {output} ({fmt.value})", err=True
        )
    if note := import_order_note(files, fmt.value):
        typer.echo(note, err=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.command("export")(export)
