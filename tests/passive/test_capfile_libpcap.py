"""The libpcap path: its filter is the prefilter, its results are the pure reader's."""

from __future__ import annotations

import json
import struct
import sys
from collections.abc import Callable
from pathlib import Path

import pcapy
import pytest
from packets import (
    arp_frame,
    ether,
    ipv4,
    pcap_bytes,
    pcapng_bytes,
    tcp6_frame,
    tcp_frame,
    tcp_reply,
    udp6_frame,
    udp_frame,
)

from camscan.discovery import dhip
from camscan.output.document import build_document
from camscan.passive import capfile
from camscan.passive.capfile import MAX_FRAME, Prefilter, ReadReport, read_records
from camscan.passive.hearing import Hearing
from camscan.passive.pcapwrite import file_header, record
from camscan.passive.session import CaptureRun

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "discovery"))
from capture_files import load

CAM, CAM_MAC, ME, ME_MAC = "198.18.0.20", "44:19:b6:00:00:20", "198.18.0.1", "02:00:00:00:00:01"


def _udp(sport: int, dport: int, data: bytes = b"x" * 40) -> bytes:
    return udp_frame(CAM, sport, ME, dport, data, src_mac=CAM_MAC)


def _tcp(sport: int, dport: int, data: bytes, flags: int = 0x18) -> bytes:
    return tcp_frame(CAM, sport, ME, dport, data, seq=1, flags=flags, src_mac=CAM_MAC)


CAM6, ME6 = "fe80::4619:b6ff:fe00:20", "fe80::1"


def _udp6(sport: int, dport: int, data: bytes = b"x" * 40, **kw: list[int]) -> bytes:
    return udp6_frame(CAM6, sport, ME6, dport, data, src_mac=CAM_MAC, **kw)


def _tcp6(sport: int, dport: int, data: bytes, flags: int = 0x18) -> bytes:
    return tcp6_frame(CAM6, sport, ME6, dport, data, seq=1, flags=flags, src_mac=CAM_MAC)


def _fragment(frame: bytes, flags_offset: int) -> bytes:
    head = bytearray(frame[14:34])
    head[6:8] = flags_offset.to_bytes(2, "big")
    return frame[:14] + bytes(head) + frame[34:]


def _vlan(frame: bytes) -> bytes:
    return frame[:12] + struct.pack("!HH", 0x8100, 10) + frame[12:]


CDP = ether(CAM_MAC, "01:00:0c:cc:cc:cc", 40, b"\xaa\xaa\x03\x00\x00\x0c\x20\x00" + b"\0" * 32)
IP_OPTIONS = ether(
    CAM_MAC,
    ME_MAC,
    0x0800,
    b"\x46" + ipv4(CAM, ME, 17, b"")[1:20] + b"\1" * 4 + struct.pack("!HHHH", 40000, 1900, 8, 0),
)

