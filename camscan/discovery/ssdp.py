"""SSDP/UPnP discovery: M-SEARCH, NOTIFY listening and device-description fetch, as Evidence."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element

import aiohttp
import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from camscan.context import ScanContext, traffic_log
from camscan.models import Evidence, excerpt

SSDP_GROUP = "239.255.255.250"
SSDP_PORT = 1900
MAX_DATAGRAM = 8192  # an SSDP message is a few hundred bytes; larger is dropped and counted
MAX_HEADERS = 64
MAX_DESCRIPTION = 256 * 1024
MAX_MESSAGES = 4096  # per scan: a flooding device cannot grow memory without bound
MAX_LOCATIONS = 256
DESCRIPTION_TIMEOUT_S = 2.0
MX_S = 1
_IP_MULTICAST_ALL = getattr(socket, "IP_MULTICAST_ALL", 49)  # Linux <linux/in.h>

_UPNP_NS = "urn:schemas-upnp-org:device-1-0"
# description element -> evidence key
_DESCRIPTION_KEYS = {
    "manufacturer": "upnp.manufacturer",
    "modelName": "upnp.model_name",
    "modelNumber": "upnp.model_number",
    "modelDescription": "upnp.model_description",
    "serialNumber": "upnp.serial",
    "friendlyName": "upnp.friendly_name",
    "UDN": "upnp.udn",
}


class ParseError(ValueError):
    """Bytes that are not an SSDP message or a UPnP device description."""


@dataclass(frozen=True, slots=True)
class SsdpMessage:
    """One SSDP datagram: a search reply (`HTTP/1.1 200`), a NOTIFY or an M-SEARCH."""

    kind: str  # "reply", "notify" or "search"
    headers: dict[str, str]  # upper-case names; first occurrence wins

    @property
    def location(self) -> str | None:
        return self.headers.get("LOCATION")

    @property
    def st(self) -> str | None:
        """ST of a reply, NT of a NOTIFY."""
        return self.headers.get("ST") or self.headers.get("NT")


@dataclass(frozen=True, slots=True)
class DeviceDescription:
    """The identifying fields of a UPnP root device description (absent fields are omitted)."""

    fields: dict[str, str] = field(default_factory=dict)  # description element name -> text
    device_type: str | None = None


def build_msearch(st: str = "ssdp:all", mx: int = MX_S) -> bytes:
    """The multicast M-SEARCH datagram (UPnP Device Architecture 1.1 §1.3.2)."""
    return (
        "M-SEARCH * HTTP/1.1\r\n"
        f"HOST: {SSDP_GROUP}:{SSDP_PORT}\r\n"
        'MAN: "ssdp:discover"\r\n'
        f"MX: {mx}\r\n"
        f"ST: {st}\r\n"
        "USER-AGENT: Linux UPnP/1.1 camscan/0.1\r\n"
        "\r\n"
    ).encode("ascii")


def parse_ssdp(data: bytes) -> SsdpMessage:
    """Parse one SSDP datagram; ParseError on anything else."""
    if len(data) > MAX_DATAGRAM:
        raise ParseError(f"datagram of {len(data)} bytes exceeds {MAX_DATAGRAM}")
    text = data.decode("utf-8", "replace")
    lines = text.split("\n")
    start = lines[0].strip().upper()
    if start.startswith("HTTP/1.") and " 200" in start:
        kind = "reply"
    elif start.startswith("NOTIFY * HTTP/1."):
        kind = "notify"
    elif start.startswith("M-SEARCH * HTTP/1."):
        kind = "search"
    else:
        raise ParseError(f"not an SSDP start line: {excerpt(lines[0], 80)!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        line = line.rstrip("\r")
        if not line:
            break
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            continue  # tolerate junk lines, as real stacks do
        if len(headers) >= MAX_HEADERS:
            raise ParseError("too many headers")
        headers.setdefault(name.strip().upper(), value.strip())
    if kind != "search" and not (headers.get("USN") or headers.get("LOCATION")):
        raise ParseError("SSDP message without USN or LOCATION")
    return SsdpMessage(kind, headers)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(parent: Element, name: str) -> Element | None:
    for child in parent:
        if _local(child.tag) == name:
            return child
    return None


def parse_description(data: bytes) -> DeviceDescription:
    """Identifying fields of the root device of a UPnP description; ParseError otherwise."""
    if len(data) > MAX_DESCRIPTION:
        raise ParseError(f"description of {len(data)} bytes exceeds {MAX_DESCRIPTION}")
    try:
        root = SafeET.fromstring(data, forbid_dtd=True)
    except (SafeET.ParseError, DefusedXmlException, ValueError, UnicodeError) as exc:
        raise ParseError(f"bad description XML: {exc}") from None
    if _local(root.tag) != "root":
        raise ParseError(f"description root element is {_local(root.tag)!r}, not 'root'")
    device = _child(root, "device")
    if device is None:
        raise ParseError("description without <device>")
    fields: dict[str, str] = {}
    for name in _DESCRIPTION_KEYS:
        el = _child(device, name)
        if el is not None and el.text and el.text.strip():
            fields[name] = el.text.strip()
    dtype = _child(device, "deviceType")
    return DeviceDescription(fields, dtype.text.strip() if dtype is not None and dtype.text
                             else None)


def message_evidence(host: str, msg: SsdpMessage) -> list[Evidence]:
    """Evidence carried by an SSDP reply or NOTIFY header block."""
    raw = excerpt("\n".join(f"{k}: {v}" for k, v in msg.headers.items()))
    pairs = [("upnp.server", msg.headers.get("SERVER")), ("upnp.location", msg.location),
             ("upnp.st", msg.st), ("upnp.usn", msg.headers.get("USN"))]
    return [Evidence(host, "ssdp", key, value, raw=raw) for key, value in pairs if value]


def description_evidence(host: str, desc: DeviceDescription, port: int | None) -> list[Evidence]:
    """Structured evidence of a parsed device description."""
    return [Evidence(host, "ssdp", _DESCRIPTION_KEYS[name], value, port)
            for name, value in desc.fields.items()]


def expand(ev: Evidence) -> list[Evidence]:
    """A raw `upnp.description` item -> structured upnp.* keys (ParseError on bad XML)."""
    desc = parse_description(ev.value.encode("utf-8"))
    return description_evidence(ev.host, desc, ev.port)


def same_host_location(location: str, host: str) -> tuple[str, int] | None:
    """(host, port) of an http LOCATION that names `host` by address, else None (never follow)."""
    try:
        parts = urlsplit(location)
        port = parts.port or 80
    except ValueError:
        return None
    if parts.scheme != "http" or parts.hostname is None:
        return None
    try:
        if ipaddress.ip_address(parts.hostname) != ipaddress.ip_address(host):
            return None
    except ValueError:
        return None
    return parts.hostname, port


# --- transport -------------------------------------------------------------------------------

class _SsdpProtocol(asyncio.DatagramProtocol):
    """Hands each datagram and its sender's address to a callback."""

    def __init__(self, on_datagram: Callable[[bytes, str], None]) -> None:
        self.on_datagram = on_datagram

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.on_datagram(data, str(addr[0]))

    def error_received(self, exc: Exception) -> None:
        traffic_log.debug("ssdp socket error: %s", exc)


