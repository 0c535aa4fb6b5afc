"""Saved scans read back: a JSON document, or an NDJSON stream reassembled into one."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from camscan.output.document import SCHEMA_VERSION, summarize
from camscan.targets import host_order

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
        check_version(head, name)
        return check_document(from_ndjson(stripped.splitlines(), name), name)
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise DocumentError(f"{name}: neither a JSON scan document nor NDJSON: {exc}") from None
    if not isinstance(doc, dict) or "devices" not in doc or "summary" not in doc:
        raise DocumentError(f"{name}: not a camscan scan document")
    return check_document(doc, name)


def check_version(doc: dict[str, Any], name: str) -> None:
    """DocumentError unless the document's schema_version is one this camscan reads."""
    import re

    from camscan.output.schema import validator

    version = doc.get("schema_version")
    pattern = validator().schema["$defs"]["schema_version"]["pattern"]
    if not isinstance(version, str) or re.fullmatch(pattern, version) is None:
        shown = repr(version)[:40]
        raise DocumentError(
            f"{name}: schema_version {shown} is not one this camscan reads "
            f"(it reads {SCHEMA_VERSION.split('.')[0]}.x)"
        )


def check_document(doc: dict[str, Any], name: str) -> dict[str, Any]:
    """`doc` if it is valid against the shipped schema, else DocumentError (one line)."""
    check_version(doc, name)
    from jsonschema.exceptions import best_match

    from camscan.output.schema import validator

    error = best_match(validator().iter_errors(doc))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        message = " ".join(error.message.split())
        if len(message) > 160:
            message = message[:159] + "…"
        raise DocumentError(f"{name}: not a valid scan document: {where}: {message}")
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
