"""What every discoverer and probe is handed: the scan's settings, limits and counters."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Awaitable, Callable, Container, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from camscan.models import Evidence, EvidenceSink, MethodStats

if TYPE_CHECKING:
    import asyncio

    from camscan.targets import InterfaceInfo, TargetSet


class Method(StrEnum):
    """Everything `--probes` can switch on or off."""

    ARP = "arp"
    MDNS = "mdns"
    SSDP = "ssdp"
    WSD = "wsd"
    SADP = "sadp"
    DHIP = "dhip"
    BANNERS = "banners"


ALL_METHODS: tuple[Method, ...] = tuple(Method)

MAX_RATE = 1_000  # ARP packets/s; --rate's upper bound, higher values are clamped


@dataclass(frozen=True, slots=True)
class ScanSettings:
    """Tunables of one scan; these defaults are the CLI's defaults (the one place they live)."""

    rate: int = 1000  # ARP packets per second at most (the sweep adapts below it)
    retries: int = 1
    # Wait for an ARP answer until answers' latency is measured (then RFC 6298 over the samples,
    # at least 0.25 s). Hosts on a LAN answer ARP in milliseconds: this is the floor nmap puts
    # under its own timeout (--min-rtt-timeout, 100 ms). A slower answer still counts while the
    # sweep listens, and stretches every later wait.
    arp_timeout_s: float = 0.1
    listen_window_s: float = 2.5  # discovery listen window
    ports: tuple[int, ...] = (80, 443, 554, 8000, 8080, 8443, 8899, 37777, 34567)
    connect_timeout_s: float = 1.5
    read_timeout_s: float = 2.0
    host_budget_s: float = 6.0  # all probes of one host
    max_connections: int = 64
    max_per_host: int = 4
    deep: bool = False  # opt-in probes that talk to login endpoints (challenge only)
    onvif_user: str | None = None
    onvif_password: str | None = None
    # --onvif-hosts: addresses/CIDRs credentials may go to (None: every attributed camera)
    onvif_hosts: tuple[str, ...] | None = None
    save_captures: Path | None = None
    # Listen on the scan's interface while it runs and keep unprobed hosts heard (needs
    # CAP_NET_RAW; the listener sends nothing): `scan --passive-too`.
    passive_too: bool = False


def _semaphore(value: int) -> asyncio.Semaphore:
    # asyncio (~40 ms with ssl) is imported by the scan that makes a context, not by every
    # parser that names ScanContext or Method.
    import asyncio

    return asyncio.Semaphore(value)


@dataclass(slots=True)
class ScanContext:
    """Shared state of one running scan, handed to discoverers and probes."""

    settings: ScanSettings
    interface: str | None  # interface to bind to; None for routed targets
    source_ip: str | None  # our IPv4 address on that interface
    in_scope: Container[ipaddress.IPv4Address]  # the scan's targets
    emit: EvidenceSink
    stats: dict[str, MethodStats] = field(default_factory=dict)
    connections: asyncio.Semaphore = field(default_factory=lambda: _semaphore(64))
    # (phase, done, total): how far a long method has got, for progress bars.
    progress: Callable[[str, int, int | None], None] = lambda phase, done, total: None
    iface: InterfaceInfo | None = None  # the local segment swept, if any target is on one
    sweep_targets: TargetSet | None = None  # the targets on that segment
    # Evidence gathered so far about a host: per-host probes read what discovery saw.
    host_evidence: Callable[[str], Sequence[Evidence]] = lambda host: ()

    def stat(self, method: str) -> MethodStats:
        """The counters of `method`, created on first use."""
        if method not in self.stats:
            self.stats[method] = MethodStats(method)
        return self.stats[method]

    def set_duration(self, method: str, seconds: float) -> None:
        """The one writer of `MethodStats.duration_s`: how long `method` ran, as a whole."""
        self.stat(method).duration_s = round(seconds, 3)

    @contextmanager
    def timed(self, method: str) -> Iterator[MethodStats]:
        """Time the block as `method`'s duration."""
        started = time.monotonic()
        try:
            yield self.stat(method)
        finally:
            self.set_duration(method, time.monotonic() - started)


# A discoverer sweeps or listens on the segment and emits evidence for every host it hears.
Discoverer = Callable[[ScanContext], Awaitable[None]]
# A probe talks to one host (by IP) and emits evidence about it.
Probe = Callable[[ScanContext, str], Awaitable[None]]
# Maps one raw item (a whole response or reply) to the structured items its parser reads out
# of it; raises the protocol module's ParseError on input it cannot read.
Expander = Callable[[Evidence], list[Evidence]]


class HostProbe(NamedTuple):
    """A per-host probe and the `--probes` method that switches it on."""

    method: Method
    run: Probe
    # It reads what discovery heard of the host (ONVIF: the services it advertised), so it
    # runs once the listen window is over; the others start as soon as a host is known.
    after_discovery: bool = False


# A liveness check: does anything at this address answer a connection?
LivenessCheck = Callable[[ScanContext, str], Awaitable[bool]]