# Every kind of frame a reader takes (True) and the traffic around it (False).
FRAMES: list[tuple[str, bytes, bool]] = [
    ("arp", arp_frame(CAM_MAC, CAM, ME), True),
    ("lldp", ether(CAM_MAC, "01:80:c2:00:00:0e", 0x88CC, b"\x02\x07" + b"\0" * 40), True),
    ("cdp (802.3 length + SNAP)", CDP, True),
    ("vlan-tagged sadp", _vlan(_udp(37020, 37020)), True),
    ("q-in-q", ether(CAM_MAC, ME_MAC, 0x88A8, b"\0\x0a\x81\x00" + b"\0" * 40), True),
    ("dhcp", _udp(68, 67), True),
    ("mdns", _udp(5353, 5353), True),
    ("ssdp", _udp(1900, 40000), True),
    ("ws-discovery", _udp(3702, 3702), True),
    ("sadp", _udp(37020, 37020), True),
    ("dhip", _udp(37810, 37810), True),
    ("dhip legacy", _udp(5050, 41000), True),
    ("snmp reply", _udp(161, 41000), True),
    ("snmp trap", _udp(41000, 162), True),
    ("udp first fragment", _fragment(_udp(37810, 37810), 0x2000), True),
    ("udp later fragment", _fragment(_udp(53, 53), 0x0010), True),
    ("udp fragment cut to 24 bytes", _fragment(_udp(53, 53), 0x0010)[:24], True),
    ("syn-ack", _tcp(554, 40000, b"", 0x12), True),
    ("fin carrying a reply", _tcp(80, 40000, b"HTTP/1.0 200 OK\r\n\r\n", 0x19), True),
    ("http request", _tcp(40000, 80, b"GET / HTTP/1.1\r\n\r\n"), True),
    ("http response", _tcp(80, 40000, b"HTTP/1.1 200 OK\r\n\r\n"), True),
    ("rtsp reply", _tcp(554, 40000, b"RTSP/1.0 200 OK\r\n\r\n"), True),
    ("tls handshake", _tcp(443, 40000, b"\x16\x03\x03\x00\x10" + b"\0" * 16), True),
    ("sdk-port greeting", _tcp(8000, 40000, b"\0\0\0\x10"), True),
    ("ip options, udp ports read at the fixed offset", IP_OPTIONS, False),
    ("tls application data", _tcp(443, 40000, b"\x17\x03\x03" + b"\0" * 64), False),
    ("bare ack", _tcp(40000, 443, b"", 0x10), False),
    # With no reply being rebuilt, these close or open nothing the decoder reads.
    ("fin", _tcp(80, 40000, b"", 0x11), False),
    ("rst", _tcp(80, 40000, b"", 0x14), False),
    ("syn", _tcp(40000, 80, b"", 0x02), False),
    ("fin after tls data", _tcp(443, 40000, b"\x17\x03\x03" + b"\0" * 64, 0x11), False),
    ("tcp header cut short", _tcp(80, 40000, b"", 0x11)[: 14 + 20 + 10], False),
    ("tcp fragment", _fragment(_tcp(80, 40000, b"GET /"), 0x2000), False),
    ("dns", _udp(53, 41000), False),
    ("quic", _udp(443, 41000, b"\0" * 200), False),
    ("udp cut before the destination port", _udp(1900, 40000)[:37], False),
    ("ipv4 header only", _udp(1900, 40000)[:34], False),
    ("icmp", ether(CAM_MAC, ME_MAC, 0x0800, ipv4(CAM, ME, 1, b"\x08\0" + b"\0" * 30)), False),
    (
        "ipv6 hop-by-hop (walked by the decoder)",
        ether(CAM_MAC, ME_MAC, 0x86DD, b"\x60" + b"\0" * 60),
        True,
    ),
    ("ipv6 mdns", _udp6(5353, 5353), True),
    ("ipv6 ssdp reply", _udp6(1900, 40000), True),
    ("ipv6 destination options, then udp", _udp6(53, 53, headers=[60]), True),
    ("ipv6 syn-ack", _tcp6(554, 40000, b"", 0x12), True),
    ("ipv6 http response", _tcp6(80, 40000, b"HTTP/1.1 200 OK\r\n\r\n"), True),
    ("ipv6 tls handshake", _tcp6(443, 40000, b"\x16\x03\x03\x00\x10" + b"\0" * 16), True),
    ("ipv6 sdk-port greeting", _tcp6(8000, 40000, b"\0\0\0\x10"), True),
    ("ipv6 dns", _udp6(53, 41000), False),
    ("ipv6 tls application data", _tcp6(443, 40000, b"\x17\x03\x03" + b"\0" * 64), False),
    ("ipv6 bare ack", _tcp6(40000, 443, b"", 0x10), False),
    ("ipv6 udp cut before the destination port", _udp6(1900, 40000)[:57], False),
    ("ipv6 tcp header cut short", _tcp6(80, 40000, b"", 0x11)[: 14 + 40 + 10], False),
    ("icmpv6", ether(CAM_MAC, ME_MAC, 0x86DD, b"\x60\0\0\0\0\x08\x3a\xff" + b"\0" * 40), False),
    ("ipv6 header cut short", ether(CAM_MAC, ME_MAC, 0x86DD, b"\x60\0\0\0"), False),
    ("runt", b"\xff" * 12, False),
]


