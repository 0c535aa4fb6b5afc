"""Single-evidence records classified per second on one core (goal >= 20,000/s).

Run: python benchmarks/identify.py [--seconds 3]   (the goal is measured in CPU seconds)
Each record is one host with one evidence item (the `camscan identify` use case for a MAC
table or an exported banner list); the mix covers every fingerprint key and the OUI path.
"""

from __future__ import annotations

import argparse
import time

from camscan.fingerprints import default_library
from camscan.identify import identify
from camscan.models import Evidence

RECORDS: list[tuple[str, str]] = [
    ("mac", "44:19:b6:3a:10:01"), ("mac", "3c:ef:8c:61:01:c0"), ("mac", "00:1f:54:aa:bb:cc"),
    ("mac", "f8:bc:12:19:1a:1b"), ("mac", "02:00:5e:10:00:91"),
    ("http.server", "App-webs/"), ("http.server", "DNVRS-Webs"), ("http.server", "nginx"),
    ("http.server", "GoAhead-Webs"), ("http.server", "uc-httpd 1.0.0"),
    ("http.www_authenticate", 'Digest realm="Login to 4M0747EPAA1D284", qop="auth", nonce="1"'),
    ("http.www_authenticate", 'Basic realm="Login to the Router Web Configurator"'),
    ("http.title", "WEB SERVICE"), ("http.title", "CPPLUS DVR –Web View"),
    ("rtsp.server", "Dahua Rtsp Server"),
    ("rtsp.www_authenticate", 'Digest realm="IP Camera(21388)", nonce="1", stale="FALSE"'),
    ("onvif.scope", "onvif://www.onvif.org/name/HIKVISION%20DS-2CD2385G1-I"),
    ("onvif.scope", "onvif://www.onvif.org/location/country/china"),
    ("mdns.instance", "HIKVISION DS-2CD2722FWD-IZS - 733050127"),
    ("model", "DS-2CD2385G1-I"), ("model", "DS218+"), ("model", "IPC-HDW5421S"),
    ("dhip.vendor", "Lorex"), ("sadp.serial", "DS-2CD2385G1-I20200414AAWRE33842150"),
    ("tls.subject", "CN=www.hikvision.com,OU=DVRNVR,O=HIKVISION,L=HangZhou,ST=ZheJiang,C=CN"),
    ("http.favicon.mmh3", "1653394551"), ("telnet.banner", "192.0.0.64 login: "),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    lib = default_library()
    records = [[Evidence(f"h{i}", "", key, value)] for i, (key, value) in enumerate(RECORDS)]
    for rec in records:  # warm caches (per-key file lists, OUI table)
        identify(rec, lib)
    count = 0
    # CPU time of this (single-threaded) process: the per-core figure, not skewed by other
    # load on the machine; wall-clock is printed beside it.
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    while time.process_time() - cpu_start < args.seconds:
        for rec in records:
            identify(rec, lib)
        count += len(records)
    cpu = time.process_time() - cpu_start
    wall = time.perf_counter() - wall_start
    print(f"identify: {count / cpu:,.0f} single-evidence records/s on one core "
          f"(CPU time; {count / wall:,.0f}/s wall-clock; {len(RECORDS)}-record mix, "
          f"{count:,} records)")


if __name__ == "__main__":
    main()
