"""The human table of a scan document, for stderr (rich); device strings shown as inert text."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from camscan.models import ScanResult
from camscan.output.document import TARGET_MAKERS, as_document

# C0/C1 controls and DEL: a device banner must not move the cursor or recolour the terminal.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
CELL_MAX = 40


def plain(value: object, limit: int = CELL_MAX) -> Text:
    """Untrusted text as a rich Text: no markup parsed, control characters shown as `?`."""
    text = "" if value is None else _CONTROL.sub("?", str(value))
    if len(text) > limit:
        text = text[:limit - 1] + "…"
    return Text(text)


def device_table(doc: ScanResult | Mapping[str, Any]) -> Table:
    """One row per device; Hikvision and Dahua rows in bold."""
    doc = as_document(doc)
    s = doc["summary"]
    table = Table(title=f"camscan: {s['hikvision']} Hikvision, {s['dahua']} Dahua, "
                        f"{s['devices']} devices seen",
                  caption=None if doc["complete"] else "INCOMPLETE: the scan was interrupted")
    for col in ("IP", "MAC", "Maker", "Brand", "Type", "Model", "Confidence", "Decided by"):
        table.add_column(col, overflow="fold")
    for d in doc["devices"]:
        v = d["verdict"]
        decided = ", ".join(m["fingerprint_id"] for m in v["decided_by"][:3])
        if v["conflicts"]:
            decided = ("CONFLICT " + "; ".join(
                f"{c['field']}: {'/'.join(c['values'])}" for c in v["conflicts"]) + " " + decided)
        brand = v["brand"] or ""
        if v["white_label"]:
            brand += " (white label)"
        row = [plain(d["ip"]), plain(d["mac"]), plain(v["maker"] or "?"), plain(brand),
               plain(v["device_type"]), plain(v["model"]), plain(v["confidence"]),
               plain(decided, 60)]
        style = "bold" if v["maker"] in TARGET_MAKERS else None
        table.add_row(*row, style=style)
    return table


def print_table(doc: ScanResult | Mapping[str, Any], console: Console | None = None) -> None:
    """Print the device table to `console` (default: stderr)."""
    (console or Console(stderr=True)).print(device_table(doc))
