"""Frames in, evidence per host out: each protocol, and MAC attribution across routers."""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

from packets import (
    ROUTER_MAC,
    arp_frame,
    ether,
    mac,
    tcp_frame,
    tcp_reply,
    udp_frame,
)

from camscan.discovery import dhip
from camscan.models import Evidence
from camscan.passive.hearing import Hearing

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "discovery"))
from capture_files import load

CAPTURES = Path(__file__).resolve().parents[1] / "captures"
CAM_MAC = "44:19:b6:00:00:10"


def hear(frames: list[bytes]) -> Hearing:
    h = Hearing()
    for i, f in enumerate(frames):
        h.feed(1_700_000_000 + i, 1, f)
    h.finish()
    return h


def keys(items: list[Evidence]) -> set[str]:
    return {ev.key for ev in items}


def dhip_reply(mac_text: str, ip: str, serial: str) -> bytes:
    doc = {
        "mac": mac_text,
        "method": "client.notifyDevInfo",
        "params": {
            "deviceInfo": {
                "DeviceType": "IPC-HDW5421S",
                "SerialNo": serial,
                "Vendor": "Dahua",
                "Version": "2.400.0.8",
                "IPv4Address": {"IPAddress": ip},
            }
        },
    }
    return dhip.build_packet(json.dumps(doc).encode() + b"\n\0")


def test_thousands_of_routed_dhip_replies_each_get_their_payload_mac() -> None:
    frames = [arp_frame(ROUTER_MAC, "198.18.0.254", "198.18.0.1")]
    want = {}
    for i in range(3000):
        ip = f"10.{i // 250}.{i % 250}.7"
        dev_mac = f"4c:11:bf:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}"
        want[ip] = dev_mac
        frames.append(
            udp_frame(
                ip,
                37810,
                "198.18.0.1",
                37810,
                dhip_reply(dev_mac, ip, f"S{i}"),
                src_mac=ROUTER_MAC,
                dst_mac="02:00:00:00:00:01",
                ttl=63,
            )
        )
    h = hear(frames)
    devices = {d.ip: d for d in h.devices()}
    assert len(devices) == 3001
    for ip, dev_mac in want.items():
        dev = devices[ip]
        assert dev.mac == dev_mac
        assert dev.verdict.maker == "Dahua"
        assert all(ev.value != ROUTER_MAC for ev in dev.evidence)
    assert devices["198.18.0.254"].mac == ROUTER_MAC


def test_one_routed_host_behind_a_router_known_by_arp_gets_no_router_mac() -> None:
    http = (CAPTURES / "http" / "hikvision-app-webs.http").read_bytes()
    frames = [
        arp_frame(ROUTER_MAC, "198.18.0.254", "198.18.0.1"),
        *tcp_reply(
            "10.9.9.9",
            80,
            "198.18.0.1",
            40000,
            http,
            src_mac=ROUTER_MAC,
            request=b"GET / HTTP/1.1\r\n\r\n",
            ttl=63,
        ),
    ]
    devices = {d.ip: d for d in hear(frames).devices()}
    assert devices["10.9.9.9"].mac is None
    assert devices["10.9.9.9"].verdict.maker == "Hikvision"


def test_local_sender_gets_its_frame_mac_without_arp() -> None:
    sadp = load("sadp", "ds-2cd2385g1-i.xml")
    own = "58:50:ed:1f:e3:85"  # the MAC the reply itself carries
    frames = [udp_frame("198.18.0.10", 37020, "239.255.255.250", 37020, sadp, src_mac=own)]
    h = hear(frames)
    (dev,) = h.devices()
    frame_macs = [ev for ev in dev.evidence if ev.source == "frame"]
    assert [ev.value for ev in frame_macs] == [own]
    assert dev.verdict.maker == "Hikvision"


def test_sadp_payload_mac_disagreeing_with_the_frame_withholds_the_frame_mac() -> None:
    sadp = load("sadp", "ds-2cd2385g1-i.xml")
    frames = [
        udp_frame("198.18.0.10", 37020, "239.255.255.250", 37020, sadp, src_mac="02:aa:00:00:00:01")
    ]
    (dev,) = hear(frames).devices()
    assert not [ev for ev in dev.evidence if ev.source == "frame"]


def test_arp_sender_is_evidence_like_an_active_sweep() -> None:
    (dev,) = hear([arp_frame(CAM_MAC, "198.18.0.10", "198.18.0.1", op=1)]).devices()
    assert dev.mac == CAM_MAC
    assert [(ev.source, ev.key) for ev in dev.evidence] == [("arp", "mac")]


