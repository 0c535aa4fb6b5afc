"""ARP sweep end to end in the default lab: completeness, MACs, duplicates, pacing."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from camscan.context import ScanContext, ScanSettings
from camscan.discovery.arp import ArpResult, sweep
from camscan.models import Evidence
from camscan.targets import parse_targets, resolve_interface

pytestmark = pytest.mark.lab


def run_sweep(
    lab: Any, specs: list[str], **settings: Any
) -> tuple[ArpResult, ScanContext, list[Evidence]]:
    """Sweep `specs` from the scanner's namespace."""
    found: list[Evidence] = []
    targets = parse_targets(specs)
    with lab.in_scanner():
        iface = resolve_interface(None, targets)
        ctx = ScanContext(
            settings=ScanSettings(**settings),
            interface=iface.name,
            source_ip=str(iface.ip),
            in_scope=targets,
            emit=found.append,
        )
        result = asyncio.run(sweep(ctx, iface, targets.addresses()))
    return result, ctx, found


def subnet_devices(lab: Any) -> dict[ipaddress.IPv4Address, str]:
    net = ipaddress.ip_network(lab.spec.settings.scan_subnet)
    return {
        ipaddress.IPv4Address(d.ip): d.mac.lower()
        for d in lab.devices
        if ipaddress.IPv4Address(d.ip) in net
    }


def test_scanner_interface_is_resolved_without_packets(lab: Any) -> None:
    with lab.in_scanner():
        iface = resolve_interface(None, parse_targets([lab.spec.settings.scan_subnet]))
    assert iface.name == lab.scanner_interface
    assert str(iface.ip) == lab.scanner_ip
    assert iface.mac == lab.scanner_mac.lower()


def test_sweep_finds_every_device_with_its_mac(lab: Any) -> None:
    want = subnet_devices(lab)
    assert len(want) >= 40
    result, ctx, found = run_sweep(lab, [lab.spec.settings.scan_subnet])
    assert result.macs() == want  # 100 %, every MAC right, nothing invented
    # One evidence item per (ip, mac), nothing else.
    pairs = [(e.host, e.value) for e in found]
    assert sorted(pairs) == sorted((str(ip), mac) for ip, mac in want.items())
    assert all(e.source == "arp" and e.key == "mac" and e.raw for e in found)
    stat = ctx.stat("arp")
    assert stat.answered == len(want)
    assert stat.sent >= 254 and stat.errors == 0
    assert stat.notes == []  # no duplicates in the default lab
    assert all(0 <= h.seconds <= result.duration_s for h in result.hosts.values())


@contextlib.contextmanager
def extra_addresses(lab: Any, adds: list[tuple[str, str]]) -> Iterator[None]:
    """Temporarily give devices extra addresses: (device name, ip)."""
    done: list[tuple[str, str]] = []
    try:
        for name, ip in adds:
            ns = lab.device(name).netns
            subprocess.run(
                ["ip", "-n", ns, "addr", "add", f"{ip}/32", "dev", lab.device(name).ifname],
                check=True,
            )
            done.append((ns, ip))
        yield
    finally:
        for ns, ip in done:
            subprocess.run(["ip", "-n", ns, "addr", "del", f"{ip}/32", "dev", "eth0"], check=False)


def test_duplicates_are_reported_not_hidden(lab: Any) -> None:
    a, b = lab.device("hostile-silent"), lab.device("hostile-garbage")
    conflict, alias = "198.18.0.250", "198.18.0.251"
    with extra_addresses(
        lab,
        [("hostile-silent", conflict), ("hostile-garbage", conflict), ("hostile-silent", alias)],
    ):
        result, ctx, found = run_sweep(lab, [f"{a.ip}-{alias}"])
    ip = ipaddress.IPv4Address
    assert sorted(result.duplicate_ips()[ip(conflict)]) == sorted([a.mac, b.mac])
    assert result.shared_macs()[a.mac] == [ip(a.ip), ip(conflict), ip(alias)]
    notes = ctx.stat("arp").notes
    assert any(n.startswith(f"duplicate: {conflict} answered from") for n in notes)
    assert any(n.startswith(f"shared MAC: {a.mac} answered for") for n in notes)
    # Both MACs of the conflicting address reach the evidence stream, once each.
    assert sorted(e.value for e in found if e.host == conflict) == sorted([a.mac, b.mac])
    assert len({(e.host, e.value) for e in found}) == len(found)


def test_rate_pacing_and_retries_on_silent_addresses(lab: Any) -> None:
    # 198.18.2.0/24 holds no lab host: every address stays silent.
    silent = ["198.18.2.1-198.18.2.100"]
    result, _, found = run_sweep(lab, silent, rate=200, retries=0, arp_timeout_s=0.2)
    assert found == [] and result.sent == 100
    # 100 frames at 200/s: the first at t=0, the last at 99/200 s. Never faster than the
    # rate; a loaded machine may stretch it a little (late wake-ups are not caught up in bursts).
    assert 0.49 <= result.send_s <= 0.80, result.send_s
    result, _, _ = run_sweep(lab, silent, rate=1000, retries=2, arp_timeout_s=0.2)
    assert result.sent == 300  # every silent address asked three times
    # Pacing holds at the higher rate too: first pass 0.1 s, two retry rounds 0.2 s apart.
    assert 0.49 <= result.send_s <= 0.90, result.send_s


def test_retries_only_for_silent_addresses(lab: Any) -> None:
    dev = lab.device("hik-cam-lobby")
    result, _, found = run_sweep(lab, [f"{dev.ip}", "198.18.2.1"], retries=3, arp_timeout_s=0.1)
    assert result.sent == 1 + 4  # the camera once, the silent address 1 + 3 retries
    assert [(e.host, e.value) for e in found] == [(dev.ip, dev.mac.lower())]
