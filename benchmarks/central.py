"""The central server at scale: many sites' documents through the HTTP API into PostgreSQL.

Run as root from the repository: `python benchmarks/central.py [--sites 1000] [--devices 1000]`.
It re-runs itself inside a new, empty network namespace (loopback only), starts a throw-away
PostgreSQL cluster (Debian's package) and `camscan server`, then:

1. ingest: one document per site, generated from the lab's device mix (the devices of
   examples/sample/scan.json, each copied with its own address, MAC and serial), pushed by
   N concurrent sensors (threads using camscan.push.Client); documents/s and devices/s;
2. re-push: every document again; all duplicates, every table's row count unchanged;
3. a second scan for a share of the sites (some devices removed), so the roll-up has
   something to compare;
4. PostgreSQL's size per 1,000 devices stored;
5. roll-up: GET /api/v1/rollup and GET /report, timed. With --rollup-sites N larger than
   --sites, the ingested sites are first copied inside PostgreSQL (sites, sensors, scans,
   devices, verdicts, with each scan's stored comparison; documents with an empty body,
   evidence not copied: the roll-up reads neither) up to N sites, so the roll-up can be
   timed at N sites without ingesting them all;
6. peer: the embedded SQLite inventory (`scan --store`) storing the same documents in this run.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import queue
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
NETNS_ENV = "CAMSCAN_BENCH_NETNS"
SAMPLE = ROOT / "examples" / "sample" / "scan.json"
TABLES = ("sites", "sensors", "documents", "scans", "devices", "verdicts", "evidence")


def in_namespace(argv: list[str]) -> int:
    """Re-run this script inside a fresh, empty network namespace (only `lo`, up)."""
    ns = f"camscan-bench-central-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        return subprocess.run(
            ["ip", "netns", "exec", ns, "env", f"{NETNS_ENV}={ns}", sys.executable, *argv]
        ).returncode
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


class Mix:
    """Documents of any size from the lab's device mix, built by text substitution (fast)."""

    def __init__(self, devices_per_site: int) -> None:
        from camscan.output.document import summarize

        base = json.loads(SAMPLE.read_text(encoding="utf-8"))
        self.header = {k: v for k, v in base.items() if k not in ("devices", "summary")}
        self.templates = [(d, json.dumps(d, ensure_ascii=False)) for d in base["devices"]]
        self.n = devices_per_site
        picked = [self.templates[j % len(self.templates)][0] for j in range(self.n)]
        self.summary = summarize(picked)

    def document(self, site: int, *, drop: int = 0, started: str | None = None) -> bytes:
        """The gzip body of site `site`'s document (its last `drop` devices left out)."""
        parts = []
        for j in range(self.n - drop):
            d, text = self.templates[j % len(self.templates)]
            n = site * self.n + j
            ip = f"198.18.{j // 250}.{j % 250 + 1}"
            mac = (
                d["mac"][:9] + f"{(n >> 16) & 255:02x}:{(n >> 8) & 255:02x}:{n & 255:02x}"
                if d["mac"]
                else None
            )
            text = text.replace(f'"{d["ip"]}"', f'"{ip}"')
            if mac:
                text = text.replace(d["mac"], mac)
            if serial := d["verdict"]["serial"]:
                text = text.replace(serial, f"{serial}{n:07d}")
            parts.append(text)
        summary = self.summary
        if drop:
            from camscan.output.document import summarize

            summary = summarize([json.loads(p) for p in parts])
        header = {
            **self.header,
            "site": site_name(site),
            "started": started or self.header["started"],
        }
        head = json.dumps(header, ensure_ascii=False)[:-1]
        body = (
            f'{head}, "summary": {json.dumps(summary)}, "devices": [' + ",".join(parts) + "]}"
        ).encode()
        return gzip.compress(body, compresslevel=1)


def site_name(i: int) -> str:
    return f"Site {i:04d}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def counts(url: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(url) as conn:
        return {
            t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])  # type: ignore[index]
            for t in TABLES
        }