def _search_socket(source_ip: str) -> socket.socket:
    """UDP socket bound to the scan interface's address; multicast leaves by that interface."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(source_ip))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 2)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
    sock.bind((source_ip, 0))
    sock.setblocking(False)
    return sock


def _notify_socket(source_ip: str) -> socket.socket:
    """UDP socket on port 1900 joined to the SSDP group on the scan interface only."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if hasattr(socket, "SO_REUSEPORT"):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.IPPROTO_IP, _IP_MULTICAST_ALL, 0)  # only groups we joined here
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                    socket.inet_aton(SSDP_GROUP) + socket.inet_aton(source_ip))
    sock.bind((SSDP_GROUP, SSDP_PORT))
    sock.setblocking(False)
    return sock


async def _fetch_description(ctx: ScanContext, session: aiohttp.ClientSession, host: str,
                             location: str) -> None:
    stats = ctx.stat("ssdp")
    port = same_host_location(location, host)
    if port is None:
        stats.dropped += 1
        stats.notes.append(f"not followed: LOCATION {excerpt(location, 120)} of {host}")
        return
    async with ctx.connections:
        try:
            async with session.get(location, allow_redirects=False) as resp:
                if resp.status != 200:
                    ctx.emit(Evidence(host, "ssdp", "probe.error",
                                      f"description {location}: HTTP {resp.status}", port[1]))
                    return
                body = await resp.content.read(MAX_DESCRIPTION + 1)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            stats.errors += 1
            ctx.emit(Evidence(host, "ssdp", "probe.error",
                              f"description {location}: {type(exc).__name__} {exc}", port[1]))
            return
    if len(body) > MAX_DESCRIPTION:
        stats.dropped += 1
        ctx.emit(Evidence(host, "ssdp", "probe.error",
                          f"description {location}: larger than {MAX_DESCRIPTION} bytes", port[1]))
        return
    traffic_log.debug("ssdp description %s: %r", location, body[:4096])
    text = body.decode("utf-8", "replace")
    raw = Evidence(host, "ssdp", "upnp.description", text, port[1], raw=excerpt(text))
    ctx.emit(raw)
    try:
        for ev in expand(raw):
            ctx.emit(ev)
    except ParseError as exc:
        ctx.emit(Evidence(host, "ssdp", "probe.error", f"description {location}: {exc}", port[1]))


