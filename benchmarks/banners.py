#!/usr/bin/env python3
"""Benchmark: camscan's banner probes vs `nmap -sV --version-light` on the same lab hosts.

Run as root. The root namespace only orchestrates (creates the lab's namespaces); every probe
and every nmap packet runs inside the lab's scanner namespace. Two parts in one run:

1. the 254 filler HTTP hosts (`--hosts 254 --filler-http`): wall time of camscan's banner phase
   (goal ≤ 3 s) and of nmap on the same hosts, and their ratio;
2. the default spec's devices: which ones each tool names Hikvision or Dahua (camscan through
   identification on banner evidence only — no MAC, no discovery — so the comparison is fair).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from camscan.context import ScanContext, ScanSettings
from camscan.models import Evidence
from camscan.probes import banners
from camscan_lab.network import DEFAULT_SPEC, Lab

NMAP_PORTS = "80,554,8000"
TARGET_MAKERS = re.compile(r"hikvision|dahua", re.IGNORECASE)


async def probe_all(ips: Sequence[str], settings: ScanSettings) -> list[Evidence]:
    found: list[Evidence] = []
    ctx = ScanContext(settings, None, None, [], found.append)
    await asyncio.gather(*(banners.probe_host(ctx, ip) for ip in ips))
    return found


def camscan_run(
    lab: Lab, ips: Sequence[str], settings: ScanSettings
) -> tuple[float, list[Evidence]]:
    started = time.monotonic()
    with lab.in_scanner():
        found = asyncio.run(probe_all(ips, settings))
    return time.monotonic() - started, found


def nmap_run(lab: Lab, ips: Sequence[str]) -> tuple[float, dict[str, str]]:
    """Wall time of nmap -sV on `ips` inside the scanner namespace, and product text per host."""
    argv = [
        "ip",
        "netns",
        "exec",
        lab.scanner_netns,
        "nmap",
        "-sV",
        "-p",
        NMAP_PORTS,
        "--version-light",
        "-n",
        "-Pn",
        "-oX",
        "-",
        *ips,
    ]
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, check=True)
    took = time.monotonic() - started
    products: dict[str, str] = {}
    for host in ET.fromstring(proc.stdout).iter("host"):
        addr = host.find("address")
        if addr is None:
            continue
        names = []
        for svc in host.iter("service"):
            names += [svc.get(a, "") for a in ("product", "extrainfo", "devicetype")]
        products[addr.get("addr", "")] = " ".join(n for n in names if n)
    return took, products


def camscan_names(found: list[Evidence]) -> dict[str, str]:
    """maker/brand per host from identification (empty if identification is unavailable)."""
    try:
        from camscan.identify import identify_hosts
    except ImportError:
        return {}
    return {
        host: f"{v.maker} / {v.brand}"
        for host, v in identify_hosts(found).items()
        if v.maker is not None
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=254)
    parser.add_argument(
        "--prefix", default=os.environ.get("CAMSCAN_LAB_PREFIX", "camscan-") + "bb-"
    )
    parser.add_argument("--keep", action="store_true", help="leave the lab up")
    parser.add_argument("--skip-nmap", action="store_true")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("benchmarks/banners.py needs root (network namespaces)", file=sys.stderr)
        return 2
    lab = Lab(DEFAULT_SPEC, args.prefix, hosts=args.hosts, filler_http=True)
    started = time.monotonic()
    lab.up()
    print(
        f"lab up: {len(lab.devices)} devices + {args.hosts} filler HTTP hosts "
        f"in {time.monotonic() - started:.1f} s"
    )
    try:
        settings = ScanSettings()
        fillers = [h.ip for h in lab.fillers]
        took, found = camscan_run(lab, fillers, settings)
        answered = {e.host for e in found if e.key == "http.response"}
        print(f"\n[1] {len(fillers)} filler HTTP hosts, ports {','.join(map(str, settings.ports))}")
        print(
            f"camscan banners: {took:.2f} s wall, {len(answered)}/{len(fillers)} answered HTTP, "
            f"{len(found)} evidence items (goal <= 3 s: {'met' if took <= 3 else 'MISSED'})"
        )
        if not args.skip_nmap:
            ntook, _ = nmap_run(lab, fillers)
            print(f"nmap -sV -p {NMAP_PORTS} --version-light -n -Pn: {ntook:.2f} s wall")
            print(f"ratio nmap/camscan: {ntook / took:.1f}x")

        net = ipaddress.ip_network(lab.spec.settings.scan_subnet)
        devices = [d for d in lab.devices if ipaddress.IPv4Address(d.ip) in net]
        ips = [d.ip for d in devices]
        took, found = camscan_run(lab, ips, settings)
        ours = camscan_names(found)
        print(
            f"\n[2] default spec: {len(ips)} devices; camscan banners {took:.2f} s "
            f"(incl. hostile devices)"
        )
        theirs: dict[str, str] = {}
        if not args.skip_nmap:
            ntook, theirs = nmap_run(lab, ips)
            print(f"nmap: {ntook:.2f} s; ratio {ntook / took:.1f}x")
        print(f"\n{'device':22} {'truth':24} {'camscan (banners only)':28} nmap -sV product")
        hits = {"camscan": 0, "nmap": 0}
        for d in devices:
            truth = d.expect.get("maker")
            mine = ours.get(d.ip, "")
            nm = theirs.get(d.ip, "")
            mine_t = mine if TARGET_MAKERS.search(mine) else ""
            nm_t = nm if TARGET_MAKERS.search(nm) else ""
            if truth in ("Hikvision", "Dahua") or mine_t or nm_t:
                hits["camscan"] += bool(mine_t) and truth in mine
                hits["nmap"] += bool(nm_t) and bool(truth) and truth.lower() in nm.lower()
                print(f"{d.name:22} {truth or '-':24} {mine_t or '-':28} {nm_t or '-'}")
        targets = sum(1 for d in devices if d.expect.get("maker") in ("Hikvision", "Dahua"))
        print(
            f"\nnamed the right maker (Hikvision/Dahua): camscan {hits['camscan']}/{targets}, "
            f"nmap {hits['nmap']}/{targets}"
        )
    finally:
        if not args.keep:
            lab.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
