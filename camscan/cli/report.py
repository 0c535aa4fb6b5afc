"""`camscan report`, `camscan diff` and `camscan history`: the audit workflow over saved scans."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from camscan.diff import diff_documents, diff_to_dict, print_diff
from camscan.inventory import Inventory, InventoryError, default_db_path
from camscan.output.exitcodes import RUNTIME_ERROR, USAGE_ERROR
from camscan.output.reader import read_document
from camscan.output.report import REPORT_SUFFIXES, ReportError, report_text, write_report
from camscan.output.table import plain

DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db",
        help="Inventory file (default: $CAMSCAN_DB, else in the user data directory).",
        dir_okay=False,
    ),
]


def _fail(message: str, code: int = RUNTIME_ERROR) -> typer.Exit:
    typer.echo(f"camscan: error: {message}", err=True)
    return typer.Exit(code)


def _read_scan(path: Path) -> dict[str, Any]:
    """A saved scan, JSON document or NDJSON stream."""
    try:
        return read_document(path)
    except OSError as exc:
        raise _fail(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:  # DocumentError, and json's own errors
        raise _fail(f"cannot read {path}: {exc}") from None


def _resolve(ref: str, db: Path | None) -> dict[str, Any]:
    """A scan given as a file path or as an inventory scan id, with risk notes (any version)."""
    from camscan.risks import with_risks

    path = Path(ref)
    if path.is_file():
        return with_risks(_read_scan(path))
    if ref.isdigit():
        try:
            with Inventory(db, create=False) as inv:
                return with_risks(inv.load(int(ref)))
        except InventoryError as exc:
            raise _fail(str(exc)) from None
    raise _fail(f"{ref!r} is neither a scan file nor an inventory scan id", USAGE_ERROR)


def report(
    scans: Annotated[
        list[str] | None,
        typer.Argument(
            help="Scans to report on: JSON or NDJSON files, or inventory scan ids; several make "
            "one report with a row per site."
        ),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            "-o",
            "--output",
            help="report.html, report.pdf (needs WeasyPrint), or - for the HTML on stdout.",
        ),
    ] = None,
    redact: Annotated[
        bool,
        typer.Option(
            "--redact",
            help="The version to publish: no addresses, MACs, serials, firmware, "
            "device-supplied evidence or risk details.",
        ),
    ] = False,
    include_outside: Annotated[
        bool,
        typer.Option(
            "--include-outside-scope",
            help="Count devices found outside the scanned range in the "
            "headline and totals (listed apart otherwise).",
        ),
    ] = False,
    db: DbOption = None,
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            help="Roll-up of a central server instead: JSON figures on stdout, and "
            "with -o its HTML report.",
        ),
    ] = None,
    token_file: Annotated[
        Path | None,
        typer.Option("--token-file", help="With --server: a reader token.", dir_okay=False),
    ] = None,
    ca_file: Annotated[
        Path | None,
        typer.Option(
            "--ca-file", help="With --server: CA certificate(s) to trust (PEM).", dir_okay=False
        ),
    ] = None,
    site: Annotated[
        str | None,
        typer.Option(
            "--site", help="With --server and -o: that site's full report instead of the roll-up."
        ),
    ] = None,
    silent_days: Annotated[
        int,
        typer.Option(
            "--silent-days",
            min=1,
            max=3650,
            help="With --server: sensors silent this many days are listed.",
        ),
    ] = 7,
) -> None:
    """Write an FOI-ready report: totals, a chart, every Hikvision/Dahua device with evidence."""
    if server is not None:
        if scans:
            raise _fail("give scans or --server, not both", USAGE_ERROR)
        _server_report(
            server, token_file, ca_file, Path(output) if output else None, site, silent_days
        )
        return
    if not scans or output is None:
        raise _fail("give scans and -o FILE (or --server URL)", USAGE_ERROR)
    if output != "-" and Path(output).suffix.lower() not in REPORT_SUFFIXES:
        raise _fail(
            f"-o {output}: unknown report type {Path(output).suffix or '(none)'!r}; "
            f"use {', '.join(REPORT_SUFFIXES)}, or - for HTML on stdout",
            USAGE_ERROR,
        )
    docs = [_resolve(ref, db) for ref in scans]
    try:
        if output == "-":
            sys.stdout.write(report_text(docs, redact=redact, include_outside=include_outside))
            sys.stdout.flush()
            return
        write_report(docs, output, redact=redact, include_outside=include_outside)
    except ReportError as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(f"cannot write {output}: {exc.strerror or exc}") from None
    typer.echo(f"camscan: report written to {output}", err=True)


def _server_report(
    server: str,
    token_file: Path | None,
    ca_file: Path | None,
    output: Path | None,
    site: str | None,
    silent_days: int,
) -> None:
    """The central server's roll-up: JSON on stdout; the HTML report into `output`."""
    from urllib.parse import urlencode

    from camscan.output.jsonout import atomic_write_bytes
    from camscan.push import Client, PushError, read_token

    if token_file is None:
        raise _fail("--server needs --token-file (a reader token)", USAGE_ERROR)
    try:
        client = Client(server, read_token(token_file), ca_file=ca_file)
    except PushError as exc:
        raise _fail(str(exc), USAGE_ERROR) from None

    def get(path: str) -> bytes:
        try:
            status, body = client.request("GET", path)
        except (OSError, ValueError) as exc:
            raise _fail(f"cannot reach {server}: {getattr(exc, 'reason', exc)}") from None
        if status != 200:
            raise _fail(
                f"{server}{path.split('?')[0]}: HTTP {status}: "
                f"{body[:200].decode('utf-8', 'replace').strip()}"
            )
        return body

    query = {"silent_days": str(silent_days)}
    figures = json.loads(get("/api/v1/rollup?" + urlencode(query)))
    json.dump(figures, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    if output is not None:
        html_query = {**query, **({"site": site} if site else {})}
        try:
            atomic_write_bytes(output, get("/report?" + urlencode(html_query)))
        except OSError as exc:
            raise _fail(f"cannot write {output}: {exc}") from None
        typer.echo(f"camscan: report written to {output}", err=True)


def diff(
    before: Annotated[str, typer.Argument(help="Earlier scan: a JSON file or an inventory id.")],
    after: Annotated[str, typer.Argument(help="Later scan: a JSON file or an inventory id.")],
    db: DbOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No table on stderr.")] = False,
) -> None:
    """New, removed, changed and still-present devices (JSON on stdout, table on stderr)."""
    a, b = _resolve(before, db), _resolve(after, db)
    result = diff_documents(a, b)
    json.dump(
        diff_to_dict(result, a, b, a_label=before, b_label=after),
        sys.stdout,
        indent=2,
        ensure_ascii=False,
    )
    sys.stdout.write("\n")
    if not quiet:
        print_diff(result)


def history(
    db: DbOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No table on stderr.")] = False,
) -> None:
    """List the scans stored in the inventory (JSON on stdout, table on stderr)."""
    path = db or default_db_path()
    if not path.exists():
        typer.echo(f"camscan: no inventory at {path} yet (store scans with --store)", err=True)
        sys.stdout.write("[]\n")
        return
    try:
        with Inventory(path, create=False) as inv:
            scans = inv.scans()
    except InventoryError as exc:
        raise _fail(str(exc)) from None
    json.dump([s.to_dict() for s in scans], sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    if quiet:
        return
    table = Table(title=f"{len(scans)} stored scans in {path}")
    for col in ("id", "started", "site", "operator", "complete", "devices", "Hikvision", "Dahua"):
        table.add_column(col)
    for s in scans:
        table.add_row(
            str(s.id),
            plain(s.started),
            plain(s.site),
            plain(s.operator),
            "yes" if s.complete else "NO",
            str(s.devices),
            str(s.hikvision),
            str(s.dahua),
        )
    Console(stderr=True).print(table)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.command("report")(report)
    app.command("diff")(diff)
    app.command("history")(history)