def _bpf_accepts(pf: Prefilter, frame: bytes, **state: bool) -> bool:
    program = pcapy.compile(pcapy.DLT_EN10MB, MAX_FRAME, pf.bpf(**state), 1, 0xFFFFFFFF)
    return bool(program.filter(frame))


def test_libpcap_filter_and_prefilter_agree_frame_by_frame() -> None:
    pf = Hearing().prefilter
    for name, frame, wanted in FRAMES:
        assert pf.wants(frame, 0, len(frame)) is wanted, name
        assert _bpf_accepts(pf, frame) is wanted, name
    # While a TCP reply is rebuilt every unfragmented segment is kept, by both.
    pf.tcp_all = True
    for name, frame, _ in FRAMES:
        assert _bpf_accepts(pf, frame) is pf.wants(frame, 0, len(frame)), name
    assert _bpf_accepts(pf, _tcp(443, 40000, b"\x17\x03\x03" + b"\0" * 64))
    pf.tcp_all = False
    # A port a discovery query was sent from: its replies come back from anywhere.
    reply = _udp(50001, 41234)
    assert not _bpf_accepts(pf, reply)
    pf.add_udp_port(41234)
    assert _bpf_accepts(pf, reply) and pf.wants(reply, 0, len(reply))


def _pure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(capfile, "pcapy", None)
    monkeypatch.setattr(capfile, "_recwalk", None)


def _read(path: Path, pf: Prefilter) -> tuple[list[tuple[float, int, bytes]], ReadReport]:
    report = ReadReport(str(path))
    return list(read_records(str(path), report, pf)), report


