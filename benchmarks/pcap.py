"""`camscan pcap` packets/s against `tshark -r FILE -q` on the same file, both whole processes.

Run: python benchmarks/pcap.py [--packets 1000000] [--reps 3] [--gigabyte] [--readers]
Builds a capture of mostly irrelevant traffic (TLS application data, DNS, QUIC, IPv6, a few
percent of ARP/SSDP/DHIP/HTTP from 20 devices, repeating as announcements do), then runs, each
as a process of its own pinned to one core, `camscan pcap FILE -q -o DOC` (read, filter,
decode, identify, write the document) and `tshark -r FILE -q` (which reads every record and,
with nothing to print, dissects nothing).
CPU time is the process's user + system time (os.wait4), start-up included for both; each is
also run on a 10-packet capture, and "beyond start-up" rates divide by CPU minus that. Runs
alternate between the tools, --reps times; medians are printed, with the load average.
camscan is byte-compiled and run once untimed first, as an installed camscan would be.
Both are also timed on a copy whose relevant frames never repeat (each cycle of the 20 devices'
traffic carries new serials, USNs, client ports), where the walk can skip no repeat.
camscan is timed on each of its paths: the C record walk (default), libpcap's two passes
(without the C walk) and the pure-Python loop, and on a pcapng copy of the file.
Goal: >= 100,000 packets/s on one core, not less than tshark's rate.
--gigabyte also writes a 1 GB capture and reports camscan's peak RSS on it (goal < 300 MB).
--readers compares bare record iteration: camscan's reader with and without its prefilter,
libpcap's (pcapy-ng) with and without the prefilter's BPF, dpkt's and scapy's RawPcapReader
when those are installed (the measurement behind the choice of reader).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "passive"))

from packets import (
    arp_frame,
    ether,
    ipv4,
    tcp_frame,
    tcp_reply,
    udp_frame,
)

import camscan
from camscan.discovery import dhip
from camscan.passive.pcapwrite import file_header, record

# `camscan pcap ...` as the console script runs it, with one reading path switched off.
CAMSCAN = """
import sys
from camscan.passive import capfile
if sys.argv[1] in ("libpcap", "python"):
    capfile._recwalk = None
if sys.argv[1] == "python":
    capfile.pcapy = None
del sys.argv[1]
from camscan.cli import main
main()
"""

READERS = """
import sys, time
path, which = sys.argv[1], sys.argv[2]
if which.endswith("+prefilter") or which == "libpcap+bpf":
    from camscan.passive.hearing import Hearing
    pf = Hearing().prefilter
t = time.process_time(); n = 0
if which.startswith("camscan"):
    from camscan.passive import capfile
    if which.startswith("camscan-python"):
        capfile._recwalk = capfile.pcapy = None
    report = capfile.ReadReport(path)
    for _ in capfile.read_records(path, report, pf if "+" in which else None):
        n += 1
    n = report.packets  # every record was read; Python saw only those passed
elif which.startswith("libpcap"):
    import pcapy
    cap = pcapy.open_offline(path)
    if which == "libpcap+bpf":
        cap.setfilter(pf.bpf())
    while cap.next()[0] is not None:
        n += 1
    if which == "libpcap+bpf":
        n = int(sys.argv[3])  # every record was read; Python saw only those passed
elif which == "dpkt":
    import dpkt
    with open(path, "rb") as fh:
        for _ in dpkt.pcap.Reader(fh):
            n += 1
elif which == "scapy":
    from scapy.utils import RawPcapReader
    for _ in RawPcapReader(path):
        n += 1
