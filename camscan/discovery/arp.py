"""ARP sweep: pure request builder and reply parser, and a paced AF_PACKET transport."""

from __future__ import annotations

import asyncio
import ctypes
import errno
import heapq
import random
import socket
import struct
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address

from camscan.context import ScanContext, traffic_log
from camscan.models import Evidence
from camscan.targets import InterfaceInfo

# ---------------------------------------------------------------------------- constants

ETH_P_ARP = 0x0806
ETH_P_8021Q = 0x8100
ARP_REQUEST = 1
ARP_REPLY = 2
FRAME_LEN = 60  # Ethernet minimum without FCS; the request is zero-padded up to it
_ARP_LEN = 28  # IPv4-over-Ethernet ARP body
BROADCAST = b"\xff" * 6
_SO_ATTACH_FILTER = 26  # linux/asm-generic/socket.h; not exported by Python's socket module
_SO_RCVBUFFORCE = 33  # same; lets root exceed rmem_max

DEFAULT_RATE = 500  # packets/s; ScanSettings.rate, the documented --rate default
MAX_MACS_PER_IP = 16  # MACs kept per answering address (duplicates shown, floods capped)
MAX_RATE = 1_000  # packets/s; higher values are clamped (as the CLI's --rate range)
_TICK_S = 0.004  # pacing granularity: packets owed are sent in a batch every tick
_ALL_ANSWERED_GRACE_S = 0.05  # every target answered: wait this long for late duplicates
_IDLE_POLL_S = 0.01  # while idle, look this often whether waiting is still needed
_MAX_WAIT_TIMEOUTS = 3  # answers still arriving extend the final wait up to 3 timeouts
_MIN_RETRY_GAP_S = 0.1  # the adaptive retry gap never goes below this
_RTT_FACTOR = 4  # retry gap = this many times the slowest answer seen
_RCVBUF = 4 * 1024 * 1024
_RECV_BATCH = 512  # frames drained per wake-up before yielding to the sender


class ParseError(Exception):
    """A frame claims to be ARP but is malformed."""


class ArpPermissionError(Exception):
    """Raw sockets need root or CAP_NET_RAW (one-line message)."""

    def __init__(self) -> None:
        super().__init__("ARP sweep needs root or CAP_NET_RAW (raw AF_PACKET socket)")


# ---------------------------------------------------------------------------- pure build/parse

def _mac_bytes(mac: str) -> bytes:
    digits = mac.replace(":", "").replace("-", "").replace(".", "")
    raw = bytes.fromhex(digits)
    if len(raw) != 6:
        raise ValueError(f"not a MAC address: {mac!r}")
    return raw


def format_mac(raw: bytes) -> str:
    """`aa:bb:cc:dd:ee:ff` for 6 raw bytes."""
    return raw.hex(":")


def build_request(src_mac: str, src_ip: IPv4Address | str, dst_ip: IPv4Address | str) -> bytes:
    """A 60-byte broadcast Ethernet frame carrying an ARP who-has `dst_ip` from us."""
    sha = _mac_bytes(src_mac)
    frame = (BROADCAST + sha + struct.pack("!H", ETH_P_ARP)
             + struct.pack("!HHBBH", 1, 0x0800, 6, 4, ARP_REQUEST)
             + sha + IPv4Address(src_ip).packed + b"\x00" * 6 + IPv4Address(dst_ip).packed)
    return frame.ljust(FRAME_LEN, b"\x00")


@dataclass(frozen=True, slots=True)
class ArpReply:
    """An ARP reply: who (sender IP) is at which MAC, and the frame's Ethernet source."""

    sender_mac: str
    sender_ip: IPv4Address
    target_mac: str
    target_ip: IPv4Address
    eth_src: str


def parse_reply(frame: bytes) -> ArpReply | None:
    """The ARP reply in an Ethernet frame; None for other traffic; ParseError if malformed ARP."""
    if len(frame) < 14:
        return None
    offset = 12
    ethertype = int.from_bytes(frame[offset:offset + 2], "big")
    if ethertype == ETH_P_8021Q:
        offset += 4
        if len(frame) < offset + 2:
            return None
        ethertype = int.from_bytes(frame[offset:offset + 2], "big")
    if ethertype != ETH_P_ARP:
        return None
    body = frame[offset + 2:offset + 2 + _ARP_LEN]
    if len(body) < 8:
        raise ParseError(f"ARP frame truncated at {len(frame)} bytes")
    htype, ptype, hlen, plen, op = struct.unpack_from("!HHBBH", body)
    if htype != 1 or ptype != 0x0800 or hlen != 6 or plen != 4:
        # Not IPv4-over-Ethernet ARP (e.g. another hardware type): not ours to read.
        if hlen != 6 or plen != 4:
            raise ParseError(f"ARP with hlen {hlen}, plen {plen}")
        return None
    if len(body) < _ARP_LEN:
        raise ParseError(f"ARP frame truncated at {len(frame)} bytes")
    if op != ARP_REPLY:
        return None
    return ArpReply(
        sender_mac=format_mac(body[8:14]),
        sender_ip=IPv4Address(body[14:18]),
        target_mac=format_mac(body[18:24]),
        target_ip=IPv4Address(body[24:28]),
        eth_src=format_mac(frame[6:12]),
    )


