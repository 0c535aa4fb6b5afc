"""SSDP/UPnP discovery: M-SEARCH, NOTIFY listening and device-description fetch, as Evidence."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from camscan import xmlsafe
from camscan.discovery import lazy
from camscan.discovery.datagram import Datagram, names_other_host
from camscan.keys import NAMES_OTHER
from camscan.models import Evidence, excerpt
from camscan.targets import in_scope, url_on_host

if TYPE_CHECKING:
    import aiohttp

    from camscan.context import ScanContext


SSDP_GROUP = "239.255.255.250"
SSDP_PORT = 1900
MAX_DATAGRAM = 8192  # an SSDP message is a few hundred bytes; larger is dropped and counted
MAX_HEADERS = 64
MAX_DESCRIPTION = 256 * 1024
MAX_PER_SOURCE = 64  # datagrams kept per device: one reply per embedded device/service
MAX_LOCATIONS = 256
DESCRIPTION_TIMEOUT_S = 2.0
MX_S = 1
# UDA 2.0 section 1.3.2: UDP is unreliable, so a control point should send each M-SEARCH more
# than once; devices answer within MX seconds of each, so the last copy leaves MX for answers.
RESEND_AT_S = (0.0, 0.5, 1.0)

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


def parse_description(data: bytes) -> DeviceDescription:
    """Identifying fields of the root device of a UPnP description; ParseError otherwise."""
    if len(data) > MAX_DESCRIPTION:
        raise ParseError(f"description of {len(data)} bytes exceeds {MAX_DESCRIPTION}")
    try:
        root = xmlsafe.parse(data)
    except xmlsafe.XmlError as exc:
        raise ParseError(f"bad description XML: {exc}") from None
    if (name := xmlsafe.local_name(root.tag)) != "root":
        raise ParseError(f"description root element is {name!r}, not 'root'")
    device = xmlsafe.child(root, "device")
    if device is None:
        raise ParseError("description without <device>")
    fields: dict[str, str] = {}
    for name in _DESCRIPTION_KEYS:
        el = xmlsafe.child(device, name)
        if el is not None and el.text and el.text.strip():
            fields[name] = el.text.strip()
    dtype = xmlsafe.child(device, "deviceType")
    return DeviceDescription(
        fields, dtype.text.strip() if dtype is not None and dtype.text else None
    )


def message_evidence(host: str, msg: SsdpMessage) -> list[Evidence]:
    """Evidence carried by an SSDP reply or NOTIFY header block."""
    raw = excerpt("\n".join(f"{k}: {v}" for k, v in msg.headers.items()))
    pairs = [
        ("upnp.server", msg.headers.get("SERVER")),
        ("upnp.location", msg.location),
        ("upnp.st", msg.st),
        ("upnp.usn", msg.headers.get("USN")),
    ]
    return [Evidence(host, "ssdp", key, value, raw=raw) for key, value in pairs if value]


def description_evidence(host: str, desc: DeviceDescription, port: int | None) -> list[Evidence]:
    """Structured evidence of a parsed device description."""
    return [
        Evidence(host, "ssdp", _DESCRIPTION_KEYS[name], value, port)
        for name, value in desc.fields.items()
    ]


def expand(ev: Evidence) -> list[Evidence]:
    """A raw `upnp.description` item -> structured upnp.* keys (ParseError on bad XML)."""
    desc = parse_description(ev.value.encode("utf-8"))
    return description_evidence(ev.host, desc, ev.port)


def same_host_location(location: str, host: str) -> tuple[str, int] | None:
    """(host, port) of an http LOCATION that names `host` by address, else None (never follow)."""
    found = url_on_host(location, host, ("http",))
    return None if found is None else (str(found[0].hostname), found[1])


# --- transport -------------------------------------------------------------------------------


class SsdpHearing:
    """What one scan hears over SSDP: de-duplicated, in-scope evidence and LOCATIONs to fetch."""

    def __init__(self, ctx: ScanContext, on_location: Callable[[str, str], None]) -> None:
        self.ctx = ctx
        self.stats = ctx.stat("ssdp")
        self.on_location = on_location
        self.hosts: set[str] = set()
        self.emitted: set[tuple[str, str, str]] = set()  # (host, key, value): one item per fact
        self.locations: set[tuple[str, str]] = set()

    def feed(self, dg: Datagram) -> None:
        """Take one received datagram (the transport has already bounded size and count)."""
        if not in_scope(self.ctx.in_scope, dg.ip):
            self.stats.dropped += 1
            return
        try:
            msg = parse_ssdp(dg.data)
        except ParseError:
            self.stats.dropped += 1
            return
        if msg.kind == "search":
            return  # another control point's query, not a device
        if dg.ip not in self.hosts:
            self.hosts.add(dg.ip)
            self.stats.answered += 1
        for ev in message_evidence(dg.ip, msg):
            if (dg.ip, ev.key, ev.value) not in self.emitted:
                self.emitted.add((dg.ip, ev.key, ev.value))
                self.ctx.emit(ev)
        key = (dg.ip, msg.location or "")
        if msg.location and key not in self.locations and len(self.locations) < MAX_LOCATIONS:
            self.locations.add(key)
            self.on_location(dg.ip, msg.location)


async def _fetch_description(
    ctx: ScanContext, session: aiohttp.ClientSession, host: str, location: str
) -> None:
    import aiohttp  # loaded by discover(), off the loop

    from camscan.traffic import traffic_log  # logging: loaded by a scan, not with the parsers

    stats = ctx.stat("ssdp")
    port = same_host_location(location, host)
    if port is None:
        stats.dropped += 1
        stats.notes.append(f"not followed: LOCATION {excerpt(location, 120)} of {host}")
        if names_other_host(location, host):  # a note on the sender, never a device there
            ctx.emit(Evidence(host, "ssdp", NAMES_OTHER, f"SSDP LOCATION {excerpt(location, 200)}"))
        return
    async with ctx.connections:
        try:
            async with session.get(location, allow_redirects=False) as resp:
                if resp.status != 200:
                    ctx.emit(
                        Evidence(
                            host,
                            "ssdp",
                            "probe.error",
                            f"description {location}: HTTP {resp.status}",
                            port[1],
                        )
                    )
                    return
                body = await resp.content.read(MAX_DESCRIPTION + 1)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            stats.errors += 1
            ctx.emit(
                Evidence(
                    host,
                    "ssdp",
                    "probe.error",
                    f"description {location}: {type(exc).__name__} {exc}",
                    port[1],
                )
            )
            return
    if len(body) > MAX_DESCRIPTION:
        stats.dropped += 1
        ctx.emit(
            Evidence(
                host,
                "ssdp",
                "probe.error",
                f"description {location}: larger than {MAX_DESCRIPTION} bytes",
                port[1],
            )
        )
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
    # asyncio and the UDP transport are loaded by a scan, not with the parsers.
    import asyncio

    from camscan.discovery.udp import exchange

    stats = ctx.stat("ssdp")
    if not ctx.source_ip:
        stats.notes.append("no source address: SSDP needs a local interface")
        return
    await lazy.load_aiohttp()
    import aiohttp

    timeout = aiohttp.ClientTimeout(
        total=DESCRIPTION_TIMEOUT_S, connect=ctx.settings.connect_timeout_s
    )
    connector = aiohttp.TCPConnector(local_addr=(ctx.source_ip, 0), limit=16)
    fetches: list[asyncio.Task[None]] = []
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        # Each description is fetched as soon as its LOCATION is first heard, inside the window.
        hearing = SsdpHearing(
            ctx,
            lambda host, loc: fetches.append(
                asyncio.create_task(_fetch_description(ctx, session, host, loc))
            ),
        )
        # One socket on port 1900 joined to the group on the scan interface: unicast search
        # replies and multicast NOTIFYs both arrive on it.
        try:
            await exchange(
                ctx,
                "ssdp",
                [(build_msearch(), (SSDP_GROUP, SSDP_PORT))],
                hearing.feed,
                max_size=MAX_DATAGRAM,
                port=SSDP_PORT,
                groups=[SSDP_GROUP],
                max_per_source=MAX_PER_SOURCE,
                resend_at=RESEND_AT_S,
                reply_within=MX_S,  # UDA 1.1: devices answer within MX seconds
            )
            # One device's failed fetch is that device's error; the others' fetches go on.
            for result in await asyncio.gather(*fetches, return_exceptions=True):
                if isinstance(result, Exception):
                    stats.errors += 1
                    stats.notes.append(
                        f"description fetch failed: {type(result).__name__}: {str(result)[:80]}"
                    )
        finally:  # interrupted: no fetch outlives the session it uses
            for task in fetches:
                task.cancel()
            await asyncio.gather(*fetches, return_exceptions=True)
