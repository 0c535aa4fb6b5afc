"""ARP sweep: pure request builder and reply parser, and a paced AF_PACKET transport."""

from __future__ import annotations

import asyncio
import ctypes
import errno
import socket
import struct
import time
from array import array
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address

from camscan.context import MAX_RATE, ScanContext
from camscan.models import Evidence
from camscan.targets import InterfaceInfo, TargetSet, from_addresses
from camscan.traffic import traffic_log

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

MAX_MACS_PER_IP = 16  # MACs kept per answering address (duplicates shown, floods capped)
MIN_RATE = 20  # packets/s; the rate controller never backs off below this
_TICK_S = 0.004  # pacing granularity: packets owed are sent in a batch every tick
# A loop busy with probes wakes the sweep late; up to this much of the rate is sent at once
# so the average holds (50 frames at 1,000/s: a trickle to any switch), never more.
_BURST_S = 0.05
_IDLE_POLL_S = 0.01  # while only listening, look this often whether to stop
# Rate control, delay-based (as LEDBAT, RFC 6817): the latency above the fastest answer seen is
# queueing somewhere -- a switch, a host's ARP backlog, a fragile camera. More than the target
# and the rate is cut; back under half of it and the rate climbs again towards the ceiling.
# An answer that came only to a repeated request is a loss (as in TCP): the rate is cut too.
_CONTROL_S = 0.05  # the controller looks this often
_CURRENT_FILTER = 4  # latency = the least of the last few answers' (RFC 6817 section 3.4.2)
_DELAY_TARGET_S = 0.1  # queueing delay tolerated before backing off
_DECREASE = 0.7  # multiplicative decrease per back-off
_INCREASE = 0.05  # additive increase per control period, as a fraction of the ceiling
_CALM_S = 0.5  # no increase for this long after a cut: losses are rare signals on a sparse range
# On a sparse range answers are rare: the last few can be seconds old. Each answer is acted on
# once (a cut needs an answer newer than the last cut), and answers older than this (or two
# smoothed round trips) no longer speak for the segment: the rate climbs back.
_STALE_S = 1.0
# How long a silent address is waited for: the retransmission timeout of RFC 6298 over the
# measured latencies (srtt + 4 * rttvar), not under _MIN_WAIT_S; settings.arp_timeout_s until
# the first answer is measured.
_MIN_WAIT_S = 0.25
_MAX_WAIT_S = 10.0  # however late answers come, one address is not waited for longer
_MAX_DRAIN_S = 30.0  # nor does the sweep listen longer than this after its last request
# Once losses are seen they come in bursts (a queue overflowing, a host busy): a silent address
# is then asked again no sooner than this, and as many more times as the loss seen calls for.
_LOSSY_RETRY_GAP_S = 0.5
# Each live host is missed only if every request to it (or its answer) is lost: with a loss
# rate p per request and k requests, p**k. Silent addresses get as many requests as keep that
# under _MISS_TARGET, never fewer than --retries + 1 nor more than _MAX_EXTRA_RETRIES beyond.
_MISS_TARGET = 1e-3
_MAX_EXTRA_RETRIES = 3
# Addresses given up on, remembered to learn from their late answers: 20 s of give-ups at the
# maximum rate. An answer later than that still records its host; only its delay goes unlearnt.
_GIVEN_UP_KEPT = 20_000
_RCVBUF = 4 * 1024 * 1024
_RECV_BATCH = 512  # frames drained per wake-up before yielding to the sender
_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # kernel receive time of each frame
_SOL_PACKET = getattr(socket, "SOL_PACKET", 263)
_PACKET_STATISTICS = 6  # linux/if_packet.h: struct tpacket_stats {packets, drops}, reset on read
_ANC_SIZE = socket.CMSG_SPACE(16)


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
    frame = (
        BROADCAST
        + sha
        + struct.pack("!H", ETH_P_ARP)
        + struct.pack("!HHBBH", 1, 0x0800, 6, 4, ARP_REQUEST)
        + sha
        + IPv4Address(src_ip).packed
        + b"\x00" * 6
        + IPv4Address(dst_ip).packed
    )
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
    ethertype = int.from_bytes(frame[offset : offset + 2], "big")
    if ethertype == ETH_P_8021Q:
        offset += 4
        if len(frame) < offset + 2:
            return None
        ethertype = int.from_bytes(frame[offset : offset + 2], "big")
    if ethertype != ETH_P_ARP:
        return None
    body = frame[offset + 2 : offset + 2 + _ARP_LEN]
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
        (0x28, 0, 0, 12),  # ldh [12]          ethertype
        (0x15, 0, 5, ETH_P_ARP),  # jeq #0x806        else drop
        (0x28, 0, 0, 20),  # ldh [20]          ARP opcode
        (0x15, 0, 3, ARP_REPLY),  # jeq #2            else drop
        (0x20, 0, 0, 38),  # ld  [38]          target protocol address
        (0x15, 0, 1, int(our_ip)),  # jeq #our_ip       else drop
        (0x06, 0, 0, 0x40000),  # ret #262144       accept
        (0x06, 0, 0, 0),  # ret #0            drop
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
    retried: int = 0  # of `sent`, requests repeated to a silent address
    answered_on_retry: int = 0  # addresses whose answer came only to a repeated request
    late: int = 0  # answers that came after the sweep had given up on the address
    errors: int = 0
    replies: int = 0  # reply frames received (before deduplication)
    dropped: int = 0  # replies from outside the sweep's addresses, or malformed
    kernel_dropped: int = 0  # frames the kernel dropped on our socket (its buffer was full)
    rate: int = 0  # the ceiling, packets/s (the setting, clamped to MAX_RATE)
    rate_min: float = 0.0  # the lowest rate the controller went down to
    backoffs: int = 0  # times the controller cut the rate
    latencies: array[float] = field(default_factory=lambda: array("d"))  # first-try answers, s
    send_s: float = 0.0  # first to last send
    pacing_s: float = 0.0  # of which the sweep had requests due (not waiting for retries)
    paced: int = 0  # requests sent in that time
    listen_s: float = 0.0  # last send to the end of listening
    duration_s: float = 0.0

    @property
    def rate_used(self) -> float:
        """The rate the sweep sent at, on average, while it had requests to send."""
        if self.pacing_s <= 0:
            return float(min(self.sent, self.rate))
        return round(min(self.paced / self.pacing_s, self.rate), 1)

    def latency_ms(self) -> dict[str, float] | None:
        """Answer latency: min, median, 95th percentile and max in ms; None with no answer."""
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
        return {
            name: round(v * 1000, 3)
            for name, v in (
                ("min", ordered[0]),
                ("median", _median(ordered)),
                ("p95", p95),
                ("max", ordered[-1]),
            )
        }

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
        """One line per duplicate, and how the rate was adapted, for `MethodStats.notes`."""
        out = [
            f"duplicate: {ip} answered from {', '.join(macs)}"
            for ip, macs in sorted(self.duplicate_ips().items())
        ]
        out += [
            f"shared MAC: {mac} answered for {_first(ips)}"
            for mac, ips in sorted(self.shared_macs().items())
        ]
        if self.late:
            out.append(
                f"{self.late} answers came after their address was given up: answers "
                "were queueing, the sweep slowed down and listened longer"
            )
        if self.answered_on_retry:
            out.append(
                f"{self.answered_on_retry} addresses answered only when asked again: "
                "requests or answers were lost"
            )
        if self.backoffs:
            out.append(
                f"answers slowed down or were lost: the rate was cut {self.backoffs} "
                f"times, down to {self.rate_min:.0f}/s of a {self.rate}/s ceiling"
            )
        if self.kernel_dropped:
            out.append(f"the kernel dropped {self.kernel_dropped} frames on the ARP socket")
        return out


