"""Run one discoverer inside the lab's scanner namespace and collect what it emits."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Awaitable, Callable
from typing import Any

from camscan.context import ScanContext, ScanSettings
from camscan.models import Evidence, MethodStats

WINDOW_S = 2.5
Run = tuple[list[Evidence], dict[str, MethodStats], float]


def run_discoverer(
    lab: Any, discover: Callable[[ScanContext], Awaitable[None]], method: str
) -> Run:
    """(evidence, every method's stats, wall seconds) of one discoverer in the scanner ns."""
    found: list[Evidence] = []
    ctx = ScanContext(
        settings=ScanSettings(listen_window_s=WINDOW_S),
        interface=lab.scanner_interface,
        source_ip=lab.scanner_ip,
        in_scope=ipaddress.ip_network(lab.spec.settings.scan_subnet),
        emit=found.append,
        host_evidence=lambda host: [e for e in found if e.host == host],
    )
    with lab.in_scanner():
        started = time.monotonic()
        asyncio.run(discover(ctx))
        took = time.monotonic() - started
    print(f"{method}: {took:.2f} s, " + "; ".join(str(s) for s in ctx.stats.values()))
    return found, ctx.stats, took