def test_arp_probe_claims_no_address() -> None:
    assert hear([arp_frame(CAM_MAC, "0.0.0.0", "198.18.0.10", op=1)]).devices() == []


def test_dhip_search_requests_are_not_devices() -> None:
    frames = [
        udp_frame(
            "198.18.0.1",
            5000,
            "239.255.255.251",
            37810,
            dhip.build_search(),
            src_mac="02:00:00:00:00:01",
        )
    ]
    h = hear(frames)
    assert h.devices() == [] and h.packets["dhip"] == 1


def test_captured_dhip_reply_in_both_directions() -> None:
    data = load("dhip", "ipc-hdw5421s.hex")
    to_group = udp_frame("198.18.0.20", 37810, "239.255.255.251", 37810, data, src_mac=CAM_MAC)
    to_client = udp_frame(
        "198.18.0.21",
        37810,
        "198.18.0.1",
        5000,
        data,
        src_mac="44:19:b6:00:00:11",
        dst_mac="02:00:00:00:00:01",
    )
    devices = {d.ip: d for d in hear([to_group, to_client]).devices()}
    assert {d.verdict.maker for d in devices.values()} == {"Dahua"}
    assert "dhip.serial" in keys(devices["198.18.0.21"].evidence)


def test_wsd_probe_match_and_hello() -> None:
    body = load("wsd", "hikvision-ds-2cd2385g1-i.xml")
    h = hear([udp_frame("198.18.0.30", 3702, "198.18.0.1", 40000, body, src_mac=CAM_MAC)])
    assert "wsd.probe_match" in keys(h.by_host["198.18.0.30"])
    hello = (
        b'<?xml version="1.0"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"'
        b' xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:a="http://schemas'
        b'.xmlsoap.org/ws/2004/08/addressing"><s:Body><d:Hello><a:EndpointReference>'
        b"<a:Address>urn:uuid:11223344-5566-1788-99aa-4419b6000010</a:Address>"
        b"</a:EndpointReference><d:Types>dn:NetworkVideoTransmitter</d:Types><d:Scopes>"
        b"onvif://www.onvif.org/name/HIKVISION</d:Scopes><d:XAddrs>http://198.18.0.31/onvif"
        b"/device_service</d:XAddrs><d:MetadataVersion>1</d:MetadataVersion></d:Hello>"
        b"</s:Body></s:Envelope>"
    )
    h = hear([udp_frame("198.18.0.31", 3702, "239.255.255.250", 3702, hello, src_mac=CAM_MAC)])
    got = {(ev.key, ev.value) for ev in h.by_host["198.18.0.31"]}
    assert ("onvif.scope", "onvif://www.onvif.org/name/HIKVISION") in got
    assert ("wsd.epr_mac", "44:19:b6:00:00:10") in got


def test_ssdp_notify_and_search_reply() -> None:
    notify = (CAPTURES / "ssdp" / "synology-notify.http").read_bytes()
    reply = (CAPTURES / "ssdp" / "dahua-search-reply.http").read_bytes()
    h = hear(
        [
            udp_frame("198.18.0.40", 1900, "239.255.255.250", 1900, notify, src_mac=CAM_MAC),
            udp_frame("198.18.0.41", 1900, "198.18.0.1", 40000, reply, src_mac=CAM_MAC),
        ]
    )
    assert "upnp.usn" in keys(h.by_host["198.18.0.40"])
    assert "upnp.server" in keys(h.by_host["198.18.0.41"])


def test_http_reply_reassembled_from_out_of_order_segments() -> None:
    http = (CAPTURES / "http" / "hikvision-webs-302.http").read_bytes()
    frames = tcp_reply(
        "198.18.0.50",
        80,
        "198.18.0.1",
        40000,
        http,
        src_mac=CAM_MAC,
        request=b"GET / HTTP/1.1\r\n\r\n",
        mss=40,
    )
    frames[2], frames[3] = frames[3], frames[2]
    h = hear(frames)
    (raw,) = [ev for ev in h.by_host["198.18.0.50"] if ev.key == "http.response"]
    assert raw.value.encode() == http and raw.port == 80