def _median(ordered: Sequence[float]) -> float:
    """The median of sorted values (the statistics module pulls in decimal and fractions)."""
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _first(ips: Sequence[IPv4Address], shown: int = MAX_MACS_PER_IP) -> str:
    """A bounded list: proxy ARP answers for a whole subnet with one MAC."""
    more = f" and {len(ips) - shown} more" if len(ips) > shown else ""
    return ", ".join(map(str, ips[:shown])) + more


# ---------------------------------------------------------------------------- policy


def retransmit_timeout(srtt: float, rttvar: float, initial: float) -> float:
    """How long to wait for an answer: RFC 6298's srtt + 4 rttvar, bounded; `initial` unmeasured.

    `srtt` below zero means no answer has been measured yet.
    """
    if srtt < 0:
        return initial
    return min(_MAX_WAIT_S, max(_MIN_WAIT_S, srtt + 4 * rttvar))


def loss_rate(lost: int, answered: int) -> float:
    """The share of requests lost, from answered addresses of which `lost` needed a repeat."""
    return min(1.0, lost / answered) if answered > 0 else 0.0


def tries_needed(loss: float, retries: int) -> int:
    """Requests per silent address so that a live one is missed with odds under _MISS_TARGET."""
    base = retries + 1
    if loss <= 0 or retries == 0:  # --retries 0: the user asked for exactly one request
        return base
    most = base + _MAX_EXTRA_RETRIES
    if loss >= 1:
        return most
    tries = base
    while tries < most and loss**tries > _MISS_TARGET:
        tries += 1
    return tries


