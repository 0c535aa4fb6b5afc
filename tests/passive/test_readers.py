"""The passive-only readers (DHCP, SNMP, LLDP, CDP, TLS Certificate, WS-Discovery Hello/Bye)
on built bytes, and on any bytes: a result or their own ParseError, never another exception."""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packets import udp_frame, write_pcap

from camscan.identify import identify
from camscan.keys import is_known_key
from camscan.output.document import build_document
from camscan.output.schema import validate_document
from camscan.passive import cdp, dhcp, lldp, snmp, tlscert, wsdhello
from camscan.passive.session import read_captures

MAC = "44:19:b6:00:00:10"


def dhcp_request(*, ciaddr: str = "0.0.0.0", options: bytes = b"") -> bytes:
    head = struct.pack(
        "!BBBBIHH4s4s4s4s16s64s128s",
        1,
        1,
        6,
        0,
        0x1234,
        0,
        0,
        socket.inet_aton(ciaddr),
        b"\0" * 4,
        b"\0" * 4,
        b"\0" * 4,
        bytes.fromhex(MAC.replace(":", "")) + b"\0" * 10,
        b"",
        b"",
    )
    return head + b"\x63\x82\x53\x63" + options + b"\xff"


DISCOVER_OPTIONS = (
    b"\x35\x01\x01" + b"\x0c\x0aHIKVISION1" + b"\x3c\x09udhcp 1.2" + b"\x37\x04\x01\x03\x06\x0c"
)


def test_dhcp_discover_fields() -> None:
    req = dhcp.parse_request(dhcp_request(options=DISCOVER_OPTIONS))
    assert (req.mac, req.message_type, req.hostname, req.vendor_class, req.parameter_list) == (
        MAC,
        1,
        "HIKVISION1",
        "udhcp 1.2",
        (1, 3, 6, 12),
    )
    assert dhcp.client_address(req, "0.0.0.0") is None
    got = {(e.key, e.value) for e in dhcp.evidence_of(req, MAC)}
    assert ("dhcp.param_list", "1,3,6,12") in got and ("mac", MAC) in got


def test_dhcp_empty_message_type_option_is_read_as_no_type() -> None:
    # Found by the property test: an option 53 of length 0 raised IndexError.
    req = dhcp.parse_request(dhcp_request(options=b"\x35\x00" + b"\x0c\x03cam"))
    assert (req.message_type, req.hostname) == (None, "cam")


def test_dhcp_server_reply_is_refused() -> None:
    data = bytearray(dhcp_request())
    data[0] = 2
    with pytest.raises(dhcp.ParseError, match="BOOTREPLY"):
        dhcp.parse_request(bytes(data))


def test_dhcp_discover_without_address_is_a_host_named_by_its_mac(tmp_path: Path) -> None:
    frame = udp_frame(
        "0.0.0.0",
        68,
        "255.255.255.255",
        67,
        dhcp_request(options=DISCOVER_OPTIONS),
        src_mac=MAC,
        dst_mac="ff:ff:ff:ff:ff:ff",
        ttl=64,
    )
    doc = build_document(read_captures([str(write_pcap(tmp_path / "d.pcap", [frame]))]))
    validate_document(doc)
    (dev,) = doc["devices"]
    assert dev["ip"] == MAC and dev["mac"] == MAC


def test_relayed_dhcp_request_is_the_clients_not_the_relays(tmp_path: Path) -> None:
    """A relay agent (giaddr) sends the request on from its own address and MAC (RFC 1542)."""
    relay, relay_mac = "198.18.5.1", "02:00:00:00:05:01"
    data = bytearray(dhcp_request(ciaddr="198.18.7.23", options=DISCOVER_OPTIONS))
    data[24:28] = socket.inet_aton(relay)
    assert dhcp.parse_request(bytes(data)).relayed
    frame = udp_frame(relay, 67, "198.18.0.2", 67, bytes(data), src_mac=relay_mac, dst_mac=MAC)
    doc = build_document(read_captures([str(write_pcap(tmp_path / "r.pcap", [frame]))]))
    (dev,) = doc["devices"]
    assert (dev["ip"], dev["mac"]) == ("198.18.7.23", MAC)  # not the relay's, nor its MAC
    assert "HIKVISION1" in {e["value"] for e in dev["evidence"]}


