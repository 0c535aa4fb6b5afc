"""A finished document in any output format, as the files to write (one, or a bundle)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

FORMATS = ("json", "ndjson", "csv", "netbox", "snipeit", "glpi")


def render(
    doc: Mapping[str, Any],
    fmt: str,
    output: Path | None,
    *,
    netbox_ids: Mapping[str, str] | None = None,
    since: Mapping[str, Any] | None = None,
) -> list[tuple[Path | None, str]]:
    """(path, text) pairs to write, in order; path None is stdout.

    NetBox to a file writes its companion CSVs beside it (`<stem>-1-site.csv` …), GLPI to a
    directory one inventory file per device; every other case is one text.
    """
    # Each writer only for its own format: a JSON document never loads the CSV machinery.
    if fmt == "json":
        from camscan.output.jsonout import dumps_document

        return [(output, dumps_document(doc))]
    if fmt == "ndjson":
        from camscan.output.ndjson import document_ndjson

        return [(output, document_ndjson(doc))]
    if fmt == "glpi":
        from camscan.output.glpi import glpi_documents, glpi_text

        if output is not None and (output.is_dir() or str(output).endswith("/")):
            return [
                (
                    output / f"{g['deviceid']}.json",
                    json.dumps(g, indent=2, ensure_ascii=False) + "\n",
                )
                for g in glpi_documents(doc)
            ]
        return [(output, glpi_text(doc))]
    if fmt == "netbox":
        from camscan.output.netbox import netbox_bundle

        files = netbox_bundle(doc, ids=netbox_ids, since=since)
        devices = files.pop("5-devices")
        if output is None:
            return [(None, devices)]
        stem, suffix = output.stem, output.suffix or ".csv"
        return [
            *((output.with_name(f"{stem}-{name}{suffix}"), text) for name, text in files.items()),
            (output, devices),
        ]
    if fmt in ("csv", "snipeit"):
        from camscan.output.csv import csv_text

        return [(output, csv_text(doc, "generic" if fmt == "csv" else fmt))]
    raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")


def import_order_note(files: list[tuple[Path | None, str]], fmt: str) -> str | None:
    """One line for stderr saying which files to import in which order, for bundles."""
    paths = [str(p) for p, _ in files if p is not None]
    if fmt == "netbox":
        if len(paths) < 2:
            return (
                "camscan: the NetBox site, manufacturer, role and device-type CSVs are "
                "written only with -o FILE"
            )
        return "camscan: import into NetBox in this order: " + ", ".join(paths)
    if fmt == "glpi" and len(paths) > 1:
        return f"camscan: {len(paths)} GLPI inventory files written"
    return None