def test_a_reply_that_lost_a_segment_is_read_when_silent_and_stops_widening_the_filter() -> None:
    """A segment the capture missed would hold a reply open, and with it every TCP segment
    of the capture going to the decoder; after STREAM_IDLE seconds it is read as it stands."""
    http = (CAPTURES / "http" / "hikvision-webs-302.http").read_bytes()
    frames = tcp_reply("198.18.0.50", 80, "198.18.0.1", 40000, http, src_mac=CAM_MAC, mss=40)[
        :-1
    ]  # no FIN
    del frames[3]  # the segment the capture missed
    h = Hearing()
    for i, f in enumerate(frames):
        h.feed(1_700_000_000 + i * 0.01, 1, f)
    assert h.prefilter.tcp_all and "198.18.0.50" not in h.by_host
    other = tcp_frame(
        "10.0.0.1", 443, "10.0.0.2", 50000, b"\x17\x03\x03" + b"x" * 50, seq=1, src_mac=ROUTER_MAC
    )
    h.feed(1_700_000_005.0, 1, other)  # still within STREAM_IDLE: still waiting
    assert h.prefilter.tcp_all and "198.18.0.50" not in h.by_host
    h.feed(1_700_000_011.0, 1, other)
    assert not h.prefilter.tcp_all and not h.tcp.streams
    (raw,) = [ev for ev in h.by_host["198.18.0.50"] if ev.key == "http.response"]
    assert http.startswith(raw.value.encode()[:120])  # read as far as it went


def test_vendor_path_reply_is_http_path_evidence() -> None:
    http = (CAPTURES / "http" / "hikvision-usercheck-401.http").read_bytes()
    frames = tcp_reply(
        "198.18.0.51",
        80,
        "198.18.0.1",
        40001,
        http,
        src_mac=CAM_MAC,
        request=b"GET /ISAPI/Security/userCheck HTTP/1.1\r\n\r\n",
    )
    h = hear(frames)
    assert "http.path.hik_usercheck" in keys(h.by_host["198.18.0.51"])


def test_rtsp_reply_and_syn_ack() -> None:
    rtsp = (CAPTURES / "rtsp" / "hikvision-describe-401.rtsp").read_bytes()
    rtsp = rtsp.split(b"\n", 1)[1] if rtsp.startswith(b"#") else rtsp
    frames = [
        tcp_frame("198.18.0.52", 554, "198.18.0.1", 40002, b"", seq=1, flags=0x12, src_mac=CAM_MAC),
        *tcp_reply("198.18.0.52", 554, "198.18.0.1", 40002, rtsp, src_mac=CAM_MAC),
    ]
    h = hear(frames)
    assert {"tcp.open.554", "rtsp.response"} <= keys(h.by_host["198.18.0.52"])


def test_tcp_payload_that_is_no_reply_is_ignored() -> None:
    frames = [
        tcp_frame("198.18.0.53", 8001, "198.18.0.1", 40003, b"\x00" * 100, seq=1, src_mac=CAM_MAC)
    ]
    assert hear(frames).by_host == {}


def test_hikvision_sdk_port_greeting_is_read_like_the_probe() -> None:
    greeting = bytes.fromhex("000000100000001e0000001e00000000")
    frames = [tcp_frame("198.18.0.54", 8000, "198.18.0.1", 40004, greeting, seq=1, src_mac=CAM_MAC)]
    got = {(ev.key, ev.value) for ev in hear(frames).by_host["198.18.0.54"]}
    assert ("tcp.banner.8000", greeting.hex()) in got


