"""The roll-up over every site: latest scan per sensor, what was removed since the one before.

A site may have several sensors (one per segment), so "latest" is per sensor and a site's
figures add up its sensors' latest scans. The comparison with each sensor's previous scan is
`camscan.diff.match_devices`, the code `camscan diff` uses, fed from the normalised rows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from camscan.diff import match_devices
from camscan.server.db import driver

SILENT_DAYS = 7
_LATEST = """
SELECT id, sensor_id, site_id, started, complete, devices, hikvision, dahua, rn
FROM (SELECT s.*, row_number() OVER (PARTITION BY sensor_id
                                     ORDER BY started DESC, received_at DESC) AS rn
      FROM scans s) ranked
WHERE rn <= 2
"""
_DEVICES = """
SELECT d.scan, d.ip, d.mac, v.maker, v.brand, v.device_type, v.model, v.firmware,
       v.serial, v.confidence
FROM devices d JOIN verdicts v USING (scan, device_no)
WHERE d.scan = ANY(%s)
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
        for name in ("sensors", "scans", "devices", "hikvision", "dahua", "incomplete_scans",
                     "compared", "new", "removed", "removed_hikvision_dahua",
                     "still_present_hikvision_dahua"):
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
        return {"generated": self.generated, "silent_days": self.silent_days,
                "total": self.total.to_dict(), "sites": [s.to_dict() for s in self.sites],
                "silent_sensors": [asdict(s) for s in self.silent]}


def _iso(t: datetime | None) -> str | None:
    return t.astimezone(UTC).isoformat(timespec="seconds") if t is not None else None


def _device(row: Sequence[Any]) -> dict[str, Any]:
    return {"ip": row[1], "mac": row[2], "verdict": {
        "maker": row[3], "brand": row[4], "device_type": row[5], "model": row[6],
        "firmware": row[7], "serial": row[8], "confidence": row[9]}}


def compute(engine: Engine, silent_days: int = SILENT_DAYS,
            now: datetime | None = None) -> Rollup:
    """The roll-up as of `now` (default: the current time)."""
    now = now or datetime.now(UTC)
    with engine.connect() as conn:
        cur = driver(conn).cursor()
        cur.execute(_SENSORS)
        sensor_rows = cur.fetchall()
        cur.execute(_LATEST)
        scan_rows = cur.fetchall()
        compared = [r[0] for r in scan_rows if r[8] == 2]
        latest_with_prev = {r[1] for r in scan_rows if r[8] == 2}
        wanted = compared + [r[0] for r in scan_rows if r[8] == 1 and r[1] in latest_with_prev]
        by_scan: dict[int, list[dict[str, Any]]] = {sid: [] for sid in wanted}
        if wanted:
            cur.execute(_DEVICES, (wanted,))
            for row in cur:
                by_scan[row[0]].append(_device(row))
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
    previous = {r[1]: r[0] for r in scan_rows if r[8] == 2}
    for sid, sensor_id, _site_id, started, complete, n, hik, dahua, rn in scan_rows:
        if rn != 1:
            continue
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
        if sensor_id in previous:
            c = match_devices(by_scan[previous[sensor_id]], by_scan[sid]).counts()
            fig.compared += 1
            fig.new += c["new"]
            fig.removed += c["removed"]
            fig.removed_hikvision_dahua += c["removed_hikvision_dahua"]
            fig.still_present_hikvision_dahua += c["still_present_hikvision_dahua"]
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