print(n / (time.process_time() - t))
"""


def relevant_frames(cycle: int | None = None) -> list[bytes]:
    """A few devices talking: the part of the capture the passive readers take.

    With `cycle`, every datagram and exchange differs from the other cycles' (a USN, a serial
    number, a client port and sequence numbers carry the cycle): nothing is a repeat.
    """
    out = []
    tag = "" if cycle is None else f"-{cycle}"
    for i in range(20):
        ip, mac = f"198.18.1.{i + 10}", f"44:19:b6:00:01:{i:02x}"
        out.append(arp_frame(mac, ip, "198.18.1.1"))
        doc = (
            json.dumps(
                {
                    "mac": mac,
                    "method": "client.notifyDevInfo",
                    "params": {
                        "deviceInfo": {
                            "DeviceType": "IPC-HDW5421S",
                            "SerialNo": f"S{i}{tag}",
                            "Vendor": "Dahua",
                        }
                    },
                }
            ).encode()
            + b"\n\0"
        )
        out.append(
            udp_frame(ip, 37810, "239.255.255.251", 37810, dhip.build_packet(doc), src_mac=mac)
        )
        notify = (
            f"NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nNT: upnp:rootdevice\r\n"
            f"USN: uuid:{i}{tag}::upnp:rootdevice\r\nLOCATION: http://{ip}/d.xml\r\n"
            "SERVER: Linux UPnP/1.0 App-webs/\r\n\r\n"
        ).encode()
        out.append(udp_frame(ip, 1900, "239.255.255.250", 1900, notify, src_mac=mac))
        body = b"<html><title>Index%s</title></html>" % tag.encode()
        resp = (
            b"HTTP/1.1 200 OK\r\nServer: App-webs/\r\nContent-Length: %d\r\n\r\n" % len(body)
        ) + body
        port = 40000 + i + 20 * (cycle or 0) % 20000
        out += tcp_reply(
            ip, 80, "198.18.1.1", port, resp, src_mac=mac, request=b"GET / HTTP/1.1\r\n\r\n"
        )
    return out


def noise_frames(rng: random.Random) -> list[bytes]:
    """Traffic no passive reader wants: what most of a SPAN capture is."""
    out = []
    for i in range(400):
        a, b = f"10.0.{i % 200}.{i % 250 + 1}", f"10.1.{i % 100}.{i % 200 + 1}"
        m = f"02:00:00:aa:{i % 256:02x}:01"
        out.append(
            tcp_frame(
                a, 443, b, 50000 + i, b"\x17\x03\x03" + rng.randbytes(1200), seq=i * 1200, src_mac=m
            )
        )
        out.append(tcp_frame(b, 50000 + i, a, 443, b"", seq=7, flags=0x10, src_mac=m))
        out.append(
            udp_frame(
                a, 53, b, 33000 + i, rng.randbytes(120), src_mac=m, dst_mac="02:00:00:00:00:02"
            )
        )
        out.append(
            udp_frame(
                a, 443, b, 44000 + i, rng.randbytes(1100), src_mac=m, dst_mac="02:00:00:00:00:02"
            )
        )
        out.append(ether(m, "33:33:00:00:00:01", 0x86DD, b"\x60" + rng.randbytes(100)))
        out.append(
            ether(m, "02:00:00:00:00:02", 0x0800, ipv4(a, b, 1, b"\x08\x00" + rng.randbytes(62)))
        )
    return out


def write_capture(path: Path, packets: int, seed: int = 7, *, distinct: bool = False) -> int:
    """`packets` records, about 3% of them relevant; the file's size in bytes.

    The relevant frames cycle through 20 devices' ARP, DHIP, SSDP and HTTP traffic: the same
    frames again (as announcements repeat), or with `distinct` different ones every cycle.
    """
    rng = random.Random(seed)
    noise, relevant = noise_frames(rng), relevant_frames()
    cycle = 0
    t = 1_700_000_000.0
    with path.open("wb") as fh:
        fh.write(file_header())
        chunk = []
        for i in range(packets):
            if i % 33:
                frame = noise[i % len(noise)]
            else:
                k = i // 33
                if distinct and k // len(relevant) != cycle:
                    cycle = k // len(relevant)
                    relevant = relevant_frames(cycle)
                frame = relevant[k % len(relevant)]
            chunk.append(record(t + i * 1e-5, frame))
            if len(chunk) >= 10000:
                fh.write(b"".join(chunk))
                chunk.clear()
        fh.write(b"".join(chunk))
    return path.stat().st_size


def timed(cmd: list[str]) -> tuple[float, float, float]:
    """(wall s, CPU s, peak RSS MB) of one process pinned to core 0, start-up included."""
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "0", *cmd]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 3):  # 3: camscan found Hikvision/Dahua (--fail-on-found off)
        raise SystemExit(f"{cmd}: exit {proc.returncode}: {err[-500:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def camscan_cmd(path: Path, out: Path, way: str = "walk") -> list[str]:
    return [sys.executable, "-c", CAMSCAN, way, "pcap", str(path), "-q", "-o", str(out)]


def tshark_cmd(path: Path) -> list[str]:
    return ["tshark", "-r", str(path), "-q"]


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


class Series:
    """Repeated runs of one command; medians."""

    def __init__(self, cmd: list[str]) -> None:
        self.cmd = cmd
        self.runs: list[tuple[float, float, float]] = []

    def run(self) -> None:
        self.runs.append(timed(self.cmd))

    @property
    def wall(self) -> float:
        return statistics.median(r[0] for r in self.runs)

    @property
    def cpu(self) -> float:
        return statistics.median(r[1] for r in self.runs)

    @property
    def rss(self) -> float:
        return max(r[2] for r in self.runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=3, help="runs of each, medians printed")
    parser.add_argument("--gigabyte", action="store_true", help="also the 1 GB RSS check")
    parser.add_argument("--readers", action="store_true", help="also compare bare readers")
    args = parser.parse_args()
    have_tshark = shutil.which("tshark") is not None
    with tempfile.TemporaryDirectory(prefix="camscan-bench-") as tmp:
        path, tiny = Path(tmp) / "mostly-irrelevant.pcap", Path(tmp) / "ten.pcap"
        out = Path(tmp) / "doc.json"
        size = write_capture(path, args.packets)
        distinct = Path(tmp) / "distinct.pcap"
        write_capture(distinct, args.packets, distinct=True)
        write_capture(tiny, 10)
        # As installed: pip byte-compiles the package (a checkout run with
        # PYTHONDONTWRITEBYTECODE=1 compiles ~110 modules from source in every process, ~0.3 s),
        # and a first run has recorded the fingerprint library as checked (its schema check
        # runs once per library content). Neither is what a user's every run pays.
        compileall.compile_dir(Path(camscan.__file__).parent, quiet=1)
        timed(camscan_cmd(tiny, out))
        print(f"capture: {args.packets:,} packets, {size / 1e6:.0f} MB, ~3% relevant")
        print(f"load average (1, 5, 15 min) before: {load()}")
        ng = Path(tmp) / "mostly-irrelevant.pcapng"
        if shutil.which("editcap"):  # the same packets as pcapng, Wireshark's own format
            subprocess.run(["editcap", "-F", "pcapng", str(path), str(ng)], check=True)
        series = {
            "camscan start-up": Series(camscan_cmd(tiny, out)),
            "camscan": Series(camscan_cmd(path, out)),
        }
        if have_tshark:
            series["tshark start-up"] = Series(tshark_cmd(tiny))
            series["tshark"] = Series(tshark_cmd(path))
        series["camscan distinct"] = Series(camscan_cmd(distinct, out))
        if have_tshark:
            series["tshark distinct"] = Series(tshark_cmd(distinct))
        series["camscan libpcap"] = Series(camscan_cmd(path, out, "libpcap"))
        series["camscan python"] = Series(camscan_cmd(path, out, "python"))
        if ng.exists():
            series["camscan pcapng"] = Series(camscan_cmd(ng, out))
        for _ in range(args.reps):  # alternate, so a change of load falls on every tool
            for s in series.values():
                s.run()
        timed(camscan_cmd(path, out))
        doc = json.loads(out.read_text())
        packets = doc["scope"]["passive"]["packets"]
        assert packets == args.packets, packets
        n, cs = args.packets, series["camscan start-up"].cpu

        def line(name: str, s: Series, startup: float) -> tuple[float, float]:
            whole, beyond = n / s.cpu, n / max(s.cpu - startup, 1e-9)
            runs = sorted(r[1] for r in s.runs)
            print(
                f"{name}: {s.cpu:.2f} s CPU (runs {runs[0]:.2f}-{runs[-1]:.2f}; {s.wall:.2f} s "
                f"wall), {whole:,.0f} packets/s whole process, {beyond:,.0f} packets/s beyond "
                f"start-up, peak RSS {s.rss:.0f} MB"
            )
            return whole, beyond

        print(
            f"start-up on a 10-packet capture: camscan pcap {cs:.2f} s CPU"
            + (f", tshark {series['tshark start-up'].cpu:.2f} s CPU" if have_tshark else "")
        )
        mine = line("camscan pcap (C record walk)", series["camscan"], cs)
        print(f"  {len(doc['devices'])} devices (goal >= 100,000 packets/s on one core)")
        if have_tshark:
            peer = line("tshark -r FILE -q", series["tshark"], series["tshark start-up"].cpu)
            print(
                f"camscan/tshark rate ratio: {mine[0] / peer[0]:.2f} whole process, "
                f"{mine[1] / peer[1]:.2f} beyond start-up (goal >= 1)"
            )
        else:
            print("tshark: not installed (scripts/install-system-deps --test installs it)")
        print("the same, but no relevant frame repeats another (nothing for the walk to skip):")
        mine_d = line("  camscan pcap (C record walk)", series["camscan distinct"], cs)
        if have_tshark:
            peer_d = line(
                "  tshark -r FILE -q", series["tshark distinct"], series["tshark start-up"].cpu
            )
            print(
                f"  camscan/tshark rate ratio: {mine_d[0] / peer_d[0]:.2f} whole process, "
                f"{mine_d[1] / peer_d[1]:.2f} beyond start-up"
            )
        line("camscan pcap via libpcap (no C walk)", series["camscan libpcap"], cs)
        line("camscan pcap, pure-Python loop", series["camscan python"], cs)
        if ng.exists():
            line("camscan pcap on the pcapng copy", series["camscan pcapng"], cs)
        print(f"load average after: {load()}")
        if args.readers:
            for which in (
                "camscan",
                "camscan+prefilter",
                "camscan-python+prefilter",
                "libpcap",
                "libpcap+bpf",
                "dpkt",
                "scapy",
            ):
                res = subprocess.run(
                    [sys.executable, "-c", READERS, str(path), which, str(args.packets)],
                    capture_output=True,
                    text=True,
                )
                figure = (
                    f"{float(res.stdout):,.0f} records/s CPU"
                    if res.returncode == 0
                    else "not installed"
                )
                print(f"bare reader {which}: {figure}")
        if args.gigabyte:
            big = Path(tmp) / "one-gigabyte.pcap"
            count = int(args.packets * 1e9 / size)
            write_capture(big, count)
            _, cpu, rss = timed(camscan_cmd(big, out))
            print(
                f"1 GB capture ({big.stat().st_size / 1e9:.2f} GB, {count:,} packets): "
                f"{cpu:.1f} s CPU, {count / cpu:,.0f} packets/s whole process, "
                f"peak RSS {rss:.0f} MB (goal < 300 MB)"
            )
            os.unlink(big)


if __name__ == "__main__":
    main()