async def discover(ctx: ScanContext) -> None:
    """M-SEARCH ssdp:all from the scan interface, hear replies and NOTIFYs, fetch descriptions."""
    stats = ctx.stat("ssdp")
    started = time.monotonic()
    if not ctx.source_ip:
        stats.notes.append("no source address: SSDP needs a local interface")
        return
    loop = asyncio.get_running_loop()
    seen: set[tuple[str, str, str]] = set()  # (host, USN, ST) already heard
    emitted: set[tuple[str, str, str]] = set()  # (host, key, value): one item per fact
    locations: dict[tuple[str, str], None] = {}  # distinct (host, LOCATION), in arrival order
    count = 0

    def on_datagram(data: bytes, host: str) -> None:
        nonlocal count
        count += 1
        if count > MAX_MESSAGES:
            stats.dropped += 1
            return
        traffic_log.debug("ssdp from %s: %r", host, data[:2048])
        try:
            addr = ipaddress.IPv4Address(host)
        except ValueError:
            stats.dropped += 1
            return
        if addr not in ctx.in_scope:
            stats.dropped += 1
            return
        try:
            msg = parse_ssdp(data)
        except ParseError:
            stats.dropped += 1
            return
        if msg.kind == "search":
            return  # another control point's query, not a device
        key = (host, msg.headers.get("USN", ""), msg.st or "")
        if key in seen:
            return
        if not any(h == host for h, _, _ in seen):
            stats.answered += 1
        seen.add(key)
        for ev in message_evidence(host, msg):
            if (host, ev.key, ev.value) not in emitted:
                emitted.add((host, ev.key, ev.value))
                ctx.emit(ev)
        if msg.location and len(locations) < MAX_LOCATIONS:
            locations.setdefault((host, msg.location), None)

    transports: list[asyncio.DatagramTransport] = []
    try:
        search = _search_socket(ctx.source_ip)
        t, _ = await loop.create_datagram_endpoint(lambda: _SsdpProtocol(on_datagram), sock=search)
        transports.append(t)
        try:
            notify = _notify_socket(ctx.source_ip)
            t2, _ = await loop.create_datagram_endpoint(lambda: _SsdpProtocol(on_datagram),
                                                        sock=notify)
            transports.append(t2)
        except OSError as exc:  # port 1900 taken without SO_REUSEPORT: search replies still work
            stats.notes.append(f"not listening for NOTIFY: {exc}")
        packet = build_msearch()
        traffic_log.debug("ssdp to %s:%d: %r", SSDP_GROUP, SSDP_PORT, packet)
        for _ in range(2):  # UDP may drop one; replies are de-duplicated
            t.sendto(packet, (SSDP_GROUP, SSDP_PORT))
            stats.sent += 1
            await asyncio.sleep(0.1)
        window = max(ctx.settings.listen_window_s, MX_S + 0.2)
        await asyncio.sleep(max(0.0, window - (time.monotonic() - started)))
    except OSError as exc:
        stats.errors += 1
        stats.notes.append(f"ssdp socket: {exc}")
    finally:
        for t in transports:
            t.close()

    if locations:
        timeout = aiohttp.ClientTimeout(total=DESCRIPTION_TIMEOUT_S,
                                        connect=ctx.settings.connect_timeout_s)
        connector = aiohttp.TCPConnector(local_addr=(ctx.source_ip, 0), limit=16)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            await asyncio.gather(*(_fetch_description(ctx, session, host, loc)
                                   for host, loc in locations))
    stats.duration_s = time.monotonic() - started
