"""CSV of a scan document: a generic table and asset-register import profiles.

Device strings are untrusted: every cell that a spreadsheet would read as a formula (first
character `=`, `+`, `-`, `@`, tab or CR) is prefixed with `'` (OWASP "CSV Injection").
Columns of each profile are documented in docs/outputs.md.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from camscan.models import ScanResult
from camscan.output.document import as_document

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
SUMMARY_VALUE_MAX = 80  # a body or banner in a cell is noise; the JSON keeps all of it
NOTES_MATCHES_MAX = 3  # deciding fingerprints quoted in an asset register's notes

Row = dict[str, str]
RowBuilder = Callable[[Mapping[str, Any], Mapping[str, Any]], Row]

# Asset-register category/role names for each device type.
TYPE_LABEL = {
    "camera": "Camera",
    "nvr/dvr": "NVR/DVR",
    "doorbell/intercom": "Doorbell/Intercom",
    "access control": "Access Control",
    "other": "Other network device",
    "unknown": "Unidentified network device",
}


def escape_cell(value: object) -> str:
    """The text of a cell, neutralised if a spreadsheet would evaluate it."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_VALUE_MAX else text[:SUMMARY_VALUE_MAX - 1] + "…"


def decided_by_text(verdict: Mapping[str, Any], limit: int | None = None) -> str:
    """The fingerprints that decided a verdict (strongest first, at most `limit`), one line."""
    matches = verdict["decided_by"]
    text = "; ".join(f"{m['fingerprint_id']} ({m['key']}={_short(str(m['value']))})"
                     for m in matches[:limit])
    if limit is not None and len(matches) > limit:
        text += f"; and {len(matches) - limit} more"
    return text


def conflicts_text(verdict: Mapping[str, Any]) -> str:
    """Conflicting claims, one line: `maker: Hikvision | Dahua`."""
    return "; ".join(f"{c['field']}: {' | '.join(c['values'])}" for c in verdict["conflicts"])


def _maker(v: Mapping[str, Any]) -> str:
    return str(v["maker"] or "Unknown")


def _label(d: Mapping[str, Any]) -> str:
    v = d["verdict"]
    return str(v["brand"] or v["maker"] or "unidentified")


def _facts(doc: Mapping[str, Any], d: Mapping[str, Any]) -> str:
    v = d["verdict"]
    parts = [f"IP {d['ip']}"]
    if d["mac"]:
        parts.append(f"MAC {d['mac']}")
    if v["white_label"]:
        parts.append(f"made by {v['maker']}, sold as {v['brand']}")
    if v["firmware"]:
        parts.append(f"firmware {v['firmware']}")
    parts.append(f"confidence {v['confidence']}")
    if v["conflicts"]:
        parts.append(f"conflicts: {conflicts_text(v)}")
    if v["decided_by"]:
        parts.append(f"decided by: {decided_by_text(v, NOTES_MATCHES_MAX)}")
    parts.append(f"camscan scan of {doc['started']}")
    return ". ".join(parts)


def _generic(doc: Mapping[str, Any], d: Mapping[str, Any]) -> Row:
    v = d["verdict"]
    return {
        "site": doc["site"] or "",
        "scan_started": doc["started"],
        "ip": d["ip"],
        "mac": d["mac"] or "",
        "mac_vendor": d["vendor"] or "",
        "maker": v["maker"] or "",
        "brand": v["brand"] or "",
        "white_label": "yes" if v["white_label"] else "no",
        "device_type": v["device_type"],
        "model": v["model"] or "",
        "firmware": v["firmware"] or "",
        "serial": v["serial"] or "",
        "confidence": v["confidence"],
        "conflicts": conflicts_text(v),
        "outside_scope": "yes" if d["outside_scope"] else "no",
        "decided_by": decided_by_text(v),
        "errors": "; ".join(d["errors"]),
    }


