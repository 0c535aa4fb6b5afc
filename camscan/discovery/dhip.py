"""Dahua DHIP discovery: `DHDiscover.search` on UDP 37810 and the `client.notifyDevInfo` replies.

Packet: a 32-byte little-endian header (u32 0x20, b"DHIP", 8 zero bytes, u32 payload length at
16, u32 0, the length again at 24, u32 0) then JSON, replies ending in b"\\n\\0". Facts:
fingerprints/SOURCES.md#s5-2 (julienblitte/UniversalScanner Dahua2.cs, Haicam/Haicam discovery.go,
theweefies/ethodump-ng dhip.py, Phenomite/AMP-Research, Rapid7 LOREX_DISCOVER.rb).
"""

from __future__ import annotations

import json
import struct
from typing import TYPE_CHECKING

from camscan.discovery import dhip_legacy
from camscan.discovery.datagram import Datagram, record_evidence, reply_handler
from camscan.models import Evidence, FieldRecord, excerpt, no_surrogates

if TYPE_CHECKING:
    from camscan.context import ScanContext

GROUP = "239.255.255.251"
BROADCAST = "255.255.255.255"
PORT = 37810
MAGIC = b"DHIP"
HEADER = struct.Struct("<I4sIIIIII")
MAX_REPLY = 8192  # replies average ~800 bytes (Phenomite)
MAX_VALUE = 256
SOURCE = "dhip"

# The request as Haicam/Haicam sends it (payload length 0x49 including the newline).
SEARCH_JSON = b'{ "method" : "DHDiscover.search", "params" : { "mac" : "", "uni" : 1 } }\n'

# flattened deviceInfo field -> evidence key ("mac" is the top-level member)
FIELD_KEYS: dict[str, str] = {
    "Vendor": "dhip.vendor",
    "Manufacturer": "dhip.manufacturer",
    "DeviceType": "dhip.model",
    "DeviceClass": "dhip.device_class",
    "SerialNo": "dhip.serial",
    "Version": "dhip.firmware",
    "MachineName": "dhip.machine_name",
    "mac": "dhip.mac",
    "IPv4Address.IPAddress": "dhip.ipv4",
    "Port": "dhip.port",
    "HttpPort": "dhip.http_port",
}


# No published rule limits repeats (as SADP): three copies, the last a second before the end
# of the default window.
RESEND_AT_S = (0.0, 0.4, 1.0)


class ParseError(ValueError):
    """The bytes are not a DHIP device-information reply."""


class DhipReply(FieldRecord):
    """Scalar fields of a notifyDevInfo reply; nested objects flattened with dots."""

    __slots__ = ()


def build_packet(payload: bytes) -> bytes:
    """A DHIP packet around `payload`."""
    return HEADER.pack(0x20, MAGIC, 0, 0, len(payload), 0, len(payload), 0) + payload


def build_search() -> bytes:
    """The DHDiscover.search request."""
    return build_packet(SEARCH_JSON)


def _scalar(value: object) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return no_surrogates(str(value)[:MAX_VALUE])
    return None


def parse_json(text: bytes) -> DhipReply:
    """The fields of a notifyDevInfo JSON document."""
    if len(text) > MAX_REPLY:
        raise ParseError(f"{len(text)} bytes exceeds {MAX_REPLY}")
    try:
        doc = json.loads(text.rstrip(b"\x00 \r\n\t").decode("utf-8"))
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        raise ParseError(f"not JSON: {str(exc)[:80]}") from None
    params = doc.get("params") if isinstance(doc, dict) else None
    info = params.get("deviceInfo") if isinstance(params, dict) else None
    if not isinstance(info, dict):
        raise ParseError("no params.deviceInfo object (a request, or not DHIP)")
    fields: list[tuple[str, str]] = []
    if (mac := _scalar(doc.get("mac"))) is not None:
        fields.append(("mac", mac))
    for key, value in list(info.items())[:128]:
        if isinstance(value, dict):
            fields.extend(
                (f"{key}.{sub}"[:MAX_VALUE], text_value)
                for sub, sub_value in list(value.items())[:32]
                if (text_value := _scalar(sub_value)) is not None
            )
        elif (text_value := _scalar(value)) is not None:
            fields.append((str(key)[:MAX_VALUE], text_value))
    return DhipReply(tuple(fields))


