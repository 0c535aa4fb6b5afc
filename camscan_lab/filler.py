"""Filler hosts for benchmarks: many plain hosts as macvlan interfaces in one namespace."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Collection
from dataclasses import dataclass

# Fillers fill 198.18.4.1-254, then 198.18.5.1-254, ...: 254 make a full /24, 1,000 fit the /22.
FILLER_START = ipaddress.IPv4Address("198.18.4.0")
FILLER_SUBNET = ipaddress.IPv4Network("198.18.4.0/22")
FILLER_PREFIX_LEN = 15  # same segment as the scanner and the spec's devices
MAX_FILLERS = 16_384
RULE_BASE = 1_000  # per-filler policy-routing rule preference and table number start here
# macvlan queues each broadcast once and fans it out to every filler serially; its default queue
# of 1,000 drops bursts a real switch would deliver. Deeper is more faithful (Linux >= 5.11).
BC_QUEUE_LEN = 10_000

# Real MA-L assignments of office kit (IEEE oui.csv, 2026-05-21 snapshot), none a camera maker's:
# Dell, HP, Apple, Intel, Cisco, Samsung, LCFC (Lenovo), Raspberry Pi, Brother, Super Micro,
# Sonos, Espressif, Canon, ASUSTek, TP-Link, Microsoft.
FILLER_OUIS = (
    "d0:43:1e",
    "9c:7b:ef",
    "f0:ee:7a",
    "e4:c7:67",
    "48:1b:a4",
    "64:1b:2f",
    "e8:6a:64",
    "d8:3a:dd",
    "b0:7c:8e",
    "0c:c4:7a",
    "78:28:ca",
    "10:06:1c",
    "60:12:8b",
    "00:26:18",
    "14:d8:64",
    "20:16:42",
)

FILLER_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Welcome</title></head>"
    b"<body><h1>It works</h1></body></html>\n"
)
_FILLER_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nServer: lighttpd/1.4.59\r\nContent-Type: text/html\r\n"
    b"Content-Length: "
    + str(len(FILLER_PAGE)).encode()
    + b"\r\nConnection: close\r\n\r\n"
    + FILLER_PAGE
)
_MAX_REQUEST = 8192


@dataclass(frozen=True, slots=True)
class FillerHost:
    """One filler: its interface in the filler namespace, address and MAC."""

    index: int
    ip: str
    mac: str
    ifname: str


def plan_fillers(
    count: int, taken_ips: Collection[str] = (), taken_macs: Collection[str] = ()
) -> list[FillerHost]:
    """`count` fillers from 198.18.4.1 up, skipping .0/.255 and addresses the spec uses."""
    if not 0 <= count <= MAX_FILLERS:
        raise ValueError(f"filler hosts must be 0..{MAX_FILLERS}, not {count}")
    hosts: list[FillerHost] = []
    addr = int(FILLER_START)
    while len(hosts) < count:
        addr += 1
        ip = ipaddress.IPv4Address(addr)
        if addr & 0xFF in (0, 255) or str(ip) in taken_ips:
            continue
        i = len(hosts)
        oui = FILLER_OUIS[i % len(FILLER_OUIS)]
        mac = f"{oui}:{0xA0 | i >> 16:02x}:{i >> 8 & 0xFF:02x}:{i & 0xFF:02x}"
        if mac in taken_macs:
            raise ValueError(f"filler MAC {mac} collides with a spec device")
        hosts.append(FillerHost(index=i, ip=str(ip), mac=mac, ifname=f"m{i}"))
    return hosts


def macvlan_commands(hosts: Collection[FillerHost], parent: str = "eth0") -> list[str]:
    """`ip -batch` lines building every filler as a macvlan on `parent` in one namespace."""
    # The weak host model would make every macvlan answer ARP for every address in the
    # namespace; the caller sets arp_ignore=1/arp_announce=2. Per-host policy routing makes
    # each host's replies leave by its own interface (its own MAC); accept_local=1 keeps the
    # kernel from validating each ARP's source against all those rules (~30 ms at 1,000 hosts).
    # Those rules are for what the fillers send (output lookups come from `lo`). Every
    # broadcast ARP request reaches every filler, and each one's input lookup of an address
    # nobody holds walked all the rules to reach main: at 254 fillers, 64,000 rule checks per
    # request, which on two loaded cores held a sweep's answers back by up to 20 s. Input
    # lookups go to main at once; the local table (rule 0) still answers for the fillers' own.
    lines = [f"link set {parent} up", f"rule add not iif lo table main pref {RULE_BASE - 1}"]
    for h in hosts:
        table = RULE_BASE + h.index
        noprefix = " noprefixroute" if h.index else ""  # one on-link route in main is enough
        lines += [
            f"link add link {parent} name {h.ifname} address {h.mac} type macvlan mode bridge"
            f" bcqueuelen {BC_QUEUE_LEN}",
            f"addr add {h.ip}/{FILLER_PREFIX_LEN} dev {h.ifname}{noprefix}",
            f"link set {h.ifname} up",
            f"route add 198.18.0.0/{FILLER_PREFIX_LEN} dev {h.ifname} src {h.ip} table {table}",
            f"rule add from {h.ip} table {table} pref {table}",
        ]
    return lines


class _FillerHttp(asyncio.Protocol):
    """Answers one HTTP request with the fixed filler page, then closes."""

    def __init__(self) -> None:
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.transport and (b"\r\n\r\n" in self.buf or len(self.buf) > _MAX_REQUEST):
            self.transport.write(_FILLER_RESPONSE)
            self.transport.close()


async def serve_filler_http(sock: socket.socket) -> asyncio.Server:
    """Serve the filler page on a bound, listening TCP socket (port 80 of every filler)."""
    return await asyncio.get_running_loop().create_server(_FillerHttp, sock=sock)
