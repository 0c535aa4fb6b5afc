"""`camscan identify`: classify evidence already held (JSON lines, a MAC, KEY=VALUE) offline."""

from __future__ import annotations

import io
import json
import re
import sys
from collections.abc import Iterable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from rich.console import Console
from rich.table import Table

from camscan.identify import identify_hosts
from camscan.keys import RAW_KEYS, is_known_key
from camscan.models import Evidence, Verdict, no_surrogates
from camscan.output.document import verdict_to_dict
from camscan.output.table import plain

EXIT_OK = 0
EXIT_BAD_LINES = 1  # some input lines were skipped; verdicts for the rest were printed
EXIT_USAGE = 2
CLI_HOST = "cli"


class Format(StrEnum):
    JSON = "json"
    TABLE = "table"


class LineError(ValueError):
    """One input line cannot be used (message names the problem, not the line number)."""


def parse_line(text: str) -> Evidence:
    """One JSON evidence line -> Evidence; LineError when malformed or the key is unknown."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LineError(f"not JSON ({exc.msg})") from exc
    except (ValueError, RecursionError) as exc:  # an int of > 4300 digits; deep nesting
        raise LineError(f"not JSON ({type(exc).__name__})") from exc
    if not isinstance(obj, dict):
        raise LineError("not a JSON object")
    for name in ("host", "key", "value"):
        if not isinstance(obj.get(name), str) or not obj[name]:
            raise LineError(f"'{name}' must be a non-empty string")
    if not is_known_key(obj["key"]):
        raise LineError(f"unknown evidence key {obj['key']!r} (see camscan/keys.py)")
    source = obj.get("source", "")
    port = obj.get("port")
    if not isinstance(source, str):
        raise LineError("'source' must be a string")
    if port is not None and (
        not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536
    ):
        raise LineError("'port' must be an integer 1-65535")
    # "\ud800" escapes decode to lone surrogates, which no UTF-8 output can carry.
    return Evidence(
        no_surrogates(obj["host"]),
        no_surrogates(source),
        obj["key"],
        no_surrogates(obj["value"]),
        port,
    )


def read_lines(stream: Iterable[str], errors: list[str]) -> Iterator[Evidence]:
    """Evidence of every good line; each bad line appends 'line N: why' to `errors`."""
    for number, line in enumerate(stream, 1):
        text = line.strip().lstrip("\ufeff")  # a BOM from Windows exports
        if not text or text.startswith("#"):
            continue
        try:
            yield parse_line(text)
        except LineError as exc:
            errors.append(f"line {number}: {exc}")


def parse_pair(pair: str) -> Evidence:
    """`KEY=VALUE` from the command line -> Evidence of host 'cli'; LineError if unusable."""
    key, sep, value = pair.partition("=")
    if not sep or not value:
        raise LineError(f"{pair!r} is not KEY=VALUE")
    if not is_known_key(key.strip()):
        raise LineError(f"unknown evidence key {key.strip()!r} (see camscan/keys.py)")
    return Evidence(CLI_HOST, "", key.strip(), value)


def read_raw(items: list[Evidence]) -> list[Evidence]:
    """The input boundary: raw items (whole responses, replies) read into structured items."""
    if not any(ev.key in RAW_KEYS for ev in items):
        return items
    # The parsers come with every protocol module (aiohttp, zeroconf): loaded only when needed.
    from camscan.rawkeys import expand

    return expand(items)


def verdict_line(host: str, verdict: Verdict) -> dict[str, Any]:
    """One output record: the host, then the verdict's fields in stable order."""
    return {"host": host, **verdict_to_dict(verdict)}


def print_table(verdicts: dict[str, Verdict], console: Console) -> None:
    """A people's table of the verdicts."""
    table = Table("host", "maker", "brand", "type", "model", "confidence", "decided by")
    for host, v in verdicts.items():
        ids = ", ".join(dict.fromkeys(m.fingerprint_id for m in v.matches))
        conflict = "; ".join(f"{c.field}: {' vs '.join(c.values)}" for c in v.conflicts)
        # Evidence strings come from devices: no rich markup, no terminal control characters.
        table.add_row(
            plain(host),
            plain(v.maker or "-"),
            plain(v.brand or "-"),
            plain(v.device_type),
            plain(v.model or "-"),
            plain(v.confidence.value + (f" (conflict {conflict})" if conflict else ""), 200),
            plain(ids, 200),
        )
    console.print(table)


def _open(path: Path | None) -> TextIO:
    if path is None or str(path) == "-":
        if isinstance(sys.stdin, io.TextIOWrapper):  # bad bytes as U+FFFD, as for a file
            sys.stdin.reconfigure(errors="replace")
        return sys.stdin
    return path.open(encoding="utf-8", errors="replace")


def identify_command(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="JSON-lines evidence file ('-' or absent: stdin, unless --mac/--evidence given)",
            show_default=False,
        ),
    ] = None,
    mac: Annotated[str | None, typer.Option("--mac", help="classify one MAC address")] = None,
    evidence: Annotated[
        list[str] | None,
        typer.Option("--evidence", "-e", help="KEY=VALUE evidence of one host (repeatable)"),
    ] = None,
    fmt: Annotated[
        Format, typer.Option("--format", help="json lines on stdout, or a table on stderr")
    ] = Format.JSON,
) -> None:
    """Identify hosts from evidence you already hold: one verdict per host as JSON lines.

    Input lines: {"host": "cam1", "key": "http.server", "value": "App-webs/"} with optional
    "source" and "port". Bad lines are reported (naming the line number) and skipped; the exit
    code is then 1. Exit 2: no usable input.
    """
    items: list[Evidence] = []
    errors: list[str] = []
    try:
        if mac is not None:
            if len(re.sub(r"[^0-9a-fA-F]", "", mac)) != 12:
                raise LineError(f"--mac {mac!r} is not a MAC address (12 hex digits)")
            items.append(Evidence(CLI_HOST, "", "mac", mac))
        items.extend(parse_pair(p) for p in evidence or ())
    except LineError as exc:
        typer.echo(f"camscan: error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    if file is not None or not items:
        try:
            with _open(file) as stream:
                items.extend(read_lines(stream, errors))
        except OSError as exc:
            typer.echo(f"camscan: error: cannot read {file}: {exc.strerror}", err=True)
            raise typer.Exit(EXIT_USAGE) from None
    for message in errors:
        typer.echo(f"camscan: {message} (skipped)", err=True)
    if not items:
        typer.echo("camscan: error: no usable evidence", err=True)
        raise typer.Exit(EXIT_USAGE)
    # The input boundary: raw items (whole responses) are read into structured items here, once.
    verdicts = identify_hosts(read_raw(items))
    if fmt is Format.TABLE:
        print_table(verdicts, Console(stderr=True))
    else:
        for host, verdict in verdicts.items():
            # ASCII-only, as NDJSON: no device string (U+2028, U+0085 ...) reads as a line break.
            sys.stdout.write(json.dumps(verdict_line(host, verdict)) + "\n")
    raise typer.Exit(EXIT_BAD_LINES if errors else EXIT_OK)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.command("identify")(identify_command)
