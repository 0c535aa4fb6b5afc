"""Monitoring: a scan document judged by the Nagios/Icinga plugin conventions.

Exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN, and one status line with performance data
(`'label'=value;warn;crit;min;` after a `|`), as the Monitoring Plugins guidelines describe.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from camscan.risks import SEVERITIES

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
STATUS = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}
TARGET_MAKERS = ("Hikvision", "Dahua")


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When to warn and when to go critical."""

    warn_found: int = 0  # WARNING above this many Hikvision/Dahua devices (new ones: baseline)
    crit_found: int | None = None  # CRITICAL above this many; None: never for the count alone
    crit_severity: str = "high"  # a new risk note at least this severe is CRITICAL; others WARNING
    max_age_s: float | None = None  # UNKNOWN when the scan started longer ago than this


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The plugin's exit code and its one output line."""

    code: int
    line: str


def _key(d: Mapping[str, Any]) -> str:
    return str(d["mac"] or d["verdict"]["serial"] or d["ip"])


def _targets(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [d for d in doc["devices"] if d["verdict"]["maker"] in TARGET_MAKERS]


def _notes(doc: Mapping[str, Any]) -> set[tuple[str, str]]:
    return {(_key(d), r["id"]) for d in doc["devices"] for r in d.get("risks", ())}


def _severity(doc: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    return {(_key(d), r["id"]): r["severity"] for d in doc["devices"] for r in d.get("risks", ())}


def evaluate(
    doc: Mapping[str, Any],
    baseline: Mapping[str, Any] | None = None,
    limits: Thresholds = Thresholds(),
    now: datetime | None = None,
) -> CheckResult:
    """Judge a scan document (and what changed since `baseline`, if given)."""
    targets = _targets(doc)
    hik = sum(d["verdict"]["maker"] == "Hikvision" for d in targets)
    dahua = len(targets) - hik
    notes = _notes(doc)
    if baseline is not None:
        known = {_key(d) for d in _targets(baseline)}
        found = [d for d in targets if _key(d) not in known]
        new_notes = notes - _notes(baseline)
        found_word = "new Hikvision/Dahua"
    else:
        found, new_notes, found_word = targets, notes, "Hikvision/Dahua"
    severity = _severity(doc)
    worst = SEVERITIES.index(limits.crit_severity)
    serious = [n for n in new_notes if SEVERITIES.index(severity[n]) <= worst]
    code = OK
    if len(found) > limits.warn_found or new_notes:
        code = WARNING
    if serious or (limits.crit_found is not None and len(found) > limits.crit_found):
        code = CRITICAL
    parts = [
        f"{len(found)} {found_word} device{'s' if len(found) != 1 else ''}"
        f" ({hik} Hikvision, {dahua} Dahua in all)",
        f"{len(new_notes)} {'new ' if baseline is not None else ''}risk note"
        f"{'s' if len(new_notes) != 1 else ''}"
        + (f", {len(serious)} {limits.crit_severity} or worse" if serious else ""),
    ]
    if serious:
        ids = sorted({n[1] for n in serious})
        parts.append("; ".join(ids))
    if not doc["complete"]:
        parts.append("scan incomplete")
        if code == OK:
            code = UNKNOWN
    if limits.max_age_s is not None:
        age = _age_s(doc["started"], now or datetime.now(UTC))
        if age is None or age > limits.max_age_s:  # stale figures are no status at all
            parts.append("scan too old" if age is not None else "scan time unreadable")
            code = UNKNOWN
    crit = "" if limits.crit_found is None else str(limits.crit_found)
    perf = (
        f"hikvision={hik};;;0; dahua={dahua};;;0; "
        f"found={len(found)};{limits.warn_found};{crit};0; "
        f"devices={len(doc['devices'])};;;0; risk_notes={len(notes)};;;0; "
        f"new_risk_notes={len(new_notes)};;;0;"
    )
    return CheckResult(code, f"CAMSCAN {STATUS[code]} - {', '.join(parts)} | {perf}")


def _age_s(started: str | None, now: datetime) -> float | None:
    try:
        t = datetime.fromisoformat(str(started))
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return (now - t).total_seconds()


def unknown(message: str) -> CheckResult:
    """UNKNOWN with a one-line reason (unreadable input, bad options)."""
    return CheckResult(UNKNOWN, f"CAMSCAN UNKNOWN - {' '.join(message.split())}")
