"""LLDP (IEEE 802.1AB) frames: the TLVs that name a device and where to reach it."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from camscan.models import Evidence, no_surrogates
from camscan.oui import normalize_mac

ETHERTYPE = 0x88CC
MAX_VALUE = 512
MAX_TLVS = 64
SOURCE = "lldp"


class ParseError(ValueError):
    """The bytes are not an LLDPDU."""


@dataclass(frozen=True, slots=True)
class LldpInfo:
    """What one LLDPDU says about its sender."""

    chassis_mac: str | None
    system_name: str | None
    system_description: str | None
    management_ipv4: str | None


def _text(value: bytes) -> str | None:
    text = no_surrogates(value.decode("utf-8", "replace")).strip("\0 \r\n")[:MAX_VALUE]
    return text or None


def parse_lldpdu(data: bytes) -> LldpInfo:
    """The sender's chassis MAC, names and management address; ParseError otherwise."""
    pos, mac, name, descr, mgmt = 0, None, None, None, None
    seen_chassis = False
    for _ in range(MAX_TLVS):
        if pos + 2 > len(data):
            break
        head = int.from_bytes(data[pos : pos + 2], "big")
        ttype, length = head >> 9, head & 0x1FF
        value = data[pos + 2 : pos + 2 + length]
        pos += 2 + length
        if ttype == 0:
            break
        if ttype == 1:
            seen_chassis = True
            if value[:1] == b"\x04" and len(value) == 7:  # subtype 4: MAC address
                mac = normalize_mac(value[1:].hex())
        elif ttype == 5:
            name = _text(value)
        elif ttype == 6:
            descr = _text(value)
        elif ttype == 8 and len(value) >= 6 and value[1] == 1 and value[0] == 5 and any(value[2:6]):
            mgmt = socket.inet_ntoa(value[2:6])  # address string length 5: subtype 1 + IPv4
    if not seen_chassis:
        raise ParseError("no Chassis ID TLV first")
    return LldpInfo(mac, name, descr, mgmt)


def evidence_of(info: LldpInfo, host: str) -> list[Evidence]:
    """lldp.* evidence and the chassis MAC."""
    out = []
    if info.chassis_mac:
        out.append(Evidence(host, SOURCE, "mac", info.chassis_mac))
    if info.system_name:
        out.append(Evidence(host, SOURCE, "lldp.system_name", info.system_name))
    if info.system_description:
        out.append(Evidence(host, SOURCE, "lldp.system_description", info.system_description))
    return out


__all__ = ["ETHERTYPE", "LldpInfo", "ParseError", "evidence_of", "parse_lldpdu"]
