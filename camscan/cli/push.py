"""`camscan push`: upload spooled (or given) scan documents to the central server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from camscan.output.exitcodes import RUNTIME_ERROR, USAGE_ERROR
from camscan.push import Client, Outcome, PushError, Result, push_files, push_spool, read_token


def _fail(message: str, code: int = RUNTIME_ERROR) -> typer.Exit:
    typer.echo(f"camscan: error: {message}", err=True)
    return typer.Exit(code)


def push(
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Scan documents to upload once (they are not deleted).", dir_okay=False
        ),
    ] = None,
    spool: Annotated[
        Path | None,
        typer.Option(
            "--spool",
            help="Upload every document waiting in this spool directory; each leaves "
            "the spool once the server acknowledged it.",
            file_okay=False,
        ),
    ] = None,
    server: Annotated[str, typer.Option("--server", help="https://… URL of the server.")] = "",
    token_file: Annotated[
        Path | None,
        typer.Option("--token-file", help="File holding this sensor's token.", dir_okay=False),
    ] = None,
    ca_file: Annotated[
        Path | None,
        typer.Option(
            "--ca-file",
            help="CA certificate(s) to trust for the server (PEM), e.g. a private CA.",
            dir_okay=False,
        ),
    ] = None,
    tries: Annotated[
        int,
        typer.Option(
            "--tries", min=1, max=100, help="Tries per document before giving up this run."
        ),
    ] = 5,
    backoff: Annotated[
        float,
        typer.Option(
            "--backoff",
            min=0.0,
            max=3600.0,
            help="First wait between tries, seconds; doubles each try (up to 5 minutes).",
        ),
    ] = 2.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr.")] = False,
) -> None:
    """Upload scan documents to the central server over HTTPS (outbound only)."""
    if (spool is None) == (not files):
        raise _fail("give either --spool DIR or document files", USAGE_ERROR)
    if not server:
        raise _fail("--server URL is required", USAGE_ERROR)
    if token_file is None:
        raise _fail("--token-file PATH is required", USAGE_ERROR)
    try:
        client = Client(
            server, read_token(token_file), ca_file=ca_file, tries=tries, backoff_s=backoff
        )
    except PushError as exc:
        raise _fail(str(exc), USAGE_ERROR) from None

    def say(path: Path, r: Result) -> None:
        ok = r.outcome in (Outcome.STORED, Outcome.DUPLICATE)
        if ok and quiet:
            return
        where = f" as {r.scan_id[:16]}" if r.scan_id else ""
        level = "" if ok else "error: "
        typer.echo(
            f"camscan: {level}{path.name}: {r.outcome.value}{where}"
            f"{'' if ok else ' — ' + r.detail}",
            err=True,
        )

    if spool is not None:
        run = push_spool(client, spool, say)
    else:
        run = push_files(client, list(files or []), spool=False, report=say)
    if run.left:
        typer.echo(f"camscan: {run.left} documents left in the spool for the next run", err=True)
    if not run.ok:
        raise typer.Exit(RUNTIME_ERROR)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.command("push")(push)
