"""Outputs of real lab scans: schema-valid JSON/NDJSON, SIGINT mid-scan, diff, report in Chromium.

The issue's bars: a lab scan's JSON and NDJSON validate against the schema; SIGINT mid-scan
leaves valid output marked `complete: false`; two scans with two devices removed and one added
diff to exactly that with the right still-present Hikvision/Dahua count; the report of a lab
scan, rendered by headless Chromium, shows the right totals.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from camscan.diff import diff_documents
from camscan.discovery.registry import DISCOVERERS
from camscan.output.document import TARGET_MAKERS, build_document
from camscan.output.report import write_report
from camscan.output.schema import validate_document, validate_ndjson_line
from camscan.pipeline import Scan, ScanRequest
from camscan.probes.registry import PROBES
from camscan.progress import make_observer
from camscan_lab.network import IFNAME, Lab

pytestmark = pytest.mark.lab

ADDED = "lorex-cam"  # Dahua, sold as Lorex: down for the first scan, up for the second
REMOVED = ("hik-cam-stairs", "hp-printer")  # up for the first scan, down for the second


def _scan(lab: Lab, ndjson: io.StringIO | None = None) -> dict[str, Any]:
    request = ScanRequest(
        targets=[lab.spec.scan_subnet],
        interface=lab.scanner_interface,
        site="Lab office",
        operator="lab test",
    )
    observer = make_observer(ndjson_out=ndjson, stream=io.StringIO())
    with lab.in_scanner():
        scan = Scan(request, DISCOVERERS, PROBES, observer)
        scan.prepare()
        observer.header(scan)
        result = asyncio.run(scan.run())
    observer.summary(result)
    return build_document(result)


def _truth(lab: Lab, maker: str) -> int:
    """Devices of `maker` in the scanned range (the report lists those outside it apart)."""
    return sum(
        d.expect.get("maker") == maker and not d.spec.table.get("outside_scope", False)
        for d in lab.devices
    )


def _set_link(lab: Lab, name: str, up: bool) -> None:
    ns = lab.device(name).netns
    if up:
        # Taking the link down dropped the on-link multicast/broadcast routes the lab adds.
        for cmd in (
            ["link", "set", IFNAME, "up"],
            ["route", "replace", "224.0.0.0/4", "dev", IFNAME],
            ["route", "replace", "255.255.255.255/32", "dev", IFNAME],
        ):
            subprocess.run(["ip", "-n", ns, *cmd], check=True)
    else:
        subprocess.run(["ip", "-n", ns, "link", "set", IFNAME, "down"], check=True)


@pytest.fixture(scope="module")
def lab_scan(lab: Lab) -> tuple[dict[str, Any], str]:
    """One full scan of the office lab: its document and its NDJSON stream."""
    stream = io.StringIO()
    return _scan(lab, stream), stream.getvalue()


def test_lab_scan_json_and_ndjson_validate(lab: Lab, lab_scan: tuple[dict[str, Any], str]) -> None:
    doc, ndjson = lab_scan
    validate_document(doc)
    assert doc["complete"] is True and len(doc["devices"]) >= len(lab.devices) - 2
    lines = [json.loads(line) for line in ndjson.splitlines()]
    for line in lines:
        validate_ndjson_line(line)
    assert lines[0]["type"] == "header" and lines[-1]["type"] == "summary"
    assert lines[-1]["complete"] is True
    streamed = sorted(x["ip"] for x in lines if x["type"] == "device")
    assert streamed == sorted(d["ip"] for d in doc["devices"])
    assert lines[-1]["summary"] == doc["summary"]


@pytest.fixture
def linked(lab: Lab) -> Iterator[None]:
    """Whatever a test unplugs is plugged back in: the lab is shared by the session."""
    try:
        yield
    finally:
        for name in (ADDED, *REMOVED):
            _set_link(lab, name, up=True)


def test_diff_of_two_lab_scans(lab: Lab, linked: None) -> None:
    _set_link(lab, ADDED, up=False)
    before = _scan(lab)
    _set_link(lab, ADDED, up=True)
    for name in REMOVED:
        _set_link(lab, name, up=False)
    after = _scan(lab)
    diff = diff_documents(before, after)
    assert [d["ip"] for d in diff.new] == [lab.device(ADDED).ip]
    assert sorted(d["ip"] for d in diff.removed) == sorted(lab.device(n).ip for n in REMOVED)
    # Every ground-truth Hikvision/Dahua device except the one added and the one removed.
    targets = sum(d.expect.get("maker") in TARGET_MAKERS for d in lab.devices)
    assert diff.still_present_target == targets - 2
    assert diff.counts()["new_hikvision_dahua"] == 1
    assert diff.counts()["removed_hikvision_dahua"] == 1


def _cli(lab: Lab, *args: str) -> subprocess.Popen[str]:
    argv = [
        "ip",
        "netns",
        "exec",
        lab.scanner_netns,
        sys.executable,
        "-m",
        "camscan",
        "scan",
        lab.spec.scan_subnet,
        "--interface",
        lab.scanner_interface,
        "--quiet",
        *args,
    ]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("fmt", ["ndjson", "json"])
def test_sigint_mid_scan_leaves_valid_incomplete_output(lab: Lab, fmt: str) -> None:
    proc = _cli(lab, "--format", fmt, "--window", "10")
    assert proc.stdout is not None
    head = ""
    if fmt == "ndjson":
        head = proc.stdout.readline()  # the header is written once the scan has started
        assert json.loads(head)["type"] == "header"
    # With a 10 s listen window this is mid-scan; JSON gives no sign the scan has started, so
    # leave a slow machine time to start Python first.
    time.sleep(1.5 if fmt == "ndjson" else 4.0)
    assert proc.poll() is None, "the scan ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err  # interrupted: a runtime error, output still written
    if fmt == "ndjson":
        lines = [json.loads(x) for x in (head + rest).splitlines()]
        for line in lines:
            validate_ndjson_line(line)
        assert lines[0]["type"] == "header" and lines[-1]["type"] == "summary"
        assert lines[-1]["complete"] is False
        assert lines[-1]["summary"]["devices"] == sum(x["type"] == "device" for x in lines)
    else:
        doc = json.loads(rest)
        validate_document(doc)
        assert doc["complete"] is False
        assert doc["summary"]["devices"] == len(doc["devices"])


def test_report_of_a_lab_scan_shows_the_right_totals_in_chromium(
    lab: Lab, lab_scan: tuple[dict[str, Any], str], tmp_path: Path
) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("Chromium is not installed: run scripts/install-system-deps --test")
    doc, _ = lab_scan
    report = tmp_path / "report.html"
    write_report([doc], report)
    hik, dahua = _truth(lab, "Hikvision"), _truth(lab, "Dahua")
    argv = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'p'}",
    ]
    env = {**os.environ, "HOME": str(tmp_path)}
    dom = subprocess.run(
        [*argv, "--dump-dom", report.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env=env,
    ).stdout
    assert f"This scan found {hik} Hikvision and {dahua} Dahua devices" in dom
    assert f'data-total="Hikvision"><span class="big">{hik}</span>' in dom
    assert f'data-total="Dahua"><span class="big">{dahua}</span>' in dom
    shot = tmp_path / "report.png"
    subprocess.run(
        [
            *argv,
            f"--screenshot={shot}",
            "--window-size=1280,3200",
            "--hide-scrollbars",
            report.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
        env=env,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 60_000
    if keep := os.environ.get("CAMSCAN_SCREENSHOT_DIR"):
        shutil.copy(shot, Path(keep) / "lab-report.png")
        shutil.copy(report, Path(keep) / "lab-report.html")