def parse_packet(data: bytes) -> DhipReply:
    """The fields of a DHIP reply packet (header + JSON); ParseError for anything else."""
    if len(data) > MAX_REPLY:
        raise ParseError(f"{len(data)} bytes exceeds {MAX_REPLY}")
    if len(data) < HEADER.size or data[4:8] != MAGIC:
        raise ParseError("no DHIP header")
    length = HEADER.unpack_from(data)[4]
    return parse_json(data[HEADER.size : HEADER.size + length])


def evidence_of(reply: DhipReply, host: str, port: int | None = PORT) -> list[Evidence]:
    """Structured evidence of one reply."""
    return record_evidence(reply, host, SOURCE, port, FIELD_KEYS, model="DeviceType", mac="mac")


def expand(ev: Evidence) -> list[Evidence]:
    """`dhip.reply` evidence (its JSON, or the whole packet) -> the dhip.* keys, model and mac."""
    data = ev.value.encode("utf-8", "surrogateescape")
    if data[4:8] == MAGIC:
        reply = parse_packet(data)
    else:
        # Offline evidence often carries the header as text ("DHIP   {...}", as public captures
        # print it): the JSON starts at the first brace.
        start = data.find(b"{")
        reply = parse_json(data[start:] if 0 < start <= HEADER.size else data)
    return evidence_of(reply, ev.host, ev.port)


def reply_evidence(datagram: Datagram) -> list[Evidence]:
    """Raw plus structured evidence of one received datagram; ParseError if it is no reply."""
    reply = parse_packet(datagram.data)
    length = HEADER.unpack_from(datagram.data)[4]
    body = datagram.data[HEADER.size : HEADER.size + length].rstrip(b"\x00 \r\n")
    raw = Evidence(
        datagram.ip,
        SOURCE,
        "dhip.reply",
        body.decode("utf-8", "replace"),
        PORT,
        excerpt(datagram.data),
    )
    return [raw, *evidence_of(reply, datagram.ip)]


def _is_search(data: bytes) -> bool:
    return b"DHDiscover.search" in data[:160]


async def discover(ctx: ScanContext) -> None:
    """DHIP and the legacy UDP 5050 discovery together; every device answering, in scope or not."""
    import asyncio  # loaded by a scan, not with the parsers

    await asyncio.gather(search(ctx), legacy(ctx))


async def legacy(ctx: ScanContext) -> None:
    """The legacy UDP 5050 discovery, counted and timed as a method of its own."""
    with ctx.timed(dhip_legacy.METHOD):
        await dhip_legacy.discover(ctx)


async def search(ctx: ScanContext) -> None:
    """Search by multicast and broadcast; emit every device that answers, in scope or not."""
    from camscan.discovery.udp import exchange  # asyncio: loaded by a scan, not with the parsers

    on_datagram = reply_handler(ctx, SOURCE, reply_evidence, ParseError, _is_search)
    packet = build_search()
    sends = [(packet, (GROUP, PORT))]
    if ctx.interface:  # a limited broadcast needs a link to leave by
        sends.append((packet, (BROADCAST, PORT)))
    await exchange(
        ctx,
        SOURCE,
        sends,
        on_datagram,
        max_size=MAX_REPLY,
        port=PORT,
        groups=[GROUP],
        broadcast=True,
        resend_at=RESEND_AT_S,
    )


__all__ = [
    "FIELD_KEYS",
    "DhipReply",
    "ParseError",
    "build_packet",
    "build_search",
    "discover",
    "expand",
    "parse_json",
    "parse_packet",
    "reply_evidence",
    "search",
]
