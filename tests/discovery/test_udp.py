"""The shared UDP collector: size limit, per-source and total caps, duplicates; MAC notation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from capture_files import read

from camscan.discovery import udp
from camscan.models import MethodStats
from camscan.oui import normalize_mac


def collector(
    max_size: int = 100, per_source: int = 3, total: int = 10, ignore: frozenset[str] = frozenset()
) -> tuple[udp._Collector, list[udp.Datagram]]:
    kept: list[udp.Datagram] = []
    limits = udp._Limits(max_size, per_source, total, ignore)
    return udp._Collector(limits, MethodStats("x"), kept.append), kept


def test_a_flooding_source_keeps_only_its_share() -> None:
    c, kept = collector()
    for i in range(1000):
        c.datagram_received(b"reply %d" % i, ("10.0.0.1", 37810))
    c.datagram_received(b"other", ("10.0.0.2", 37810))
    assert [d.ip for d in kept] == ["10.0.0.1"] * 3 + ["10.0.0.2"]
    assert c.stats.dropped == 997


def test_oversize_is_dropped_and_counted_duplicates_are_not() -> None:
    c, kept = collector(max_size=10)
    c.datagram_received(b"x" * 11, ("10.0.0.1", 1))
    c.datagram_received(b"same", ("10.0.0.1", 1))
    c.datagram_received(b"same", ("10.0.0.1", 1))
    assert len(kept) == 1 and c.stats.dropped == 1


def test_total_cap_holds_whatever_the_sources() -> None:
    c, kept = collector(total=10)
    for i in range(50):
        c.datagram_received(b"r", (f"10.0.1.{i}", 1))
    assert len(kept) == 10 and c.stats.dropped == 40


def test_own_address_is_ignored() -> None:
    c, kept = collector(ignore=frozenset({"198.18.0.2"}))
    c.datagram_received(b"our own probe", ("198.18.0.2", 3702))
    assert kept == [] and c.stats.dropped == 0


@pytest.mark.parametrize(
    ("text", "mac"),
    [
        ("58-50-ed-1f-e3-85", "58:50:ed:1f:e3:85"),
        ("5850ED1FE385", "58:50:ed:1f:e3:85"),
        ("58:50:ed:1f:e3:85", "58:50:ed:1f:e3:85"),
        ("5850.ed1f.e385", "58:50:ed:1f:e3:85"),
        ("58:50:ed:1f:e3", None),
        ("zz:50:ed:1f:e3:85", None),
        ("", None),
    ],
)
def test_reply_macs_are_normalised(text: str, mac: str | None) -> None:
    assert normalize_mac(text) == mac


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?>\r\n<ProbeMatch><MAC>58-50-ed-1f-e3-85</MAC></ProbeMatch>\n',
        b" \x00\x00\x00DHIP" + bytes(range(256)),
        b"\xff\xfe not utf-8",
    ],
)
def test_saved_capture_is_a_fixture_that_reads_back(tmp_path: Path, data: bytes) -> None:
    datagram = udp.Datagram("198.18.0.11", 37020, data)
    old = os.umask(0o022)
    try:
        first = udp.save_capture(tmp_path, "sadp", datagram)
        second = udp.save_capture(tmp_path, "sadp", datagram)
    finally:
        os.umask(old)
    assert first != second and first.parent == tmp_path / "sadp"
    assert read(first) == data == read(second)
    # A fixture holds what a device said of itself (MAC, serial): its owner's only.
    assert first.stat().st_mode & 0o777 == second.stat().st_mode & 0o777 == 0o600
