"""Dahua legacy UDP 5050 discovery: replies assembled from the documented layout, hostile bytes.

No captured reply was found (fingerprints.md §5.3 cites only the reader in UniversalScanner
Dahua1.cs), so the replies here are built from that layout, by hand and by the lab personality.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camscan.discovery import dhip_legacy
from camscan.keys import is_known_key
from camscan_lab.personalities.dhip import build_legacy_reply
from camscan_lab.personality import LabHost


def by_hand(section2: bytes, section3: bytes, device_type: bytes = b"IPC-HDW1230T2") -> bytes:
    head = bytearray(120)
    struct.pack_into("<HHI", head, 0, 0x00B3, len(section2), 0x58)
    struct.pack_into("<IH", head, 16, 2, len(section3))
    head[40 : 40 + len(device_type)] = device_type
    head[56:72] = b"".join(
        socket.inet_aton(a) for a in ("192.168.1.108", "255.255.255.0", "192.168.1.1", "8.8.8.8")
    )
    return bytes(head) + section2 + section3


def test_request_is_universalscanner_bytes() -> None:
    assert dhip_legacy.build_request() == bytes.fromhex(
        "a301000100000000000000000000000002000000000000000000000000000000"
    )


def test_reply_by_hand() -> None:
    reply = dhip_legacy.parse_reply(
        by_hand(b"90:02:a9:0d:0e:0f", b"Name:cam\r\nSerialNo:3E02C6APAZ41F27\r\n")
    )
    assert reply.get("DeviceType") == "IPC-HDW1230T2"
    assert reply.get("MAC") == "90:02:a9:0d:0e:0f"
    assert reply.get("IPv4Address") == "192.168.1.108"
    assert reply.get("Gateway") == "192.168.1.1"
    assert reply.get("SerialNo") == "3E02C6APAZ41F27"
    found = dhip_legacy.evidence_of(reply, "192.168.1.108")
    assert all(is_known_key(e.key) and e.port == 5050 for e in found)
    assert {e.key: e.value for e in found}["mac"] == "90:02:a9:0d:0e:0f"


def test_model_in_section_two_replaces_the_device_type() -> None:
    reply = dhip_legacy.parse_reply(by_hand(b"90:02:a9:0d:0e:0fDH-IPC-HDW1230T2", b""))
    assert reply.get("DeviceType") == "DH-IPC-HDW1230T2"


def test_lab_personality_reply_parses_back() -> None:
    host = LabHost(
        "dahua-cam-legacy",
        "198.18.0.36",
        "90:02:a9:0d:0e:0f",
        "eth0",
        "ns",
        15,
        {},
        make_socket=lambda *a: socket.socket(),
        spawn=lambda argv: 0,
    )
    data = build_legacy_reply(host, {"device_type": "IPC-HDW1230T2", "serial": "X1"})
    reply = dhip_legacy.parse_reply(data)
    assert (reply.get("IPv4Address"), reply.get("MAC"), reply.get("SerialNo")) == (
        "198.18.0.36",
        "90:02:a9:0d:0e:0f",
        "X1",
    )


@pytest.mark.parametrize(
    "data",
    [
        b"",
        dhip_legacy.build_request(),
        b"\xb3\x00" + b"\x00" * 50,
        by_hand(b"90:02:a9:0d:0e:0f", b"")[:-5],  # section 2 cut short
        bytes([0xB3, 0x00, 0xFF, 0xFF]) + b"\x00" * 200,  # section 2 longer than the datagram
        by_hand(b"", b"", device_type=b""),  # says nothing
        b"\xb3\x00" + b"\x00" * (dhip_legacy.MAX_REPLY + 1),
    ],
)
def test_hostile_bytes_raise_parse_error(data: bytes) -> None:
    with pytest.raises(dhip_legacy.ParseError):
        dhip_legacy.parse_reply(data)


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=1000),
        st.builds(
            lambda a, b, c: by_hand(a, b)[:c] if c else by_hand(a, b),
            st.binary(max_size=60),
            st.binary(max_size=300),
            st.integers(min_value=0, max_value=600),
        ),
    )
)
def test_any_bytes_give_a_reply_or_parse_error(data: bytes) -> None:
    started = time.monotonic()
    with contextlib.suppress(dhip_legacy.ParseError):
        dhip_legacy.parse_reply(data)
    assert time.monotonic() - started < 1.0
