"""JSON output of the scan document: stdout, or a file replaced atomically (temp, then rename)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from camscan.models import ScanResult
from camscan.output.document import as_document


def dumps_document(doc: Mapping[str, Any]) -> str:
    """The document as indented UTF-8 JSON text, key order kept, ending in a newline."""
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def write_json(
    doc: ScanResult | Mapping[str, Any],
    path: str | Path | None = None,
    stream: TextIO | None = None,
    *,
    fingerprint_version: str | None = None,
) -> None:
    """Write to `path` atomically, or to `stream` (default stdout) when path is None or "-"."""
    text = dumps_document(as_document(doc, fingerprint_version=fingerprint_version))
    if path is None or str(path) == "-":
        out = stream or sys.stdout
        out.write(text)
        out.flush()
        return
    atomic_write_text(Path(path), text)


def dump_json(
    doc: ScanResult | Mapping[str, Any], stream: TextIO, *, fingerprint_version: str | None = None
) -> None:
    """Write the document to an open text stream."""
    write_json(doc, None, stream, fingerprint_version=fingerprint_version)


def atomic_write_text(path: Path, text: str) -> None:
    """Replace `path` with `text` (UTF-8) so a reader sees the old file or the new, never half."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace `path` with `data`: write a temp file beside it, fsync, rename over.

    The file is 0600 (mkstemp's mode), like the inventory: scans hold MACs and serials."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: str | Path) -> dict[str, Any]:
    """A saved document (or any JSON object) from a file."""
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: not a camscan document (top level is not an object)")
    return doc
