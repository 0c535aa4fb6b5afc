"""The shared UDP collector: size limit, per-source and total caps, duplicates; MAC notation."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import threading
import time
from pathlib import Path

import pytest
from capture_files import read
from hypothesis import given, settings
from hypothesis import strategies as st

from camscan.context import ScanContext, ScanSettings
from camscan.discovery import datagram, dhip, sadp, ssdp, udp, wsd
from camscan.models import MethodStats
from camscan.oui import normalize_mac


def collector(
    max_size: int = 100, per_source: int = 3, total: int = 10, ignore: frozenset[str] = frozenset()
) -> tuple[udp._Collector, list[datagram.Datagram]]:
    kept: list[datagram.Datagram] = []
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
    reply = datagram.Datagram("198.18.0.11", 37020, data)
    old = os.umask(0o022)
    try:
        first = datagram.save_capture(tmp_path, "sadp", reply)
        second = datagram.save_capture(tmp_path, "sadp", reply)
    finally:
        os.umask(old)
    assert first != second and first.parent == tmp_path / "sadp"
    assert read(first) == data == read(second)
    # A fixture holds what a device said of itself (MAC, serial): its owner's only.
    assert first.stat().st_mode & 0o777 == second.stat().st_mode & 0o777 == 0o600


# ---- when copies are sent, and what the kernel says it lost ------------------------------


@pytest.mark.parametrize(
    ("resend_at", "reply_within"),
    [
        (udp.RESEND_AT_S, udp.REPLY_WITHIN_S),
        (wsd.resend_schedule(random.Random(1)), wsd.APP_MAX_DELAY_S),
        (ssdp.RESEND_AT_S, ssdp.MX_S),
        (sadp.RESEND_AT_S, udp.REPLY_WITHIN_S),
        (dhip.RESEND_AT_S, udp.REPLY_WITHIN_S),
    ],
)
def test_the_default_window_keeps_every_copy_and_waits_for_its_answers(
    resend_at: tuple[float, ...], reply_within: float
) -> None:
    window = ScanSettings().listen_window_s
    assert udp.send_offsets(resend_at, window, reply_within, 1) == (sorted(resend_at), None)
    assert udp.send_offsets(resend_at, window, reply_within, 0) == ([0.0], None)


def test_a_copy_whose_answers_would_outlast_the_window_is_not_sent() -> None:
    # SSDP's copies at 0, 0.5 and 1.0 s, answers within MX = 1 s: a 1.6 s window keeps two
    assert udp.send_offsets((0.0, 0.5, 1.0), 1.6, 1.0, 1) == ([0.0, 0.5], None)


def test_a_window_shorter_than_the_protocols_answer_time_says_so() -> None:
    offsets, note = udp.send_offsets((0.0, 0.1), 0.3, 0.5, 1)
    assert offsets == [0.0]  # the first copy always goes
    assert note is not None and "0.5 s" in note and "0.3 s listen window" in note


@settings(max_examples=200)
@given(
    st.lists(st.floats(0, 5), min_size=1, max_size=5),
    st.floats(0.05, 10),
    st.floats(0, 3),
    st.integers(0, 3),
)
def test_every_repeat_leaves_its_answers_time_to_arrive(
    resend_at: list[float], window: float, reply_within: float, retries: int
) -> None:
    offsets, note = udp.send_offsets(resend_at, window, reply_within, retries)
    assert offsets[0] == min(resend_at) and offsets == sorted(offsets)
    assert all(o + reply_within <= window for o in offsets[1:])
    assert retries > 0 or len(offsets) == 1
    assert (note is None) == (min(resend_at) + reply_within <= window)


def test_a_receive_buffer_smaller_than_asked_is_stated() -> None:
    assert udp.buffer_note(udp.RCVBUF) is None
    note = udp.buffer_note(212992)
    assert note is not None and "208 KB" in note and "rmem_max" in note


SNMP = """\
Ip: Forwarding DefaultTTL InReceives ReasmTimeout ReasmReqds ReasmOKs ReasmFails FragOKs
Ip: 2 64 114359 1 30 8 3 0
Icmp: InMsgs InErrors
Icmp: 2 0
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors
Udp: 900 4 12 800 12
"""


def test_proc_net_snmp_counters_are_read_by_name() -> None:
    counters = udp.snmp_counters(SNMP)
    assert counters["Ip.ReasmFails"] == 3 and counters["Udp.RcvbufErrors"] == 12
    assert counters["Icmp.InMsgs"] == 2
    assert udp.snmp_counters("Ip: A B\nUdp: 1 2\n") == {}  # misaligned lines give nothing
    assert udp.reassembly_failures() is not None  # this kernel's own table has the counter


def test_datagrams_the_kernel_dropped_on_a_full_buffer_are_counted() -> None:
    # The suite's own namespace, loopback only: a receiver that never reads, a tiny buffer.
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx,
    ):
        rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        rx.bind(("127.0.0.1", 0))
        assert udp.kernel_drops(rx) == 0
        for _ in range(64):
            tx.sendto(b"x" * 1024, rx.getsockname())
        drops = udp.kernel_drops(rx)
        assert drops is not None and 0 < drops < 64


def test_answers_queued_when_the_window_closes_are_read_not_discarded() -> None:
    # A busy event loop reads one datagram per turn. Here the first answer's handler holds
    # the loop past the end of the window while 40 more answers wait in the socket.
    answers = 40
    echo = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    echo.bind(("127.0.0.1", 0))
    echo.settimeout(5)

    def answer() -> None:
        _, sender = echo.recvfrom(100)
        for i in range(answers):
            echo.sendto(b"answer %d" % i, sender)

    responder = threading.Thread(target=answer)
    responder.start()
    got: list[bytes] = []

    def on_datagram(datagram: datagram.Datagram) -> None:
        if not got:
            time.sleep(0.6)  # the loop is busy elsewhere until after the window
        got.append(datagram.data)

    ctx = ScanContext(
        settings=ScanSettings(listen_window_s=0.3, retries=0),
        interface=None,
        source_ip=None,
        in_scope=(),
        emit=lambda ev: None,
    )
    try:
        asyncio.run(
            udp.exchange(
                ctx,
                "x",
                [(b"ask", echo.getsockname())],
                on_datagram,
                max_size=100,
                max_per_source=answers,
            )
        )
    finally:
        responder.join()
        echo.close()
    assert sorted(got) == sorted(b"answer %d" % i for i in range(answers))
    assert ctx.stat("x").kernel_dropped == 0


def test_drain_reads_everything_queued_and_stops_when_empty() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx,
    ):
        rx.bind(("127.0.0.1", 0))
        rx.setblocking(False)
        for i in range(5):
            tx.sendto(b"%d" % i, rx.getsockname())
        time.sleep(0.05)
        seen: list[bytes] = []
        assert udp.drain(rx, lambda data, addr: seen.append(data)) == 6  # 5 reads, 1 empty
        assert seen == [b"0", b"1", b"2", b"3", b"4"]
        assert udp.drain(rx, lambda data, addr: seen.append(data)) == 1