def _probe_and_fragmented_match() -> tuple[bytes, list[bytes]]:
    """A Probe from an ephemeral port, and its ProbeMatch in 800-byte IPv4 fragments."""
    body = load("wsd", "hikvision-ds-2cd2385g1-i.xml")
    probe = udp_frame(
        "198.18.0.1",
        41000,
        "239.255.255.250",
        3702,
        b"<e:Envelope><d:Probe/>",
        src_mac="02:00:00:00:00:01",
    )
    whole = udp_frame(
        "198.18.0.90",
        45000,
        "198.18.0.1",
        41000,
        body,
        src_mac=CAM_MAC,
        dst_mac="02:00:00:00:00:01",
    )
    ip = whole[14:]
    payload = ip[20:]
    frags = []
    for start in range(0, len(payload), 800):
        piece = payload[start : start + 800]
        more = start + 800 < len(payload)
        head = bytearray(ip[:20])
        head[2:4] = (20 + len(piece)).to_bytes(2, "big")
        head[6:8] = ((0x2000 if more else 0) | start // 8).to_bytes(2, "big")
        frags.append(whole[:14] + bytes(head) + piece)
    return probe, frags


def test_fragmented_probe_match_from_an_ephemeral_port_is_reassembled() -> None:
    probe, frags = _probe_and_fragmented_match()
    h = hear([probe, *reversed(frags)])
    assert "wsd.probe_match" in keys(h.by_host["198.18.0.90"])
    assert h.fragments_unread == 0


def test_a_datagram_missing_a_fragment_is_counted_unread() -> None:
    probe, frags = _probe_and_fragmented_match()
    h = hear([probe, *frags[1:]])
    assert "198.18.0.90" not in h.by_host
    assert h.fragments_unread == 1


def test_overlapping_ipv4_pieces_cannot_hold_more_than_the_byte_bound() -> None:
    """RFC 791 lets pieces overlap; 5,000 of 1,400 bytes at distinct offsets would hold 7 MB."""
    from camscan.passive import fragments

    probe, frags = _probe_and_fragmented_match()
    head = bytearray(frags[0][:34])
    head[2 + 14 : 4 + 14] = (20 + 1400).to_bytes(2, "big")
    h = Hearing()
    for i in range(5000):
        head[18:20] = (i // 2000).to_bytes(2, "big")  # three datagrams
        head[20:22] = (0x2000 | (i % 2000)).to_bytes(2, "big")
        h.feed(1.0, 1, bytes(head) + bytes(1400))
        assert h._fragments.size <= fragments.MAX_BYTES
    assert h._fragments.size == sum(d.size for d in h._fragments.pending.values())
    assert h.fragments_unread >= 1
    for f in [probe, *frags]:
        h.feed(2.0, 1, f)
    assert "wsd.probe_match" in keys(h.by_host["198.18.0.90"])


def test_vlan_tagged_frame_is_read() -> None:
    sadp = load("sadp", "ds-2cd2385g1-i.xml")
    plain = udp_frame("198.18.0.60", 37020, "239.255.255.250", 37020, sadp, src_mac=CAM_MAC)
    tagged = plain[:12] + struct.pack("!HH", 0x8100, 10) + plain[12:]
    assert "sadp.serial" in keys(hear([tagged]).by_host["198.18.0.60"])


def test_lldp_frame_names_its_sender_by_management_address() -> None:
    def tlv(t: int, value: bytes) -> bytes:
        return struct.pack("!H", (t << 9) | len(value)) + value

    lldpdu = (
        tlv(1, b"\x04" + mac(CAM_MAC))
        + tlv(2, b"\x07eth0")
        + tlv(3, b"\x00\x78")
        + tlv(5, b"DS-2CD2385G1-I")
        + tlv(6, b"HIKVISION DS-2CD2385G1-I")
        + tlv(8, b"\x05\x01\xc6\x12\x00\x46\x02\x00\x00\x00\x01\x00")
        + tlv(0, b"")
    )
    frame = ether(CAM_MAC, "01:80:c2:00:00:0e", 0x88CC, lldpdu)
    h = hear([frame])
    got = {(ev.key, ev.value) for ev in h.by_host["198.18.0.70"]}
    assert ("lldp.system_description", "HIKVISION DS-2CD2385G1-I") in got
    assert ("mac", CAM_MAC) in got


def test_irrelevant_traffic_gives_nothing() -> None:
    frames = [
        udp_frame("198.18.0.80", 53, "198.18.0.1", 5353 + 1, b"x" * 40, src_mac=CAM_MAC),
        tcp_frame(
            "198.18.0.80",
            443,
            "198.18.0.1",
            4000,
            b"\x17\x03\x03\x00\x10" + b"a" * 16,
            seq=5,
            src_mac=CAM_MAC,
        ),
        ether(CAM_MAC, "ff:ff:ff:ff:ff:ff", 0x86DD, b"\x60" + b"\0" * 60),
    ]
    h = hear(frames)
    assert h.by_host == {} and h.frames == 3


def test_raw_replies_per_host_are_bounded() -> None:
    frames = []
    for i in range(40):
        body = f"<html><title>page {i}</title></html>".encode()
        resp = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
        frames += tcp_reply(
            "198.18.0.95",
            80,
            "198.18.0.1",
            41000 + i,
            resp,
            src_mac=CAM_MAC,
            request=f"GET /p{i}.html HTTP/1.1\r\n\r\n".encode(),
        )
    h = hear(frames)
    raw = [ev for ev in h.by_host["198.18.0.95"] if ev.key == "http.response"]
    assert len(raw) == 16


def test_linux_cooked_capture_frames_are_read() -> None:
    sadp = load("sadp", "ds-2cd2385g1-i.xml")
    eth = udp_frame("198.18.0.96", 37020, "239.255.255.250", 37020, sadp, src_mac=CAM_MAC)
    # SLL header (tcpdump -i any): packet type, ARPHRD_ETHER, address length, address, protocol
    sll = struct.pack("!HHH8sH", 2, 1, 6, mac(CAM_MAC) + b"\0\0", 0x0800) + eth[14:]
    h = Hearing()
    h.feed(1.0, 113, sll)
    assert "sadp.serial" in keys(h.by_host["198.18.0.96"])
