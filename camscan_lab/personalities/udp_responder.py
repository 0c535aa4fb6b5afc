"""A UDP responder in a lab device's namespace, shared by the SADP, DHIP and WS-Discovery kinds.

Hostile options of a service table: `flood = N` answers each request with N distinct junk
datagrams (paced so the scanner's socket buffer, not the kernel, decides what is kept) and
`oversize_bytes = N` adds one datagram of N bytes. `max_delay_ms = N` answers after a random
delay up to N ms (WS-Discovery's APP_MAX_DELAY spreads a crowd's answers; 0 answers at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from collections.abc import Callable, Mapping
from typing import Any, cast

from camscan_lab.personality import Closer, LabHost

_IP_MULTICAST_ALL = getattr(socket, "IP_MULTICAST_ALL", 49)
MAX_REQUEST = 65535
FLOOD_BATCH = 25

Reply = tuple[bytes, tuple[str, int]]
# request bytes, sender -> datagrams to send (payload, destination); [] to stay silent
Answer = Callable[[bytes, tuple[str, int]], list[Reply]]


def responder_socket(host: LabHost, port: int, group: str | None, *, ttl: int = 1) -> socket.socket:
    """UDP `port` in the device's namespace, joined to `group` on its own interface only."""
    sock = host.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.setsockopt(socket.IPPROTO_IP, _IP_MULTICAST_ALL, 0)
        if group:
            sock.setsockopt(
                socket.IPPROTO_IP,
                socket.IP_ADD_MEMBERSHIP,
                socket.inet_aton(group) + socket.inet_aton(host.ip),
            )
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(host.ip))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
        sock.bind(("", port))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def hostile_replies(
    service: Mapping[str, Any], make_junk: Callable[[int], bytes], dest: tuple[str, int]
) -> list[Reply]:
    """The flood and oversize datagrams a hostile service adds to its answer."""
    out: list[Reply] = []
    if size := int(service.get("oversize_bytes", 0)):
        out.append((make_junk(0).ljust(size, b"#")[:size], dest))
    out.extend((make_junk(i), dest) for i in range(1, int(service.get("flood", 0)) + 1))
    return out


def reply_delay_s(service: Mapping[str, Any]) -> float:
    """The longest a service waits before answering (`max_delay_ms`), in seconds."""
    return max(0.0, float(service.get("max_delay_ms", 0))) / 1000


class _Responder(asyncio.DatagramProtocol):
    def __init__(self, answer: Answer, max_delay_s: float = 0.0) -> None:
        self.answer = answer
        self.max_delay_s = max_delay_s
        self.transport: asyncio.DatagramTransport | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, ...]) -> None:
        if len(data) > MAX_REQUEST:
            return
        replies = self.answer(data, (str(addr[0]), int(addr[1])))
        if replies:
            task = asyncio.get_running_loop().create_task(self._send(replies))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _send(self, replies: list[Reply]) -> None:
        if self.max_delay_s:
            await asyncio.sleep(random.uniform(0, self.max_delay_s))
        for i, (payload, dest) in enumerate(replies):
            if self.transport is None or self.transport.is_closing():
                return
            with contextlib.suppress(OSError):
                self.transport.sendto(payload, dest)
            if i % FLOOD_BATCH == FLOOD_BATCH - 1:
                await asyncio.sleep(0.005)


class _Closer:
    def __init__(self, transport: asyncio.BaseTransport, responder: _Responder) -> None:
        self.transport = transport
        self.responder = responder

    def close(self) -> None:
        for task in list(self.responder.tasks):
            task.cancel()
        self.transport.close()


async def serve_udp(
    host: LabHost, port: int, group: str | None, answer: Answer, max_delay_s: float = 0.0
) -> Closer:
    """Answer every datagram on `port` (and `group`) with what `answer` returns, each answer
    after a random delay up to `max_delay_s`."""
    responder = _Responder(answer, max_delay_s)
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: responder, sock=responder_socket(host, port, group)
    )
    return _Closer(transport, responder)
