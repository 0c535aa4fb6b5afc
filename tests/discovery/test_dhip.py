"""DHIP: captured notifyDevInfo replies, the 32-byte header, hostile bytes, evidence."""

from __future__ import annotations

import contextlib
import json
import struct
import time

import pytest
from capture_files import load
from hypothesis import given, settings
from hypothesis import strategies as st

from camscan.discovery import dhip
from camscan.discovery.datagram import Datagram
from camscan.keys import is_known_key
from camscan.models import Evidence


def test_search_packet_matches_haicam_bytes() -> None:
    # Haicam/Haicam discovery.go sends exactly these bytes (payload length 0x49 twice).
    expected = (
        b" \x00\x00\x00DHIP\x00\x00\x00\x00\x00\x00\x00\x00I\x00\x00\x00\x00\x00\x00\x00"
        b"I\x00\x00\x00\x00\x00\x00\x00"
        b'{ "method" : "DHDiscover.search", "params" : { "mac" : "", "uni" : 1 } }\n'
    )
    assert dhip.build_search() == expected


def test_haicam_capture_every_listed_field() -> None:
    # DHIP notifyDevInfo, IPC-HDW1431T1-S4, Vendor Private (Haicam/Haicam)
    reply = dhip.parse_packet(load("dhip", "ipc-hdw1431t1-s4.hex"))
    assert reply.get("DeviceType") == "IPC-HDW1431T1-S4"
    assert reply.get("SerialNo") == "6C01E93PAG69A7D"
    assert reply.get("MachineName") == "6C01E93PAG69A7D"
    assert reply.get("Vendor") == "Private"
    assert reply.get("Manufacturer") == "Private"
    assert reply.get("Version") == "2.800.0000000.13.R"
    assert reply.get("DeviceClass") == "IPC"
    assert reply.get("mac") == "08:ed:ed:87:42:7a"
    assert reply.get("IPv4Address.IPAddress") == "192.168.124.17"
    assert reply.get("IPv4Address.DhcpEnable") == "true"
    assert reply.get("IPv6Address.LinkLocalAddress") == "fe80::0aed:edff:fe87:427a/64"
    assert reply.get("IPv6Address.DefaultGateway") is None  # JSON null
    assert reply.get("HttpPort") == "80" and reply.get("Port") == "37777"


def test_phenomite_capture_vendor_dahua() -> None:
    reply = dhip.parse_packet(load("dhip", "ipc-hdw5421s.hex"))
    assert (reply.get("Vendor"), reply.get("DeviceType"), reply.get("Version")) == (
        "Dahua",
        "IPC-HDW5421S",
        "2.400.0.8",
    )


def test_lorex_capture_names_the_oem_and_its_port() -> None:
    found = dhip.reply_evidence(Datagram("192.168.86.81", 37810, load("dhip", "lorex-w461asc.hex")))
    by_key = {ev.key: ev.value for ev in found}
    assert by_key["dhip.vendor"] == "Lorex"
    assert by_key["dhip.port"] == "35000"
    assert by_key["model"] == "W461ASC"
    assert by_key["mac"] == "00:1f:54:a9:2e:58"
    assert all(is_known_key(ev.key) and ev.host == "192.168.86.81" for ev in found)


def test_expand_reads_json_or_whole_packet() -> None:
    packet = load("dhip", "ipc-hdw5421s.hex")
    found = dhip.reply_evidence(Datagram("218.5.136.140", 37810, packet))
    raw, structured = found[0], found[1:]
    assert raw.key == "dhip.reply" and raw.value.startswith("{")
    assert dhip.expand(raw) == structured
    whole = Evidence(raw.host, "dhip", "dhip.reply", packet.decode("latin-1"), raw.port)
    assert {e.key for e in dhip.expand(whole)} == {e.key for e in structured}
    # As a public capture prints it: the binary header rendered as text before the JSON.
    printed = Evidence(raw.host, "dhip", "dhip.reply", "DHIP   " + raw.value, raw.port)
    assert dhip.expand(printed) == structured


def _packet(obj: object) -> bytes:
    return dhip.build_packet(json.dumps(obj).encode() + b"\n\x00")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"DHIP",
        b"\xff",  # what Phenomite sends to elicit a reply
        b"\x20\x00\x00\x00NOPE" + b"\x00" * 24 + b"{}",
        dhip.build_search(),  # another client's request
        _packet({"method": "client.notifyDevInfo"}),
        _packet({"params": {"deviceInfo": "not an object"}}),
        _packet([1, 2, 3]),
        dhip.build_packet(b"[" * 100000),  # recursion bomb, capped by MAX_REPLY
        dhip.build_packet(b"[" * 5000),  # recursion within the size cap
        dhip.build_packet(b"\xff\xfe{not utf8"),
        struct.pack("<I4sIIIIII", 0x20, b"DHIP", 0, 0, 0xFFFFFFFF, 0, 0, 0) + b"{",
    ],
)
def test_hostile_bytes_raise_parse_error(data: bytes) -> None:
    with pytest.raises(dhip.ParseError):
        dhip.parse_packet(data)


def test_values_are_bounded_and_nested_objects_ignored() -> None:
    reply = dhip.parse_packet(
        _packet(
            {
                "mac": "x" * 900,
                "params": {
                    "deviceInfo": {"DeviceType": "A" * 900, "Deep": {"x": {"y": 1}}, "List": [1, 2]}
                },
            }
        )
    )
    assert len(reply.get("DeviceType") or "") == dhip.MAX_VALUE
    assert reply.get("Deep.x") is None and reply.get("List") is None


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=2000),
        st.builds(lambda b: dhip.build_packet(b), st.binary(max_size=2000)),
        st.builds(lambda t: dhip.build_packet(t.encode()), st.text(max_size=500)),
    )
)
def test_any_bytes_give_a_reply_or_parse_error(data: bytes) -> None:
    started = time.monotonic()
    with contextlib.suppress(dhip.ParseError):
        dhip.parse_packet(data)
    assert time.monotonic() - started < 1.0


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
    )
)
def test_any_json_gives_a_reply_or_parse_error(value: object) -> None:
    doc = {"mac": "00:1f:54:00:00:01", "params": {"deviceInfo": {"DeviceType": value}}}
    with contextlib.suppress(dhip.ParseError):
        dhip.parse_packet(_packet(doc))


def test_escaped_lone_surrogates_become_replacement_characters() -> None:
    # JSON may spell a lone surrogate as "\ud800"; json.loads hands it back as is, and a str
    # holding one cannot be encoded as UTF-8, so one such reply would break every output.
    body = (
        b'{"mac": "3c:ef:8c:00:00:01", "params": {"deviceInfo": '
        b'{"DeviceType": "IPC\\ud800X", "Vendor": "Dah\\udfffua"}}}'
    )
    evidence = dhip.reply_evidence(Datagram("198.18.0.9", dhip.PORT, dhip.build_packet(body)))
    for ev in evidence:
        ev.value.encode("utf-8")  # raises UnicodeEncodeError on a lone surrogate
    values = {ev.key: ev.value for ev in evidence}
    assert values["dhip.model"] == "IPC\ufffdX"
    assert values["dhip.vendor"] == "Dah\ufffdua"
    assert dhip.parse_json(body).get("DeviceType") == "IPC\ufffdX"
