"""Scopes up to a /8 run in bounded memory: targets stream into the sweep and the connect check."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.lab

MAX_RSS_MB = 200


@pytest.fixture(scope="module")
def slash8_netns(lab_prefix: str) -> Iterator[str]:
    """A namespace whose only Ethernet link (a veth pair, both ends inside) holds 10.0.0.1/8."""
    name = f"{lab_prefix}big8"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        for line in (
            "link add va type veth peer name vb",
            "addr add 10.0.0.1/8 dev va",
            "link set va up",
            "link set vb up",
            "link set lo up",
        ):
            subprocess.run(["ip", "-n", name, *line.split()], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.mark.parametrize(
    ("target", "probes", "method"),
    [
        ("10.0.0.0/8", "arp", "arp"),  # on the local segment: the ARP sweep
        ("11.0.0.0/8", "banners", "tcp-ping"),  # routed: the TCP connect check
    ],
)
def test_a_slash_8_runs_in_bounded_memory(
    slash8_netns: str, tmp_path: Path, target: str, probes: str, method: str
) -> None:
    out = tmp_path / "scan.json"
    proc = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            slash8_netns,
            sys.executable,
            "-m",
            "camscan",
            "scan",
            target,
            "--yes",
            "--probes",
            probes,
            "--quiet",
            "--timeout",
            "0.2",
            "-o",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = 0.0
    try:
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline and proc.poll() is None:
            peak = max(peak, peak_rss_mb(proc.pid))
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()
        # The netns wrapper execs the scan, so proc.pid is the scan itself.
        peak = max(peak, peak_rss_mb(proc.pid))
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert peak < MAX_RSS_MB, f"peak RSS {peak:.0f} MB"
    assert "Traceback" not in err
    doc = json.loads(out.read_text())
    assert doc["complete"] is False and doc["scope"]["address_count"] == 2**24 - 2
    assert doc["stats"][method]["sent"] > 100  # it was working through the range


def test_beyond_the_ceiling_is_one_line_and_exit_2() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "camscan", "scan", "0.0.0.0/0", "--yes", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "more than camscan scans" in proc.stderr
    assert proc.stdout == ""
