"""`camscan pcap` packets/s and peak RSS against `tshark -r FILE -q` on the same file.

Run: python benchmarks/pcap.py [--packets 1000000] [--gigabyte] [--readers]
Builds a capture of mostly irrelevant traffic (TLS application data, DNS, QUIC, IPv6, a few
percent of ARP/SSDP/SADP/DHIP/HTTP), then times, each in a child process of its own:
camscan's whole passive run (read, filter, decode, identify, build the document) with libpcap
filtering in C and again with the pure-Python reader, and tshark reading the same file.
Goal: >= 100,000 packets/s on one core, not less than tshark's rate.
--gigabyte also writes a 1 GB capture and reports camscan's peak RSS on it (goal < 300 MB).
--readers compares bare record iteration of camscan's reader with libpcap's (pcapy-ng), dpkt's
and scapy's RawPcapReader when those are installed (the measurement behind the choice of
reader); "libpcap+bpf" counts every record of the file as read while libpcap's filter (the
prefilter's) hands Python only the few it passes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
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

from camscan.discovery import dhip
from camscan.passive.pcapwrite import file_header, record

CHILD = """
import json, resource, sys, time
from camscan.passive import capfile
from camscan.passive.session import CaptureRun
if sys.argv[2:] == ["pure"]:
    capfile.pcapy = None  # the pure-Python reader, as without libpcap
from camscan.output.document import build_document
t = time.perf_counter(); c = time.process_time()
run = CaptureRun([sys.argv[1]])
doc = build_document(run.run())
print(json.dumps({"wall": time.perf_counter() - t, "cpu": time.process_time() - c,
                  "packets": run.packets, "devices": len(doc["devices"]),
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

READERS = """
import sys, time
path, which = sys.argv[1], sys.argv[2]
if which == "libpcap+bpf":  # what camscan's fast path hands to Python
    from camscan.passive.hearing import Hearing
    bpf = Hearing().prefilter.bpf()
t = time.process_time(); n = 0
if which == "camscan":
    from camscan.passive.capfile import ReadReport, read_records
    for _ in read_records(path, ReadReport(path)):
        n += 1
elif which.startswith("libpcap"):
    import pcapy
    cap = pcapy.open_offline(path)
    if which == "libpcap+bpf":
        cap.setfilter(bpf)
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


def relevant_frames() -> list[bytes]:
    """A few devices talking: the part of the capture the passive readers take."""
    out = []
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
                            "SerialNo": f"S{i}",
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
            f"USN: uuid:{i}::upnp:rootdevice\r\nLOCATION: http://{ip}/d.xml\r\n"
            "SERVER: Linux UPnP/1.0 App-webs/\r\n\r\n"
        ).encode()
        out.append(udp_frame(ip, 1900, "239.255.255.250", 1900, notify, src_mac=mac))
        body = b"<html><title>Index</title></html>"
        resp = (
            b"HTTP/1.1 200 OK\r\nServer: App-webs/\r\nContent-Length: %d\r\n\r\n" % len(body)
        ) + body
        out += tcp_reply(
            ip, 80, "198.18.1.1", 40000 + i, resp, src_mac=mac, request=b"GET / HTTP/1.1\r\n\r\n"
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


def write_capture(path: Path, packets: int, seed: int = 7) -> int:
    """`packets` records, about 3% of them relevant; the file's size in bytes."""
    rng = random.Random(seed)
    noise, relevant = noise_frames(rng), relevant_frames()
    t = 1_700_000_000.0
    with path.open("wb") as fh:
        fh.write(file_header())
        chunk = []
        for i in range(packets):
            frame = relevant[i // 33 % len(relevant)] if i % 33 == 0 else noise[i % len(noise)]
            chunk.append(record(t + i * 1e-5, frame))
            if len(chunk) >= 10000:
                fh.write(b"".join(chunk))
                chunk.clear()
        fh.write(b"".join(chunk))
    return path.stat().st_size


def run_camscan(path: Path, *, pure: bool = False) -> dict[str, float]:
    """camscan's passive run in a child process pinned to one core (`pure`: without libpcap)."""
    cmd = [sys.executable, "-c", CHILD, str(path), *(["pure"] if pure else [])]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "0", *cmd]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)  # type: ignore[no-any-return]


def run_tshark(path: Path) -> tuple[float, float] | None:
    """(wall, CPU) seconds of `tshark -r FILE -q` pinned to one core; None without tshark."""
    if shutil.which("tshark") is None:
        return None
    cmd = ["tshark", "-r", str(path), "-q"]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "0", *cmd]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--gigabyte", action="store_true", help="also the 1 GB RSS check")
    parser.add_argument("--readers", action="store_true", help="also compare bare readers")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="camscan-bench-") as tmp:
        path = Path(tmp) / "mostly-irrelevant.pcap"
        size = write_capture(path, args.packets)
        print(f"capture: {args.packets:,} packets, {size / 1e6:.0f} MB, ~3% relevant")
        # Rates are per CPU second: the machine may be shared, and one core is the goal's
        # unit; wall-clock figures are printed beside them.
        mine = run_camscan(path)
        rate = mine["packets"] / mine["cpu"]
        print(
            f"camscan pcap: {mine['cpu']:.2f} s CPU ({mine['wall']:.2f} s wall), "
            f"{rate:,.0f} packets/s per core, {mine['devices']:.0f} devices, "
            f"peak RSS {mine['rss_mb']:.0f} MB (goal >= 100,000 packets/s)"
        )
        pure = run_camscan(path, pure=True)
        print(
            f"camscan pcap, pure-Python reader (no libpcap): {pure['cpu']:.2f} s CPU, "
            f"{pure['packets'] / pure['cpu']:,.0f} packets/s per core"
        )
        tshark = run_tshark(path)
        if tshark is None:
            print("tshark: not installed (scripts/install-system-deps --test installs it)")
        else:
            wall, cpu = tshark
            peer = args.packets / cpu
            print(
                f"tshark -r FILE -q: {cpu:.2f} s CPU ({wall:.2f} s wall), {peer:,.0f} "
                f"packets/s per core; camscan/tshark rate ratio {rate / peer:.2f} (goal >= 1)"
            )
        if shutil.which("editcap"):  # the same packets as pcapng, Wireshark's own format
            ng = Path(tmp) / "mostly-irrelevant.pcapng"
            subprocess.run(["editcap", "-F", "pcapng", str(path), str(ng)], check=True)
            res = run_camscan(ng)
            print(
                f"camscan pcap on the pcapng copy: {res['cpu']:.2f} s CPU, "
                f"{res['packets'] / res['cpu']:,.0f} packets/s per core"
            )
            ng.unlink()
        if args.readers:
            for which in ("camscan", "libpcap", "libpcap+bpf", "dpkt", "scapy"):
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
            n = int(args.packets * 1e9 / size)
            write_capture(big, n)
            res = run_camscan(big)
            print(
                f"1 GB capture ({big.stat().st_size / 1e9:.2f} GB, {n:,} packets): "
                f"{res['cpu']:.1f} s CPU, {res['packets'] / res['cpu']:,.0f} packets/s, "
                f"peak RSS {res['rss_mb']:.0f} MB (goal < 300 MB)"
            )
            os.unlink(big)


if __name__ == "__main__":
    main()
