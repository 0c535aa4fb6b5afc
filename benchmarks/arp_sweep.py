#!/usr/bin/env python3
"""camscan's ARP sweep and full audit against arp-scan and nmap, in the lab, in one run.

Run as root from the root namespace: it only orchestrates (builds its own lab under its own
namespace prefix); every tool runs inside the lab's scanner namespace (`ip netns exec`), and
the lab is taken down at the end. Each figure is the median of --reps runs, tools interleaved
(one run of each per round) so a busy machine slows them alike:

  lab 1, default office spec + 254 fillers:
    /24 with 254 live hosts, empty /24, full audit of the office /24 (every probe),
    sparse /16 (the office devices + 254 fillers in 65,534 addresses; --reps-16 rounds)
  lab 2, 1,000 fillers:
    /22 with 1,000 live hosts

camscan runs as the CLI (`camscan scan CIDR --probes arp`), start-up included, at its default
rate (the ceiling of its adaptive rate) and at arp-scan's default rate, for a like-for-like
figure. arp-scan and nmap (`-sn -n`, ARP ping) run at their defaults. Every line prints wall
seconds, hosts found of those live, peak RSS, and the ratio to arp-scan's median.

camscan's bytecode is cached as after `pip install` (under a temporary PYTHONPYCACHEPREFIX, even
where PYTHONDONTWRITEBYTECODE is set) and each figure starts with one untimed round, so a run
times the program, not the compiling of its sources. For the benchmark's duration it holds the
global limits a lab of many hosts needs (scripts/neigh-limits: the neighbour table and the
receive queue the macvlan fillers share), and each figure prints the frames the kernel's
receive queues dropped meanwhile (/proc/net/softnet_stat: any nonzero count is the lab, or
another lab on the machine, losing what a real segment would deliver).
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from camscan.context import MAX_RATE, ScanSettings
from camscan_lab.network import Lab

DEFAULT_RATE = ScanSettings().rate

SUBNET_24 = "198.18.4.0/24"  # fillers start at 198.18.4.1: 254 fill this /24 ...
SUBNET_22 = "198.18.4.0/22"  # ... and 1,000 fit this /22 (1,022 addresses)
EMPTY_24 = "198.18.2.0/24"  # no lab host there
SUBNET_16 = "198.18.0.0/16"  # the lab's devices and fillers: under 1 % of 65,534 addresses
ARP_SCAN_RATE = 500  # arp-scan's default: 256,000 bits/s of 64-byte frames, a 2 ms interval
ROOT = Path(__file__).resolve().parents[1]
LIMITS = ROOT / "scripts" / "neigh-limits"
_PYCACHE = tempfile.TemporaryDirectory(prefix="camscan-bench-pyc-")
# Bytecode written and read as an installed package's would be, kept out of the checkout.
CAMSCAN_ENV = {
    **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    "PYTHONPYCACHEPREFIX": _PYCACHE.name,
}


@dataclass
class Run:
    wall_s: float
    found: set[str]
    peak_rss_mb: float
    sweep: str = ""  # camscan: how its ARP sweep went (sent, retried, rate used, cuts)


def timed(
    argv: Sequence[str], *, ok: Sequence[int] = (0,), env: dict[str, str] | None = None
) -> tuple[float, str, float]:
    """Run argv; (wall seconds, stdout, peak RSS in MB of the process and its children)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - t0
        code = os.waitstatus_to_exitcode(status)
        if code not in ok:
            err.seek(0)
            tail = err.read().decode(errors="replace").strip()[-400:]
            raise SystemExit(f"{' '.join(argv)} failed ({code}): {tail}")
        out.seek(0)
        return wall, out.read().decode(errors="replace"), usage.ru_maxrss / 1024


def in_scanner(lab: Lab, argv: Sequence[str]) -> list[str]:
    return ["ip", "netns", "exec", lab.scanner_netns, *argv]


def camscan_argv() -> list[str]:
    exe = shutil.which("camscan")
    return [exe] if exe else [sys.executable, "-m", "camscan"]


def arp_scan(lab: Lab, cidr: str) -> Run:
    wall, out, rss = timed(
        in_scanner(lab, ["arp-scan", "--interface", lab.scanner_interface, "--quiet", cidr])
    )
    found = {m.group(1) for m in re.finditer(r"^(\d+\.\d+\.\d+\.\d+)\t", out, re.M)}
    return Run(wall, found, rss)


