"""The record walk in C (_recwalk): the same judgement, counts and records as the Python reader."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packets import arp_frame, pcap_bytes, pcapng_bytes, udp_frame
from test_capfile_libpcap import CAM, CAM_MAC, FRAMES, ME, _damaged, _mixed

from camscan.output.document import build_document
from camscan.passive import capfile
from camscan.passive.capfile import Prefilter, ReadReport, read_records
from camscan.passive.hearing import Hearing
from camscan.passive.pcapwrite import file_header, record
from camscan.passive.session import CaptureRun

recwalk = capfile._recwalk


def test_the_walk_is_built_where_ci_installs() -> None:
    """CI installs from scratch with a compiler: there the fast path must exist, not be skipped."""
    if os.environ.get("CI") and recwalk is None:
        pytest.fail("camscan.passive._recwalk was not built by `pip install`")


needs_walk = pytest.mark.skipif(recwalk is None, reason="_recwalk not built (no C compiler)")


@needs_walk
@pytest.mark.parametrize("name,frame,_wanted", FRAMES, ids=[f[0] for f in FRAMES])
def test_c_wants_what_the_prefilter_wants(name: str, frame: bytes, _wanted: bool) -> None:
    pf = Hearing().prefilter
    for tcp_all in (False, True):  # narrow, and while a TCP reply is rebuilt
        pf.tcp_all = tcp_all
        assert recwalk.wants(frame, pf.bitmaps(), tcp_all) == pf.wants(frame, 0, len(frame))
    # A port learnt from a query (the bitmaps follow the prefilter's generation).
    reply = udp_frame(CAM, 50001, ME, 41234, b"x" * 40, src_mac=CAM_MAC)
    assert not recwalk.wants(reply, pf.bitmaps(), False)
    pf.add_udp_port(41234)
    assert recwalk.wants(reply, pf.bitmaps(), False) and pf.wants(reply, 0, len(reply))
    pf.discard_udp_port(41234)
    assert not recwalk.wants(reply, pf.bitmaps(), False)


@needs_walk
@settings(max_examples=600, deadline=None)
@given(
    frame=st.binary(max_size=80),
    head=st.sampled_from([b"", b"\0" * 12 + b"\x08\x00\x45", b"\0" * 12 + b"\x86\xdd\x60"]),
    tcp_all=st.booleans(),
)
def test_c_and_python_agree_on_any_bytes(frame: bytes, head: bytes, tcp_all: bool) -> None:
    frame = head + frame  # most start as Ethernet + IPv4 or IPv6, to reach the deep branches
    pf = Hearing().prefilter
    pf.tcp_all = tcp_all
    assert recwalk.wants(frame, pf.bitmaps(), tcp_all) == pf.wants(frame, 0, len(frame))


def _both(monkeypatch: pytest.MonkeyPatch, read: Any, *, used: bool = True) -> tuple[Any, Any]:
    """`read()` with the C walk, then with the pure-Python loop (libpcap off in both)."""
    monkeypatch.setattr(capfile, "pcapy", None)
    calls: list[int] = []
    real_pcap, real_epb = recwalk.pcap, recwalk.epb

    class Spy:
        Tally = recwalk.Tally
        Walk = recwalk.Walk

        @staticmethod
        def pcap(*args: Any) -> Any:
            calls.append(1)
            return real_pcap(*args)

        @staticmethod
        def epb(*args: Any) -> Any:
            calls.append(1)
            return real_epb(*args)

    monkeypatch.setattr(capfile, "_recwalk", Spy)
    fast = read()
    assert calls or not used, "the C walk was not used"
    monkeypatch.setattr(capfile, "_recwalk", None)
    return fast, read()


def _records(path: Path, pf: Prefilter | None) -> tuple[list[tuple[float, int, bytes]], Any]:
    report = ReadReport(str(path))
    return list(read_records(str(path), report, pf)), report


@needs_walk
@pytest.mark.parametrize("fmt", ["pcap", "pcapng", "pcapng.gz"])
def test_walk_reads_what_the_python_loop_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    frames = _mixed()
    data = pcap_bytes(frames) if fmt == "pcap" else pcapng_bytes(frames)
    path = tmp_path / f"mixed.{fmt}"
    path.write_bytes(gzip.compress(data) if fmt.endswith(".gz") else data)
    monkeypatch.setattr(capfile, "CHUNK", 4096)  # many buffer ends, records across them

    def run() -> tuple[dict[str, Any], ReadReport, int]:
        r = CaptureRun([str(path)])
        doc = build_document(r.run())
        return doc, r.reports[0], r.hearing.frames

    (fast_doc, fast, fast_frames), (pure_doc, pure, pure_frames) = _both(monkeypatch, run)
    assert fast_doc["devices"] == pure_doc["devices"]
    assert fast_doc["scope"]["passive"] == pure_doc["scope"]["passive"]
    # Repeats the decoder had read were counted by the walk (under the same protocols: the
    # scopes above are equal) instead of being handed over.
    assert fast.repeats > 0 and pure.repeats == 0
    assert fast_frames + fast.repeats == pure_frames
    assert fast.packets == pure.packets == len(frames)
    assert (fast.first_ts, fast.last_ts, fast.cut, fast.problems) == (
        pure.first_ts,
        pure.last_ts,
        pure.cut,
        pure.problems,
    )
    assert "wsd.probe_match" in str(fast_doc["devices"])  # the port learnt mid-run was read


def _odd_files() -> dict[str, bytes]:
    arp = arp_frame(CAM_MAC, CAM, ME)
    back = (
        file_header()
        + record(1_700_000_050.0, arp)
        + record(1_700_000_010.0, arp)  # out of order: the span is still earliest..latest
        + record(1_700_000_099.5, arp)
        + record(1_700_000_020.0, arp)
    )
    big = struct.pack(">IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1) + b"".join(
        struct.pack(">IIII", 1_700_000_000 + i, 7 * i, len(arp), len(arp) + i % 2) + arp
        for i in range(50)
    )
    return {**_damaged(), "out-of-order.pcap": back, "big-endian-ns-cut.pcap": big}


@needs_walk
@pytest.mark.parametrize("name", sorted(_odd_files()))
@pytest.mark.parametrize("filtered", [True, False], ids=["prefilter", "every-record"])
def test_damaged_and_odd_files_read_the_same_by_the_walk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, filtered: bool
) -> None:
    path = tmp_path / name
    path.write_bytes(_odd_files()[name])
    (fast, fast_report), (pure, pure_report) = _both(
        monkeypatch, lambda: _records(path, Hearing().prefilter if filtered else None)
    )
    assert fast == pure
    for field in ("packets", "cut", "oversize", "first_ts", "last_ts", "problems", "format"):
        assert getattr(fast_report, field) == getattr(pure_report, field), field
    if name == "out-of-order.pcap":
        assert (fast_report.first_ts, fast_report.last_ts) == (1_700_000_010.0, 1_700_000_099.5)


def _variant(frame: bytes, ihl: int, cut: int, ttl: int, last: int) -> bytes:
    """An IPv4 frame with its header length, IP total length, TTL or last byte changed."""
    f = bytearray(frame)
    if f[12:14] == b"\x08\x00":
        f[14] = 0x40 | ihl
        total = max(0, (f[16] << 8 | f[17]) - cut)
        f[16:18] = total.to_bytes(2, "big")
        f[22] = ttl
    f[-1] = last
    return bytes(f)


@needs_walk
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    picks=st.lists(
        st.tuples(
            st.integers(0, 3),  # which frame
            st.sampled_from([5, 5, 5, 6, 0, 15]),  # IPv4 header length (words)
            st.sampled_from([0, 0, 0, 1, 30, 2000]),  # bytes taken off the IP total length
            st.sampled_from([64, 64, 63]),  # TTL: a routed copy is another key
            st.sampled_from([0, 0, 1]),  # last byte: another datagram
        ),
        min_size=1,
        max_size=40,
    )
)
def test_repeats_counted_by_the_walk_are_what_the_decoder_counts(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, picks: list[Any]
) -> None:
    """Datagrams and ARP, repeated and varied where the repeat key is built: the walk keeps
    back exactly the frames the decoder would only count, under the same protocols."""
    notify = (
        b"NOTIFY * HTTP/1.1\r\nNT: upnp:rootdevice\r\nUSN: uuid:1::upnp:rootdevice\r\n"
        b"SERVER: Linux UPnP/1.0 App-webs/\r\n\r\n"
    )
    pool = [
        udp_frame(CAM, 1900, "239.255.255.250", 1900, notify, src_mac=CAM_MAC),
        udp_frame(CAM, 37810, "239.255.255.251", 37810, b"\x20" + b"x" * 60, src_mac=CAM_MAC),
        arp_frame(CAM_MAC, CAM, ME),
        udp_frame(CAM, 5353, "224.0.0.251", 5353, b"\0" * 12, src_mac=CAM_MAC),
    ]
    frames = [_variant(pool[i], *rest) for i, *rest in picks]
    path = tmp_path_factory.mktemp("rep") / "rep.pcap"
    path.write_bytes(pcap_bytes(frames + frames))

    def run() -> tuple[dict[str, Any], ReadReport, int]:
        r = CaptureRun([str(path)])
        doc = build_document(r.run())
        return doc, r.reports[0], r.hearing.frames

    with monkeypatch.context() as m:
        (fast_doc, fast, fast_frames), (pure_doc, _pure, pure_frames) = _both(m, run)
    assert fast_doc["scope"]["passive"] == pure_doc["scope"]["passive"]
    assert fast_doc["devices"] == pure_doc["devices"]
    assert fast_frames + fast.repeats == pure_frames
    if any(tuple(p[1:]) == (5, 0, 64, 0) for p in picks):  # an unchanged frame, sent twice
        assert fast.repeats > 0


@needs_walk
def test_bad_arguments_are_errors_not_crashes() -> None:
    tally = recwalk.Tally()
    pf = Hearing().prefilter
    with pytest.raises(ValueError):
        recwalk.pcap(b"\0" * 64, -1, False, 1e-6, 1, None, tally)
    with pytest.raises(ValueError):
        recwalk.epb(b"\0" * 64, 0, False, b"\0" * 8, b"\1\0\0\0" * 2, None, tally)
    with pytest.raises(TypeError):
        recwalk.pcap(b"\0" * 64, 0, False, 1e-6, 1, None, object())
    with pytest.raises(TypeError):
        recwalk.epb(b"\0" * 64, 0, False, object(), b"", None, tally)
    pf.repeats = []  # type: ignore[assignment]
    with pytest.raises(TypeError):  # the decoder's repeats table and counts are dicts
        recwalk.pcap(b"\0" * 64, 24, False, 1e-6, 1, pf, tally)

    class Short(Prefilter):
        def bitmaps(self) -> bytes:
            return b"short"

    with pytest.raises(ValueError):
        recwalk.pcap(b"\0" * 64, 24, False, 1e-6, 1, Short(set(), frozenset(), frozenset()), tally)
    # A position past the end walks nothing and counts nothing.
    records = recwalk.pcap(b"\0" * 64, 100, False, 1e-6, 1, None, tally)
    assert list(records) == [] and records.pos == 100
    assert tally.packets == 0


@needs_walk
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(tail=st.binary(max_size=600), fmt=st.sampled_from(["pcap", "pcapng"]))
def test_any_bytes_read_the_same_by_the_walk(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    tail: bytes,
    fmt: str,
) -> None:
    head = file_header() if fmt == "pcap" else pcapng_bytes([])
    path = tmp_path_factory.mktemp("fuzz") / f"x.{fmt}"
    path.write_bytes(head + tail)
    with monkeypatch.context() as m:
        (fast, fr), (pure, pr) = _both(m, lambda: _records(path, Hearing().prefilter), used=False)
    assert fast == pure
    assert (fr.packets, fr.cut, fr.first_ts, fr.last_ts, fr.problems) == (
        pr.packets,
        pr.cut,
        pr.first_ts,
        pr.last_ts,
        pr.problems,
    )
