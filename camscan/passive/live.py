"""Live capture on one interface with an AF_PACKET socket that is only ever read, never written.

Needs CAP_NET_RAW and nothing else. The socket receives every frame of the interface (the
interface is put in promiscuous mode through the socket's membership, which the kernel undoes
when the socket closes, so a mirrored SPAN port is heard whole); frames the host itself sends
are skipped, so camscan hears the network, not its own machine.
"""

from __future__ import annotations

import select
import socket
import struct
import time
from collections.abc import Callable
from typing import NamedTuple

from camscan.discovery.arp import kernel_drops

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_OUTGOING = 4
RCVBUF = 8 << 20
SNAPLEN = 65535


class LiveError(Exception):
    """The capture cannot start; one line for the user."""


def open_capture(interface: str, *, promiscuous: bool = True) -> socket.socket:
    """A packet socket bound to `interface`; LiveError without CAP_NET_RAW or the interface."""
    try:
        index = socket.if_nametoindex(interface)
    except OSError:
        raise LiveError(f"no interface named {interface!r}") from None
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    except PermissionError:
        raise LiveError(
            "listening needs CAP_NET_RAW (run as root, or "
            "setcap cap_net_raw+ep on the Python interpreter)"
        ) from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        sock.bind((interface, ETH_P_ALL))
        if promiscuous:
            mreq = struct.pack("iHH8s", index, PACKET_MR_PROMISC, 0, b"")
            sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
    except OSError as exc:
        sock.close()
        raise LiveError(f"cannot listen on {interface}: {exc.strerror or exc}") from None
    return sock


class Captured(NamedTuple):
    """What one capture read, and what the kernel dropped before it could (buffer full)."""

    frames: int
    dropped: int

    def problems(self) -> list[str]:
        """The scope statement's line about lost frames, if any were lost."""
        if not self.dropped:
            return []
        return [
            f"the kernel dropped {self.dropped} frames on the capture socket (its buffer was "
            "full): devices heard only in those frames are missing"
        ]


def capture(
    sock: socket.socket,
    duration_s: float,
    on_frame: Callable[[float, bytes], None],
    tick: Callable[[], None] | None = None,
    tick_s: float = 1.0,
    stop: Callable[[], bool] | None = None,
    outgoing: bool = False,
) -> Captured:
    """Read frames for `duration_s` (the host's own outgoing ones only if asked)."""
    deadline = time.monotonic() + duration_s
    next_tick = time.monotonic() + tick_s
    buf = bytearray(SNAPLEN)
    view = memoryview(buf)
    n = 0
    while True:
        now = time.monotonic()
        if now >= deadline or (stop is not None and stop()):
            break
        if tick is not None and now >= next_tick:
            tick()
            next_tick = now + tick_s
        ready, _, _ = select.select([sock], [], [], min(0.25, deadline - now))
        if not ready:
            continue
        try:
            size, addr = sock.recvfrom_into(buf)
        except BlockingIOError:
            continue
        if addr[2] == PACKET_OUTGOING and not outgoing:
            continue
        n += 1
        on_frame(time.time(), bytes(view[:size]))
    if tick is not None:
        tick()
    # The kernel counts since the socket opened (PACKET_STATISTICS resets on read): one read.
    return Captured(n, kernel_drops(sock))


def parse_duration(text: str) -> float:
    """'10m', '90s', '1h', '45' (seconds) -> seconds; ValueError otherwise."""
    text = text.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    scale = units.get(text[-1:])
    number = text[:-1] if scale is not None else text
    value = float(number) * (scale or 1)
    if not 0 < value <= 31 * 86400 or value != value:
        raise ValueError(f"duration {text!r} must be positive and at most 31 days")
    return value


__all__ = ["Captured", "LiveError", "capture", "open_capture", "parse_duration"]