def ber(tag: int, value: bytes) -> bytes:
    if len(value) < 128:
        return bytes([tag, len(value)]) + value
    assert len(value) < 256
    return bytes([tag, 0x81, len(value)]) + value  # long form: one length byte


def oid(text: str) -> bytes:
    parts = [int(p) for p in text.split(".")]
    out = bytes([parts[0] * 40 + parts[1]])
    for p in parts[2:]:
        chunk = [p & 0x7F]
        while p > 0x7F:
            p >>= 7
            chunk.insert(0, 0x80 | (p & 0x7F))
        out += bytes(chunk)
    return out


def snmp_response(version: int = 1, pdu: int = 0xA2) -> bytes:
    binds = (
        ber(0x30, ber(0x06, oid(snmp.SYS_DESCR)) + ber(0x04, b"Hikvision company products"))
        + ber(0x30, ber(0x06, oid(snmp.SYS_OBJECT_ID)) + ber(0x06, oid("1.3.6.1.4.1.39165.1.1")))
        + ber(0x30, ber(0x06, oid(snmp.SYS_NAME)) + ber(0x04, b"nvr-1"))
    )
    body = ber(0x02, b"\x01") + ber(0x02, b"\x00") + ber(0x02, b"\x00") + ber(0x30, binds)
    return ber(0x30, ber(0x02, bytes([version])) + ber(0x04, b"public") + ber(pdu, body))


def test_snmp_response_system_group() -> None:
    msg = snmp.parse_message(snmp_response())
    assert msg.values == {
        snmp.SYS_DESCR: "Hikvision company products",
        snmp.SYS_OBJECT_ID: "1.3.6.1.4.1.39165.1.1",
        snmp.SYS_NAME: "nvr-1",
    }
    keys = {e.key for e in snmp.evidence_of(msg, "198.18.0.9")}
    assert keys == {"snmp.sysdescr", "snmp.sysobjectid", "snmp.sysname"}


def private_mib_response(binds: list[tuple[str, int, bytes]]) -> bytes:
    """A GetResponse holding the given (OID, tag, value) varbinds."""
    varbinds = b"".join(ber(0x30, ber(0x06, oid(o)) + ber(tag, v)) for o, tag, v in binds)
    body = ber(0x02, b"\x07") + ber(0x02, b"\x00") + ber(0x02, b"\x00") + ber(0x30, varbinds)
    return ber(0x30, ber(0x02, b"\x01") + ber(0x04, b"public") + ber(0xA2, body))


def test_snmp_hikvision_private_mib_scalars() -> None:
    # librenms tests/snmpsim/hikvision-cam.snmprec: a camera answering HIK-DEVICE-MIB
    data = private_mib_response(
        [
            ("1.3.6.1.4.1.39165.1.1.0", 0x04, b"DS-2CD2185FWD-I"),
            ("1.3.6.1.4.1.39165.1.3.0", 0x04, b"V5.5.3 build 171025"),
            ("1.3.6.1.4.1.39165.1.7.0", 0x04, b"15 PERCENT"),  # cpuPercent: not read
            ("1.3.6.1.4.1.39165.1.6.0", 0x04, b"Hikvision"),
        ]
    )
    found = {e.key: e.value for e in snmp.evidence_of(snmp.parse_message(data), "198.18.0.9")}
    assert found == {
        "snmp.hikvision.model": "DS-2CD2185FWD-I",
        "snmp.hikvision.firmware": "V5.5.3 build 171025",
        "snmp.hikvision.manufacturer": "Hikvision",
    }
    assert all(is_known_key(k) for k in found)
    verdict = identify(snmp.evidence_of(snmp.parse_message(data), "198.18.0.9"))
    assert (verdict.maker, verdict.model, verdict.firmware, verdict.device_type) == (
        "Hikvision",
        "DS-2CD2185FWD-I",
        "V5.5.3 build 171025",
        "camera",
    )


