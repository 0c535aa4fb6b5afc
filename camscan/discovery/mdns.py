"""mDNS / DNS-SD discovery with python-zeroconf, bound to the scan interface, as Evidence."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from zeroconf import IPVersion, ServiceStateChange, Zeroconf
from zeroconf._dns import DNSAddress, DNSPointer, DNSService, DNSText
from zeroconf._protocol.incoming import DNSIncoming  # the sans-I/O parser; no public alias
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from camscan.context import ScanContext
from camscan.keys import NAMES_OTHER
from camscan.models import Evidence
from camscan.targets import in_scope
from camscan.traffic import traffic_log

SERVICES_META = "_services._dns-sd._udp.local."
MAX_PACKET = 9000  # RFC 6762 §17: an mDNS message fits an Ethernet jumbo frame at most
MAX_TYPES = 64
MAX_INSTANCES = 512  # per scan: a flood of names cannot grow memory without bound
MAX_TXT = 1024  # characters of the joined TXT kept as evidence
MAX_NAMES = 4096  # record names whose senders are remembered, per scan
MAX_SENDERS = 8  # senders remembered per record name


class ParseError(ValueError):
    """Bytes that are not a valid DNS message."""


@dataclass(frozen=True, slots=True)
class MdnsService:
    """One resolved DNS-SD instance: what a PTR, its SRV, TXT and A records say."""

    service: str  # "_CGI._tcp.local."
    instance: str  # "HIKVISION DS-2CD2722FWD-IZS - 733050075"
    hostname: str | None  # SRV target
    port: int | None  # SRV port
    txt: str | None  # "path=/;k2=v2"
    addresses: tuple[str, ...]  # IPv4 addresses of the SRV target


def instance_label(fullname: str, service: str) -> str:
    """The instance part of `<instance>.<service>`."""
    suffix = "." + service
    if fullname.lower().endswith(suffix.lower()):
        return fullname[: -len(suffix)]
    suffix = suffix.rstrip(".")
    if fullname.lower().endswith(suffix.lower()):
        return fullname[: -len(suffix)]
    return fullname


def format_txt(pairs: Iterable[tuple[bytes | str, bytes | str | None]]) -> str | None:
    """TXT key/value pairs as `k=v;k2` (a key without value stays bare); None when empty."""
    items: list[str] = []
    for key, value in pairs:
        k = key.decode("utf-8", "replace") if isinstance(key, bytes) else key
        if not k:
            continue
        if value is None:
            items.append(k)
        else:
            v = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
            items.append(f"{k}={v}")
    return ";".join(items)[:MAX_TXT] if items else None


def _txt_pairs(text: bytes) -> list[tuple[bytes, bytes | None]]:
    """RFC 6763 §6 TXT rdata: length-prefixed `key=value` strings."""
    out: list[tuple[bytes, bytes | None]] = []
    i = 0
    while i < len(text):
        n = text[i]
        item = text[i + 1 : i + 1 + n]
        i += 1 + n
        key, sep, value = item.partition(b"=")
        out.append((key, value if sep else None))
    return out


def services_from_packet(data: bytes) -> list[MdnsService]:
    """Every DNS-SD instance a single mDNS response describes; ParseError on a bad packet."""
    if len(data) > MAX_PACKET:
        raise ParseError(f"packet of {len(data)} bytes exceeds {MAX_PACKET}")
    try:
        msg = DNSIncoming(data)
        records = msg.answers() if msg.valid else []
    except Exception as exc:  # zeroconf flags bad packets with .valid; be safe on the rest
        raise ParseError(f"bad DNS message: {exc}") from None
    if not msg.valid:
        raise ParseError("bad DNS message")
    ptrs: list[tuple[str, str]] = []
    srv: dict[str, tuple[str, int]] = {}
    txt: dict[str, str | None] = {}
    addrs: dict[str, list[str]] = {}
    for rec in records:
        name = rec.name
        if isinstance(rec, DNSPointer) and name.lower() != SERVICES_META:
            ptrs.append((name, rec.alias))
        elif isinstance(rec, DNSService):
            srv[name.lower()] = (rec.server, rec.port)
        elif isinstance(rec, DNSText):
            txt[name.lower()] = format_txt(_txt_pairs(rec.text))
        elif isinstance(rec, DNSAddress) and len(rec.address) == 4:
            addrs.setdefault(name.lower(), []).append(str(ipaddress.IPv4Address(rec.address)))
    out: list[MdnsService] = []
    for service, fullname in ptrs:
        target, port = srv.get(fullname.lower(), (None, None))
        out.append(
            MdnsService(
                service=service,
                instance=instance_label(fullname, service),
                hostname=target,
                port=port,
                txt=txt.get(fullname.lower()),
                addresses=tuple(addrs.get(target.lower(), [])) if target else (),
            )
        )
    return out


def service_types_from_packet(data: bytes) -> list[str]:
    """Service types a response to the `_services._dns-sd._udp.local.` query lists."""
    if len(data) > MAX_PACKET:
        raise ParseError(f"packet of {len(data)} bytes exceeds {MAX_PACKET}")
    msg = DNSIncoming(data)
    if not msg.valid:
        raise ParseError("bad DNS message")
    return [
        r.alias
        for r in msg.answers()
        if isinstance(r, DNSPointer) and r.name.lower() == SERVICES_META
    ]


class SenderBook:
    """Which addresses sent the records of each DNS-SD name: evidence goes to its sender."""

    def __init__(self, own: str | None) -> None:
        self.own = own
        self.by_name: dict[str, set[str]] = {}

    def feed(self, data: bytes, sender: str) -> None:
        """Remember `sender` for every PTR target, SRV and TXT name one response carries."""
        if sender == self.own or len(data) > MAX_PACKET:
            return
        try:
            ipaddress.IPv4Address(sender)
            msg = DNSIncoming(data)
            records = msg.answers() if msg.valid and msg.is_response() else []
        except Exception:  # not IPv4, or a packet zeroconf's own parse will judge
            return
        for rec in records:
            if isinstance(rec, DNSPointer):
                self._add(rec.alias, sender)
            elif isinstance(rec, DNSService | DNSText):
                self._add(rec.name, sender)

    def _add(self, name: str, sender: str) -> None:
        key = name.lower()
        senders = self.by_name.get(key)
        if senders is None:
            if len(self.by_name) >= MAX_NAMES:
                return
            senders = self.by_name[key] = set()
        if len(senders) < MAX_SENDERS:
            senders.add(sender)

    def senders(self, name: str) -> list[str]:
        """Addresses that sent records of instance `name`, sorted."""
        return sorted(self.by_name.get(name.lower(), ()), key=ipaddress.IPv4Address)


class _Tap(asyncio.DatagramProtocol):
    """Sees each datagram a zeroconf socket receives, with its sender, then hands it on."""

    def __init__(self, inner: asyncio.BaseProtocol, book: SenderBook) -> None:
        self.inner, self.book = inner, book

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.book.feed(data, str(addr[0]))
        self.inner.datagram_received(data, addr)  # type: ignore[attr-defined]

    def error_received(self, exc: Exception) -> None:
        self.inner.error_received(exc)  # type: ignore[attr-defined]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.inner.connection_lost(exc)


async def _tap_senders(azc: AsyncZeroconf, book: SenderBook) -> bool:
    """Put a _Tap in front of each receiving socket of `azc`; False when that is not possible."""
    try:
        await azc.zeroconf.async_wait_for_start()
        readers = list(azc.zeroconf.engine.readers)
        for wrapped in readers:
            transport = wrapped.transport
            transport.set_protocol(_Tap(transport.get_protocol(), book))
    except (AttributeError, TimeoutError, RuntimeError):
        return False
    return bool(readers)


def attribution(svc: MdnsService, senders: Iterable[str]) -> tuple[list[str], list[str]]:
    """(hosts credited: the senders; addresses the records named that sent nothing)."""
    credited = list(dict.fromkeys(senders))
    return credited, [a for a in svc.addresses if a not in credited]


def evidence(svc: MdnsService, host: str) -> list[Evidence]:
    """Evidence of one resolved instance, attributed to `host`."""
    raw = f"{svc.instance}.{svc.service} SRV {svc.hostname}:{svc.port} TXT {svc.txt or ''}"
    out = [
        Evidence(host, "mdns", "mdns.service", svc.service, svc.port, raw),
        Evidence(host, "mdns", "mdns.instance", svc.instance, svc.port, raw),
    ]
    if svc.hostname:
        out.append(Evidence(host, "mdns", "mdns.hostname", svc.hostname, svc.port, raw))
    if svc.txt:
        out.append(Evidence(host, "mdns", "mdns.txt", svc.txt, svc.port, raw))
    return out


# --- transport: python-zeroconf bound to the scan interface ------------------------------------


async def discover(ctx: ScanContext) -> None:
    """Enumerate DNS-SD types, browse each, resolve instances; emit evidence of in-scope hosts."""
    stats = ctx.stat("mdns")
    started = time.monotonic()
    if not ctx.source_ip:
        stats.notes.append("no source address: mDNS needs a local interface")
        return
    window = ctx.settings.listen_window_s
    # Only the scan interface: Zeroconf with the default InterfaceChoice.All would query and
    # answer on every interface of the machine.
    try:
        azc = AsyncZeroconf(interfaces=[ctx.source_ip], ip_version=IPVersion.V4Only)
    except OSError as exc:
        stats.errors += 1
        stats.notes.append(f"mdns socket: {exc}")
        return
    book = SenderBook(ctx.source_ip)
    browsers: dict[str, AsyncServiceBrowser] = {}
    resolving: dict[tuple[str, str], asyncio.Task[None]] = {}
    answered: set[str] = set()
    unresolved = 0
    closing = False  # set when the window ends or the scan is cancelled: no new resolve/browse
    loop = asyncio.get_running_loop()

    async def resolve(service: str, name: str) -> None:
        nonlocal unresolved
        info = AsyncServiceInfo(service, name)
        remaining = window - (time.monotonic() - started)
        if remaining <= 0.05:
            return
        if not await info.async_request(azc.zeroconf, timeout=remaining * 1000):
            unresolved += 1
            traffic_log.debug("mdns unresolved %s", name)
            return
        svc = MdnsService(
            service=service,
            instance=instance_label(name, service),
            hostname=info.server,
            port=info.port,
            txt=format_txt((info.properties or {}).items()),
            addresses=tuple(info.parsed_addresses(IPVersion.V4Only)),
        )
        traffic_log.debug("mdns resolved %s: %s", name, svc)
        senders, others = attribution(svc, book.senders(name))
        hosts = [a for a in senders if in_scope(ctx.in_scope, a)]
        if not hosts:
            stats.dropped += 1
            return
        for host in hosts:
            if host not in answered:
                answered.add(host)
                stats.answered += 1
            for ev in evidence(svc, host):
                ctx.emit(ev)
            for other in others:
                ctx.emit(
                    Evidence(
                        host,
                        "mdns",
                        NAMES_OTHER,
                        f"mDNS {svc.instance}.{svc.service} names {other}",
                        svc.port,
                    )
                )

    def on_instance(
        zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        if state_change is not ServiceStateChange.Added or closing:
            return
        key = (service_type, name)
        if key in resolving:
            return
        if len(resolving) >= MAX_INSTANCES:
            stats.dropped += 1
            return
        resolving[key] = loop.create_task(resolve(service_type, name))

    def on_type(
        zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        if state_change is not ServiceStateChange.Added or name in browsers or closing:
            return
        if len(browsers) >= MAX_TYPES:
            stats.dropped += 1
            return
        traffic_log.debug("mdns service type %s", name)
        browsers[name] = AsyncServiceBrowser(azc.zeroconf, name, handlers=[on_instance])
        stats.sent += 1

    try:
        # Evidence goes to the address that sent it, never to an address a record names: one
        # host must not plant devices at others' (or the scanner's own) addresses.
        if not await _tap_senders(azc, book):
            stats.notes.append("cannot see mDNS senders: instances are not attributed to hosts")
        meta = AsyncServiceBrowser(azc.zeroconf, SERVICES_META, handlers=[on_type])
        stats.sent += 1
        await asyncio.sleep(window)
        await meta.async_cancel()
        for browser in list(browsers.values()):
            await browser.async_cancel()
        pending = [t for t in resolving.values() if not t.done()]
        if pending:
            # A resolve may be mid-request; give it a moment, then stop.
            _, still = await asyncio.wait(pending, timeout=0.3)
            for task in still:
                task.cancel()
        for task in resolving.values():
            if task.done() and not task.cancelled() and task.exception() is not None:
                stats.errors += 1
                stats.notes.append(f"resolve failed: {task.exception()}")
        if unresolved:
            stats.notes.append(f"{unresolved} instance(s) announced but not resolved in time")
    finally:  # interrupted: no resolve outlives the Zeroconf instance it asks through
        # Browsers still running (cancelled mid-window) would start resolves while the tasks
        # below are awaited or Zeroconf closes; those would fail on the closed instance, unseen.
        closing = True
        for task in resolving.values():
            task.cancel()
        await asyncio.gather(*resolving.values(), return_exceptions=True)
        await azc.async_close()