def _netbox(doc: Mapping[str, Any], d: Mapping[str, Any]) -> Row:
    v = d["verdict"]
    return {
        "name": f"{_label(d)}-{d['ip']}",
        "role": TYPE_LABEL.get(v["device_type"], v["device_type"]),
        "manufacturer": _maker(v),
        "device_type": v["model"] or "Unknown",
        "serial": v["serial"] or "",
        "status": "active",
        "site": doc["site"] or "",
        "description": _short(f"{_label(d)} {v['device_type']} ({v['confidence']}, camscan)"),
        "comments": _facts(doc, d),
    }


def asset_tag(d: Mapping[str, Any]) -> str:
    """A stable tag for a device: its MAC, else its serial, else its address."""
    if d["mac"]:
        return "CS-" + str(d["mac"]).replace(":", "").upper()
    if d["verdict"]["serial"]:
        return "CS-SN-" + str(d["verdict"]["serial"])
    return "CS-IP-" + str(d["ip"])


def _snipeit(doc: Mapping[str, Any], d: Mapping[str, Any]) -> Row:
    v = d["verdict"]
    return {
        "Asset Tag": asset_tag(d),
        "Asset Name": f"{_label(d)} {d['ip']}",
        "Manufacturer": _maker(v),
        "Model Name": v["model"] or "Unknown model",
        "Model Number": v["model"] or "",
        "Category": TYPE_LABEL.get(v["device_type"], v["device_type"]),
        "Serial Number": v["serial"] or "",
        "Location": doc["site"] or "",
        "Notes": _facts(doc, d),
        "MAC Address": d["mac"] or "",
    }


def _glpi(doc: Mapping[str, Any], d: Mapping[str, Any]) -> Row:
    v = d["verdict"]
    return {
        "Name": f"{_label(d)}-{d['ip']}",
        "Manufacturer": _maker(v),
        "Model": v["model"] or "",
        "Type": TYPE_LABEL.get(v["device_type"], v["device_type"]),
        "Serial number": v["serial"] or "",
        "Inventory number": asset_tag(d),
        "Location": doc["site"] or "",
        "MAC address": d["mac"] or "",
        "IP address": d["ip"],
        "Comments": _facts(doc, d),
    }


@dataclass(frozen=True, slots=True)
class Profile:
    """One CSV layout: its columns in order and how a device becomes a row."""

    name: str
    columns: tuple[str, ...]
    row: RowBuilder
    description: str


def _profile(name: str, row: RowBuilder, description: str) -> Profile:
    # Columns come from the row builder itself, so they cannot drift from what it writes.
    sample: dict[str, Any] = {
        "ip": "", "mac": None, "vendor": None, "outside_scope": False, "errors": [],
        "verdict": {"maker": None, "brand": None, "white_label": False, "device_type": "unknown",
                    "model": None, "firmware": None, "serial": None,
                    "confidence": "undetermined", "conflicts": [], "decided_by": []}}
    return Profile(name, tuple(row({"site": None, "started": ""}, sample)), row, description)


PROFILES: dict[str, Profile] = {
    p.name: p for p in (
        _profile("generic", _generic, "every verdict field, one row per device"),
        _profile("netbox", _netbox, "NetBox DCIM device bulk import"),
        _profile("snipeit", _snipeit, "Snipe-IT asset import"),
        _profile("glpi", _glpi, "GLPI Data Injection plugin (Peripheral or Network equipment)"),
    )
}


def write_csv(doc: ScanResult | Mapping[str, Any], stream: TextIO,
              profile: str = "generic") -> None:
    """Write the devices of a document (or ScanResult) as CSV in `profile`'s columns, escaped."""
    doc = as_document(doc)
    try:
        prof = PROFILES[profile]
    except KeyError:
        raise ValueError(f"unknown CSV profile {profile!r}; one of {', '.join(PROFILES)}") from None
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(prof.columns)
    for d in doc["devices"]:
        row = prof.row(doc, d)
        writer.writerow([escape_cell(row[c]) for c in prof.columns])


def csv_text(doc: ScanResult | Mapping[str, Any], profile: str = "generic") -> str:
    """The CSV as a string."""
    buf = io.StringIO()
    write_csv(doc, buf, profile)
    return buf.getvalue()
