"""What the document-writing commands share: output formats, writing them, one-line failures."""

from __future__ import annotations

import os
import sys
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer


class OutputFormat(StrEnum):
    JSON = "json"
    NDJSON = "ndjson"
    CSV = "csv"
    NETBOX = "netbox"
    SNIPEIT = "snipeit"
    GLPI = "glpi"


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print a one-line error on stderr and return the Exit to raise."""
    typer.echo(f"camscan: error: {message}", err=True)
    return typer.Exit(code)


def emit_result(doc: dict[str, Any], fmt: OutputFormat, output: Path | None) -> bool:
    """Write a finished (or interrupted) scan in a whole-document format; files atomically.

    A file that cannot be written after all (disk full, permissions changed mid-scan) is
    reported in one line and the output goes to stdout instead, so no finding is lost; False then.
    """
    from camscan.output.formats import import_order_note, render
    from camscan.output.jsonout import atomic_write_text

    ok = True
    files = render(doc, fmt.value, output)
    for path, text in files:
        if path is not None:
            try:
                atomic_write_text(path, text)
                continue
            except OSError as exc:
                typer.echo(
                    f"camscan: error: cannot write {path}: {exc.strerror or exc}; "
                    "writing the output to stdout instead",
                    err=True,
                )
                ok = False
        sys.stdout.write(text)
        sys.stdout.flush()
    if ok and (note := import_order_note(files, fmt.value)):
        typer.echo(note, err=True)
    return ok


def check_writable(path: Path, option: str, *, directory: bool = False) -> None:
    """Refuse (exit 2), before any packet, an output file or `directory` that cannot be written."""
    if path.is_dir() and not directory:
        raise fail(f"{option} {path} is a directory; give a file name")
    if directory and path.exists() and not path.is_dir():
        raise fail(f"{option} {path} is not a directory")
    parent = path.absolute() if directory and path.is_dir() else path.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent  # the writer creates missing directories
    if not parent.is_dir():
        raise fail(f"{option} {path}: {parent} is not a directory")
    # Try it: permission bits do not stop root, but /proc, /sys and read-only mounts do.
    try:
        fd, probe = tempfile.mkstemp(prefix=".camscan-probe.", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise fail(
            f"{option} {path}: cannot create files in {parent}: {exc.strerror or exc}"
        ) from None


def fingerprint_version() -> str:
    """The fingerprint data's content version, for the document's provenance."""
    # The hash of the files the library is loaded from, without loading them (~0.2 s of
    # parsing and compiling): a scan that found nobody never needs the library itself.
    from camscan.fingerprints import DEFAULT_DIR, content_version

    return content_version(DEFAULT_DIR)
