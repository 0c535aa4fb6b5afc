"""The SQLite inventory: store, list, load back; default path; refuses a newer file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from output_sample import sample_result

from camscan.inventory import Inventory, InventoryError, default_db_path, store_document
from camscan.output.document import build_document


def test_store_list_load_round_trip(tmp_path: Path) -> None:
    db = tmp_path / "inv" / "camscan.sqlite3"
    first = build_document(sample_result(), fingerprint_version="2026.11.1")
    cut = sample_result(complete=False)
    cut.site = "Depot"
    with Inventory(db) as inv:
        assert inv.scans() == []
        assert inv.store(first) == 1
        assert inv.store(cut) == 2  # a ScanResult is built into a document on the way in
    with Inventory(db) as inv:
        scans = inv.scans()
        assert [(s.id, s.site, s.complete, s.devices, s.hikvision, s.dahua) for s in scans] == [
            (1, "Town Hall", True, 6, 2, 2),
            (2, "Depot", False, 6, 2, 2),
        ]
        assert scans[0].started == "2026-11-23T02:00:00+00:00"
        assert inv.load(1) == first
        assert inv.load(2)["complete"] is False
        with pytest.raises(InventoryError, match="no scan 3"):
            inv.load(3)
    rows = (
        sqlite3.connect(db)
        .execute("SELECT ip FROM devices WHERE scan_id = 1 AND maker = 'Dahua' ORDER BY ip")
        .fetchall()
    )
    assert rows == [("198.18.0.31",), ("198.18.0.45",)]
    assert store_document(first, db) == 3


def test_default_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CAMSCAN_DB", str(tmp_path / "x.sqlite3"))
    assert default_db_path() == tmp_path / "x.sqlite3"
    monkeypatch.delenv("CAMSCAN_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_db_path() == tmp_path / "data" / "camscan" / "inventory.sqlite3"


def test_inventory_file_is_private_and_not_created_when_reading(tmp_path: Path) -> None:
    db = tmp_path / "inv.sqlite3"
    with pytest.raises(InventoryError, match="no inventory at"):
        Inventory(db, create=False)
    assert not db.exists()
    Inventory(db).close()
    assert db.stat().st_mode & 0o777 == 0o600


def test_newer_inventory_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "new.sqlite3"
    con = sqlite3.connect(db)
    con.execute("PRAGMA user_version = 99")
    con.close()
    with pytest.raises(InventoryError, match="newer camscan"):
        Inventory(db)


def test_unopenable_inventory_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "dir.sqlite3").mkdir()
    with pytest.raises(InventoryError, match="cannot open inventory"):
        Inventory(tmp_path / "dir.sqlite3")
