#!/usr/bin/env python3
"""camscan's ARP sweep against arp-scan in the lab, in one run. Run as root from the root namespace.

Brings up its own lab (default office spec + filler hosts) under its own namespace prefix, runs
every tool inside the lab's scanner namespace (`ip netns exec`), and takes the lab down again:

  phase 1, 254 fillers:   a /24 with 254 live hosts - arp-scan at its defaults, camscan at the
                          same rate (arp-scan's default interval), camscan at its maximum rate;
                          then peak RSS of a camscan scan over a mostly empty /16 (at the
                          default rate without retries: ~135 s)
  phase 2, 1,000 fillers: a /22 with 1,000 live hosts - the same comparisons

Prints wall time (including start-up), hosts found and the ratio camscan/arp-scan.
camscan is timed as the CLI (`camscan scan CIDR --probes arp`) and as a bare library sweep
(`python -c`), so start-up costs of the CLI show separately.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from camscan.discovery.arp import MAX_RATE
from camscan_lab.network import Lab

SUBNET_24 = "198.18.4.0/24"  # fillers start at 198.18.4.1: 254 fill this /24 ...
SUBNET_22 = "198.18.4.0/22"  # ... and 1,000 fit this /22 (1,022 addresses)
SUBNET_16 = "198.18.0.0/16"  # the lab's devices and fillers: ~1 % of 65,534 addresses live

LIBRARY_SWEEP = """
import asyncio, json, sys, time
from camscan.context import ScanContext, ScanSettings
from camscan.discovery.arp import sweep
from camscan.targets import parse_targets, resolve_interface
targets = parse_targets([sys.argv[1]])
iface = resolve_interface(None, targets)
ctx = ScanContext(ScanSettings(rate=int(sys.argv[2]), retries=int(sys.argv[3])), iface.name,
                  str(iface.ip), targets, lambda ev: None)
r = asyncio.run(sweep(ctx, iface, targets.addresses()))
print(json.dumps({h.ip.exploded: h.mac for h in r.hosts.values()}))
"""


@dataclass
class Run:
    tool: str
    wall_s: float
    found: dict[str, str]  # ip -> mac
    peak_rss_mb: float


def timed(argv: Sequence[str]) -> tuple[float, str, float]:
    """Run argv; (wall seconds, stdout, peak RSS in MB of the process)."""
    with tempfile.TemporaryFile() as out:
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {err.strip()[-400:]}")
        out.seek(0)
        return wall, out.read().decode(errors="replace"), usage.ru_maxrss / 1024


def in_scanner(lab: Lab, argv: Sequence[str]) -> list[str]:
    return ["ip", "netns", "exec", lab.scanner_netns, *argv]


def camscan_argv() -> list[str]:
    exe = shutil.which("camscan")
    return [exe] if exe else [sys.executable, "-m", "camscan"]


def run_arp_scan(lab: Lab, cidr: str) -> Run:
    wall, out, rss = timed(in_scanner(lab, ["arp-scan", "--interface", lab.scanner_interface,
                                            "--quiet", cidr]))
    found: dict[str, str] = {}
    for line in out.splitlines():
        m = re.match(r"^(\d+\.\d+\.\d+\.\d+)\t([0-9a-f:]{17})", line)
        if m:
            found.setdefault(m.group(1), m.group(2))
    return Run("arp-scan (defaults)", wall, found, rss)


def arp_scan_default_rate(lab: Lab) -> int:
    """arp-scan's default packets/s, from its own debug line ('interval=2000 us')."""
    _, out, _ = timed(in_scanner(lab, ["sh", "-c", f"arp-scan -vvv --interface "
                                       f"{lab.scanner_interface} --retry=1 --timeout=1 "
                                       f"198.18.3.1 2>&1"]))
    m = re.search(r"interval=(\d+) us", out)
    if not m:
        raise SystemExit("cannot read arp-scan's default interval")
    return round(1_000_000 / int(m.group(1)))


def run_camscan_cli(lab: Lab, cidr: str, rate: int, retries: int = 1) -> Run:
    with tempfile.NamedTemporaryFile(suffix=".json") as doc:
        wall, _, rss = timed(in_scanner(lab, [*camscan_argv(), "scan", cidr, "--probes", "arp",
                                              "--rate", str(rate), "--retries", str(retries),
                                              "--quiet", "-o", doc.name]))
        data = json.loads(Path(doc.name).read_text())
    found = {d["ip"]: d["mac"] for d in data["devices"] if d.get("mac")}
    return Run(f"camscan CLI --rate {rate}", wall, found, rss)


def run_camscan_lib(lab: Lab, cidr: str, rate: int, retries: int = 1) -> Run:
    wall, out, rss = timed(in_scanner(lab, [sys.executable, "-c", LIBRARY_SWEEP, cidr, str(rate),
                                            str(retries)]))
    return Run(f"camscan sweep() --rate {rate}", wall, json.loads(out), rss)


