"""The human table of a scan document, for stderr (rich); device strings shown as inert text."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from camscan.models import TARGET_MAKERS, ScanResult
from camscan.output.document import as_document

# C0/C1 controls and DEL: a device banner must not move the cursor or recolour the terminal.
# Bidi embeddings, overrides, isolates and marks (Unicode TR 9) would reorder what follows them
# on the line (a banner could make "Dahua" read as another cell's text, "Trojan Source"); the
# line and paragraph separators U+2028/U+2029 break lines in some terminals.
_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]"
)
CELL_MAX = 40


def plain(value: object, limit: int = CELL_MAX) -> Text:
    """Untrusted text as a rich Text: no markup parsed, control characters shown as `?`."""
    text = "" if value is None else _CONTROL.sub("?", str(value))
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return Text(text)


def device_table(doc: ScanResult | Mapping[str, Any], width: int = 160) -> Table:
    """One row per device; Hikvision and Dahua rows in bold; columns that fit in `width`."""
    doc = as_document(doc)
    s = doc["summary"]
    table = Table(
        title=f"camscan: {s['hikvision']} Hikvision, {s['dahua']} Dahua, "
        f"{s['devices']} devices seen",
        caption=None if doc["complete"] else "INCOMPLETE: the scan was interrupted",
    )
    # Narrow terminals drop the least needed columns rather than fold every cell.
    columns = ["IP", "MAC", "Maker", "Brand", "Type", "Confidence"]
    if width < 100:
        columns.remove("MAC")
    if width >= 110:
        columns.insert(5, "Model")
    if width >= 140:
        columns.append("Decided by")
    for col in columns:
        if col in ("IP", "MAC"):
            table.add_column(col, no_wrap=True)
        elif col == "Decided by":
            table.add_column(col, overflow="ellipsis", no_wrap=True, max_width=40)
        else:
            table.add_column(col, overflow="fold", min_width=min(len(col), 10))
    for d in doc["devices"]:
        v = d["verdict"]
        ids = [m["fingerprint_id"] for m in v["decided_by"]]
        decided = ids[0] + (f" (+{len(ids) - 1})" if len(ids) > 1 else "") if ids else ""
        if v["conflicts"]:
            decided = (
                "CONFLICT "
                + "; ".join(f"{c['field']}: {'/'.join(c['values'])}" for c in v["conflicts"])
                + " "
                + decided
            )
        brand = v["brand"] or ""
        if v["white_label"]:
            brand += " (white label)"
        if d["outside_scope"]:
            brand += " [outside scope]"
        cells = {
            "IP": plain(d["ip"]),
            "MAC": plain(d["mac"] or ""),
            "Maker": plain(v["maker"] or "?"),
            "Brand": plain(brand),
            "Type": plain(v["device_type"]),
            "Model": plain(v["model"]),
            "Confidence": plain(v["confidence"]),
            "Decided by": plain(decided, 60),
        }
        style = "bold" if v["maker"] in TARGET_MAKERS else None
        table.add_row(*(cells[c] for c in columns), style=style)
    return table


def print_table(doc: ScanResult | Mapping[str, Any], console: Console | None = None) -> None:
    """Print the device table to `console` (default: stderr)."""
    console = console or Console(stderr=True)
    console.print(device_table(doc, console.width))
