"""Hikvision SADP discovery: the XML inquiry on 239.255.255.250:37020 and its ProbeMatch replies.

Read-only: only the `inquiry` is ever sent; SADP's activate/modify/reset messages are not built.
Facts: fingerprints/SOURCES.md#s5-1 (julienblitte/UniversalScanner Hikvision.cs, Haicam/Haicam
golang/discovery.go, MatrixEditor/hiktools, theweefies/ethodump-ng hikvision.py).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from camscan import linre, xmlsafe
from camscan.discovery.datagram import Datagram, record_evidence, reply_handler
from camscan.models import Evidence, FieldRecord, excerpt

if TYPE_CHECKING:
    from camscan.context import ScanContext

GROUP = "239.255.255.250"
PORT = 37020
MAX_REPLY = 8192  # real replies are ~1.5 KB
MAX_FIELDS = 128
MAX_VALUE = 256
SOURCE = "sadp"

# ProbeMatch element -> evidence key
FIELD_KEYS: dict[str, str] = {
    "DeviceType": "sadp.device_type",
    "DeviceDescription": "sadp.model",
    "DeviceSN": "sadp.serial",
    "MAC": "sadp.mac",
    "IPv4Address": "sadp.ipv4",
    "IPv4SubnetMask": "sadp.ipv4_mask",
    "IPv4Gateway": "sadp.ipv4_gateway",
    "HttpPort": "sadp.http_port",
    "CommandPort": "sadp.command_port",
    "SoftwareVersion": "sadp.firmware",
    "DSPVersion": "sadp.dsp_version",
    "Activated": "sadp.activated",
    "DetailOEMCode": "sadp.oem_code",
}

# Some firmware sends XML that does not parse (ethodump-ng's parseMalformedXML); read flat tags.
# RE2 has no back-references (and repeats at most 1000): tag pairs and length are checked in code.
_FLAT_TAG = linre.compile(rb"<([A-Za-z][A-Za-z0-9_]{0,63})>([^<]*)</([A-Za-z][A-Za-z0-9_]{0,63})>")
_FLAT_VALUE_MAX = 1024


# No published rule limits repeats; Hikvision's SADP tool repeats its inquiry. Three copies
# inside the default window, the last leaving a second for answers.
RESEND_AT_S = (0.0, 0.4, 1.0)


class ParseError(ValueError):
    """The bytes are not a SADP ProbeMatch."""


class SadpReply(FieldRecord):
    """The fields of one ProbeMatch, element name -> text, in document order."""

    __slots__ = ()


def build_inquiry(probe_uuid: str | None = None) -> bytes:
    """The SADP inquiry, as Hikvision's SADP tool sends it (upper-case UUID)."""
    ident = (probe_uuid or str(uuid.uuid4())).upper()
    return (
        f'<?xml version="1.0" encoding="utf-8"?><Probe><Uuid>{ident}</Uuid>'
        f"<Types>inquiry</Types></Probe>"
    ).encode()


def _fields_from_tree(data: bytes) -> list[tuple[str, str]] | None:
    try:
        root = xmlsafe.parse(data)
    except xmlsafe.ForbiddenXml as exc:  # no device sends a DTD; refuse rather than guess
        raise ParseError(str(exc)) from None
    except xmlsafe.XmlError:
        return None
    if xmlsafe.local_name(root.tag) != "ProbeMatch":
        raise ParseError(f"root element is {xmlsafe.local_name(root.tag)[:40]!r}, not ProbeMatch")
    return [
        (xmlsafe.local_name(child.tag), (child.text or "").strip()[:MAX_VALUE])
        for child in list(root)[:MAX_FIELDS]
        if isinstance(child.tag, str)
    ]


def parse_probe_match(data: bytes) -> SadpReply:
    """The fields of a SADP ProbeMatch; ParseError for anything else."""
    if len(data) > MAX_REPLY:
        raise ParseError(f"{len(data)} bytes exceeds {MAX_REPLY}")
    fields = _fields_from_tree(data)
    if fields is None:
        if b"<ProbeMatch" not in data:
            raise ParseError("not XML and no ProbeMatch element")
        fields = [
            (m.group(1).decode("ascii"), m.group(2).decode("utf-8", "replace").strip()[:MAX_VALUE])
            for m in _FLAT_TAG.finditer(data)
            if m.group(1) == m.group(3) and len(m.group(2)) <= _FLAT_VALUE_MAX
        ][:MAX_FIELDS]
    if not any(name in FIELD_KEYS for name, _ in fields):
        raise ParseError("ProbeMatch carries no device field")
    return SadpReply(tuple(fields))


def evidence_of(reply: SadpReply, host: str, port: int | None = PORT) -> list[Evidence]:
    """Structured evidence of one reply."""
    return record_evidence(
        reply, host, SOURCE, port, FIELD_KEYS, model="DeviceDescription", mac="MAC"
    )


def expand(ev: Evidence) -> list[Evidence]:
    """`sadp.reply` evidence -> the sadp.* keys (plus model and mac) it carries."""
    return evidence_of(parse_probe_match(ev.value.encode("utf-8")), ev.host, ev.port)


def reply_evidence(datagram: Datagram) -> list[Evidence]:
    """Raw plus structured evidence of one received datagram; ParseError if it is no reply."""
    reply = parse_probe_match(datagram.data)
    text = datagram.data.decode("utf-8", "replace")
    raw = Evidence(datagram.ip, SOURCE, "sadp.reply", text, PORT, excerpt(datagram.data))
    return [raw, *evidence_of(reply, datagram.ip)]


def _is_inquiry(data: bytes) -> bool:
    return b"<Probe>" in data[:200] and b"inquiry" in data


async def discover(ctx: ScanContext) -> None:
    """Send the inquiry, emit every device that answers, in scope or not (the pipeline flags)."""
    from camscan.discovery.udp import exchange  # asyncio: loaded by a scan, not with the parsers

    on_datagram = reply_handler(ctx, SOURCE, reply_evidence, ParseError, _is_inquiry)
    await exchange(
        ctx,
        SOURCE,
        [(build_inquiry(), (GROUP, PORT))],
        on_datagram,
        max_size=MAX_REPLY,
        port=PORT,
        groups=[GROUP],
        resend_at=RESEND_AT_S,
    )


__all__ = [
    "FIELD_KEYS",
    "ParseError",
    "SadpReply",
    "build_inquiry",
    "discover",
    "expand",
    "parse_probe_match",
    "reply_evidence",
]
