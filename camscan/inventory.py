"""The scan inventory: scan documents stored in an embedded SQLite file, listed and read back.

Default file: `<user data dir>/camscan/inventory.sqlite3` (platformdirs), or `$CAMSCAN_DB`;
`--db PATH` overrides both. Each scan keeps its whole document; a `devices` table repeats the
verdict fields for ad-hoc SQL (`SELECT ip, mac FROM devices WHERE maker = 'Dahua'`).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import platformdirs

from camscan.models import ScanResult
from camscan.output.document import as_document

DB_ENV = "CAMSCAN_DB"
USER_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS scans (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    stored_at TEXT NOT NULL,
    started TEXT NOT NULL,
    finished TEXT,
    site TEXT,
    operator TEXT,
    complete INTEGER NOT NULL,
    schema_version TEXT NOT NULL,
    devices INTEGER NOT NULL,
    hikvision INTEGER NOT NULL,
    dahua INTEGER NOT NULL,
    document TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS devices (
    scan_id INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
    ip TEXT NOT NULL,
    mac TEXT,
    maker TEXT,
    brand TEXT,
    device_type TEXT NOT NULL,
    model TEXT,
    serial TEXT,
    confidence TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS devices_mac ON devices(mac);
CREATE INDEX IF NOT EXISTS devices_scan ON devices(scan_id);
"""


class InventoryError(Exception):
    """The inventory cannot be opened or has no such scan; one line for the user."""


@dataclass(frozen=True, slots=True)
class StoredScan:
    """One row of `camscan history`."""

    id: int
    stored_at: str
    started: str
    finished: str | None
    site: str | None
    operator: str | None
    complete: bool
    devices: int
    hikvision: int
    dahua: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, keys in field order."""
        return asdict(self)


def default_db_path() -> Path:
    """`$CAMSCAN_DB`, else the inventory file in the user's data directory."""
    if env := os.environ.get(DB_ENV):
        return Path(env)
    return platformdirs.user_data_path("camscan") / "inventory.sqlite3"


class Inventory:
    """An open inventory file; a context manager that closes it."""

    def __init__(self, path: str | Path | None = None, *, create: bool = True) -> None:
        self.path = Path(path) if path is not None else default_db_path()
        if not create and not self.path.exists():
            raise InventoryError(
                f"no inventory at {self.path} (scans are stored with `camscan scan --store`)"
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                # The inventory maps a network: readable by its owner only.
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            self._db = sqlite3.connect(self.path)
        except (sqlite3.Error, OSError) as exc:
            raise InventoryError(f"cannot open inventory {self.path}: {exc}") from None
        try:
            self._prepare()
        except BaseException:
            self._db.close()
            raise

    def _prepare(self) -> None:
        try:
            self._db.execute("PRAGMA foreign_keys = ON")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > USER_VERSION:
                raise InventoryError(
                    f"{self.path}: written by a newer camscan "
                    f"(inventory version {version}); upgrade camscan"
                )
            with self._db:
                self._db.executescript(_SCHEMA)
                self._db.execute(f"PRAGMA user_version = {USER_VERSION}")
        except sqlite3.Error as exc:
            raise InventoryError(f"cannot open inventory {self.path}: {exc}") from None

    def store(
        self, doc: ScanResult | Mapping[str, Any], fingerprint_version: str | None = None
    ) -> int:
        """Store one scan document (or ScanResult); returns its scan id."""
        doc = as_document(doc, fingerprint_version=fingerprint_version)
        s = doc["summary"]
        with self._db:
            cur = self._db.execute(
                "INSERT INTO scans (stored_at, started, finished, site, operator, complete, "
                "schema_version, devices, hikvision, dahua, document) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    datetime.now(UTC).isoformat(timespec="seconds"),
                    doc["started"],
                    doc["finished"],
                    doc["site"],
                    doc["operator"],
                    int(bool(doc["complete"])),
                    doc["schema_version"],
                    s["devices"],
                    s["hikvision"],
                    s["dahua"],
                    json.dumps(doc, ensure_ascii=False),
                ),
            )
            scan_id = cur.lastrowid
            assert scan_id is not None
            self._db.executemany(
                "INSERT INTO devices (scan_id, ip, mac, maker, brand, device_type, model, "
                "serial, confidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        scan_id,
                        d["ip"],
                        d["mac"],
                        d["verdict"]["maker"],
                        d["verdict"]["brand"],
                        d["verdict"]["device_type"],
                        d["verdict"]["model"],
                        d["verdict"]["serial"],
                        d["verdict"]["confidence"],
                    )
                    for d in doc["devices"]
                ],
            )
        return scan_id

    def scans(self) -> list[StoredScan]:
        """Every stored scan, oldest first."""
        rows = self._db.execute(
            "SELECT id, stored_at, started, finished, site, operator, complete, devices, "
            "hikvision, dahua FROM scans ORDER BY id"
        ).fetchall()
        return [
            StoredScan(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), r[7], r[8], r[9])
            for r in rows
        ]

    def load(self, scan_id: int) -> dict[str, Any]:
        """The document of one stored scan."""
        row = self._db.execute("SELECT document FROM scans WHERE id = ?", (scan_id,)).fetchone()
        if row is None:
            raise InventoryError(f"no scan {scan_id} in inventory {self.path}")
        doc: dict[str, Any] = json.loads(row[0])
        return doc

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    def __enter__(self) -> Inventory:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def store_document(doc: ScanResult | Mapping[str, Any], db: str | Path | None = None) -> int:
    """Store one document in the inventory at `db` (default path if None); returns the scan id."""
    with Inventory(db) as inv:
        return inv.store(doc)