@pytest.fixture
def libpcap_always(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every file is read by libpcap when it can; the list names those it read."""
    used: list[str] = []
    real = capfile._libpcap

    def spy(path: str, report: ReadReport, pf: Prefilter) -> object:
        got = real(path, report, pf)
        if got is not None:
            used.append(path)
        return got

    monkeypatch.setattr(capfile, "_recwalk", None)  # libpcap is the path without the C walk
    monkeypatch.setattr(capfile, "LIBPCAP_MIN_BYTES", 0)
    monkeypatch.setattr(capfile, "SAMPLE_EVERY", 3)
    monkeypatch.setattr(capfile, "_libpcap", spy)
    return used


def _mixed() -> list[bytes]:
    """Every kind of frame, a discovery query and its reply to the asking port, a TCP reply
    in many segments (the filter widens and narrows), and noise between them."""
    body = load("wsd", "hikvision-ds-2cd2385g1-i.xml")
    probe = udp_frame(ME, 41000, "239.255.255.250", 3702, b"<e:Envelope><d:Probe/>", src_mac=ME_MAC)
    match = udp_frame(CAM, 45000, ME, 41000, body, src_mac=CAM_MAC, dst_mac=ME_MAC)
    page = b"<html><title>Web</title>" + b"x" * 9000 + b"</html>"
    http = (
        b"HTTP/1.1 200 OK\r\nServer: App-webs/\r\nContent-Length: %d\r\n\r\n" % len(page)
    ) + page
    doc = json.dumps(
        {
            "mac": CAM_MAC,
            "method": "client.notifyDevInfo",
            "params": {
                "deviceInfo": {"DeviceType": "IPC-HDW5421S", "SerialNo": "S1", "Vendor": "Dahua"}
            },
        }
    )
    dh = udp_frame(
        CAM, 37810, "239.255.255.251", 37810, dhip.build_packet(doc.encode()), src_mac=CAM_MAC
    )
    noise = [f for _, f, wanted in FRAMES if not wanted]
    # The IPv6 replies of FRAMES end (FIN) before the rest, so the filter can narrow at the end.
    ends = [_tcp6(80, 40000, b"", 0x11), _tcp6(443, 40000, b"", 0x11)]
    out = [f for _, f, _ in FRAMES] + ends + [probe, *noise, match, dh]
    for i in range(300):
        out += noise
        out += (
            tcp_reply(
                CAM,
                80,
                ME,
                40000 + i,
                http,
                src_mac=CAM_MAC,
                mss=700,
                request=b"GET / HTTP/1.1\r\n\r\n",
            )
            if i % 50 == 0
            else []
        )
    return out


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_libpcap_path_reads_what_the_pure_reader_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, libpcap_always: list[str], fmt: str
) -> None:
    frames = _mixed()
    path = tmp_path / f"mixed.{fmt}"
    path.write_bytes(pcap_bytes(frames) if fmt == "pcap" else pcapng_bytes(frames))
    fast = CaptureRun([str(path)])
    fast_doc = build_document(fast.run())
    assert libpcap_always == [str(path)]
    _pure(monkeypatch)
    pure = CaptureRun([str(path)])
    pure_doc = build_document(pure.run())
    assert fast_doc["devices"] == pure_doc["devices"]
    assert fast_doc["scope"]["passive"] == pure_doc["scope"]["passive"]
    assert fast.hearing.frames == pure.hearing.frames
    assert fast.reports[0].packets == len(frames)
    assert fast.reports[0].last_ts == pytest.approx(pure.reports[0].last_ts)
    assert "wsd.probe_match" in str(fast_doc["devices"])  # the asker port's reply was read


def _damaged() -> dict[str, bytes]:
    good = pcap_bytes([arp_frame(CAM_MAC, CAM, ME)] * 5)
    ng = pcapng_bytes([arp_frame(CAM_MAC, CAM, ME)] * 5)
    bad_if = bytearray(ng)
    epb = bad_if.index(struct.pack("<I", 6))
    bad_if[epb + 8 : epb + 12] = struct.pack("<I", 7)
    return {
        "truncated.pcap": good[:-10],
        "corrupt.pcap": good + struct.pack("<IIII", 1, 0, 0x7FFFFFFF, 60) + b"\0" * 100,
        "huge.pcap": file_header() + record(1.0, b"\xff" * (MAX_FRAME + 1000)) + good[24:],
        "truncated.pcapng": ng[:-7],
        "corrupt.pcapng": ng + struct.pack("<II", 6, 7) + b"\0" * 40,
        "bad-interface.pcapng": bytes(bad_if),
        "snaplen-40.pcap": file_header(snaplen=40) + record(1.0, good[40:80], 60),
    }


@pytest.mark.parametrize("name", sorted(_damaged()))
def test_damaged_files_are_read_by_the_pure_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, libpcap_always: list[str], name: str
) -> None:
    path = tmp_path / name
    path.write_bytes(_damaged()[name])
    fast = _read(path, Hearing().prefilter)
    assert libpcap_always == []  # libpcap refused it, or it was never offered
    _pure(monkeypatch)
    assert fast == _read(path, Hearing().prefilter)
    assert fast[1].problems or fast[1].cut or fast[1].oversize


def test_the_filter_widens_for_a_tcp_reply_and_narrows_after(
    tmp_path: Path, libpcap_always: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real: Callable[..., str] = Prefilter.bpf
    monkeypatch.setattr(
        Prefilter, "bpf", lambda self, **kw: calls.append(str(kw)) or real(self, **kw)
    )
    monkeypatch.setattr(capfile, "WIDE_PASSES", 5)
    path = tmp_path / "mixed.pcap"
    path.write_bytes(pcap_bytes(_mixed()))
    CaptureRun([str(path)]).run()
    assert "{'tcp_all': True}" in calls and calls[-1] == "{'tcp_all': False}"
    assert len(calls) < 40  # not once per segment
