"""NetBox import bundle: the site, manufacturers, roles and device types the devices CSV needs.

Checked against netbox-community/netbox v4.6.8 `dcim/forms/bulk_import.py` (docs/outputs.md):
a device row names its role, manufacturer, device type (by `model`, within the manufacturer)
and site, each of which must already exist; sites, manufacturers and roles need a `slug`,
roles a `color`, device types a `slug` unique per manufacturer. Files are numbered in import
order; the devices file is last.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from typing import Any

from camscan.output.csv import (
    DEFAULT_SITE,
    NETBOX_NAME_MAX,
    PROFILES,
    _maker,
    escape_cell,
    netbox_device_type,
    profile_rows,
    type_label,
)

# Role colours (NetBox's ColorField: six hex digits): targets stand out, the rest grey.
ROLE_COLOR = {
    "Camera": "f44336",
    "NVR/DVR": "e91e63",
    "Doorbell/Intercom": "ff9800",
    "Access Control": "9c27b0",
    "Other network device": "9e9e9e",
    "Unidentified network device": "607d8b",
}
SLUG_MAX = 100


def slugify(text: str) -> str:
    """NetBox's slug alphabet (`^[-a-zA-Z0-9_]+$`), lower case, at most 100 characters."""
    slug = re.sub(r"[^a-z0-9_]+", "-", text.lower()).strip("-")[:SLUG_MAX].strip("-")
    return slug or "x"


def _unique_slugs(names: Iterable[str]) -> dict[str, str]:
    """name → slug, distinct names that slugify alike made distinct (`-2`, `-3` …)."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for name in names:
        base = slug = slugify(name)
        n = 1
        while slug in used:
            n += 1
            slug = f"{base[: SLUG_MAX - len(str(n)) - 1]}-{n}"
        used.add(slug)
        out[name] = slug
    return out


def _csv(columns: tuple[str, ...], rows: Iterable[Mapping[str, str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(columns)
    for row in rows:
        w.writerow([escape_cell(row[c]) for c in columns])
    return buf.getvalue()


def companions(doc: Mapping[str, Any]) -> dict[str, list[dict[str, str]]]:
    """The objects the devices refer to, as NetBox import rows per object kind."""
    site = str(doc["site"] or DEFAULT_SITE)[:NETBOX_NAME_MAX]
    verdicts = [d["verdict"] for d in doc["devices"]]
    makers = sorted({_maker(v)[:NETBOX_NAME_MAX] for v in verdicts})
    roles = sorted({type_label(v) for v in verdicts})
    types: dict[str, set[str]] = {}
    for v in verdicts:
        types.setdefault(_maker(v)[:NETBOX_NAME_MAX], set()).add(netbox_device_type(v))
    maker_slugs = _unique_slugs(makers)
    role_slugs = _unique_slugs(roles)
    type_rows = []
    for maker in makers:
        slugs = _unique_slugs(sorted(types.get(maker, ())))
        type_rows += [
            {
                "manufacturer": maker,
                "model": model,
                "slug": slug,
                "u_height": "0",
                "is_full_depth": "false",
                "description": "created by camscan from a network scan",
            }
            for model, slug in slugs.items()
        ]
    return {
        "site": [
            {
                "name": site,
                "slug": slugify(site),
                "status": "active",
                "description": "created by camscan",
            }
        ],
        "manufacturers": [{"name": m, "slug": maker_slugs[m]} for m in makers],
        "device-roles": [
            {
                "name": r,
                "slug": role_slugs[r],
                "color": ROLE_COLOR.get(r, "9e9e9e"),
                "vm_role": "false",
            }
            for r in roles
        ],
        "device-types": type_rows,
    }


COMPANION_COLUMNS = {
    "site": ("name", "slug", "status", "description"),
    "manufacturers": ("name", "slug"),
    "device-roles": ("name", "slug", "color", "vm_role"),
    "device-types": ("manufacturer", "model", "slug", "u_height", "is_full_depth", "description"),
}


def netbox_bundle(
    doc: Mapping[str, Any],
    *,
    ids: Mapping[str, str] | None = None,
    since: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Import-ordered files: `1-site` … `4-device-types`, then `5-devices` (name → CSV text).

    `ids` maps asset tags to NetBox device ids (from NetBox's own device export): those rows
    carry `id` and update the device instead of failing as duplicates. `since` is an earlier
    scan already imported: companion rows it produced are left out, so a re-import does not
    fail on names NetBox already holds.
    """
    kinds = companions(doc)
    if since is not None:
        old = companions(since)
        for kind, rows in kinds.items():
            known = {tuple(sorted(r.items())) for r in old[kind]}
            kinds[kind] = [r for r in rows if tuple(sorted(r.items())) not in known]
    files = {
        f"{n}-{kind}": _csv(COMPANION_COLUMNS[kind], rows)
        for n, (kind, rows) in enumerate(kinds.items(), 1)
    }
    prof = PROFILES["netbox"]
    rows = profile_rows(doc, prof)
    columns = prof.columns
    if ids:
        columns = ("id", *columns)
        rows = [{"id": ids.get(r["asset_tag"], ""), **r} for r in rows]
    files["5-devices"] = _csv(columns, rows)
    return files


def read_netbox_ids(text: str) -> dict[str, str]:
    """asset tag → device id, from NetBox's device list export (CSV with ID and Asset tag)."""
    reader = csv.DictReader(io.StringIO(text))
    names = {(f or "").strip().lower().replace(" ", "_"): f for f in reader.fieldnames or ()}
    id_col, tag_col = names.get("id"), names.get("asset_tag")
    if id_col is None or tag_col is None:
        raise ValueError(
            "the NetBox export needs an ID and an Asset tag column "
            f"(found: {', '.join(reader.fieldnames or ()) or 'none'})"
        )
    return {
        row[tag_col].strip(): row[id_col].strip()
        for row in reader
        if row.get(tag_col) and row.get(id_col, "").strip().isdigit()
    }
