"""What every discoverer and probe is handed: the scan's settings, limits and counters."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Container
from dataclasses import dataclass, field
from pathlib import Path

from camscan.models import EvidenceSink, MethodStats

# Raw packets in and out, for turning a field device into a test fixture (--debug-traffic).
traffic_log = logging.getLogger("camscan.traffic")


@dataclass(slots=True)
class ScanSettings:
    """Tunables of one scan; defaults are the documented CLI defaults."""

    rate: int = 1000  # ARP packets per second at most (the sweep adapts below it)
    retries: int = 1
    arp_timeout_s: float = 0.25  # wait for an ARP answer until answers' latency is measured
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
    save_captures: Path | None = None


@dataclass(slots=True)
class ScanContext:
    """Shared state of one running scan, handed to discoverers and probes."""

    settings: ScanSettings
    interface: str | None  # interface to bind to; None for routed targets
    source_ip: str | None  # our IPv4 address on that interface
    in_scope: Container[ipaddress.IPv4Address]  # the scan's targets
    emit: EvidenceSink
    stats: dict[str, MethodStats] = field(default_factory=dict)
    connections: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(64))
    # (phase, done, total): how far a long method has got, for progress bars.
    progress: Callable[[str, int, int | None], None] = lambda phase, done, total: None

    def stat(self, method: str) -> MethodStats:
        """The counters of `method`, created on first use."""
        if method not in self.stats:
            self.stats[method] = MethodStats(method)
        return self.stats[method]


# A discoverer sweeps or listens on the segment and emits evidence for every host it hears.
Discoverer = Callable[[ScanContext], Awaitable[None]]
# A probe talks to one host (by IP) and emits evidence about it.
Probe = Callable[[ScanContext, str], Awaitable[None]]