def filler_drops(lab: Lab) -> int:
    """Frames the filler namespace's uplink dropped: the lab, not the scanner, losing them."""
    out = subprocess.run(["ip", "-n", lab.filler_netns(lab.fillers[0]), "-s", "-j", "link",
                          "show", "eth0"], capture_output=True, text=True, check=True).stdout
    return int(json.loads(out)[0]["stats64"]["rx"]["dropped"])


def load() -> str:
    return "load average " + " ".join(Path("/proc/loadavg").read_text().split()[:3])


def live_hosts(lab: Lab, cidr: str) -> dict[str, str]:
    net = ipaddress.ip_network(cidr)
    hosts = {d.ip: d.mac.lower() for d in lab.devices}
    hosts |= {f.ip: f.mac.lower() for f in lab.fillers}
    return {ip: mac for ip, mac in hosts.items() if ipaddress.ip_address(ip) in net}


def median_run(runs: list[Run]) -> tuple[Run, str]:
    """The median run by wall time, and every run's found count ('254/254/253')."""
    ordered = sorted(runs, key=lambda r: r.wall_s)
    return ordered[len(ordered) // 2], "/".join(str(len(r.found)) for r in runs)


def compare(lab: Lab, cidr: str, reps: int, default_rate: int) -> list[str]:
    want = live_hosts(lab, cidr)
    lines = [f"{cidr}: {len(want)} live hosts, {ipaddress.ip_network(cidr).num_addresses - 2} "
             f"addresses (arp-scan also asks network/broadcast); median run of {reps} by wall "
             "time (its found count and MACs), plus every run's found count"]
    # Interleaved (one run of each tool per round), so a busy machine slows all alike.
    tools = [lambda: run_arp_scan(lab, cidr)]
    for rate in (default_rate, MAX_RATE):
        tools += [lambda rate=rate: run_camscan_cli(lab, cidr, rate),
                  lambda rate=rate: run_camscan_lib(lab, cidr, rate)]
    rounds = [[tool() for tool in tools] for _ in range(reps)]
    runs = [median_run([r[i] for r in rounds]) for i in range(len(tools))]
    arp_scan = runs[0][0]
    lines.append(f"  {'tool':30} {'wall s':>7} {'found (each run)':>17} {'MACs ok':>7} "
                 f"{'time/arp-scan':>13} {'found/arp-scan':>14}")
    for r, each in runs:
        right = sum(1 for ip, mac in r.found.items() if want.get(ip) == mac)
        lines.append(f"  {r.tool:30} {r.wall_s:7.3f} {each:>17} {right:7d} "
                     f"{r.wall_s / arp_scan.wall_s:13.2f} "
                     f"{len(r.found) / max(1, len(arp_scan.found)):14.3f}")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prefix", default="camscan-bench-", help="lab namespace prefix")
    ap.add_argument("--reps", type=int, default=3, help="repeats per measurement")
    ap.add_argument("--skip-16", action="store_true",
                    help="skip the /16 peak-RSS scan (~135 s)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root (it builds network namespaces)")
    if not shutil.which("arp-scan"):
        raise SystemExit("arp-scan is not installed (Debian package arp-scan)")

    report: list[str] = []
    for hosts, cidr in ((254, SUBNET_24), (1000, SUBNET_22)):
        lab = Lab(prefix=args.prefix, hosts=hosts)
        started = time.monotonic()
        lab.up()
        try:
            report.append(f"lab up with {hosts} fillers + {len(lab.devices)} devices in "
                          f"{time.monotonic() - started:.1f} s; {os.cpu_count()} CPUs, {load()}")
            default_rate = arp_scan_default_rate(lab)
            report.append(f"arp-scan default rate: {default_rate} packets/s; camscan maximum "
                          f"--rate: {MAX_RATE}; both retry silent hosts once")
            drops = filler_drops(lab)
            report += compare(lab, cidr, args.reps, default_rate)
            report.append(f"  lab: filler uplink dropped {filler_drops(lab) - drops} frames "
                          f"during these runs; {load()}")
            if hosts == 254 and not args.skip_16:
                drops = filler_drops(lab)
                # The default rate: at 1,000/s sustained the lab's macvlan queue overflows.
                cli = run_camscan_cli(lab, SUBNET_16, default_rate, retries=0)
                report.append(f"{SUBNET_16} (65,534 addresses, {len(live_hosts(lab, SUBNET_16))}"
                              f" live), camscan CLI --rate {default_rate} --retries 0: "
                              f"{cli.wall_s:.1f} s, {len(cli.found)} found, "
                              f"peak RSS {cli.peak_rss_mb:.1f} MB (lab dropped "
                              f"{filler_drops(lab) - drops} broadcast frames; {load()})")
        finally:
            lab.down()
        print("\n".join(report), flush=True)
        report = []


if __name__ == "__main__":
    main()