def reply_filter(our_ip: IPv4Address) -> bytes:
    """A classic BPF program: accept untagged ARP replies addressed to `our_ip`, drop the rest."""
    # (code, jt, jf, k); offsets into the untagged Ethernet frame.
    insns = [
        (0x28, 0, 0, 12),           # ldh [12]          ethertype
        (0x15, 0, 5, ETH_P_ARP),    # jeq #0x806        else drop
        (0x28, 0, 0, 20),           # ldh [20]          ARP opcode
        (0x15, 0, 3, ARP_REPLY),    # jeq #2            else drop
        (0x20, 0, 0, 38),           # ld  [38]          target protocol address
        (0x15, 0, 1, int(our_ip)),  # jeq #our_ip       else drop
        (0x06, 0, 0, 0x40000),      # ret #262144       accept
        (0x06, 0, 0, 0),            # ret #0            drop
    ]
    return b"".join(struct.pack("HBBI", *i) for i in insns)


# ---------------------------------------------------------------------------- result

@dataclass(slots=True)
class ArpHost:
    """One address that answered."""

    ip: IPv4Address
    mac: str  # the first MAC that answered for it
    seconds: float  # when it first answered, since the sweep started
    other_macs: list[str] = field(default_factory=list)  # more MACs for the same IP


@dataclass(slots=True)
class ArpResult:
    """What a sweep heard, and what it cost."""

    hosts: dict[IPv4Address, ArpHost] = field(default_factory=dict)
    targets: int = 0
    sent: int = 0
    errors: int = 0
    replies: int = 0  # reply frames received (before deduplication)
    dropped: int = 0  # replies from outside the sweep's addresses, or malformed
    rate: int = DEFAULT_RATE  # packets/s used
    send_s: float = 0.0  # first to last send
    duration_s: float = 0.0

    def macs(self) -> dict[IPv4Address, str]:
        """IP -> first answering MAC."""
        return {ip: h.mac for ip, h in self.hosts.items()}

    def duplicate_ips(self) -> dict[IPv4Address, list[str]]:
        """IPs answered by more than one MAC -> every MAC (an address conflict or a spoofer)."""
        return {ip: [h.mac, *h.other_macs] for ip, h in self.hosts.items() if h.other_macs}

    def shared_macs(self) -> dict[str, list[IPv4Address]]:
        """MACs that answered for more than one IP -> those IPs (proxy ARP, a router, aliases)."""
        by_mac: dict[str, list[IPv4Address]] = {}
        for ip, h in self.hosts.items():
            for mac in (h.mac, *h.other_macs):
                by_mac.setdefault(mac, []).append(ip)
        return {m: sorted(ips) for m, ips in by_mac.items() if len(ips) > 1}

    def notes(self) -> list[str]:
        """One line per duplicate, for `MethodStats.notes`."""
        out = [f"duplicate: {ip} answered from {', '.join(macs)}"
               for ip, macs in sorted(self.duplicate_ips().items())]
        out += [f"shared MAC: {mac} answered for {_first(ips)}"
                for mac, ips in sorted(self.shared_macs().items())]
        return out


def _first(ips: Sequence[IPv4Address], shown: int = MAX_MACS_PER_IP) -> str:
    """A bounded list: proxy ARP answers for a whole subnet with one MAC."""
    more = f" and {len(ips) - shown} more" if len(ips) > shown else ""
    return ", ".join(map(str, ips[:shown])) + more


# ---------------------------------------------------------------------------- transport

def check_raw_socket() -> None:
    """Raise ArpPermissionError unless this process may open AF_PACKET sockets (sends nothing)."""
    try:
        # Protocol 0: the socket receives nothing and is closed at once.
        socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0).close()
    except PermissionError:
        raise ArpPermissionError() from None


