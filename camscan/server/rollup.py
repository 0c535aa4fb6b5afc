"""The roll-up over every site: latest scan per sensor, what was removed since the one before.

A site may have several sensors (one per segment), so "latest" is per sensor and a site's
figures add up its sensors' latest scans. The comparison with each sensor's previous scan was
made when the scan arrived (camscan.server.compare, with `camscan diff`'s matching code) and
is only read here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from camscan.server.db import driver

SILENT_DAYS = 7
_LATEST = """
SELECT DISTINCT ON (sensor_id) id, sensor_id, started, complete, devices, hikvision, dahua,
       previous, new, removed, removed_hikvision_dahua, still_present_hikvision_dahua
FROM scans
ORDER BY sensor_id, started DESC, id DESC
"""
_SENSORS = """
SELECT se.id, se.name, si.id, si.name, se.last_seen
FROM sensors se JOIN sites si ON si.id = se.site_id
WHERE se.role = 'sensor'
ORDER BY si.name, se.name
"""


@dataclass(slots=True)
class SiteFigures:
    """A site's figures: its sensors' latest scans added up, and the change since the previous."""

    site: str
    sensors: int = 0
    scans: int = 0  # sensors with at least one scan
    latest_scan: str | None = None
    devices: int = 0
    hikvision: int = 0
    dahua: int = 0
    incomplete_scans: int = 0
    compared: int = 0  # sensors with a previous scan to compare with
    new: int = 0
    removed: int = 0
    removed_hikvision_dahua: int = 0
    still_present_hikvision_dahua: int = 0
    silent_sensors: list[str] = field(default_factory=list)

    @property
    def hikvision_dahua(self) -> int:
        """Hikvision and Dahua devices in the latest scans: what is still there."""
        return self.hikvision + self.dahua

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the derived total."""
        return {**asdict(self), "hikvision_dahua": self.hikvision_dahua}

    def add(self, other: SiteFigures) -> None:
        """Add another site's counts into this one (for the total)."""
        for name in (
            "sensors",
            "scans",
            "devices",
            "hikvision",
            "dahua",
            "incomplete_scans",
            "compared",
            "new",
            "removed",
            "removed_hikvision_dahua",
            "still_present_hikvision_dahua",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.silent_sensors += other.silent_sensors
        if other.latest_scan and (self.latest_scan is None or other.latest_scan > self.latest_scan):
            self.latest_scan = other.latest_scan


@dataclass(frozen=True, slots=True)
class SilentSensor:
    """A sensor that has pushed nothing for the silence threshold (or never)."""

    name: str
    site: str
    last_seen: str | None


@dataclass(slots=True)
class Rollup:
    """Every site's figures, the total, and the silent sensors."""

    generated: str
    silent_days: int
    sites: list[SiteFigures]
    total: SiteFigures
    silent: list[SilentSensor]
    latest_scans: dict[str, list[int]]  # site → its sensors' latest scans (document ids)

    def to_dict(self) -> dict[str, Any]:
        """What GET /api/v1/rollup returns."""
        return {
            "generated": self.generated,
            "silent_days": self.silent_days,
            "total": self.total.to_dict(),
            "sites": [s.to_dict() for s in self.sites],
            "silent_sensors": [asdict(s) for s in self.silent],
        }


def _iso(t: datetime | None) -> str | None:
    return t.astimezone(UTC).isoformat(timespec="seconds") if t is not None else None


def compute(engine: Engine, silent_days: int = SILENT_DAYS, now: datetime | None = None) -> Rollup:
    """The roll-up as of `now` (default: the current time)."""
    now = now or datetime.now(UTC)
    with engine.connect() as conn:
        cur = driver(conn).cursor()
        cur.execute(_SENSORS)
        sensor_rows = cur.fetchall()
        cur.execute(_LATEST)
        scan_rows = cur.fetchall()
    sites: dict[str, SiteFigures] = {}
    latest_ids: dict[str, list[int]] = {}
    sensor_site = {r[0]: r[3] for r in sensor_rows}
    silent: list[SilentSensor] = []
    cutoff = now - timedelta(days=silent_days)
    for _sensor_id, name, _site_id, site, last_seen in sensor_rows:
        fig = sites.setdefault(site, SiteFigures(site))
        fig.sensors += 1
        if last_seen is None or last_seen < cutoff:
            silent.append(SilentSensor(name, site, _iso(last_seen)))
            fig.silent_sensors.append(name)
    for (
        sid,
        sensor_id,
        started,
        complete,
        n,
        hik,
        dahua,
        previous,
        new,
        removed,
        removed_target,
        still_target,
    ) in scan_rows:
        fig = sites[sensor_site[sensor_id]]
        latest_ids.setdefault(fig.site, []).append(sid)
        fig.scans += 1
        fig.devices += n
        fig.hikvision += hik
        fig.dahua += dahua
        fig.incomplete_scans += not complete
        when = _iso(started)
        if when and (fig.latest_scan is None or when > fig.latest_scan):
            fig.latest_scan = when
        if previous is not None:
            fig.compared += 1
            fig.new += new
            fig.removed += removed
            fig.removed_hikvision_dahua += removed_target
            fig.still_present_hikvision_dahua += still_target
    ordered = [sites[k] for k in sorted(sites)]
    total = SiteFigures("All sites")
    for fig in ordered:
        total.add(fig)
    return Rollup(_iso(now) or "", silent_days, ordered, total, silent, latest_ids)


def latest_documents(engine: Engine, scans: Sequence[int]) -> list[dict[str, Any]]:
    """The stored documents of these scans (document ids), as received."""
    with engine.connect() as conn:
        cur = driver(conn).cursor()
        cur.execute("SELECT body FROM documents WHERE id = ANY(%s) ORDER BY id", (list(scans),))
        return [json.loads(bytes(r[0])) for r in cur.fetchall()]
