"""Cisco Discovery Protocol frames (LLC/SNAP, OUI 00000c, PID 0x2000): device names."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from camscan.models import Evidence, no_surrogates

SNAP = b"\xaa\xaa\x03\x00\x00\x0c\x20\x00"
MAX_VALUE = 512
MAX_TLVS = 64
SOURCE = "cdp"
_TEXT_TLVS = {0x0001: "cdp.device_id", 0x0005: "cdp.software_version", 0x0006: "cdp.platform"}


class ParseError(ValueError):
    """The bytes are not a CDP message."""


@dataclass(frozen=True, slots=True)
class CdpInfo:
    """Text TLVs (evidence key -> value) and the first IPv4 address announced."""

    fields: dict[str, str]
    ipv4: str | None


def _addresses(value: bytes) -> str | None:
    if len(value) < 4:
        return None
    count, pos = int.from_bytes(value[:4], "big"), 4
    for _ in range(min(count, 8)):
        if pos + 2 > len(value):
            break
        ptype, plen = value[pos], value[pos + 1]
        proto = value[pos + 2 : pos + 2 + plen]
        pos += 2 + plen
        alen = int.from_bytes(value[pos : pos + 2], "big")
        addr = value[pos + 2 : pos + 2 + alen]
        pos += 2 + alen
        if ptype == 1 and proto == b"\xcc" and len(addr) == 4 and any(addr):  # NLPID IP
            return socket.inet_ntoa(addr)
    return None


def parse_cdp(data: bytes) -> CdpInfo:
    """The CDP payload after the SNAP header; ParseError otherwise."""
    if len(data) < 4 or data[0] not in (1, 2):
        raise ParseError("not CDP version 1 or 2")
    fields: dict[str, str] = {}
    ipv4 = None
    pos = 4
    for _ in range(MAX_TLVS):
        if pos + 4 > len(data):
            break
        ttype = int.from_bytes(data[pos : pos + 2], "big")
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 4:
            break
        value = data[pos + 4 : pos + length]
        pos += length
        if ttype in _TEXT_TLVS:
            text = no_surrogates(value.decode("utf-8", "replace")).strip("\0 \r\n")[:MAX_VALUE]
            if text:
                fields[_TEXT_TLVS[ttype]] = text
        elif ttype == 0x0002 and ipv4 is None:
            ipv4 = _addresses(value)
    if not fields:
        raise ParseError("no device TLV")
    return CdpInfo(fields, ipv4)


def evidence_of(info: CdpInfo, host: str) -> list[Evidence]:
    """cdp.* evidence."""
    return [Evidence(host, SOURCE, key, value) for key, value in info.fields.items()]


__all__ = ["SNAP", "CdpInfo", "ParseError", "evidence_of", "parse_cdp"]