def test_snmp_dahua_private_mib_scalars() -> None:
    # librenms tests/snmpsim/dahua-nvr.snmprec: the same NVR's DAHUA-SNMP-MIB systemInfo
    data = private_mib_response(
        [
            ("1.3.6.1.4.1.1004849.2.1.1.1.0", 0x04, b"3.212.0000.1"),
            ("1.3.6.1.4.1.1004849.2.1.2.4.0", 0x04, b"2M00D2APAZTL62J"),
            ("1.3.6.1.4.1.1004849.2.1.2.6.0", 0x04, b"DH-NVR4108HS-8P-4KS2"),
            ("1.3.6.1.4.1.1004849.2.1.2.8.0", 0x02, b"\x01"),  # deviceStatus: not read
        ]
    )
    items = snmp.evidence_of(snmp.parse_message(data), "198.18.0.9")
    assert {e.key: e.value for e in items} == {
        "snmp.dahua.firmware": "3.212.0000.1",
        "snmp.dahua.serial": "2M00D2APAZTL62J",
        "snmp.dahua.model": "DH-NVR4108HS-8P-4KS2",
    }
    verdict = identify(items)
    assert (verdict.maker, verdict.model, verdict.serial, verdict.firmware) == (
        "Dahua",
        "DH-NVR4108HS-8P-4KS2",
        "2M00D2APAZTL62J",
        "3.212.0000.1",
    )
    assert verdict.confidence.value == "likely"  # one protocol, however many of its values


def test_snmp_private_mib_exception_values_are_not_evidence() -> None:
    # An agent without the MIB answers noSuchObject (context tag 0x80) or an empty string.
    data = private_mib_response(
        [("1.3.6.1.4.1.39165.1.1.0", 0x80, b""), ("1.3.6.1.4.1.1004849.2.1.2.6.0", 0x04, b"")]
    )
    assert snmp.evidence_of(snmp.parse_message(data), "198.18.0.9") == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (snmp_response(pdu=0xA0), "request"),
        (snmp_response(version=3), "not v1/v2c"),
        (b"\x30\x84\xff\xff\xff\xff", "bad length"),
        (b"\x04\x00", "SEQUENCE"),
    ],
)
def test_snmp_refuses_requests_v3_and_damage(data: bytes, message: str) -> None:
    with pytest.raises(snmp.ParseError, match=message):
        snmp.parse_message(data)


def cdp_payload(address: bytes = socket.inet_aton("198.18.0.9")) -> bytes:
    def tlv(t: int, v: bytes) -> bytes:
        return struct.pack("!HH", t, 4 + len(v)) + v

    addr = struct.pack("!I", 1) + b"\x01\x01\xcc" + struct.pack("!H", 4) + address
    return (
        b"\x02\xb4\x00\x00"
        + tlv(1, b"Switch")
        + tlv(2, addr)
        + tlv(6, b"cisco WS-C3560G-24PS")
        + tlv(5, b"Cisco IOS Software")
    )


def test_cdp_fields_and_address() -> None:
    info = cdp.parse_cdp(cdp_payload())
    assert info.ipv4 == "198.18.0.9"
    assert info.fields == {
        "cdp.device_id": "Switch",
        "cdp.platform": "cisco WS-C3560G-24PS",
        "cdp.software_version": "Cisco IOS Software",
    }
    assert cdp.parse_cdp(cdp_payload(b"\0\0\0\0")).ipv4 is None  # an unset address


def test_tls_certificate_out_of_the_server_flight() -> None:
    der = b"\x30\x03\x02\x01\x01"
    hello = b"\x02\x00\x00\x04\x03\x03\x00\x00"
    cert = (
        b"\x0b"
        + (len(der) + 6).to_bytes(3, "big")
        + (len(der) + 3).to_bytes(3, "big")
        + len(der).to_bytes(3, "big")
        + der
    )
    messages = hello + cert
    records = b"\x16\x03\x03" + len(messages).to_bytes(2, "big") + messages
    assert tlscert.server_certificate(records) == der
    assert tlscert.server_certificate(records[:12]) is None  # the Certificate not yet heard
    tls13 = b"\x16\x03\x03\x00\x08" + hello + b"\x14\x03\x03\x00\x01\x01"
    assert tlscert.server_certificate(tls13) is None


