"""`camscan check`: a saved or piped scan as a Nagios/Icinga plugin (exit 0/1/2/3, one line)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from camscan.check import CRITICAL, UNKNOWN, CheckResult, Thresholds, evaluate, unknown
from camscan.cli.report import DbOption
from camscan.risks import SEVERITIES


def _load(ref: str, db: Path | None) -> dict[str, Any]:
    """A scan from a file, an inventory id, or stdin (`-`), with risk notes; ValueError if not."""
    from camscan.inventory import Inventory, InventoryError
    from camscan.output.reader import parse_document, read_document
    from camscan.risks import with_risks

    if ref == "-":
        return with_risks(parse_document(sys.stdin.read(), "stdin"))
    if Path(ref).is_file():
        return with_risks(read_document(ref))
    if ref.isdigit():
        try:
            with Inventory(db, create=False) as inv:
                return with_risks(inv.load(int(ref)))
        except InventoryError as exc:
            raise ValueError(str(exc)) from None
    raise ValueError(f"{ref!r} is neither a scan file, - (stdin) nor an inventory scan id")


def check(
    scan: Annotated[
        str,
        typer.Argument(
            help="The scan to judge: a JSON or NDJSON file, an inventory id, or - for stdin "
            "(camscan scan … -q -o - | camscan check -)."
        ),
    ],
    baseline: Annotated[
        str | None,
        typer.Option(
            "--baseline",
            "-b",
            help="An accepted earlier scan: only devices and risk notes new since it count.",
        ),
    ] = None,
    warning: Annotated[
        int,
        typer.Option(
            "--warning", "-w", min=0, help="WARNING above this many (new) Hikvision/Dahua devices."
        ),
    ] = 0,
    critical: Annotated[
        int | None,
        typer.Option(
            "--critical",
            "-c",
            min=0,
            help="CRITICAL above this many (new) Hikvision/Dahua "
            "devices (default: the count alone never is).",
        ),
    ] = None,
    critical_severity: Annotated[
        str,
        typer.Option(
            "--critical-severity",
            help=f"A new risk note this severe or worse is CRITICAL "
            f"({', '.join(SEVERITIES)}); milder ones WARNING.",
        ),
    ] = "high",
    max_age: Annotated[
        float | None,
        typer.Option(
            "--max-age",
            min=0,
            help="UNKNOWN when the scan started more than this many minutes ago.",
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Nagios/Icinga plugin: found Hikvision/Dahua devices WARNING, new serious risks CRITICAL."""
    result: CheckResult
    if critical_severity not in SEVERITIES:
        result = unknown(f"--critical-severity must be one of {', '.join(SEVERITIES)}")
    else:
        try:
            doc = _load(scan, db)
            before = _load(baseline, db) if baseline is not None else None
            limits = Thresholds(
                warn_found=warning,
                crit_found=critical,
                crit_severity=critical_severity,
                max_age_s=None if max_age is None else max_age * 60,
            )
            result = evaluate(doc, before, limits)
        except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
            result = unknown(f"cannot read the scan: {exc}")
    typer.echo(result.line)
    raise typer.Exit(result.code if result.code <= CRITICAL else UNKNOWN)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.command("check")(check)