def push_all(
    base: str, tokens: list[str], bodies: dict[int, bytes], sensors: int
) -> tuple[float, dict[str, int]]:
    """Push every body with `sensors` concurrent threads; returns (seconds, outcome counts)."""
    from camscan.push import Client

    work: queue.Queue[int] = queue.Queue()
    for site in bodies:
        work.put(site)
    outcomes: dict[str, int] = {}
    lock = threading.Lock()

    def sensor() -> None:
        while True:
            try:
                site = work.get_nowait()
            except queue.Empty:
                return
            c = Client(base, tokens[site], tries=3, backoff_s=1)
            status, reply = c.request(
                "POST",
                "/api/v1/scans",
                bodies[site],
                {"Content-Type": "application/json", "Content-Encoding": "gzip"},
            )
            key = str(status) if status in (200, 201) else f"{status} {reply[:100]!r}"
            with lock:
                outcomes[key] = outcomes.get(key, 0) + 1

    threads = [threading.Thread(target=sensor) for _ in range(sensors)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, outcomes


def replicate(url: str, copies: int) -> None:
    """Copy every site, sensor and scan `copies` times with new ids, in SQL (roll-up timing)."""
    import psycopg

    with psycopg.connect(url) as conn:
        for k in range(1, copies + 1):
            a, b = 10_000 * k, 1_000_000 * k  # id offsets, beyond any original id
            conn.execute(
                "INSERT INTO sites (id, name, created_at) SELECT id + %s, "
                "name || ' copy ' || %s, created_at FROM sites WHERE id < 10000",
                (a, k),
            )
            conn.execute(
                "INSERT INTO sensors (id, name, role, site_id, token_hash, created_at, "
                "last_seen) SELECT id + %s, name || ' copy ' || %s, role, site_id + %s,"
                " token_hash || %s, created_at, last_seen FROM sensors "
                "WHERE id < 10000 AND role = 'sensor'",
                (a, k, a, str(k)),
            )
            conn.execute(
                "INSERT INTO documents (id, scan_id, sensor_id, received_at, body, "
                "body_sha256) SELECT id + %s, scan_id || %s, sensor_id + %s, "
                "received_at, '\\x', body_sha256 || %s FROM documents "
                "WHERE id < 1000000",
                (b, str(k), a, str(k)),
            )
            conn.execute(
                "INSERT INTO scans (id, scan_id, site_id, sensor_id, started, finished,"
                " complete, schema_version, devices, hikvision, dahua, received_at, "
                "previous, new, removed, removed_hikvision_dahua, "
                "still_present_hikvision_dahua) "
                "SELECT id + %s, scan_id || %s, site_id + %s, sensor_id + %s, started, "
                "finished, complete, schema_version, devices, hikvision, dahua, "
                "received_at, previous + %s, new, removed, removed_hikvision_dahua, "
                "still_present_hikvision_dahua FROM scans WHERE id < 1000000 "
                "ORDER BY previous NULLS FIRST",
                (b, str(k), a, a, b),
            )
            conn.execute(
                "INSERT INTO devices SELECT scan + %s, device_no, ip, mac, vendor, "
                "outside_scope FROM devices WHERE scan < 1000000",
                (b,),
            )
            conn.execute(
                "INSERT INTO verdicts SELECT scan + %s, device_no, maker, brand, "
                "white_label, device_type, model, firmware, serial, confidence, "
                "conflicts FROM verdicts WHERE scan < 1000000",
                (b,),
            )
        conn.execute("ANALYZE")


def timed_get(base: str, token: str, path: str) -> tuple[float, int, bytes]:
    from camscan.push import Client

    t0 = time.perf_counter()
    status, body = Client(base, token).request("GET", path)
    return time.perf_counter() - t0, status, body


def sqlite_peer(mix: Mix, sites: int) -> float:
    """Documents per second into the embedded SQLite inventory, same documents."""
    from camscan.inventory import Inventory

    with tempfile.TemporaryDirectory() as d, Inventory(Path(d) / "inv.sqlite3") as inv:
        docs = [json.loads(gzip.decompress(mix.document(i))) for i in range(sites)]
        t0 = time.perf_counter()
        for doc in docs:
            inv.store(doc)
        return sites / (time.perf_counter() - t0)


def run(args: argparse.Namespace) -> None:
    import psycopg

    from camscan.server.db import make_engine
    from camscan.server.store import add_principal, migrate
    from tests.server.pgcluster import running_cluster

    print(
        f"central: {args.sites} sites x {args.devices} devices, {args.sensors} concurrent "
        f"sensors, {args.workers} server processes, {os.cpu_count()} cores (shared machine: "
        "other work runs beside this)",
        flush=True,
    )
    mix = Mix(args.devices)
    t0 = time.perf_counter()
    bodies = {i: mix.document(i) for i in range(args.sites)}
    gen_s = time.perf_counter() - t0
    raw_mb = len(gzip.decompress(bodies[0])) / 1e6
    print(
        f"generated {args.sites} documents in {gen_s:.1f} s "
        f"({raw_mb:.1f} MB each, {len(bodies[0]) / 1e6:.2f} MB gzipped)",
        flush=True,
    )
    with running_cluster(
        "shared_buffers=256MB", "max_wal_size=4GB", "checkpoint_timeout=30min"
    ) as cluster:
        url = cluster.create_database("central")
        engine = make_engine(url)
        migrate(engine)
        tokens = [
            add_principal(engine, f"sensor-{i:04d}", site=site_name(i)) for i in range(args.sites)
        ]
        reader = add_principal(engine, "bench-reader", site=None)
        engine.dispose()
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "camscan",
                "server",
                "--db",
                url,
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(args.workers),
            ]
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if timed_get(base, reader, "/healthz")[1] == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("camscan server did not start")
                time.sleep(0.2)

            secs, outcomes = push_all(base, tokens, bodies, args.sensors)
            devices = args.sites * args.devices
            print(
                f"ingest: {args.sites} documents in {secs:.1f} s = "
                f"{args.sites / secs:.2f} documents/s, {devices / secs:,.0f} devices/s "
                f"(outcomes {outcomes})",
                flush=True,
            )
            full = 1000 * 1000 / (devices / secs)
            print(
                f"  at this rate 1,000 x 1,000 devices take {full / 60:.1f} min (goal < 10 min)",
                flush=True,
            )
            before = counts(url)
            secs2, outcomes2 = push_all(base, tokens, bodies, args.sensors)
            after = counts(url)
            print(
                f"re-push: {secs2:.1f} s, outcomes {outcomes2}; row counts "
                f"{'unchanged' if before == after else 'CHANGED'}: {after}",
                flush=True,
            )

            share = max(1, int(args.sites * args.second_share))
            later = {
                i: mix.document(i, drop=args.devices // 50, started="2026-12-01T02:30:00+00:00")
                for i in range(share)
            }
            secs3, outcomes3 = push_all(base, tokens, later, args.sensors)
            print(
                f"second scan of {share} sites ({args.devices // 50} devices removed each): "
                f"{secs3:.1f} s, outcomes {outcomes3}",
                flush=True,
            )

            with psycopg.connect(url) as conn:
                size = int(
                    conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
                )  # type: ignore[index]
                stored = after["devices"] + share * (args.devices - args.devices // 50)
                parts = conn.execute(
                    "SELECT relname, pg_total_relation_size(oid) FROM pg_class WHERE relname = "
                    "ANY(%s) ORDER BY 2 DESC",
                    (list(TABLES),),
                ).fetchall()
            print(
                f"PostgreSQL: {size / 1e6:.0f} MB for {stored:,} stored devices = "
                f"{size / 1e6 / (stored / 1000):.1f} MB per 1,000 devices ("
                + ", ".join(f"{n} {s / 1e6:.0f} MB" for n, s in parts)
                + ")",
                flush=True,
            )

            copies = max(0, -(-args.rollup_sites // args.sites) - 1)
            if copies:
                t0 = time.perf_counter()
                replicate(url, copies)
                print(
                    f"copied the {args.sites} sites {copies} times inside PostgreSQL for the "
                    f"roll-up: {time.perf_counter() - t0:.1f} s",
                    flush=True,
                )
            sites_now = args.sites * (copies + 1)
            t_json, status, body = timed_get(base, reader, "/api/v1/rollup")
            total = json.loads(body)["total"] if status == 200 else {}
            print(
                f"roll-up JSON for {sites_now} sites: {t_json:.2f} s (HTTP {status}); total "
                f"devices {total.get('devices')}, Hikvision/Dahua {total.get('hikvision_dahua')}"
                f", removed {total.get('removed')} (expected "
                f"{(copies + 1) * share * (args.devices // 50)})",
                flush=True,
            )
            t_html, status, body = timed_get(base, reader, "/report")
            print(
                f"roll-up HTML report: {t_html:.2f} s (HTTP {status}, {len(body) / 1e6:.1f} MB)"
                " (goal < 10 s)",
                flush=True,
            )
        finally:
            server.terminate()
            server.wait(30)
    n_peer = min(args.sites, 20)
    peer = sqlite_peer(mix, n_peer)
    print(
        f"peer: embedded SQLite inventory stores {peer:.2f} documents/s ({n_peer} documents, "
        f"one process, no HTTP, no validation); central over HTTP: "
        f"{args.sites / secs:.2f} documents/s = {args.sites / secs / peer:.2f}x",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--sensors", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--second-share", type=float, default=0.1, help="share of sites that push a second scan"
    )
    parser.add_argument(
        "--rollup-sites",
        type=int,
        default=1000,
        help="sites in the roll-up (ingested sites copied in SQL up to this)",
    )
    args = parser.parse_args()
    if not os.environ.get(NETNS_ENV):
        if os.geteuid() != 0:
            print(
                "run as root: the benchmark runs inside a network namespace it creates",
                file=sys.stderr,
            )
            return 2
        return in_namespace(sys.argv)
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
