"""SNMP v1/v2c responses and traps: a minimal BER reader for the system group (RFC 3416, 1213)
and the model, firmware and serial scalars of Hikvision's and Dahua's private MIBs.

A dozen lines of BER rather than pysnmp/pyasn1: we read a few scalar varbinds out of one
message shape and must bound every length ourselves anyway. SNMPv3 is encrypted or authenticated and
carries nothing readable here.
"""

from __future__ import annotations

from dataclasses import dataclass

from camscan.models import Evidence, no_surrogates

MAX_MESSAGE = 65507
MAX_VARBINDS = 64
MAX_VALUE = 512
SOURCE = "snmp"
PORT = 161

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
# HIK-DEVICE-MIB (enterprise 39165, IANA-registered to Hikvision): deviceType holds the model,
# softwVersion the firmware, manufacturer 'Hikvision' (fingerprints/SOURCES.md#s5-7).
HIK_MODEL = "1.3.6.1.4.1.39165.1.1.0"
HIK_FIRMWARE = "1.3.6.1.4.1.39165.1.3.0"
HIK_MANUFACTURER = "1.3.6.1.4.1.39165.1.6.0"
# DAHUA-SNMP-MIB (1004849.2, also answered by Dahua-platform OEM units): systemInfo scalars.
DAHUA_FIRMWARE = "1.3.6.1.4.1.1004849.2.1.1.1.0"
DAHUA_SERIAL = "1.3.6.1.4.1.1004849.2.1.2.4.0"
DAHUA_MODEL = "1.3.6.1.4.1.1004849.2.1.2.6.0"
KEYS = {
    SYS_DESCR: "snmp.sysdescr",
    SYS_OBJECT_ID: "snmp.sysobjectid",
    SYS_NAME: "snmp.sysname",
    HIK_MODEL: "snmp.hikvision.model",
    HIK_FIRMWARE: "snmp.hikvision.firmware",
    HIK_MANUFACTURER: "snmp.hikvision.manufacturer",
    DAHUA_MODEL: "snmp.dahua.model",
    DAHUA_FIRMWARE: "snmp.dahua.firmware",
    DAHUA_SERIAL: "snmp.dahua.serial",
}
# PDUs a device sends: GetResponse, SNMPv1 Trap, SNMPv2 Trap, Inform.
DEVICE_PDUS = frozenset({0xA2, 0xA4, 0xA7, 0xA6})


class ParseError(ValueError):
    """The bytes are not an SNMP v1/v2c message from a device."""


@dataclass(frozen=True, slots=True)
class SnmpMessage:
    """The system-group and private-MIB values of one message, OID -> text."""

    version: int
    pdu: int
    values: dict[str, str]


def _tlv(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, start of value, end of value) of the element at `pos`."""
    if pos + 2 > end:
        raise ParseError("element cut short")
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first & 0x80:
        n = first & 0x7F
        if n == 0 or n > 3 or pos + n > end:
            raise ParseError("bad length")
        length = int.from_bytes(data[pos : pos + n], "big")
        pos += n
    else:
        length = first
    if pos + length > end:
        raise ParseError("element runs past its container")
    return tag, pos, pos + length


def _int(data: bytes) -> int:
    return int.from_bytes(data[:8], "big", signed=True) if data else 0


def decode_oid(data: bytes) -> str:
    """Dotted text of a BER OBJECT IDENTIFIER value."""
    if not data or len(data) > 128:
        raise ParseError("bad OID")
    first = data[0]
    parts = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    value = 0
    for b in data[1:]:
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            parts.append(value)
            value = 0
    return ".".join(map(str, parts))


def _value(tag: int, data: bytes) -> str | None:
    if tag == 0x04:  # OCTET STRING
        return no_surrogates(data.decode("utf-8", "replace").strip("\0 \r\n"))[:MAX_VALUE]
    if tag == 0x06:
        return decode_oid(data)
    if tag in (0x02, 0x41, 0x42, 0x43):  # INTEGER, Counter32, Gauge32, TimeTicks
        return str(_int(data))
    return None


def parse_message(data: bytes) -> SnmpMessage:
    """The varbinds of KEYS in a response or trap; ParseError for anything else."""
    if len(data) > MAX_MESSAGE:
        raise ParseError("message too large")
    tag, pos, end = _tlv(data, 0, len(data))
    if tag != 0x30:
        raise ParseError("not a BER SEQUENCE")
    tag, vs, ve = _tlv(data, pos, end)
    if tag != 0x02:
        raise ParseError("no version")
    version = _int(data[vs:ve])
    if version not in (0, 1):
        raise ParseError(f"SNMP version {version + 1} is not v1/v2c")
    tag, _cs, ce = _tlv(data, ve, end)
    if tag != 0x04:
        raise ParseError("no community")
    pdu, pos, end = _tlv(data, ce, end)
    if pdu not in DEVICE_PDUS:
        raise ParseError(f"PDU {pdu:#x} is a request, not a device's message")
    if pdu == 0xA4:  # v1 Trap: enterprise, agent-addr, generic, specific, time-stamp
        for _ in range(5):
            _, _, pos = _tlv(data, pos, end)
    else:  # request-id, error-status, error-index
        for _ in range(3):
            _, _, pos = _tlv(data, pos, end)
    tag, pos, end = _tlv(data, pos, end)
    if tag != 0x30:
        raise ParseError("no varbind list")
    values: dict[str, str] = {}
    for _ in range(MAX_VARBINDS):
        if pos >= end:
            break
        tag, bs, be = _tlv(data, pos, end)
        pos = be
        if tag != 0x30:
            raise ParseError("bad varbind")
        otag, os_, oe = _tlv(data, bs, be)
        if otag != 0x06:
            raise ParseError("varbind without an OID")
        oid = decode_oid(data[os_:oe])
        vtag, vstart, vend = _tlv(data, oe, be)
        if oid in KEYS and (text := _value(vtag, data[vstart:vend])):
            values[oid] = text
    return SnmpMessage(version, pdu, values)


def evidence_of(msg: SnmpMessage, host: str) -> list[Evidence]:
    """One evidence item per varbind of KEYS in one message (snmp.sysdescr, snmp.dahua.model …)."""
    return [Evidence(host, SOURCE, KEYS[oid], value, PORT) for oid, value in msg.values.items()]


__all__ = ["KEYS", "ParseError", "SnmpMessage", "decode_oid", "evidence_of", "parse_message"]
