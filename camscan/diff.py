"""Compare two scan documents: new, removed, changed and still-present devices.

Matching a device across scans, in three passes over the devices not yet matched:
1. the same MAC address (case and separators ignored);
2. else the same serial number (case and surrounding space ignored);
3. else the same IP address, unless the two records carry different MACs or different
   serials (then they are different devices that took over an address).
Within a pass, if several records share a key, the one at the same IP address is preferred.
A matched device whose address, MAC or verdict fields differ is also listed as changed.
The still-present Hikvision/Dahua count counts matched devices that either scan identified as
Hikvision or Dahua, so a camera that stopped answering the identifying probes still counts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from camscan.models import TARGET_MAKERS
from camscan.output.table import plain
from camscan.targets import host_order

Dev = Mapping[str, Any]
COMPARED = (
    "ip",
    "mac",
    "maker",
    "brand",
    "device_type",
    "model",
    "firmware",
    "serial",
    "confidence",
)


def _mac(d: Dev) -> str | None:
    digits = "".join(c for c in str(d["mac"] or "").lower() if c in "0123456789abcdef")
    return digits or None


def _serial(d: Dev) -> str | None:
    serial = d["verdict"]["serial"]
    return (str(serial).strip().upper() or None) if serial else None


def _ip(d: Dev) -> str | None:
    return str(d["ip"])


def _differs(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a != b


def _ip_compatible(a: Dev, b: Dev) -> bool:
    return not (_differs(_mac(a), _mac(b)) or _differs(_serial(a), _serial(b)))


PASSES: tuple[tuple[str, Callable[[Dev], str | None], Callable[[Dev, Dev], bool]], ...] = (
    ("mac", _mac, lambda a, b: True),
    ("serial", _serial, lambda a, b: True),
    ("ip", _ip, _ip_compatible),
)


def fields_of(d: Dev) -> dict[str, Any]:
    """The compared fields of a device dict, flat."""
    v = d["verdict"]
    return {
        "ip": d["ip"],
        "mac": d["mac"],
        "maker": v["maker"],
        "brand": v["brand"],
        "device_type": v["device_type"],
        "model": v["model"],
        "firmware": v["firmware"],
        "serial": v["serial"],
        "confidence": v["confidence"],
    }


def is_target(d: Dev) -> bool:
    """True when the device's verdict names Hikvision or Dahua."""
    return d["verdict"]["maker"] in TARGET_MAKERS


@dataclass(frozen=True, slots=True)
class Pair:
    """One device found in both scans."""

    before: Dev
    after: Dev
    matched_by: str  # "mac", "serial" or "ip"

    @property
    def changes(self) -> dict[str, tuple[Any, Any]]:
        """Compared fields whose value differs: field → (before, after)."""
        a, b = fields_of(self.before), fields_of(self.after)
        return {k: (a[k], b[k]) for k in COMPARED if a[k] != b[k]}

    @property
    def is_target(self) -> bool:
        """Either scan identified it as Hikvision or Dahua."""
        return is_target(self.before) or is_target(self.after)


@dataclass(slots=True)
class ScanDiff:
    """The difference between scan A (before) and scan B (after)."""

    new: list[Dev] = field(default_factory=list)
    removed: list[Dev] = field(default_factory=list)
    still_present: list[Pair] = field(default_factory=list)

    @property
    def changed(self) -> list[Pair]:
        """Still-present devices whose address, MAC or verdict changed."""
        return [p for p in self.still_present if p.changes]

    @property
    def still_present_target(self) -> int:
        """Still-present devices identified as Hikvision or Dahua by either scan."""
        return sum(p.is_target for p in self.still_present)

    def counts(self) -> dict[str, int]:
        """The figures a removal programme reports."""
        return {
            "new": len(self.new),
            "removed": len(self.removed),
            "changed": len(self.changed),
            "still_present": len(self.still_present),
            "still_present_hikvision_dahua": self.still_present_target,
            "new_hikvision_dahua": sum(is_target(d) for d in self.new),
            "removed_hikvision_dahua": sum(is_target(d) for d in self.removed),
        }


