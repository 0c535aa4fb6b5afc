"""Thin asyncio UDP transport shared by the multicast/broadcast discoverers.

One socket bound to the scan interface sends the discovery payloads and collects the replies
for the listen window. Oversize datagrams are dropped and counted; each source may keep only a
few datagrams and the whole exchange only a bounded number, so a flooding device cannot grow
memory. Identical datagrams from one source (a device answering two probes) count once.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from camscan.context import ScanContext
from camscan.discovery.datagram import Datagram, save_capture
from camscan.models import MethodStats
from camscan.traffic import traffic_log

MAX_PER_SOURCE = 8  # datagrams kept per replying address
MAX_TOTAL = 4096  # datagrams kept per exchange, whatever their sources
MAX_NOTES = 32  # a flood of unreadable replies is counted, not described one by one
RESEND_AT_S: tuple[float, ...] = (0.0, 0.4)  # when each payload is sent (settings.retries > 0)
# How long after a request its answers may still come. SADP and DHIP publish no bound; their
# devices answer at once, and this leaves them WS-Discovery's (APP_MAX_DELAY, 500 ms).
REPLY_WITHIN_S = 0.5
# Hundreds of devices answer one multicast within milliseconds; at ~8 KB of kernel memory per
# 4 KB ProbeMatch the default 208 KB buffer holds about 26 of them and the kernel drops the rest.
RCVBUF = 8 * 1024 * 1024
_IP_MULTICAST_ALL = getattr(socket, "IP_MULTICAST_ALL", 49)  # Linux <linux/in.h>
_SO_RCVBUFFORCE = 33  # asm-generic/socket.h: root may exceed net.core.rmem_max


@dataclass(slots=True)
class _Limits:
    max_size: int
    max_per_source: int = MAX_PER_SOURCE
    max_total: int = MAX_TOTAL
    ignore: frozenset[str] = frozenset()


@dataclass(slots=True)
class _Collector(asyncio.DatagramProtocol):
    limits: _Limits
    stats: MethodStats
    on_datagram: Callable[[Datagram], None]
    per_source: dict[str, int] = field(default_factory=dict)
    seen: set[bytes] = field(default_factory=set)
    kept: int = 0

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        ip, port = str(addr[0]), int(addr[1])
        if ip in self.limits.ignore:
            return
        traffic_log.debug("udp %s:%d -> %d bytes %r", ip, port, len(data), data[:256])
        if len(data) > self.limits.max_size:
            self.stats.dropped += 1
            return
        digest = hashlib.blake2b(ip.encode() + b"\0" + data, digest_size=16).digest()
        if digest in self.seen:
            return
        count = self.per_source.get(ip, 0)
        if count >= self.limits.max_per_source or self.kept >= self.limits.max_total:
            self.stats.dropped += 1
            return
        self.seen.add(digest)
        self.per_source[ip] = count + 1
        self.kept += 1
        try:
            self.on_datagram(Datagram(ip, port, data))
        except Exception as exc:
            # A reply the handler could not read costs that reply only: counted and noted,
            # never an event-loop traceback that also drops it from the statistics.
            self.stats.errors += 1
            if len(self.stats.notes) < MAX_NOTES:
                self.stats.notes.append(
                    f"reply from {ip} not read: {type(exc).__name__}: {str(exc)[:80]}"
                )

    def error_received(self, exc: Exception) -> None:
        self.stats.errors += 1
        self.stats.notes.append(f"receive error: {exc}")


def send_offsets(
    resend_at: Sequence[float], window_s: float, reply_within_s: float, retries: int
) -> tuple[list[float], str | None]:
    """When to send each copy of a request, and a note if answers may outlast the window.

    The first copy goes at once; a repeat (only with retries) goes only if the answers it draws,
    due within `reply_within_s` of it, still land inside the window -- a later one would only
    draw answers nobody waits for.
    """
    first, *repeats = sorted(resend_at)
    kept = [first] + [o for o in repeats if retries > 0 and o + reply_within_s <= window_s]
    if first + reply_within_s <= window_s:
        return kept, None
    return kept, (
        f"devices may answer up to {reply_within_s:g} s after the request; the "
        f"{window_s:g} s listen window closes before the late ones arrive"
    )


def buffer_note(granted: int, wanted: int = RCVBUF) -> str | None:
    """A note when the kernel granted a smaller receive buffer than a crowd of replies needs."""
    if granted >= wanted:
        return None
    return (
        f"receive buffer {granted // 1024} KB, not {wanted // 1024} KB (net.core.rmem_max; "
        "root or CAP_NET_ADMIN lifts it): replies arriving at once may overflow it"
    )


def snmp_counters(text: str) -> dict[str, int]:
    """`Proto.Field` -> value of /proc/net/snmp (header line, then value line, per protocol)."""
    out: dict[str, int] = {}
    lines = text.splitlines()
    for head, values in zip(lines[::2], lines[1::2], strict=False):
        proto, _, names = head.partition(":")
        vproto, _, nums = values.partition(":")
        if proto != vproto:
            continue
        for name, num in zip(names.split(), nums.split(), strict=False):
            try:
                out[f"{proto}.{name}"] = int(num)
            except ValueError:
                continue
    return out


def reassembly_failures() -> int | None:
    """IP datagrams the kernel could not reassemble so far (Ip ReasmFails of the namespace)."""
    # A 4 KB ProbeMatch travels in three fragments; one lost fragment loses the reply before
    # it reaches any socket, so no socket's drop counter sees it.
    try:
        with open("/proc/net/snmp", encoding="ascii") as table:
            return snmp_counters(table.read()).get("Ip.ReasmFails")
    except OSError:
        return None


def open_socket(
    interface: str | None,
    source_ip: str | None,
    *,
    port: int = 0,
    groups: Sequence[str] = (),
    broadcast: bool = False,
    notes: list[str] | None = None,
) -> socket.socket:
    """A non-blocking UDP socket bound to `interface`, joined to `groups` on it only."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, RCVBUF)
        except OSError:  # unprivileged: as much as net.core.rmem_max allows
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        # socket(7): the kernel doubles the value set and reports the doubled size.
        granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) // 2
        if notes is not None and (note := buffer_note(granted)):
            notes.append(note)
        if interface:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
            except PermissionError:  # needs CAP_NET_RAW; the group joins below still pin it
                if notes is not None:
                    notes.append(
                        f"not bound to {interface} (no CAP_NET_RAW): multicast "
                        "stays on it, broadcast follows the routing table"
                    )
        if broadcast:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
        # Only the groups this socket joined, not every group joined in the namespace.
        sock.setsockopt(socket.IPPROTO_IP, _IP_MULTICAST_ALL, 0)
        local = socket.inet_aton(source_ip or "0.0.0.0")
        ifindex = socket.if_nametoindex(interface) if interface else 0
        if source_ip:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, local)
        for group in groups:
            # struct ip_mreqn: group, local address, interface index -- this interface only.
            mreqn = struct.pack("=4s4si", socket.inet_aton(group), local, ifindex)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
        try:
            sock.bind(("", port))
        except OSError:
            if port == 0:
                raise
            sock.bind(("", 0))  # the well-known port is taken: unicast replies still arrive
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def drain(
    sock: socket.socket,
    receive: Callable[[bytes, tuple[str, int]], None],
    limit: int = 4 * MAX_TOTAL,
) -> int:
    """Hand every datagram already queued on non-blocking `sock` to `receive`; reads made."""
    count = 0
    while count < limit:
        count += 1
        try:
            data, addr = sock.recvfrom(65535)
        except BlockingIOError:
            break
        except OSError:  # an ICMP error reported on the socket; datagrams may follow it
            continue
        receive(data, addr)
    return count


