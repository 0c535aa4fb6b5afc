"""Lab SSDP/UPnP device: answers M-SEARCH with recorded replies, sends NOTIFY, serves its XML."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any, cast

from camscan_lab.personalities.udp_responder import responder_socket
from camscan_lab.personality import Closer, LabHost

_MAX_REQUEST = 8192
# UPnP Device Architecture 1.1 §1.1.2, stated here rather than taken from camscan.discovery.ssdp:
# a constant wrong in both would pass every test.
SSDP_GROUP = "239.255.255.250"
SSDP_PORT = 1900
MAX_DATAGRAM = 8192
DEFAULT_MAX_DELAY_S = 0.2  # below any MX, so lab scans stay fast; `max_delay_ms` sets it


@dataclass(frozen=True, slots=True)
class Advert:
    """One (ST/NT, USN) pair the device announces."""

    st: str
    usn: str


@dataclass(frozen=True, slots=True)
class SsdpDevice:
    """What one lab device says over SSDP and serves at its LOCATION."""

    server: str
    location: str
    adverts: tuple[Advert, ...]
    extra_headers: tuple[tuple[str, str], ...]
    description: bytes | None  # None: the LOCATION answers 404
    description_port: int
    description_path: str
    notify_interval_s: float
    max_delay_s: float = DEFAULT_MAX_DELAY_S  # answers wait up to this, and never past MX


def device_from_service(host: LabHost, service: Mapping[str, Any]) -> SsdpDevice:
    """Read an `ssdp` service table; `{ip}` in strings is the device's address."""

    def fill(s: str) -> str:
        return s.replace("{ip}", host.ip)

    port = int(service.get("description_port", 49152))
    path = str(service.get("description_path", "/description.xml"))
    desc = service.get("description")
    return SsdpDevice(
        server=fill(service["server"]),
        location=f"http://{host.ip}:{port}{path}",
        adverts=tuple(Advert(fill(a["st"]), fill(a["usn"])) for a in service["advert"]),
        extra_headers=tuple((k, fill(str(v))) for k, v in service.get("headers", {}).items()),
        description=fill(desc).encode("utf-8") if desc else None,
        description_port=port,
        description_path=path,
        notify_interval_s=float(service.get("notify_interval_s", 0)),
        max_delay_s=float(service.get("max_delay_ms", DEFAULT_MAX_DELAY_S * 1000)) / 1000,
    )