def nmap(lab: Lab, cidr: str) -> Run:
    wall, out, rss = timed(
        in_scanner(lab, ["nmap", "-sn", "-n", "-e", lab.scanner_interface, "-oG", "-", cidr])
    )
    found = {m.group(1) for m in re.finditer(r"^Host: (\S+) .*Status: Up", out, re.M)}
    found.discard(lab.scanner_ip)  # nmap lists the scanning host itself
    return Run(wall, found, rss)


def camscan(lab: Lab, cidr: str, *args: str, rate: int | None = None, cached: bool = True) -> Run:
    env = CAMSCAN_ENV if cached else {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    with tempfile.NamedTemporaryFile(suffix=".json") as doc:
        argv = [*camscan_argv(), "scan", cidr, "--quiet", "-o", doc.name, *args]
        if rate is not None:
            argv += ["--rate", str(rate)]
        wall, _, rss = timed(in_scanner(lab, argv), env=env)
        data = json.loads(Path(doc.name).read_text())
    found = {d["ip"] for d in data["devices"] if not d["outside_scope"]}
    return Run(wall, found, rss, _sweep_summary(data["stats"].get("arp")))


def _sweep_summary(arp: dict[str, Any] | None) -> str:
    """sent/retried, the rate used, the rate cuts and the kernel drops of one camscan sweep."""
    if not arp:
        return ""
    cuts = next(
        (n.split(" times")[0].split()[-1] for n in arp["notes"] if "rate was cut" in n), "0"
    )
    return (
        f"{arp['sent']}/{arp.get('retried') or 0}r {arp.get('rate_used')}/s "
        f"{cuts}cut {arp.get('kernel_dropped') or 0}kd"
    )


def live_hosts(lab: Lab, cidr: str) -> set[str]:
    net = ipaddress.ip_network(cidr)
    hosts = {d.ip for d in lab.devices} | {f.ip for f in lab.fillers}
    return {ip for ip in hosts if ipaddress.ip_address(ip) in net}


def load() -> str:
    return "load average " + " ".join(Path("/proc/loadavg").read_text().split()[:3])


def softnet_drops() -> int:
    """Frames dropped by every CPU's receive queue since boot (the second column, hex)."""
    return sum(int(line.split()[1], 16) for line in Path("/proc/net/softnet_stat").open())


def compare(
    title: str,
    want: set[str],
    tools: dict[str, Callable[[], Run]],
    reps: int,
    *,
    peer: str = "arp-scan",
    warm_up: bool = True,
    each_run: bool = False,
) -> list[str]:
    """Interleaved rounds of every tool; one line per tool: median wall, found, RSS, ratio."""
    runs: dict[str, list[Run]] = {name: [] for name in tools}
    if warm_up:
        for tool in tools.values():
            tool()
    drops = softnet_drops()
    loads = [load()]
    for i in range(reps):
        for name, tool in tools.items():
            runs[name].append(run := tool())
            if each_run:  # long figures: every run on its own line as it ends
                print(
                    f"    round {i + 1}: {name}: {run.wall_s:.1f} s, "
                    f"{len(run.found & want)}/{len(want)} found, {run.peak_rss_mb:.0f} MB "
                    f"{run.sweep}; {load()}",
                    flush=True,
                )
        loads.append(load())
    drops = softnet_drops() - drops
    peers = [name for name in runs if peer and name.startswith(peer)]
    base = statistics.median(r.wall_s for r in runs[peers[0]]) if peers else None
    lines = [
        f"{title}: {len(want)} live; median of {reps}; before and after each round: "
        + "; ".join(loads),
        f"  receive-queue drops on this machine meanwhile: {drops}",
        f"  {'tool':34} {'wall s':>7} {'ratio':>6} {'found/live, each run':>24} "
        f"{'all found':>9} {'peak RSS MB':>11}",
    ]
    for name, rs in runs.items():
        wall = statistics.median(r.wall_s for r in rs)
        each = "/".join(str(len(r.found & want)) for r in rs)
        every = sum(1 for r in rs if want <= r.found)
        ratio = f"{wall / base:6.2f}" if base else "     -"
        lines.append(
            f"  {name:34} {wall:7.2f} {ratio} {each:>24} {every:>5} of {len(rs)} "
            f"{max(r.peak_rss_mb for r in rs):11.1f}"
        )
        if any(r.sweep for r in rs):
            lines.append(
                "      sweeps (sent/retried, rate used, cuts, kernel drops): "
                + "; ".join(r.sweep for r in rs)
            )
    return lines


def arp_tools(lab: Lab, cidr: str, *, with_nmap: bool = True) -> dict[str, Callable[[], Run]]:
    tools: dict[str, Callable[[], Run]] = {"arp-scan (defaults)": lambda: arp_scan(lab, cidr)}
    if with_nmap:
        tools["nmap -sn (defaults)"] = lambda: nmap(lab, cidr)
    rates = [DEFAULT_RATE] + ([ARP_SCAN_RATE] if ARP_SCAN_RATE != DEFAULT_RATE else [])
    for rate in rates:
        label = "default = maximum" if rate == DEFAULT_RATE == MAX_RATE else "arp-scan's"
        tools[f"camscan --rate {rate} ({label})"] = lambda rate=rate: camscan(
            lab, cidr, "--probes", "arp", rate=rate
        )
    return tools


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--prefix", default="camscan-bench-", help="lab namespace prefix")
    ap.add_argument("--reps", type=int, default=5, help="runs per figure (median)")
    ap.add_argument(
        "--reps-16",
        type=int,
        default=1,
        help="runs of the /16 (each tool takes 1 to 5 minutes per run)",
    )
    ap.add_argument("--skip-16", action="store_true", help="skip the sparse /16")
    ap.add_argument(
        "--only",
        choices=["24", "empty", "audit", "16", "22"],
        action="append",
        help="run only these figures (repeatable)",
    )
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root (it builds network namespaces)")
    for tool in ("arp-scan", "nmap"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is not installed (Debian package {tool})")
    wanted = set(args.only or ["24", "empty", "audit", "16", "22"])
    if args.skip_16:
        wanted.discard("16")
    subprocess.run([LIMITS, "hold", str(os.getpid())], check=True)
    try:
        run(args, wanted)
    finally:
        subprocess.run([LIMITS, "release", str(os.getpid())], check=False)
        _PYCACHE.cleanup()


def run(args: argparse.Namespace, wanted: set[str]) -> None:
    """Every wanted figure, each lab up only while its figures run."""
    print(
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
        f"{load()}; camscan default --rate {DEFAULT_RATE} (maximum {MAX_RATE}), "
        f"--retries {ScanSettings().retries}; arp-scan retries twice, nmap adapts",
        flush=True,
    )

    if wanted & {"24", "empty", "audit", "16"}:
        lab = Lab(prefix=args.prefix, hosts=254)
        lab.up()
        try:
            if "24" in wanted:
                print(
                    "\n".join(
                        compare(
                            f"{SUBNET_24} (254 hosts)",
                            live_hosts(lab, SUBNET_24),
                            arp_tools(lab, SUBNET_24),
                            args.reps,
                        )
                    ),
                    flush=True,
                )
            if "empty" in wanted:
                tools = arp_tools(lab, EMPTY_24)
                # Start-up is most of this figure: also as a checkout without cached bytecode.
                tools[f"camscan --rate {DEFAULT_RATE}, sources compiled each run"] = lambda: (
                    camscan(lab, EMPTY_24, "--probes", "arp", cached=False)
                )
                print(
                    "\n".join(compare(f"{EMPTY_24} (empty)", set(), tools, args.reps)),
                    flush=True,
                )
            if "audit" in wanted:
                office = lab.spec.settings.scan_subnet
                audit = {"camscan, every probe": lambda: camscan(lab, office)}
                print(
                    "\n".join(
                        compare(
                            f"full audit of {office}",
                            live_hosts(lab, office),
                            audit,
                            args.reps,
                            peer="",
                        )
                    ),
                    flush=True,
                )
                print("  goal: <= 4.5 s wall, peak RSS <= 100 MB", flush=True)
            if "16" in wanted:
                print(
                    "\n".join(
                        compare(
                            f"{SUBNET_16} (sparse)",
                            live_hosts(lab, SUBNET_16),
                            arp_tools(lab, SUBNET_16, with_nmap=False),
                            args.reps_16,
                            warm_up=False,  # minutes a round; the /24 figures warmed it
                            each_run=True,
                        )
                    ),
                    flush=True,
                )
        finally:
            lab.down()
    if "22" in wanted:
        lab = Lab(prefix=args.prefix, hosts=1000)
        lab.up()
        try:
            print(
                "\n".join(
                    compare(
                        f"{SUBNET_22} (1,000 hosts)",
                        live_hosts(lab, SUBNET_22),
                        arp_tools(lab, SUBNET_22),
                        args.reps,
                    )
                ),
                flush=True,
            )
        finally:
            lab.down()


if __name__ == "__main__":
    main()