def rate_step(queueing: float, lost: bool, fresh: bool) -> int:
    """-1 to cut the rate, +1 to raise it, 0 to hold (LEDBAT-like, RFC 6817).

    `queueing` is the delay above the fastest answer (0 when the answers are too old to say),
    `lost` whether a loss was seen since the last look, `fresh` whether an answer came since
    the last cut: the same slow answers do not cut the rate again and again.
    """
    if lost or (fresh and queueing > _DELAY_TARGET_S):
        return -1
    if queueing < _DELAY_TARGET_S / 2:
        return 1
    return 0


def listen_deadline(
    last_send: float, last_answer: float, wait: float, oldest_due: float | None
) -> float:
    """When the sweep may stop listening (or must look again): the next request's wait ends."""
    if oldest_due is not None:
        return oldest_due
    return max(last_send, last_answer) + wait


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
        # Latency is measured from the kernel's arrival time, not from when this process
        # got round to reading: a busy machine must not look like a slow network.
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        sock.bind((iface.name, ETH_P_ARP))
        sock.setblocking(False)
        # Frames that arrived between socket() and the filter/bind: discard them.
        while True:
            try:
                sock.recv(64)
            except BlockingIOError:
                break
        kernel_drops(sock)  # the counter resets on read: start from zero
    except BaseException:
        sock.close()
        raise
    return sock


def kernel_drops(sock: socket.socket) -> int:
    """Frames the kernel dropped on this AF_PACKET socket since the last call (0 if unknown)."""
    try:
        raw = sock.getsockopt(_SOL_PACKET, _PACKET_STATISTICS, 8)
    except OSError:
        return 0
    return int(struct.unpack("II", raw)[1])


def _arrival(ancdata: list[tuple[int, int, bytes]], fallback: float) -> float:
    """The kernel's receive time of a frame as a time.time() value."""
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack("qq", data[:16])
            return float(sec) + float(nsec) / 1e9
    return fallback