def build_reply(dev: SsdpDevice, adv: Advert) -> bytes:
    """A search reply (UDA 1.1 §1.3.3) for one advert."""
    lines = [
        "HTTP/1.1 200 OK",
        "CACHE-CONTROL: max-age=1800",
        f"DATE: {formatdate(usegmt=True)}",
        "EXT:",
        f"LOCATION: {dev.location}",
        f"SERVER: {dev.server}",
        f"ST: {adv.st}",
        f"USN: {adv.usn}",
    ]
    lines += [f"{k}: {v}" for k, v in dev.extra_headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def build_notify(dev: SsdpDevice, adv: Advert) -> bytes:
    """An ssdp:alive NOTIFY (UDA 1.1 §1.2.2) for one advert."""
    lines = [
        "NOTIFY * HTTP/1.1",
        f"HOST: {SSDP_GROUP}:{SSDP_PORT}",
        "CACHE-CONTROL: max-age=1800",
        f"LOCATION: {dev.location}",
        f"NT: {adv.st}",
        "NTS: ssdp:alive",
        f"SERVER: {dev.server}",
        f"USN: {adv.usn}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def read_msearch(data: bytes) -> dict[str, str] | None:
    """The headers of a multicast M-SEARCH as UDA 1.1 §1.3.2 requires it, else None.

    Read as strictly as a device stack may: CRLF lines, `MAN: "ssdp:discover"` with its quotes,
    HOST, MX and ST present. camscan's own parser is deliberately not used here.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    head, sep, _ = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    if not sep or lines[0] != "M-SEARCH * HTTP/1.1":
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            return None
        headers[name.strip().upper()] = value.strip()
    if (
        headers.get("MAN") != '"ssdp:discover"'
        or "ST" not in headers
        or "HOST" not in headers
        or not headers.get("MX", "").isdigit()
    ):
        return None
    return headers


def matching(dev: SsdpDevice, st: str) -> list[Advert]:
    """Adverts that answer a search for `st`."""
    if st == "ssdp:all":
        return list(dev.adverts)
    return [a for a in dev.adverts if a.st == st]


class _Responder(asyncio.DatagramProtocol):
    def __init__(self, dev: SsdpDevice) -> None:
        self.dev = dev
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, ...]) -> None:
        if len(data) > MAX_DATAGRAM:
            return
        headers = read_msearch(data)
        if headers is None:
            return
        adverts = matching(self.dev, headers["ST"])
        if adverts:
            # UDA 1.1: reply after a random delay below MX (seconds).
            delay = random.uniform(0, min(int(headers["MX"]), self.dev.max_delay_s))
            asyncio.get_running_loop().call_later(delay, self._reply, adverts, addr)

    def _reply(self, adverts: Sequence[Advert], addr: tuple[str | Any, ...]) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        for adv in adverts:
            self.transport.sendto(build_reply(self.dev, adv), (addr[0], addr[1]))


def ssdp_socket(host: LabHost) -> socket.socket:
    """UDP 1900 in the device's namespace, joined to 239.255.255.250 on its own interface."""
    return responder_socket(host, SSDP_PORT, SSDP_GROUP, ttl=2)


async def _serve_description(
    dev: SsdpDevice, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        request_line = head[:_MAX_REQUEST].split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split()
        ok = (
            len(parts) == 3
            and parts[0] == "GET"
            and parts[1] == dev.description_path
            and dev.description is not None
        )
        if ok and dev.description is not None:
            body = dev.description
            status = "200 OK"
            ctype = 'text/xml; charset="utf-8"'
        else:
            body = b"<html><body><h1>404 Not Found</h1></body></html>"
            status = "404 Not Found"
            ctype = "text/html"
        writer.write(
            (
                f"HTTP/1.1 {status}\r\nCONTENT-TYPE: {ctype}\r\n"
                f"CONTENT-LENGTH: {len(body)}\r\nSERVER: {dev.server}\r\n"
                "CONNECTION: close\r\n\r\n"
            ).encode("latin-1")
            + body
        )
        await writer.drain()
    except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
        pass
    finally:
        writer.close()


class _Closer:
    def __init__(
        self,
        transport: asyncio.BaseTransport,
        server: asyncio.Server,
        notifier: asyncio.Task[None] | None,
    ) -> None:
        self.transport = transport
        self.server = server
        self.notifier = notifier

    def close(self) -> None:
        if self.notifier is not None:
            self.notifier.cancel()
        self.transport.close()
        self.server.close()


async def _notify_loop(transport: asyncio.DatagramTransport, dev: SsdpDevice) -> None:
    while True:
        for adv in dev.adverts:
            with contextlib.suppress(OSError):
                transport.sendto(build_notify(dev, adv), (SSDP_GROUP, SSDP_PORT))
        await asyncio.sleep(dev.notify_interval_s)


async def serve(host: LabHost, service: Mapping[str, Any]) -> Closer:
    """Answer M-SEARCH with the recorded replies and serve the description at LOCATION."""
    dev = device_from_service(host, service)
    loop = asyncio.get_running_loop()
    tcp = host.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind((host.ip, dev.description_port))
    tcp.listen(16)
    tcp.setblocking(False)
    server = await asyncio.start_server(
        lambda r, w: _serve_description(dev, r, w), sock=tcp, limit=_MAX_REQUEST
    )
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Responder(dev), sock=ssdp_socket(host)
    )
    notifier = loop.create_task(_notify_loop(transport, dev)) if dev.notify_interval_s > 0 else None
    return _Closer(transport, server, notifier)
