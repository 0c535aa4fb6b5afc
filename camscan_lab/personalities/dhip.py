"""Lab Dahua discovery: DHIP on 37810, and the legacy UDP 5050 protocol of older firmware.

Service table: `capture` (a recorded reply in tests/captures, served byte for byte, header
and all) or `reply` (the `client.notifyDevInfo` JSON, wrapped in a DHIP header here), plus the
hostile options of `udp_responder` (junk datagrams carry a DHIP header around a non-JSON
body). The answer goes to the sender; Phenomite/AMP-Research notes any non-null byte to 37810
elicits it.
Kind `dhip_legacy`: `device_type`, optional `model`, `name`, `serial`, `mask`, `gateway`, `dns`;
MAC and address are the device's own.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Mapping
from typing import Any

from camscan_lab.captures import recorded
from camscan_lab.personalities.udp_responder import Reply, hostile_replies, reply_delay_s, serve_udp
from camscan_lab.personality import Closer, LabHost

# The lab states the protocol itself, from the public layout (UniversalScanner Dahua2.cs and
# Dahua1.cs, Haicam's hex dump; fingerprints/SOURCES.md#s5-2, #s5-3), never from
# camscan.discovery: a constant wrong in both would otherwise pass every test.
GROUP = "239.255.255.251"
PORT = 37810
# u32 header size 0x20, "DHIP", 8 zero bytes, payload length, 0, payload length again, 0
_HEADER = struct.Struct("<I4s8sIIII")
LEGACY_PORT = 5050
LEGACY_REQUEST = b"\xa3\x01"  # first bytes of the legacy broadcast request
LEGACY_SECTION1 = 120


def dhip_packet(payload: bytes) -> bytes:
    """`payload` behind the 32-byte DHIP header."""
    return _HEADER.pack(0x20, b"DHIP", bytes(8), len(payload), 0, len(payload), 0) + payload


def answer_search(service: Mapping[str, Any], data: bytes, sender: tuple[str, int]) -> list[Reply]:
    """The datagrams a device with this service sends in answer to `data`."""
    if not data.strip(b"\x00") or (data[4:8] == b"DHIP" and b"notifyDevInfo" in data):
        return []  # nothing asked, or another device's reply
    out = [(packet, sender)] if (packet := reply_packet(service)) else []
    return out + hostile_replies(service, lambda i: dhip_packet(b"junk %d" % i), sender)


def reply_packet(service: Mapping[str, Any]) -> bytes | None:
    """The DHIP datagram this service answers with: its recorded capture, else built from JSON."""
    if capture := service.get("capture"):
        return recorded(str(capture))
    if reply := service.get("reply"):
        # Replies end in "\n\0" (Haicam's hex dump: tail 0a 00).
        return dhip_packet(str(reply).strip().encode("utf-8") + b"\n\x00")
    return None


async def serve(host: LabHost, service: Mapping[str, Any]) -> Closer:
    """Listen on UDP 37810, joined to 239.255.255.251, and answer searches."""
    reply_packet(service)  # a missing capture fails the start, not each answer
    return await serve_udp(
        host,
        int(service.get("port", PORT)),
        GROUP,
        lambda data, sender: answer_search(service, data, sender),
        reply_delay_s(service),
    )


def build_legacy_reply(host: LabHost, service: Mapping[str, Any]) -> bytes:
    """A UDP 5050 reply for this device in the layout UniversalScanner's Dahua1.cs reads."""
    section2 = host.mac.encode("ascii") + str(service.get("model", "")).encode("utf-8")
    lines = [
        f"{key}:{service[field]}"
        for key, field in (("Name", "name"), ("Device", "device_type"), ("SerialNo", "serial"))
        if field in service
    ]
    section3 = "\r\n".join(lines).encode("utf-8") + (b"\r\n" if lines else b"")
    head = bytearray(LEGACY_SECTION1)
    struct.pack_into("<HHI", head, 0, 0x00B3, len(section2), 0x58)  # magic, len, packet type
    struct.pack_into("<IH", head, 16, 2, len(section3))
    head[40:56] = str(service.get("device_type", "")).encode("ascii")[:16].ljust(16, b"\0")
    for offset, address in (
        (56, host.ip),
        (60, str(service.get("mask", "255.254.0.0"))),
        (64, str(service.get("gateway", "0.0.0.0"))),
        (68, str(service.get("dns", "0.0.0.0"))),
    ):
        head[offset : offset + 4] = socket.inet_aton(address)
    return bytes(head) + section2 + section3


async def serve_legacy(host: LabHost, service: Mapping[str, Any]) -> Closer:
    """Answer the legacy broadcast request on UDP 5050 to its sender."""
    reply = build_legacy_reply(host, service)

    def answer(data: bytes, sender: tuple[str, int]) -> list[Reply]:
        if len(data) < 2 or data[:2] != LEGACY_REQUEST:
            return []
        return [(reply, sender)]

    return await serve_udp(host, int(service.get("port", LEGACY_PORT)), None, answer)