class _Sweep:
    """State of one running sweep."""

    def __init__(self, ctx: ScanContext, iface: InterfaceInfo, targets: TargetSet) -> None:
        self.ctx = ctx
        self.iface = iface
        self.stat = ctx.stat("arp")
        self.ceiling = max(1, min(int(ctx.settings.rate), MAX_RATE))
        if self.ceiling != ctx.settings.rate:
            self.stat.notes.append(f"rate {ctx.settings.rate} clamped to {self.ceiling} packets/s")
        self.rate = float(self.ceiling)
        self.retries = max(0, int(ctx.settings.retries))
        self.timeout = max(0.0, float(ctx.settings.arp_timeout_s))
        self.targets = targets
        self.source: Iterator[int] = targets.shuffled()
        # Every request in send order, (sent, address, attempt); `inflight` holds the latest
        # unanswered send per address. Both stay about rate x wait long, whatever the range.
        self.order: deque[tuple[float, bytes, int]] = deque()
        self.inflight: dict[bytes, tuple[float, int]] = {}
        self.retry_ready: deque[tuple[bytes, int]] = deque()
        self.retry_turn = False  # whether a due retry goes before the next first request
        self.source_done = False
        self.given_up: dict[bytes, float] = {}  # silent after every try -> last send, oldest first
        self.answered: set[bytes] = set()
        self.seen: set[tuple[bytes, str]] = set()
        self.first_tries = 0
        self.last_answer = 0.0  # monotonic time of the latest new (ip, mac)
        # Latency estimates (RFC 6298 names): smoothed, its variation, and the fastest seen.
        self.srtt = -1.0
        self.rttvar = 0.0
        self.base = float("inf")
        self.recent: deque[float] = deque(maxlen=_CURRENT_FILTER)
        self.losses = 0  # answers that came only to a repeated request
        self.losses_seen = 0  # of those, already acted on
        self.last_sample = 0.0  # when the latest measured answer arrived
        self.samples_at_cut = 0  # latencies measured when the rate was last cut
        self.next_control = 0.0
        self.hold_until = 0.0
        self.calm_until = 0.0
        self.result = ArpResult(
            targets=targets.size, rate=self.ceiling, rate_min=float(self.ceiling)
        )
        self.template = bytearray(build_request(iface.mac, iface.ip, "0.0.0.0"))
        self.t0 = 0.0
        self.clock_offset = 0.0  # time.time() - time.monotonic(), for kernel timestamps

    # -- receiving ------------------------------------------------------------------------
    def on_readable(self, sock: socket.socket) -> None:
        for _ in range(_RECV_BATCH):
            try:
                frame, ancdata, _, _ = sock.recvmsg(2048, _ANC_SIZE)
            except BlockingIOError:
                return
            except OSError:
                self.result.errors += 1
                return
            now = time.monotonic()
            self.on_frame(
                frame, min(now, _arrival(ancdata, now + self.clock_offset) - self.clock_offset)
            )

    def on_frame(self, frame: bytes, arrived: float) -> None:
        try:
            reply = parse_reply(frame)
        except ParseError:
            self.result.dropped += 1
            return
        if reply is None:
            return
        self.result.replies += 1
        packed = reply.sender_ip.packed
        if not self.targets.contains_int(int(reply.sender_ip)):
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
        self.last_answer = arrived
        sent = self.inflight.pop(packed, None)
        if sent is not None and sent[1] == 0:
            # Only answers to a single request: after a retry, which one was answered is
            # unknown (Karn's algorithm).
            self.measure(max(0.0, arrived - sent[0]), arrived)
        elif sent is not None:
            self.losses += 1
            self.result.answered_on_retry += 1
        elif (given_up := self.given_up.pop(packed, None)) is not None:
            # An answer after the sweep gave up on the address: answers are queueing longer
            # than it waits. Its delay since the last request is a lower bound of the latency;
            # folded in, the waits (and the final listening) grow to match, and the rate is cut.
            self.result.late += 1
            self.losses += 1
            self.measure(max(0.0, arrived - given_up), arrived)
        if known is None:
            self.result.hosts[reply.sender_ip] = ArpHost(
                reply.sender_ip, reply.sender_mac, round(arrived - self.t0, 6)
            )
        else:
            known.other_macs.append(reply.sender_mac)
        self.ctx.emit(
            Evidence(
                host=str(reply.sender_ip),
                source="arp",
                key="mac",
                value=reply.sender_mac,
                raw=frame[:42].hex(),
            )
        )

    def measure(self, rtt: float, at: float) -> None:
        """Fold the latency of one answer that arrived `at` into the estimates (RFC 6298 §2)."""
        self.result.latencies.append(rtt)
        self.last_sample = at
        self.base = min(self.base, rtt)
        self.recent.append(rtt)
        if self.srtt < 0:
            self.srtt, self.rttvar = rtt, rtt / 2
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - rtt)
            self.srtt = 0.875 * self.srtt + 0.125 * rtt

    def wait(self) -> float:
        """How long a request is waited for before its address counts as silent."""
        return retransmit_timeout(self.srtt, self.rttvar, self.timeout)

    def tries(self) -> int:
        """Requests each silent address gets, given the losses seen so far."""
        return tries_needed(loss_rate(self.losses, len(self.answered)), self.retries)

    def retry_wait(self) -> float:
        """How long after a request its address is asked again (or given up)."""
        if self.losses and self.retries:
            return max(self.wait(), _LOSSY_RETRY_GAP_S)
        return self.wait()

    def control(self, now: float) -> None:
        """Back the rate off while answers queue up; climb back to the ceiling once they don't."""
        if now < self.next_control:
            return
        self.next_control = now + _CONTROL_S
        lost = self.losses > self.losses_seen
        self.losses_seen = self.losses
        if not self.recent and not lost:
            return
        # One slow answer on a busy machine is noise; queueing shows in every recent one.
        stale = now - self.last_sample > max(_STALE_S, 2 * self.srtt)
        queueing = 0.0 if stale else min(self.recent) - self.base
        fresh = len(self.result.latencies) > self.samples_at_cut
        step = rate_step(queueing, lost, fresh)
        if step < 0 and now >= self.hold_until:  # one cut per round trip: let it take effect
            self.rate = max(float(MIN_RATE), self.rate * _DECREASE)
            self.result.backoffs += 1
            self.result.rate_min = min(self.result.rate_min, self.rate)
            self.hold_until = now + max(_CONTROL_S, self.srtt)
            self.calm_until = now + _CALM_S
            self.samples_at_cut = len(self.result.latencies)
        elif step > 0 and self.rate < self.ceiling and now >= self.calm_until:
            self.rate = min(float(self.ceiling), self.rate + self.ceiling * _INCREASE)

    # -- sending --------------------------------------------------------------------------
    def expire(self, now: float) -> None:
        """Addresses waited for long enough: queue a retry, or give them up as silent."""
        wait, retries = self.retry_wait(), self.tries() - 1
        while self.order and self.order[0][0] + wait <= now:
            sent, packed, attempt = self.order.popleft()
            latest = self.inflight.get(packed)
            if latest is None or latest[0] != sent:
                continue  # answered, or asked again since
            if attempt < retries:
                self.retry_ready.append((packed, attempt + 1))
            else:
                del self.inflight[packed]
                self.given_up[packed] = sent
                if len(self.given_up) > _GIVEN_UP_KEPT:
                    del self.given_up[next(iter(self.given_up))]  # the oldest

    def next_frame(self) -> tuple[bytes, int] | None:
        """The next address to ask, or None when none is due.

        Due retries and first requests take turns: served first, retries would hold the first
        requests back until the sending idles at the end, waiting for the last retries to fall
        due; by turns, the last first request goes out while retries are still owed.
        """
        self.retry_turn = not self.retry_turn
        if (self.retry_turn or self.source_done) and (retry := self.due_retry()):
            return retry
        for value in self.source:
            self.first_tries += 1
            return value.to_bytes(4, "big"), 0
        self.source_done = True
        return self.due_retry()

    def due_retry(self) -> tuple[bytes, int] | None:
        """The oldest due retry of an address still silent."""
        while self.retry_ready:
            packed, attempt = self.retry_ready.popleft()
            if packed not in self.answered:
                return packed, attempt
        return None

    def send_one(self, sock: socket.socket, packed: bytes, attempt: int) -> bool:
        """Send one request; False when the kernel queue is full (try again later)."""
        self.template[38:42] = packed
        now = time.monotonic()  # before: on a veth the answer can arrive inside send()
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
        if attempt:
            self.result.retried += 1
        self.inflight[packed] = (now, attempt)
        self.order.append((now, packed, attempt))
        return True

    def deadline(self) -> float:
        """When the oldest request's wait ends, or (none left) when listening may stop."""
        oldest = self.order[0][0] + self.retry_wait() if self.order else None
        return listen_deadline(self.last_send, self.last_answer, self.wait(), oldest)

    def done_listening(self, now: float) -> bool:
        """Nothing left to ask, every request waited for, and no answer lately."""
        if self.retry_ready or self.order:
            return False
        return now >= self.deadline()

    async def run(self, sock: socket.socket) -> ArpResult:
        loop = asyncio.get_running_loop()
        self.t0 = time.monotonic()
        self.clock_offset = time.time() - self.t0
        loop.add_reader(sock.fileno(), self.on_readable, sock)
        first_send: float | None = None
        self.last_send = self.t0
        backlog: tuple[bytes, int] | None = None
        exhausted = False
        tokens, last_tick = 1.0, self.t0
        pacing = False  # requests were due since the last round
        try:
            while True:
                now = time.monotonic()
                if pacing:
                    self.result.pacing_s += now - last_tick
                self.on_readable(sock)  # answers already queued count before anything expires
                self.expire(now)
                self.control(now)
                # A token bucket at the current rate; a late wake-up earns at most _BURST_S of
                # it, so a long stall is not caught up with a flood.
                burst = max(2.0, self.rate * _BURST_S)
                tokens = min(burst, tokens + (now - last_tick) * self.rate)
                last_tick = now
                while tokens >= 1:
                    item = backlog or self.next_frame()
                    backlog = None
                    if item is None:
                        exhausted = True
                        break
                    if not self.send_one(sock, *item):
                        backlog = item  # kernel queue full: retry on the next tick
                        break
                    tokens -= 1
                    self.result.paced += 1
                    self.last_send = time.monotonic()
                    if first_send is None:
                        first_send = self.last_send
                self.ctx.progress("arp", self.first_tries, self.result.targets)
                pacing = not exhausted or backlog is not None
                if exhausted and backlog is None:
                    if self.done_listening(now):
                        break
                    if now - self.last_send > _MAX_DRAIN_S:
                        self.stat.notes.append(
                            f"stopped listening {_MAX_DRAIN_S:.0f} s after "
                            "the last request with answers still due"
                        )
                        break
                    exhausted = False  # a retry may fall due: look again next round
                    # Wake when the next wait ends, not up to a poll period after it.
                    idle = min(_IDLE_POLL_S, max(0.0, self.deadline() - time.monotonic()))
                    await asyncio.sleep(_TICK_S if self.retry_ready else idle)
                    continue
                await asyncio.sleep(_TICK_S)
        finally:
            loop.remove_reader(sock.fileno())
            self.on_readable(sock)  # whatever is already queued
            self.result.kernel_dropped += kernel_drops(sock)
        end = time.monotonic()
        if first_send is not None:
            self.result.send_s = round(self.last_send - first_send, 6)
            self.result.listen_s = round(end - self.last_send, 6)
        self.result.duration_s = round(end - self.t0, 6)
        return self.result


async def sweep(
    ctx: ScanContext, iface: InterfaceInfo, addresses: TargetSet | Iterable[IPv4Address]
) -> ArpResult:
    """ARP-ask every address in random order, the rate adapted under `ctx.settings.rate`.

    Emits one `mac` evidence item per (ip, mac). A TargetSet is streamed (only the part inside
    the interface's network is asked), so memory does not grow with the range.
    """
    targets = (
        addresses.clip(iface.network)
        if isinstance(addresses, TargetSet)
        else from_addresses(addresses)
    )
    state = _Sweep(ctx, iface, targets)
    stat = state.stat
    if targets.size == 0:
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
        stat.retried = (stat.retried or 0) + r.retried
        stat.kernel_dropped = (stat.kernel_dropped or 0) + r.kernel_dropped
        stat.rate_used = r.rate_used
        stat.latency_ms = r.latency_ms()
    stat.notes.extend(result.notes())
    return result


async def discover(ctx: ScanContext) -> None:
    """The ARP discoverer: sweep `ctx.sweep_targets` on `ctx.iface` (nothing without a segment)."""
    if ctx.iface is not None and ctx.sweep_targets is not None:
        await sweep(ctx, ctx.iface, ctx.sweep_targets)
