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
NETBOX_NAME_MAX = 100  # NetBox's CharField max_length for names and device-type models
DEFAULT_SITE = "camscan"  # NetBox requires a site; this one is created by the site CSV
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
    return text if len(text) <= SUMMARY_VALUE_MAX else text[: SUMMARY_VALUE_MAX - 1] + "…"


def decided_by_text(verdict: Mapping[str, Any], limit: int | None = None) -> str:
    """The fingerprints that decided a verdict (strongest first, at most `limit`), one line."""
    matches = verdict["decided_by"]
    text = "; ".join(
        f"{m['fingerprint_id']} ({m['key']}={_short(str(m['value']))})" for m in matches[:limit]
    )
    if limit is not None and len(matches) > limit:
        text += f"; and {len(matches) - limit} more"
    return text


def conflicts_text(verdict: Mapping[str, Any]) -> str:
    """Conflicting claims, one line: `maker: Hikvision | Dahua`."""
    return "; ".join(f"{c['field']}: {' | '.join(c['values'])}" for c in verdict["conflicts"])


def risks_text(d: Mapping[str, Any]) -> str:
    """Risk notes, one line: `hikvision-cve-2021-36260 (critical, in range); …`."""
    return "; ".join(f"{r['id']} ({r['severity']}, {r['certainty']})" for r in d.get("risks", ()))


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
        "risks": risks_text(d),
        "outside_scope": "yes" if d["outside_scope"] else "no",
        "decided_by": decided_by_text(v),
        "errors": "; ".join(d["errors"]),
    }


def asset_tag(d: Mapping[str, Any]) -> str:
    """A stable tag for a device: its MAC, else its serial, else its address."""
    if d["mac"]:
        return "CS-" + str(d["mac"]).replace(":", "").upper()
    if d["verdict"]["serial"]:
        return "CS-SN-" + str(d["verdict"]["serial"])
    return "CS-IP-" + str(d["ip"])


def register_name(d: Mapping[str, Any]) -> str:
    """A name that stays the same across scans: brand or maker, then the asset tag's core."""
    return f"{_label(d)}-{asset_tag(d).removeprefix('CS-')}"


def type_label(v: Mapping[str, Any]) -> str:
    """The register's role/category name for the verdict's device type."""
    return TYPE_LABEL.get(v["device_type"], str(v["device_type"]))


def register_model(v: Mapping[str, Any]) -> str:
    """A model name unique per maker and model: `Hikvision DS-2CD2385G1-I`.

    Snipe-IT finds an existing model by name alone (ItemImporter::createOrFetchAssetModel),
    so an unqualified `Unknown model` would file every unidentified device under whichever
    maker's row created it first; the maker and, for unknown models, the type keep them apart.
    """
    maker = _maker(v)
    if v["model"]:
        return f"{maker} {v['model']}"
    return f"{maker} {type_label(v)} (model unknown)"


def _netbox(doc: Mapping[str, Any], d: Mapping[str, Any]) -> Row:
    v = d["verdict"]
    return {
        "name": register_name(d),
        "role": type_label(v),
        "manufacturer": _maker(v),
        "device_type": netbox_device_type(v),
        "serial": v["serial"] or "",
        "asset_tag": asset_tag(d),
        "status": "active",
        "site": doc["site"] or DEFAULT_SITE,
        "description": _short(f"{_label(d)} {v['device_type']} ({v['confidence']}, camscan)"),
        "comments": _facts(doc, d),
    }


def netbox_device_type(v: Mapping[str, Any]) -> str:
    """The NetBox device type's `model`: the model, else `<type> (model unknown)` (per maker)."""
    return str(v["model"] or f"{type_label(v)} (model unknown)")[:NETBOX_NAME_MAX]


def _snipeit(doc: Mapping[str, Any], d: Mapping[str, Any]) -> Row:
    v = d["verdict"]
    return {
        "Asset Tag": asset_tag(d),
        "Asset Name": register_name(d),
        "Manufacturer": _maker(v),
        "Model Name": register_model(v),
        "Model Number": v["model"] or "",
        "Category": type_label(v),
        "Serial Number": v["serial"] or "",
        "Location": doc["site"] or "",
        "Asset Notes": _facts(doc, d),
        "MAC Address": d["mac"] or "",
    }


@dataclass(frozen=True, slots=True)
class Profile:
    """One CSV layout: its columns in order and how a device becomes a row."""

    name: str
    columns: tuple[str, ...]
    row: RowBuilder
    description: str
    unique: tuple[str, ...] = ()  # columns the importer requires to be unique


def _profile(name: str, row: RowBuilder, description: str, unique: tuple[str, ...] = ()) -> Profile:
    # Columns come from the row builder itself, so they cannot drift from what it writes.
    sample: dict[str, Any] = {
        "ip": "",
        "mac": None,
        "vendor": None,
        "outside_scope": False,
        "errors": [],
        "risks": [],
        "verdict": {
            "maker": None,
            "brand": None,
            "white_label": False,
            "device_type": "unknown",
            "model": None,
            "firmware": None,
            "serial": None,
            "confidence": "undetermined",
            "conflicts": [],
            "decided_by": [],
        },
    }
    return Profile(
        name, tuple(row({"site": None, "started": ""}, sample)), row, description, unique
    )


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        _profile("generic", _generic, "every verdict field, one row per device"),
        _profile("netbox", _netbox, "NetBox DCIM device bulk import", ("name", "asset_tag")),
        _profile("snipeit", _snipeit, "Snipe-IT asset import", ("Asset Tag", "Asset Name")),
    )
}


def write_csv(
    doc: ScanResult | Mapping[str, Any], stream: TextIO, profile: str = "generic"
) -> None:
    """Write the devices of a document (or ScanResult) as CSV in `profile`'s columns, escaped."""
    doc = as_document(doc)
    try:
        prof = PROFILES[profile]
    except KeyError:
        raise ValueError(f"unknown CSV profile {profile!r}; one of {', '.join(PROFILES)}") from None
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(prof.columns)
    for row in profile_rows(doc, prof):
        writer.writerow([escape_cell(row[c]) for c in prof.columns])


def profile_rows(doc: Mapping[str, Any], prof: Profile) -> list[Row]:
    """The rows of a profile, its unique columns made unique (`-2`, `-3` … on repeats).

    Two addresses can share a MAC (a recorder with two interfaces, proxy ARP); the importer
    would reject the second row and, in NetBox, the whole file.
    """
    rows = [prof.row(doc, d) for d in doc["devices"]]
    for col in prof.unique:
        seen: dict[str, int] = {}
        for row in rows:
            n = seen[row[col]] = seen.get(row[col], 0) + 1
            if n > 1:
                row[col] = f"{row[col]}-{n}"
    return rows


def csv_text(doc: ScanResult | Mapping[str, Any], profile: str = "generic") -> str:
    """The CSV as a string."""
    buf = io.StringIO()
    write_csv(doc, buf, profile)
    return buf.getvalue()
