"""The capture reader: both formats, gzip, and damaged files (where, and what is kept)."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packets import arp_frame, pcap_bytes, pcapng_bytes

from camscan.passive import capfile
from camscan.passive.capfile import MAX_FRAME, CaptureError, ReadReport, read_records
from camscan.passive.pcapwrite import file_header, record

FRAMES = [arp_frame(f"44:19:b6:00:00:{i:02x}", f"198.18.0.{i}", "198.18.0.1") for i in range(1, 6)]


@pytest.fixture(autouse=True, params=["c-walk", "python"])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test reads with the record walk in C and again with the pure-Python loop."""
    if request.param == "python":
        monkeypatch.setattr(capfile, "_recwalk", None)
    elif capfile._recwalk is None:
        pytest.skip("camscan.passive._recwalk is not built (no C compiler at install)")
    return str(request.param)


def read(path: Path) -> tuple[list[tuple[float, int, bytes]], ReadReport]:
    report = ReadReport(str(path))
    return list(read_records(str(path), report)), report


def test_pcap_records_and_time_span(tmp_path: Path) -> None:
    path = tmp_path / "a.pcap"
    path.write_bytes(pcap_bytes(FRAMES))
    records, report = read(path)
    assert [r[2] for r in records] == FRAMES
    assert {r[1] for r in records} == {1}
    assert report.packets == 5 and report.problems == [] and report.format == "pcap"
    assert report.first_ts == pytest.approx(1_700_000_000.0)
    assert report.last_ts == pytest.approx(1_700_000_000.004)


def test_big_endian_nanosecond_pcap(tmp_path: Path) -> None:
    head = struct.pack(">IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1)
    rec = struct.pack(">IIII", 1_700_000_000, 500_000_000, len(FRAMES[0]), len(FRAMES[0]))
    path = tmp_path / "ns.pcap"
    path.write_bytes(head + rec + FRAMES[0])
    records, _ = read(path)
    assert records == [(pytest.approx(1_700_000_000.5), 1, FRAMES[0])]


@pytest.mark.parametrize("tsresol", [None, 9])
def test_pcapng_records_and_resolution(tmp_path: Path, tsresol: int | None) -> None:
    path = tmp_path / "a.pcapng"
    path.write_bytes(pcapng_bytes(FRAMES, tsresol=tsresol))
    records, report = read(path)
    assert [r[2] for r in records] == FRAMES
    assert report.format == "pcapng" and report.problems == []
    assert records[1][0] == pytest.approx(1_700_000_000.001, abs=1e-6)


def test_gzip_is_read_transparently(tmp_path: Path) -> None:
    path = tmp_path / "a.pcapng.gz"
    path.write_bytes(gzip.compress(pcapng_bytes(FRAMES)))
    records, _ = read(path)
    assert [r[2] for r in records] == FRAMES


def test_truncated_pcap_keeps_what_was_read_and_says_where(tmp_path: Path) -> None:
    data = pcap_bytes(FRAMES)
    path = tmp_path / "cut.pcap"
    path.write_bytes(data[:-10])
    records, report = read(path)
    assert [r[2] for r in records] == FRAMES[:4]
    offset = len(data) - (16 + len(FRAMES[4]))
    assert report.problems == [
        f"truncated at offset {offset}: a record needs "
        f"{16 + len(FRAMES[4])} bytes, {16 + len(FRAMES[4]) - 10} "
        "remain; kept the 4 packets before it"
    ]


def test_truncated_gzip_keeps_what_was_read(tmp_path: Path) -> None:
    data = gzip.compress(pcap_bytes(FRAMES * 200))
    path = tmp_path / "cut.pcap.gz"
    path.write_bytes(data[: len(data) // 2])
    records, report = read(path)
    assert 0 < len(records) < 1000
    assert len(report.problems) == 1 and "kept the" in report.problems[0]


def test_corrupt_record_length_stops_with_the_offset(tmp_path: Path) -> None:
    bad = struct.pack("<IIII", 1, 0, 0x7FFFFFFF, 60)
    data = file_header() + record(1.0, FRAMES[0]) + bad + b"\0" * 100
    path = tmp_path / "corrupt.pcap"
    path.write_bytes(data)
    records, report = read(path)
    assert len(records) == 1
    assert report.problems[0].startswith(f"corrupt record at offset {24 + 16 + len(FRAMES[0])}")


def test_corrupt_pcapng_block_stops_with_the_offset(tmp_path: Path) -> None:
    data = pcapng_bytes(FRAMES)
    path = tmp_path / "corrupt.pcapng"
    path.write_bytes(data + struct.pack("<II", 6, 7) + b"\0" * 40)
    records, report = read(path)
    assert len(records) == 5
    assert report.problems[0].startswith(f"corrupt block at offset {len(data)}: length 7")


def test_snaplen_cut_records_are_counted_and_read(tmp_path: Path) -> None:
    path = tmp_path / "snap.pcap"
    path.write_bytes(file_header(snaplen=40) + record(1.0, FRAMES[0][:40], len(FRAMES[0])))
    records, report = read(path)
    assert records[0][2] == FRAMES[0][:40]
    assert report.cut == 1


def test_huge_packet_is_skipped_without_losing_the_next(tmp_path: Path) -> None:
    huge = b"\xff" * (MAX_FRAME + 1000)
    path = tmp_path / "huge.pcap"
    path.write_bytes(file_header() + record(1.0, huge) + record(2.0, FRAMES[0]))
    records, report = read(path)
    assert [r[2] for r in records] == [FRAMES[0]]
    assert report.oversize == 1 and report.packets == 2


def test_not_a_capture_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello, this is not a capture\n")
    with pytest.raises(CaptureError, match="not a pcap or pcapng file"):
        read(path)
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(b"")
    with pytest.raises(CaptureError, match="empty"):
        read(empty)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(tail=st.binary(max_size=600), fmt=st.sampled_from(["pcap", "pcapng"]))
def test_any_bytes_after_a_header_never_raise(
    tmp_path_factory: pytest.TempPathFactory, tail: bytes, fmt: str
) -> None:
    head = file_header() if fmt == "pcap" else pcapng_bytes([])
    path = tmp_path_factory.mktemp("fuzz") / f"x.{fmt}"
    path.write_bytes(head + tail)
    records, report = read(path)
    assert report.packets >= len(records)


def test_truncated_pcapng_keeps_the_blocks_before(tmp_path: Path) -> None:
    data = pcapng_bytes(FRAMES)
    path = tmp_path / "cut.pcapng"
    path.write_bytes(data[:-7])
    records, report = read(path)
    assert [r[2] for r in records] == FRAMES[:4]
    assert len(report.problems) == 1 and report.problems[0].startswith("truncated at offset")


def test_pcapng_packet_of_an_unknown_interface_is_skipped_and_reported(tmp_path: Path) -> None:
    data = bytearray(pcapng_bytes(FRAMES[:2]))
    first_epb = data.index(struct.pack("<I", 6))
    data[first_epb + 8 : first_epb + 12] = struct.pack("<I", 7)  # interface 7 was never described
    path = tmp_path / "bad-if.pcapng"
    path.write_bytes(bytes(data))
    records, report = read(path)
    assert [r[2] for r in records] == FRAMES[1:2]
    assert report.problems == [f"bad packet block at offset {first_epb}: skipped"]
