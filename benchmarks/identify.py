"""Single-evidence records classified per second on one core (goal >= 40,000/s, issue 11).

Run: python benchmarks/identify.py [--seconds 3]   (the goal is measured in CPU seconds)
Each record is one host with one evidence item (the `camscan identify` use case for a MAC
table or an exported banner list); the mix covers every fingerprint key and the OUI path.
The peer measured in the same run is the matching alone (match_evidence: the fingerprints of
the item's key, the OUI tables for a MAC), without the steps that fuse matches into a verdict.

On a loaded machine even CPU time is inflated (shared caches and cores). `--passes N` runs
the mix exactly N times and prints no rate, for an instruction count that load cannot skew:
  valgrind --tool=callgrind python benchmarks/identify.py --passes 0    (start-up alone)
  valgrind --tool=callgrind python benchmarks/identify.py --passes 200
(total of the second - total of the first) / (200 x records) = instructions per record.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from camscan.fingerprints import default_library
from camscan.identify import identify, match_evidence
from camscan.models import Evidence

RECORDS: list[tuple[str, str]] = [
    ("mac", "44:19:b6:3a:10:01"),
    ("mac", "3c:ef:8c:61:01:c0"),
    ("mac", "00:1f:54:aa:bb:cc"),
    ("mac", "f8:bc:12:19:1a:1b"),
    ("mac", "02:00:5e:10:00:91"),
    ("http.server", "App-webs/"),
    ("http.server", "DNVRS-Webs"),
    ("http.server", "nginx"),
    ("http.server", "GoAhead-Webs"),
    ("http.server", "uc-httpd 1.0.0"),
    ("http.www_authenticate", 'Digest realm="Login to 4M0747EPAA1D284", qop="auth", nonce="1"'),
    ("http.www_authenticate", 'Basic realm="Login to the Router Web Configurator"'),
    ("http.title", "WEB SERVICE"),
    ("http.title", "CPPLUS DVR –Web View"),
    ("rtsp.server", "Dahua Rtsp Server"),
    ("rtsp.www_authenticate", 'Digest realm="IP Camera(21388)", nonce="1", stale="FALSE"'),
    ("onvif.scope", "onvif://www.onvif.org/name/HIKVISION%20DS-2CD2385G1-I"),
    ("onvif.scope", "onvif://www.onvif.org/location/country/china"),
    ("mdns.instance", "HIKVISION DS-2CD2722FWD-IZS - 733050127"),
    ("model", "DS-2CD2385G1-I"),
    ("model", "DS218+"),
    ("model", "IPC-HDW5421S"),
    ("dhip.vendor", "Lorex"),
    ("sadp.serial", "DS-2CD2385G1-I20200414AAWRE33842150"),
    ("tls.subject", "CN=www.hikvision.com,OU=DVRNVR,O=HIKVISION,L=HangZhou,ST=ZheJiang,C=CN"),
    ("http.favicon.mmh3", "1653394551"),
    ("telnet.banner", "192.0.0.64 login: "),
]


def _rate(one_pass: Callable[[], None], seconds: float) -> tuple[float, float, int]:
    """Records per CPU second and per wall-clock second of repeated passes, and the count."""
    count = 0
    # CPU time of this (single-threaded) process: the per-core figure, less skewed by other
    # load on the machine than wall-clock, which is printed beside it.
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    while time.process_time() - cpu_start < seconds:
        one_pass()
        count += len(RECORDS)
    cpu = time.process_time() - cpu_start
    return count / cpu, count / (time.perf_counter() - wall_start), count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument(
        "--passes",
        type=int,
        default=None,
        help="run the mix exactly this many times, print no rate",
    )
    args = parser.parse_args()
    lib = default_library()
    records = [[Evidence(f"h{i}", "", key, value)] for i, (key, value) in enumerate(RECORDS)]

    def run_identify() -> None:
        for rec in records:
            identify(rec, lib)

    def run_match() -> None:
        for rec in records:
            match_evidence(lib, rec[0])

    run_identify()  # warm caches (per-key file lists, OUI table)
    if args.passes is not None:
        for _ in range(args.passes):
            run_identify()
        print(f"identify: {args.passes * len(records):,} records in {args.passes} passes")
        return
    full, wall, count = _rate(run_identify, args.seconds)
    peer, _, _ = _rate(run_match, args.seconds)
    print(
        f"identify: {full:,.0f} single-evidence records/s on one core "
        f"(CPU time; {wall:,.0f}/s wall-clock; {len(RECORDS)}-record mix, "
        f"{count:,} records); peer matching alone (match_evidence) {peer:,.0f}/s, "
        f"identify = {full / peer:.2f}x of it; goal >= 40,000/s -> "
        f"{'met' if full >= 40_000 else 'NOT met'} (CPU time under load understates it)"
    )


if __name__ == "__main__":
    main()