def test_wsd_bye_names_the_endpoint() -> None:
    bye = (
        b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:d="http://'
        b'schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:a="http://schemas.xmlsoap.org/ws/'
        b'2004/08/addressing"><s:Body><d:Bye><a:EndpointReference><a:Address>urn:uuid:1'
        b"</a:Address></a:EndpointReference></d:Bye></s:Body></s:Envelope>"
    )
    match = wsdhello.parse_announcement(bye)
    assert match is not None and match.epr == "urn:uuid:1"
    probe = bye.replace(b"d:Bye", b"d:Probe")
    assert wsdhello.parse_announcement(probe) is None


READERS: list[tuple[Callable[[bytes], object], type[Exception]]] = [
    (dhcp.parse_request, dhcp.ParseError),
    (snmp.parse_message, snmp.ParseError),
    (lldp.parse_lldpdu, lldp.ParseError),
    (cdp.parse_cdp, cdp.ParseError),
    (tlscert.server_certificate, tlscert.ParseError),
    (wsdhello.parse_announcement, wsdhello.ParseError),
]


@settings(max_examples=300, deadline=None)
@given(
    data=st.one_of(
        st.binary(max_size=400),
        st.binary(max_size=60).map(lambda b: snmp_response()[:20] + b),
        st.binary(max_size=60).map(lambda b: dhcp_request()[:240] + b),
        st.binary(max_size=60).map(lambda b: b"\x16\x03\x03\x00\x40\x02" + b),
    )
)
def test_any_bytes_give_a_result_or_parse_error(data: bytes) -> None:
    for reader, error in READERS:
        with contextlib.suppress(error):
            reader(data)


def test_dhcp_discover_joins_the_address_its_mac_takes_later(tmp_path: Path) -> None:
    from packets import arp_frame

    discover = udp_frame(
        "0.0.0.0",
        68,
        "255.255.255.255",
        67,
        dhcp_request(options=DISCOVER_OPTIONS),
        src_mac=MAC,
        dst_mac="ff:ff:ff:ff:ff:ff",
    )
    doc = build_document(
        read_captures(
            [
                str(
                    write_pcap(
                        tmp_path / "d.pcap", [discover, arp_frame(MAC, "198.18.0.77", "198.18.0.1")]
                    )
                )
            ]
        )
    )
    (dev,) = doc["devices"]
    assert dev["ip"] == "198.18.0.77"
    assert {"dhcp.hostname", "dhcp.vendor_class", "dhcp.param_list"} <= {
        e["key"] for e in dev["evidence"]
    }
    assert all(e["host"] == "198.18.0.77" for e in dev["evidence"])


@settings(max_examples=200, deadline=None)
@given(
    server=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=30),
    title=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF), max_size=30),
)
def test_an_http_reply_heard_gives_the_items_the_probes_expander_gives(
    server: str, title: str
) -> None:
    """The parsed http.* items of a reply read passively are those the active path's expander
    reads out of the decoded http.response item, ASCII (parsed once) or not."""
    from camscan.passive.exchanges import reply_evidence
    from camscan.passive.streams import Reply, Request
    from camscan.probes import http

    body = f"<html><title>{title}</title></html>".encode()
    raw = (
        b"HTTP/1.1 200 OK\r\nServer: "
        + server.encode("latin-1")
        + b"\r\nContent-Length: %d\r\n\r\n" % len(body)
        + body
    )
    key = socket.inet_aton("198.18.0.20") + socket.inet_aton("198.18.0.1") + b"\0\x50\x9c\x40"
    reply = Reply(key, "http", raw, Request("GET", "/", b"GET / HTTP/1.1\r\n\r\n"), None, 64)
    items = reply_evidence("198.18.0.20", 80, reply)
    assert items is not None
    (response,) = [ev for ev in items if ev.key == "http.response"]
    assert [ev for ev in items if ev.key != "http.response"] == http.expand(response)
