"""IPv6 frames in, evidence per IPv6 sender out: mDNS, SSDP, WS-Discovery, TCP replies, MACs."""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import struct
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packets import (
    ROUTER_MAC,
    SCANNER_MAC,
    arp_frame,
    ether,
    ipv6,
    tcp6_frame,
    tcp6_reply,
    udp6_frame,
    udp_frame,
    write_pcap,
)
from zeroconf._dns import DNSAddress, DNSPointer, DNSRecord, DNSService, DNSText
from zeroconf.const import _CLASS_IN, _CLASS_IN_UNIQUE, _TYPE_A, _TYPE_AAAA, _TYPE_PTR

from camscan.cli import main
from camscan.output.schema import validate_document
from camscan.passive.capfile import Prefilter
from camscan.passive.hearing import LINK_TYPES_READ, TCP_FIRST_BYTES, UDP_PORTS, Hearing
from camscan_lab.personalities import mdns as lab_mdns

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "discovery"))
from capture_files import load

CAPTURES = Path(__file__).resolve().parents[1] / "captures"
# One of the Hikvision cameras of captures/mdns/hikvision-cgi-tcp.json: its AAAA records give
# its link-local address, whose interface identifier is its MAC (EUI-64, 18:68:cb = Hikvision).
CAM = json.loads((CAPTURES / "mdns" / "hikvision-cgi-tcp.json").read_text())["packets"][0]
CAM_LL = "fe80::1a68:cbff:fe15:b284"
CAM_ULA = "fd0e:2b24:7e05:1:1a68:cbff:fe15:b284"
CAM_MAC = "18:68:cb:15:b2:84"
MDNS6 = "ff02::fb"
SSDP6 = "ff02::c"


def _record(r: dict[str, object]) -> DNSRecord:
    name = str(r["name"]) + "."
    cls = _CLASS_IN_UNIQUE if r["flush"] else _CLASS_IN
    ttl = int(str(r["ttl"]))
    data = r["rdata"]
    if r["type"] == "PTR":
        return DNSPointer(name, _TYPE_PTR, cls, ttl, f"{data}.")
    if r["type"] == "TXT":
        return DNSText(name, 16, cls, ttl, lab_mdns._txt_rdata(data))
    if r["type"] == "SRV":
        assert isinstance(data, dict)
        return DNSService(
            name, 33, cls, ttl, data["priority"], data["weight"], data["port"], data["target"] + "."
        )
    if r["type"] == "A":
        return DNSAddress(name, _TYPE_A, cls, ttl, socket.inet_aton(str(data)))
    return DNSAddress(name, _TYPE_AAAA, cls, ttl, ipaddress.IPv6Address(str(data)).packed)


def camera_mdns() -> bytes:
    """The camera's captured mDNS response, re-encoded from its records (as test_mdns does)."""
    (data,) = lab_mdns.build_response(
        [_record(r) for r in CAM["answers"]], [_record(r) for r in CAM["additionals"]]
    )
    return data


def hear(frames: list[bytes], linktype: int = 1) -> Hearing:
    h = Hearing()
    for i, f in enumerate(frames):
        h.feed(1_700_000_000 + i, linktype, f)
    h.finish()
    return h


def frame_mac(h: Hearing, host: str) -> str | None:
    return {d.ip: d for d in h.devices()}[host].mac


def test_mdns_over_ipv6_is_credited_to_the_link_local_sender_and_its_mac() -> None:
    h = hear([udp6_frame(CAM_LL, 5353, MDNS6, 5353, camera_mdns(), src_mac=CAM_MAC)])
    assert h.packets == {"mdns": 1}
    (dev,) = h.devices()
    assert (dev.ip, dev.mac) == (CAM_LL, CAM_MAC)
    got = {(ev.key, ev.value) for ev in dev.evidence}
    assert ("mdns.instance", "HIKVISION DS-2CD2722FWD-IZS - 733050075") in got
    assert dev.verdict.maker == "Hikvision"
    assert dev.verdict.model == "DS-2CD2722FWD-IZS"


