"""Dahua legacy discovery on UDP 5050 (firmware older than DHIP): binary request and reply.

Reply layout (UniversalScanner/Dahua1.cs of julienblitte/UniversalScanner; SOURCES.md#s5-3):
a 120-byte section 1 -- u16 LE magic 0x00b3 at 0, u16 section-2 length at 2, u32 packet type
0x58 at 4, u32 protocol version at 16, u16 section-3 length at 20, 16-byte NUL-padded device
type at 40, IPv4 address/mask/gateway/DNS in network order at 56..71 -- then section 2 (the MAC
as 17 characters, optionally followed by the model, which then replaces the device type) and
section 3 (`Key:Value` lines: Name, Device, IPv6Addr, SerialNo). No captured bytes of this
protocol were found; tests use replies assembled from that layout.
"""

from __future__ import annotations

import socket
import struct
from typing import TYPE_CHECKING

from camscan.discovery.datagram import Datagram, record_evidence, reply_handler
from camscan.models import Evidence, FieldRecord
from camscan.oui import normalize_mac

if TYPE_CHECKING:
    from camscan.context import ScanContext

PORT = 5050
BROADCAST = "255.255.255.255"
REQUEST_MAGIC = 0x01A3
REPLY_MAGIC = 0x00B3
SECTION1 = 120
MAX_REPLY = 4096
MAX_VALUE = 256
SOURCE = "dhip"  # the same evidence family as DHIP; counted under "dhip_legacy"
METHOD = "dhip_legacy"

# What UniversalScanner broadcasts: magic a3 01, 00 01, and 0x02 at offset 16.
REQUEST = bytes([0xA3, 0x01, 0x00, 0x01] + [0] * 12 + [0x02] + [0] * 15)

FIELD_KEYS: dict[str, str] = {
    "DeviceType": "dhip.model",
    "MAC": "dhip.mac",
    "IPv4Address": "dhip.ipv4",
    "SerialNo": "dhip.serial",
    "Name": "dhip.machine_name",
}


class ParseError(ValueError):
    """The bytes are not a legacy discovery reply."""


class LegacyReply(FieldRecord):
    """Fields of one reply: section-1 values, the MAC, and the section-3 key/values."""

    __slots__ = ()


def build_request() -> bytes:
    """The 32-byte broadcast request."""
    return REQUEST


def _text(data: bytes) -> str:
    return data.split(b"\0", 1)[0].decode("utf-8", "replace").strip()[:MAX_VALUE]


def parse_reply(data: bytes) -> LegacyReply:
    """The fields of a legacy reply; ParseError for anything else."""
    if len(data) > MAX_REPLY:
        raise ParseError(f"{len(data)} bytes exceeds {MAX_REPLY}")
    if len(data) < SECTION1:
        raise ParseError(f"{len(data)} bytes, section 1 alone is {SECTION1}")
    magic, len2 = struct.unpack_from("<HH", data, 0)
    if magic != REPLY_MAGIC:
        raise ParseError(f"magic {magic:#06x} is not a reply")
    (len3,) = struct.unpack_from("<H", data, 20)
    if SECTION1 + len2 + len3 > len(data):
        raise ParseError("sections run past the end of the datagram")
    fields = [
        (name, socket.inet_ntoa(data[off : off + 4]))
        for name, off in (("IPv4Address", 56), ("SubnetMask", 60), ("Gateway", 64), ("DNS", 68))
    ]
    model = _text(data[40:56])
    section2 = data[SECTION1 : SECTION1 + len2]
    fields.append(("MAC", _text(section2[:17])))
    if len2 > 17 and (extra := _text(section2[17:])):
        model = extra
    fields.insert(0, ("DeviceType", model))
    section3 = data[SECTION1 + len2 : SECTION1 + len2 + len3].decode("utf-8", "replace")
    for line in section3.splitlines()[:64]:
        key, sep, value = line.partition(":")
        if sep and key.strip():
            fields.append((key.strip()[:64], value.strip()[:MAX_VALUE]))
    if normalize_mac(dict(fields)["MAC"]) is None and not model:
        raise ParseError("neither a MAC nor a device type")
    return LegacyReply(tuple(fields))


def read(datagram: Datagram) -> list[Evidence]:
    """Evidence of one received datagram; ParseError if it is no reply."""
    return evidence_of(parse_reply(datagram.data), datagram.ip)


def evidence_of(reply: LegacyReply, host: str) -> list[Evidence]:
    """Structured evidence of one reply (dhip.* keys, model, mac), port 5050."""
    return record_evidence(reply, host, SOURCE, PORT, FIELD_KEYS, model="DeviceType", mac="MAC")


async def discover(ctx: ScanContext) -> None:
    """Broadcast the request on the scan interface; emit every device that answers."""
    from camscan.discovery.udp import exchange  # asyncio: loaded by a scan, not with the parsers

    stats = ctx.stat(METHOD)
    if not ctx.interface:
        stats.notes.append("skipped: a limited broadcast needs the scan interface")
        return
    on_datagram = reply_handler(ctx, METHOD, read, ParseError, lambda data: data[:2] == REQUEST[:2])
    await exchange(
        ctx,
        METHOD,
        [(REQUEST, (BROADCAST, PORT))],
        on_datagram,
        max_size=MAX_REPLY,
        port=PORT,
        broadcast=True,
    )


__all__ = [
    "FIELD_KEYS",
    "LegacyReply",
    "ParseError",
    "build_request",
    "discover",
    "evidence_of",
    "parse_reply",
    "read",
]
