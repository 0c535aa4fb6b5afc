"""DHCP requests as a client sends them (RFC 2131, options RFC 2132): pure parse, and evidence."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from camscan.models import Evidence
from camscan.oui import normalize_mac

MAGIC = b"\x63\x82\x53\x63"
FIXED = 240  # BOOTP header up to and including the magic cookie
MAX_VALUE = 256
SOURCE = "dhcp"
# Message types a client sends: DISCOVER, REQUEST, DECLINE, RELEASE, INFORM.
CLIENT_TYPES = frozenset({1, 3, 4, 7, 8})


class ParseError(ValueError):
    """The bytes are not a DHCP client message."""


@dataclass(frozen=True, slots=True)
class DhcpRequest:
    """What a client says about itself."""

    mac: str
    message_type: int | None
    client_ip: str | None  # ciaddr, when the client already holds one
    requested_ip: str | None  # option 50
    hostname: str | None  # option 12
    vendor_class: str | None  # option 60
    parameter_list: tuple[int, ...]  # option 55, in the client's order
    relayed: bool = False  # giaddr set: a relay agent sent it on, from its own address


def _text(value: bytes) -> str:
    return value.rstrip(b"\0").decode("utf-8", "replace").strip()[:MAX_VALUE]


def parse_request(data: bytes) -> DhcpRequest:
    """A BOOTREQUEST with the DHCP magic; ParseError for replies and anything else."""
    if len(data) < FIXED or data[236:240] != MAGIC:
        raise ParseError("no BOOTP header with the DHCP magic cookie")
    if data[0] != 1:
        raise ParseError("a BOOTREPLY (server message), not a client request")
    if data[1] != 1 or data[2] != 6:
        raise ParseError(f"hardware type {data[1]}/length {data[2]} is not Ethernet")
    options: dict[int, bytes] = {}
    i = FIXED
    while i < len(data):
        code = data[i]
        if code == 255:
            break
        if code == 0:
            i += 1
            continue
        if i + 1 >= len(data):
            break
        n = data[i + 1]
        # RFC 3396: a repeated option is one option split in pieces.
        options[code] = options.get(code, b"") + data[i + 2 : i + 2 + n]
        i += 2 + n
    # An option 53 of length 0 names no type (it is not a server's message either).
    mtype = options[53][0] if options.get(53) else None
    if mtype is not None and mtype not in CLIENT_TYPES:
        raise ParseError(f"message type {mtype} is not a client's")
    mac = normalize_mac(data[28:34].hex())
    if mac is None:
        raise ParseError("no client hardware address")
    ciaddr = data[12:16]
    giaddr = data[24:28]
    requested = options.get(50, b"")
    return DhcpRequest(
        mac=mac,
        message_type=mtype,
        client_ip=socket.inet_ntoa(ciaddr) if any(ciaddr) else None,
        requested_ip=socket.inet_ntoa(requested)
        if len(requested) == 4 and any(requested)
        else None,
        hostname=_text(options[12]) or None if 12 in options else None,
        vendor_class=_text(options[60]) or None if 60 in options else None,
        parameter_list=tuple(options.get(55, b"")[:64]),
        relayed=any(giaddr),
    )


def client_address(req: DhcpRequest, sender_ip: str) -> str | None:
    """The address the client holds or asks for; None when it has none yet (a DISCOVER).

    A relayed request (RFC 1542) comes from the relay agent's address, through its MAC: the
    client is then known only by what the message itself says.
    """
    if sender_ip != "0.0.0.0" and not req.relayed:
        return sender_ip
    return req.client_ip or req.requested_ip


def evidence_of(req: DhcpRequest, host: str) -> list[Evidence]:
    """dhcp.* evidence plus the client MAC, credited to `host`."""
    out = [Evidence(host, SOURCE, "mac", req.mac, 67)]
    if req.hostname:
        out.append(Evidence(host, SOURCE, "dhcp.hostname", req.hostname, 67))
    if req.vendor_class:
        out.append(Evidence(host, SOURCE, "dhcp.vendor_class", req.vendor_class, 67))
    if req.parameter_list:
        out.append(
            Evidence(host, SOURCE, "dhcp.param_list", ",".join(map(str, req.parameter_list)), 67)
        )
    return out


__all__ = ["DhcpRequest", "ParseError", "client_address", "evidence_of", "parse_request"]
