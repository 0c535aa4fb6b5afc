"""Saved scans read back: a JSON document, or an NDJSON stream reassembled into one."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from camscan.output.document import host_order, summarize

NO_SUMMARY = "the NDJSON stream ended without its summary line (the scan did not finish)"


class DocumentError(ValueError):
    """The file is not a camscan scan document; the message is one line for the user."""


def read_document(path: str | Path) -> dict[str, Any]:
    """The scan document saved at `path`, as JSON (`-f json`) or NDJSON (`-f ndjson`)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError as exc:
        raise DocumentError(f"{path}: not UTF-8 text ({exc.reason})") from None
    return parse_document(text, str(path))


def parse_document(text: str, name: str = "<input>") -> dict[str, Any]:
    """A scan document from the text of a JSON document or of an NDJSON stream."""
    stripped = text.lstrip()
    first_line = stripped.split("\n", 1)[0]
    try:
        head = json.loads(first_line) if first_line.strip() else None
    except (ValueError, RecursionError):
        head = None
    if isinstance(head, dict) and head.get("type") == "header":
        return from_ndjson(stripped.splitlines(), name)
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise DocumentError(f"{name}: neither a JSON scan document nor NDJSON: {exc}") from None
    if not isinstance(doc, dict) or "devices" not in doc or "summary" not in doc:
        raise DocumentError(f"{name}: not a camscan scan document")
    return doc


def from_ndjson(lines: Iterable[str], name: str = "<input>") -> dict[str, Any]:
    """The document an NDJSON stream carries; a stream cut short is marked `complete: false`."""
    header: dict[str, Any] | None = None
    devices: list[dict[str, Any]] = []
    tail: dict[str, Any] | None = None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError) as exc:
            raise DocumentError(f"{name}, line {n}: not JSON: {exc}") from None
        kind = obj.get("type") if isinstance(obj, dict) else None
        if kind == "header" and header is None:
            header = obj
        elif kind == "device" and header is not None and tail is None:
            devices.append({k: v for k, v in obj.items() if k != "type"})
        elif kind == "summary" and header is not None and tail is None:
            tail = obj
        else:
            raise DocumentError(
                f"{name}, line {n}: unexpected NDJSON line "
                f"(type {kind!r}); expected header, devices, summary"
            )
    if header is None:
        raise DocumentError(f"{name}: empty NDJSON stream")
    doc = {k: v for k, v in header.items() if k != "type"}
    if tail is None:
        tail = {"finished": None, "complete": False, "stats": {}, "errors": [NO_SUMMARY]}
    try:
        devices.sort(key=lambda d: host_order(d["ip"]))  # the stream's order is arrival order
        return {
            **doc,
            "finished": tail["finished"],
            "complete": tail["complete"],
            "stats": tail["stats"],
            "summary": summarize(devices),
            "devices": devices,
            "errors": tail["errors"],
        }
    except (KeyError, TypeError) as exc:
        raise DocumentError(f"{name}: malformed NDJSON device or summary line: {exc}") from None
