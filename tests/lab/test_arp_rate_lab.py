"""The adaptive ARP sweep on a crowded segment: 1,000 live hosts on a /22 at the maximum rate."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from camscan.context import ScanContext, ScanSettings
from camscan.discovery.arp import MAX_RATE, sweep
from camscan.models import Evidence
from camscan.targets import parse_targets, resolve_interface
from camscan_lab.network import Lab

pytestmark = pytest.mark.lab

ONE_DEVICE = """
[lab]
scan_subnet = "198.18.0.0/24"
prefix_len = 15
scanner_ip = "198.18.0.2"
scanner_mac = "02:00:5e:10:00:02"

[[device]]
name = "lone-box"
ip = "198.18.0.50"
mac = "00:80:77:01:02:03"
role = "other"
"""


@pytest.fixture(scope="module")
def crowded(lab_prefix: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """One device and 1,000 fillers (198.18.4.1 on, filling the /22)."""
    root = tmp_path_factory.mktemp("crowded")
    (Path(root) / "devices.toml").write_text(ONE_DEVICE)
    lab = Lab(root, lab_prefix[:-1] + "c-", hosts=1000, owner_pid=os.getpid())
    try:
        lab.up()
        yield lab
    finally:
        lab.down()


def test_every_host_of_a_crowded_slash_22_at_the_maximum_rate(crowded: Lab) -> None:
    subnet = "198.18.4.0/22"
    want = {
        f.ip: f.mac.lower()
        for f in crowded.fillers
        if ipaddress.ip_address(f.ip) in ipaddress.ip_network(subnet)
    }
    assert len(want) == 1000
    found: list[Evidence] = []
    targets = parse_targets([subnet])
    with crowded.in_scanner():
        iface = resolve_interface(None, targets)
        ctx = ScanContext(
            settings=ScanSettings(rate=MAX_RATE),
            interface=iface.name,
            source_ip=str(iface.ip),
            in_scope=targets,
            emit=found.append,
        )
        started = time.monotonic()
        result = asyncio.run(sweep(ctx, iface, targets))
        took = time.monotonic() - started
    assert {str(ip): mac for ip, mac in result.macs().items()} == want
    stat = ctx.stat("arp")
    # What a reader needs to judge completeness is in the statistics.
    assert stat.answered == 1000 and stat.sent == 1022 + (stat.retried or 0)
    assert stat.retried is not None and stat.retried >= 22  # the silent ones, asked again
    assert stat.rate_used is not None and 0 < stat.rate_used <= MAX_RATE * 1.05
    assert stat.latency_ms is not None and stat.latency_ms["max"] >= stat.latency_ms["min"]
    assert took < 30, took