def kernel_drops(sock: socket.socket) -> int | None:
    """Datagrams the kernel dropped on this UDP socket (its `drops` in /proc/net/udp)."""
    # The counter (sk_drops) counts receive-buffer overflows; SO_RXQ_OVFL would report it
    # per datagram but needs recvmsg, which asyncio's datagram transport does not use.
    try:
        inode = str(os.fstat(sock.fileno()).st_ino)
        with open("/proc/net/udp", encoding="ascii") as table:
            for line in table:
                fields = line.split()
                if len(fields) >= 13 and fields[9] == inode:
                    return int(fields[-1])
    except (OSError, ValueError):
        return None
    return None


async def exchange(
    ctx: ScanContext,
    method: str,
    sends: Sequence[tuple[bytes, tuple[str, int]]],
    on_datagram: Callable[[Datagram], None],
    *,
    max_size: int,
    port: int = 0,
    groups: Sequence[str] = (),
    broadcast: bool = False,
    max_per_source: int = MAX_PER_SOURCE,
    resend_at: Sequence[float] = RESEND_AT_S,
    reply_within: float = REPLY_WITHIN_S,
    fresh_at: Sequence[float] = (),
    fresh: Callable[[], Sequence[tuple[bytes, tuple[str, int]]]] | None = None,
) -> None:
    """Send each payload at each `resend_at` offset, hand replies to `on_datagram` for the window.

    Offsets past the first are used only when settings.retries > 0; the protocol's own rules
    set them (how often, how far apart a client may repeat itself) and how long after a
    request its answers may come (`reply_within`): see send_offsets. At each `fresh_at`
    offset (also one of the copies) `fresh()` gives new payloads, sent then and at the offsets
    after it: a new request, not a repeat, for protocols whose devices ignore repeats.
    """
    stats = ctx.stat(method)
    try:
        sock = open_socket(
            ctx.interface,
            ctx.source_ip,
            port=port,
            groups=groups,
            broadcast=broadcast,
            notes=stats.notes,
        )
    except OSError as exc:
        stats.errors += 1
        stats.notes.append(f"cannot open UDP socket: {exc}")
        return
    if port and sock.getsockname()[1] != port:
        stats.notes.append(f"UDP port {port} busy: multicast replies may be missed")
    ignore = frozenset({ctx.source_ip}) if ctx.source_ip else frozenset()
    limits = _Limits(max_size, max_per_source, MAX_TOTAL, ignore)
    if (root := ctx.settings.save_captures) is not None:
        handle = on_datagram

        def on_datagram(datagram: Datagram) -> None:
            save_capture(root, method, datagram)
            handle(datagram)

    loop = asyncio.get_running_loop()
    collector = _Collector(limits, stats, on_datagram)
    transport, _ = await loop.create_datagram_endpoint(lambda: collector, sock=sock)
    window = ctx.settings.listen_window_s
    new_requests = frozenset(fresh_at) if fresh is not None else frozenset()
    offsets, late = send_offsets(
        [*resend_at, *new_requests], window, reply_within, ctx.settings.retries
    )
    if late:
        stats.notes.append(late)
    reasm_before = reassembly_failures()
    started = loop.time()
    try:
        for offset in offsets:
            if (delay := started + offset - loop.time()) > 0:
                await asyncio.sleep(delay)
            if offset in new_requests and fresh is not None:
                sends = fresh()
            for payload, dest in sends:
                try:
                    transport.sendto(payload, dest)
                    stats.sent += 1
                    traffic_log.debug("udp -> %s:%d %r", dest[0], dest[1], payload[:256])
                except OSError as exc:
                    stats.errors += 1
                    stats.notes.append(f"send to {dest[0]}:{dest[1]} failed: {exc}")
        remaining = window - (loop.time() - started)
        if remaining > 0:
            await asyncio.sleep(remaining)
    finally:
        # A busy event loop reads one datagram per turn: answers that arrived in the window may
        # still wait in the socket, and closing it would discard them without a trace.
        drain(sock, collector.datagram_received)
        if (drops := kernel_drops(sock)) is not None:
            stats.kernel_dropped = (stats.kernel_dropped or 0) + drops
            if drops:
                stats.notes.append(f"the kernel dropped {drops} datagrams: receive buffer full")
        transport.close()
    reasm_after = reassembly_failures()
    if reasm_before is not None and reasm_after is not None and reasm_after > reasm_before:
        stats.notes.append(
            f"the kernel could not reassemble {reasm_after - reasm_before} fragmented "
            "datagrams while listening (a host-wide count): a reply may have been lost"
        )