def match_devices(before: Sequence[Dev], after: Sequence[Dev]) -> ScanDiff:
    """Pair devices across two scans by MAC, then serial, then IP (see the module docstring)."""
    left = list(before)
    right = list(after)
    pairs: list[Pair] = []
    for name, key, compatible in PASSES:
        index: dict[str, list[Dev]] = {}
        for a in left:
            if (k := key(a)) is not None:
                index.setdefault(k, []).append(a)
        taken: set[int] = set()  # by identity: two scans may hold equal records
        still_right: list[Dev] = []
        for b in right:
            k = key(b)
            group = index.get(k, []) if k is not None else []
            candidates = [a for a in group if id(a) not in taken and compatible(a, b)]
            if not candidates:
                still_right.append(b)
                continue
            a = next((c for c in candidates if c["ip"] == b["ip"]), candidates[0])
            taken.add(id(a))
            pairs.append(Pair(a, b, name))
        left = [a for a in left if id(a) not in taken]
        right = still_right
    pairs.sort(key=lambda p: host_order(p.after["ip"]))
    return ScanDiff(new=right, removed=left, still_present=pairs)


def diff_documents(a: Mapping[str, Any], b: Mapping[str, Any]) -> ScanDiff:
    """The difference between scan document A (before) and B (after)."""
    return match_devices(a["devices"], b["devices"])


def _scan_ref(doc: Mapping[str, Any], label: str | None) -> dict[str, Any]:
    s = doc["summary"]
    return {
        "ref": label,
        "started": doc["started"],
        "site": doc["site"],
        "complete": doc["complete"],
        "devices": s["devices"],
        "hikvision": s["hikvision"],
        "dahua": s["dahua"],
    }


def diff_to_dict(
    diff: ScanDiff,
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    *,
    a_label: str | None = None,
    b_label: str | None = None,
) -> dict[str, Any]:
    """The diff as a JSON-ready dict (what `camscan diff` prints on stdout)."""
    return {
        "before": _scan_ref(a, a_label),
        "after": _scan_ref(b, b_label),
        "matching": "mac, then serial, then ip",
        "counts": diff.counts(),
        "new": [fields_of(d) for d in diff.new],
        "removed": [fields_of(d) for d in diff.removed],
        "changed": [
            {
                "matched_by": p.matched_by,
                "before": fields_of(p.before),
                "after": fields_of(p.after),
                "changes": {k: {"before": x, "after": y} for k, (x, y) in p.changes.items()},
            }
            for p in diff.changed
        ],
        "still_present": [
            {"matched_by": p.matched_by, **fields_of(p.after)} for p in diff.still_present
        ],
    }


def print_diff(diff: ScanDiff, console: Console | None = None) -> None:
    """The diff as a table for people (stderr by default)."""
    c = diff.counts()
    table = Table(
        title=f"{c['new']} new, {c['removed']} removed, {c['changed']} changed, "
        f"{c['still_present']} still present "
        f"({c['still_present_hikvision_dahua']} of them Hikvision/Dahua)"
    )
    for col in ("", "IP", "MAC", "Maker", "Brand", "Model", "What changed"):
        table.add_column(col, overflow="fold")

    def row(mark: str, d: Dev, note: str = "") -> None:
        f = fields_of(d)
        table.add_row(
            mark,
            plain(f["ip"]),
            plain(f["mac"]),
            plain(f["maker"]),
            plain(f["brand"]),
            plain(f["model"]),
            plain(note, 80),
            style="bold" if is_target(d) else None,
        )

    for d in diff.new:
        row("+ new", d)
    for d in diff.removed:
        row("- removed", d)
    for p in diff.changed:
        row("~ changed", p.after, ", ".join(f"{k}: {x} → {y}" for k, (x, y) in p.changes.items()))
    (console or Console(stderr=True)).print(table)