def open_socket(iface: InterfaceInfo) -> socket.socket:
    """A non-blocking AF_PACKET socket bound to `iface`, receiving only ARP replies to us."""
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    except PermissionError:
        raise ArpPermissionError() from None
    try:
        prog = reply_filter(iface.ip)
        buf = bytearray(prog)  # the kernel copies the program from this address
        addr = ctypes.addressof((ctypes.c_char * len(buf)).from_buffer(buf))
        fprog = struct.pack("HL", len(prog) // 8, addr)
        sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, fprog)
        try:
            sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, _RCVBUF)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)
        sock.bind((iface.name, ETH_P_ARP))
        sock.setblocking(False)
        # Frames that arrived between socket() and the filter/bind: discard them.
        while True:
            try:
                sock.recv(64)
            except BlockingIOError:
                break
    except BaseException:
        sock.close()
        raise
    return sock


class _Sweep:
    """State of one running sweep."""

    def __init__(self, ctx: ScanContext, iface: InterfaceInfo,
                 addresses: Sequence[IPv4Address]) -> None:
        self.ctx = ctx
        self.iface = iface
        self.stat = ctx.stat("arp")
        self.rate = max(1, min(int(ctx.settings.rate), MAX_RATE))
        if self.rate != ctx.settings.rate:
            self.stat.notes.append(f"rate {ctx.settings.rate} clamped to {self.rate} packets/s")
        self.retries = max(0, int(ctx.settings.retries))
        self.timeout = max(0.0, float(ctx.settings.arp_timeout_s))
        self.burst = max(4, int(self.rate * _TICK_S * 4))
        unique = list(dict.fromkeys(IPv4Address(a) for a in addresses))
        random.shuffle(unique)
        self.pending: deque[tuple[bytes, int]] = deque((a.packed, 0) for a in unique)
        self.retry_queue: list[tuple[float, bytes, int]] = []  # heap of (due, address, try)
        self.sent_at: dict[bytes, float] = {}  # latest send per address, for the RTT
        self.max_rtt = -1.0  # slowest answer seen so far; -1 before the first
        self.wanted = {a.packed for a in unique}
        self.answered: set[bytes] = set()
        self.last_answer = 0.0  # monotonic time of the latest new (ip, mac)
        self.seen: set[tuple[bytes, str]] = set()
        self.result = ArpResult(targets=len(unique), rate=self.rate)
        self.template = bytearray(build_request(iface.mac, iface.ip, "0.0.0.0"))
        self.t0 = 0.0

    # -- receiving ------------------------------------------------------------------------
    def on_readable(self, sock: socket.socket) -> None:
        for _ in range(_RECV_BATCH):
            try:
                frame = sock.recv(2048)
            except BlockingIOError:
                return
            except OSError:
                self.result.errors += 1
                return
            self.on_frame(frame)

    def on_frame(self, frame: bytes) -> None:
        now = time.monotonic() - self.t0
        try:
            reply = parse_reply(frame)
        except ParseError:
            self.result.dropped += 1
            return
        if reply is None:
            return
        self.result.replies += 1
        packed = reply.sender_ip.packed
        if packed not in self.wanted:
            self.result.dropped += 1
            return
        if traffic_log.isEnabledFor(10):
            traffic_log.debug("arp <- %s %s", reply.sender_ip, frame[:42].hex())
        key = (packed, reply.sender_mac)
        if key in self.seen:
            return
        known = self.result.hosts.get(reply.sender_ip)
        if known is not None and len(known.other_macs) >= MAX_MACS_PER_IP - 1:
            self.result.dropped += 1  # a spoofer's flood: enough MACs to show the conflict
            return
        self.seen.add(key)
        self.answered.add(packed)
        self.last_answer = self.t0 + now
        sent = self.sent_at.get(packed)
        if sent is not None:
            self.max_rtt = max(self.max_rtt, self.last_answer - sent)
        host = self.result.hosts.get(reply.sender_ip)
        if host is None:
            self.result.hosts[reply.sender_ip] = ArpHost(reply.sender_ip, reply.sender_mac,
                                                         round(now, 6))
        else:
            host.other_macs.append(reply.sender_mac)
        self.ctx.emit(Evidence(host=str(reply.sender_ip), source="arp", key="mac",
                               value=reply.sender_mac, raw=frame[:42].hex()))

    # -- sending --------------------------------------------------------------------------
    def next_frame(self, now: float) -> tuple[bytes, int] | None:
        """The next address to ask (due retries first), or None if nothing is due now."""
        while self.retry_queue and self.retry_queue[0][0] <= now:
            _, packed, attempt = heapq.heappop(self.retry_queue)
            if packed not in self.answered:
                return packed, attempt
        if self.pending:
            return self.pending.popleft()
        return None

    def retry_gap(self) -> float:
        """How long a silent address waits before it is asked again."""
        # Adaptive, like nmap's ARP ping: a few times the slowest answer seen so far, never
        # under _MIN_RETRY_GAP_S nor over the timeout; the full timeout until anyone answered.
        if self.max_rtt < 0:
            return self.timeout
        return min(self.timeout, max(_MIN_RETRY_GAP_S, _RTT_FACTOR * self.max_rtt))

    def send_one(self, sock: socket.socket, packed: bytes, attempt: int, now: float) -> bool:
        """Send one request; False when the kernel queue is full (try again later)."""
        self.template[38:42] = packed
        try:
            sock.send(self.template)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError as exc:
            if exc.errno == errno.ENOBUFS:
                return False
            self.result.errors += 1
            return True  # counted and skipped: the address gets its retries
        self.result.sent += 1
        if attempt < self.retries:
            heapq.heappush(self.retry_queue, (now + self.retry_gap(), packed, attempt + 1))
        self.sent_at[packed] = now
        return True

    async def drain(self, last_send: float) -> None:
        """Collect replies for `timeout` after the last send; a short grace once all answered."""
        # A congested segment answers late: while new hosts are still answering, keep
        # listening a timeout past the latest answer, up to _MAX_WAIT_TIMEOUTS timeouts.
        cap = last_send + _MAX_WAIT_TIMEOUTS * self.timeout
        while True:
            now = time.monotonic()
            deadline = min(cap, max(last_send, self.last_answer) + self.timeout)
            if now >= deadline:
                return
            if len(self.answered) == len(self.wanted):
                # Nothing more can come but duplicates, which arrive within milliseconds.
                await asyncio.sleep(min(_ALL_ANSWERED_GRACE_S, deadline - now))
                return
            await asyncio.sleep(min(_IDLE_POLL_S, deadline - now))

    async def run(self, sock: socket.socket) -> ArpResult:
        loop = asyncio.get_running_loop()
        self.t0 = time.monotonic()
        loop.add_reader(sock.fileno(), self.on_readable, sock)
        first_send = last_send = None
        try:
            sent_by_pacer = 0
            pace_t0 = time.monotonic()
            backlog: tuple[bytes, int] | None = None
            while self.pending or self.retry_queue or backlog:
                now = time.monotonic()
                owed = int((now - pace_t0) * self.rate) + 1 - sent_by_pacer
                if owed > self.burst:
                    # Woken late (a busy loop): never catch up with a burst; re-anchor pacing.
                    owed = self.burst
                    pace_t0 = now - (sent_by_pacer + owed - 1) / self.rate
                while owed > 0:
                    item = backlog or self.next_frame(now)
                    backlog = None
                    if item is None:
                        break
                    if not self.send_one(sock, item[0], item[1], now):
                        backlog = item  # kernel queue full: retry on the next tick
                        break
                    sent_by_pacer += 1
                    owed -= 1
                    last_send = now
                    if first_send is None:
                        first_send = now
                if not self.pending and not backlog and self.retry_queue:
                    while self.retry_queue and self.retry_queue[0][1] in self.answered:
                        heapq.heappop(self.retry_queue)
                    if not self.retry_queue:
                        break
                    wait = self.retry_queue[0][0] - time.monotonic()
                    if wait > _TICK_S:
                        # Idle until the next retry is due (answers may cancel it meanwhile);
                        # pacing restarts from there, so no burst follows the pause.
                        await asyncio.sleep(min(wait, _IDLE_POLL_S))
                        sent_by_pacer, pace_t0 = 0, time.monotonic()
                        continue
                self.ctx.progress("arp", self.result.targets - len(self.pending),
                                  self.result.targets)
                await asyncio.sleep(_TICK_S)
            await self.drain(last_send or time.monotonic())
        finally:
            loop.remove_reader(sock.fileno())
            self.on_readable(sock)  # whatever is already queued
        if first_send is not None and last_send is not None:
            self.result.send_s = round(last_send - first_send, 6)
        self.result.duration_s = round(time.monotonic() - self.t0, 6)
        return self.result


async def sweep(ctx: ScanContext, iface: InterfaceInfo,
                addresses: Sequence[IPv4Address]) -> ArpResult:
    """ARP-ask every address at `ctx.settings.rate` in random order; emit one mac per (ip, mac)."""
    state = _Sweep(ctx, iface, addresses)
    stat = state.stat
    if not state.wanted:
        return state.result
    sock = open_socket(iface)
    try:
        result = await state.run(sock)
    finally:
        sock.close()
        r = state.result
        stat.sent += r.sent
        stat.answered += len(r.hosts)
        stat.errors += r.errors
        stat.dropped += r.dropped
        stat.duration_s = r.duration_s
    stat.notes.extend(result.notes())
    return result