def test_a_document_with_ipv6_devices_validates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A test-built capture of IPv6 frames through `camscan pcap`: the schema takes the address."""
    notify = (CAPTURES / "ssdp" / "synology-notify.http").read_bytes()
    path = write_pcap(
        tmp_path / "v6.pcap",
        [
            udp6_frame(CAM_LL, 5353, MDNS6, 5353, camera_mdns(), src_mac=CAM_MAC),
            udp6_frame(
                "fe80::211:32ff:fe00:1", 1900, SSDP6, 1900, notify, src_mac="00:11:32:00:00:01"
            ),
        ],
    )
    with pytest.raises(SystemExit) as exc:
        main(["pcap", str(path), "-q"])
    out, err = capsys.readouterr()
    assert exc.value.code == 0, err
    doc = json.loads(out)
    validate_document(doc)
    # Sorted as addresses (IPv4 first, then IPv6 numerically), as the scan sorts them.
    assert [d["ip"] for d in doc["devices"]] == ["fe80::211:32ff:fe00:1", CAM_LL]
    assert doc["devices"][1]["verdict"]["maker"] == "Hikvision"
    assert doc["devices"][1]["mac"] == CAM_MAC
    assert doc["scope"]["passive"]["packets_by_protocol"] == {"mdns": 1, "ssdp": 1}


def test_ssdp_notify_and_wsd_probe_match_over_ipv6() -> None:
    notify = (CAPTURES / "ssdp" / "synology-notify.http").read_bytes()
    match = load("wsd", "amcrest-ip2m-841b.xml")
    h = hear(
        [
            udp6_frame(
                "fe80::211:32ff:fe00:1", 1900, SSDP6, 1900, notify, src_mac="00:11:32:00:00:01"
            ),
            udp6_frame(
                "2001:db8::41",
                3702,
                "2001:db8::1",
                50000,
                match,
                src_mac="9c:8e:cd:00:00:41",
                hop=64,
            ),
        ]
    )
    assert "upnp.usn" in {ev.key for ev in h.by_host["fe80::211:32ff:fe00:1"]}
    assert "wsd.probe_match" in {ev.key for ev in h.by_host["2001:db8::41"]}
    # A global address on the segment (initial hop limit, a MAC that forwarded nothing).
    assert frame_mac(h, "2001:db8::41") == "9c:8e:cd:00:00:41"


def test_http_and_rtsp_replies_and_syn_ack_over_ipv6() -> None:
    http = (CAPTURES / "http" / "hikvision-webs-302.http").read_bytes()
    rtsp = (CAPTURES / "rtsp" / "hikvision-describe-401.rtsp").read_bytes()
    rtsp = rtsp.split(b"\n", 1)[1] if rtsp.startswith(b"#") else rtsp
    frames = [
        tcp6_frame(CAM_ULA, 554, "fd0e::1", 40002, b"", seq=1, flags=0x12, src_mac=CAM_MAC),
        *tcp6_reply(
            CAM_ULA, 80, "fd0e::1", 40000, http, src_mac=CAM_MAC, request=b"GET / HTTP/1.1\r\n\r\n"
        ),
        *tcp6_reply(CAM_ULA, 554, "fd0e::1", 40002, rtsp, src_mac=CAM_MAC),
    ]
    h = hear(frames)
    items = h.by_host[CAM_ULA]
    (raw,) = [ev for ev in items if ev.key == "http.response"]
    assert raw.value.encode() == http and raw.port == 80
    assert {"tcp.open.554", "rtsp.response", "http.server"} <= {ev.key for ev in items}
    (dev,) = h.devices()
    assert (dev.mac, dev.verdict.maker) == (CAM_MAC, "Hikvision")


def _certificate_der(common_name: str) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(4242)
        .not_valid_before(datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC))
        .not_valid_after(datetime.datetime(2034, 1, 1, tzinfo=datetime.UTC))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def test_tls_server_certificate_over_ipv6() -> None:
    der = _certificate_der("ipv6-camera.example")
    hello = b"\x02\x00\x00\x04\x03\x03\x00\x00"
    cert = b"\x0b" + (len(der) + 6).to_bytes(3, "big") + (len(der) + 3).to_bytes(3, "big")
    messages = hello + cert + len(der).to_bytes(3, "big") + der
    flight = b"\x16\x03\x03" + len(messages).to_bytes(2, "big") + messages
    h = hear(tcp6_reply(CAM_ULA, 443, "fd0e::1", 40010, flight, src_mac=CAM_MAC))
    got = {ev.key: ev.value for ev in h.by_host[CAM_ULA]}
    assert got["tls.subject"] == "CN=ipv6-camera.example"
    assert got["tls.serial"] == format(4242, "x")


def test_irrelevant_ipv6_tcp_is_not_decoded_further() -> None:
    junk = tcp6_frame(CAM_ULA, 8001, "fd0e::1", 40003, b"\x00" * 100, seq=1, src_mac=CAM_MAC)
    h = hear([junk])
    assert h.by_host == {} and not h.tcp.streams and not h.packets


@pytest.mark.parametrize(
    "headers",
    [[0], [60], [0, 43, 60], [44], [51], [0, 51, 60]],
    ids=["hop-by-hop", "dest-opts", "chain", "atomic-fragment", "ah", "mixed"],
)
def test_extension_headers_are_skipped(headers: list[int]) -> None:
    frame = udp6_frame(CAM_LL, 5353, MDNS6, 5353, camera_mdns(), src_mac=CAM_MAC, headers=headers)
    assert "mdns.instance" in {ev.key for ev in hear([frame]).by_host[CAM_LL]}


def test_what_cannot_be_read_safely_is_dropped() -> None:
    data = camera_mdns()
    too_long = udp6_frame(CAM_LL, 5353, MDNS6, 5353, data, src_mac=CAM_MAC, headers=[60] * 9)
    # A first fragment (more to come) and a later one overlapping it (RFC 5722: both lost).
    first = bytearray(udp6_frame(CAM_LL, 5353, MDNS6, 5353, data, src_mac=CAM_MAC, headers=[44]))
    first[14 + 40 + 3] |= 1
    later = bytearray(udp6_frame(CAM_LL, 5353, MDNS6, 5353, data, src_mac=CAM_MAC, headers=[44]))
    later[14 + 40 + 2] = 0x01
    esp = ether(CAM_MAC, SCANNER_MAC, 0x86DD, ipv6(CAM_LL, "fe80::1", 50, b"\0" * 64))
    cut = udp6_frame(CAM_LL, 5353, MDNS6, 5353, data, src_mac=CAM_MAC, headers=[0, 60])[: 14 + 44]
    h = hear([too_long, bytes(first), bytes(later), esp, cut])
    assert h.by_host == {} and not h.packets


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120), st.integers(0, 255))
def test_any_ipv6_bytes_are_read_or_dropped_never_raise(tail: bytes, nxt: int) -> None:
    head = struct.pack("!IHBB", 6 << 28, len(tail), nxt, 255) + bytes(32)
    hear([ether(CAM_MAC, SCANNER_MAC, 0x86DD, head + tail)])


def test_ipv6_addresses_do_not_cost_the_ipv4_host_its_mac() -> None:
    """A device speaks from its IPv4 and its IPv6 addresses with one MAC: each keeps it."""
    notify = (CAPTURES / "ssdp" / "synology-notify.http").read_bytes()
    h = hear(
        [
            udp_frame("198.18.0.40", 1900, "239.255.255.250", 1900, notify, src_mac=CAM_MAC),
            udp6_frame(CAM_LL, 5353, MDNS6, 5353, camera_mdns(), src_mac=CAM_MAC),
            udp6_frame(CAM_ULA, 1900, SSDP6, 1900, notify, src_mac=CAM_MAC, hop=255),
        ]
    )
    assert frame_mac(h, "198.18.0.40") == CAM_MAC
    assert frame_mac(h, CAM_LL) == CAM_MAC
    assert frame_mac(h, CAM_ULA) == CAM_MAC


def test_routed_ipv6_replies_never_get_the_router_mac() -> None:
    http = (CAPTURES / "http" / "hikvision-webs-302.http").read_bytes()
    notify = (CAPTURES / "ssdp" / "synology-notify.http").read_bytes()
    get = b"GET / HTTP/1.1\r\n\r\n"
    frames = [
        # A remote camera's reply, forwarded: hop limit 63, the router's MAC.
        *tcp6_reply(
            "2001:db8:9::50", 80, "fd0e::1", 40000, http, src_mac=ROUTER_MAC, request=get, hop=63
        ),
        # Another remote host whose hop limit happens to look initial, behind the same router.
        *tcp6_reply(
            "2001:db8:9::51", 80, "fd0e::1", 40001, http, src_mac=ROUTER_MAC, request=get, hop=64
        ),
        # The router's own link-local address: its own MAC, whatever it forwards.
        udp6_frame("fe80::fe", 1900, SSDP6, 1900, notify, src_mac=ROUTER_MAC),
    ]
    h = hear(frames)
    assert frame_mac(h, "2001:db8:9::50") is None
    assert frame_mac(h, "2001:db8:9::51") is None
    assert frame_mac(h, "fe80::fe") == ROUTER_MAC
    assert {d.ip: d for d in h.devices()}["2001:db8:9::50"].verdict.maker == "Hikvision"


def test_ipv6_sender_heard_with_two_macs_gets_none() -> None:
    notify = (CAPTURES / "ssdp" / "synology-notify.http").read_bytes()
    a = udp6_frame(CAM_LL, 5353, MDNS6, 5353, camera_mdns(), src_mac=CAM_MAC)
    b = udp6_frame(CAM_LL, 1900, SSDP6, 1900, notify, src_mac="02:00:00:00:00:99")
    assert frame_mac(hear([a, b]), CAM_LL) is None


def test_vlan_tagged_raw_and_loopback_link_types() -> None:
    frame = udp6_frame(CAM_LL, 5353, MDNS6, 5353, camera_mdns(), src_mac=CAM_MAC)
    packet = frame[14:]
    tagged = frame[:12] + b"\x81\x00\x00\x05" + frame[12:]
    assert CAM_LL in hear([tagged]).by_host
    assert CAM_LL in hear([packet], linktype=101).by_host  # LINKTYPE_RAW
    assert CAM_LL in hear([packet], linktype=229).by_host  # LINKTYPE_IPV6
    for family in (struct.pack("<I", 30), struct.pack(">I", 24), struct.pack("<I", 28)):
        assert CAM_LL in hear([family + packet], linktype=0).by_host  # BSD loopback
    assert hear([struct.pack("<I", 7) + packet], linktype=0).by_host == {}


def test_prefilter_keeps_ipv6_frames() -> None:
    """`wants` (and the BPF filter, tests/passive/test_capfile_libpcap.py) keep IPv6 whole."""
    pf = Prefilter(set(UDP_PORTS), TCP_FIRST_BYTES, LINK_TYPES_READ)
    frame = udp6_frame(CAM_LL, 5353, MDNS6, 5353, camera_mdns(), src_mac=CAM_MAC)
    assert pf.wants(frame, 0, len(frame))


def test_arp_and_ipv6_of_one_device_stay_two_hosts() -> None:
    """Devices are keyed by address: an IPv6 sender is its own host, as heard."""
    frames = [
        arp_frame(CAM_MAC, "198.18.0.40", "198.18.0.1"),
        udp6_frame(CAM_LL, 5353, MDNS6, 5353, camera_mdns(), src_mac=CAM_MAC),
    ]
    assert set(hear(frames).host_evidence()) == {"198.18.0.40", CAM_LL}
