"""`camscan check`: Nagios/Icinga plugin exit codes, one status line, performance data."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from camscan.check import CRITICAL, OK, UNKNOWN, WARNING, Thresholds, evaluate
from camscan.models import Confidence, Device, Evidence, ScanResult, ScanScope, Verdict
from camscan.output.document import build_document

STARTED = "2026-11-23T02:00:00+00:00"
# Monitoring Plugins guidelines: 'label'=value[UOM];[warn];[crit];[min];[max]
PERF = re.compile(r"^[a-z_]+=\d+;\d*;\d*;\d*;\d*$")


def device(
    ip: str, mac: str, maker: str | None, firmware: str | None = None, tls: bool = True
) -> Device:
    ev = (
        [Evidence(ip, "tls", "tls.subject", "CN=x", 443)]
        if tls
        else [Evidence(ip, "http", "http.server", "Webs", 80)]
    )
    return Device(
        ip=ip,
        mac=mac,
        evidence=ev,
        verdict=Verdict(
            maker=maker,
            brand=maker,
            device_type="camera",
            model="DS-2CD2385G1-I" if maker else None,
            firmware=firmware,
            serial=None,
            confidence=Confidence.CONFIRMED if maker else Confidence.UNDETERMINED,
        ),
    )


def doc(*devices: Device, complete: bool = True) -> dict[str, Any]:
    scope = ScanScope(
        targets=["198.18.0.0/24"],
        exclusions=[],
        interface="eth0",
        probes=["arp"],
        ports=[80],
        rate=500,
        retries=1,
        address_count=256,
        listen_window_s=2.5,
    )
    return build_document(
        ScanResult(
            scope=scope,
            started=STARTED,
            finished=STARTED,
            complete=complete,
            stats={},
            devices=list(devices),
        )
    )


PC = device("198.18.0.5", "00:11:22:33:44:55", None)
CAM = device("198.18.0.11", "44:19:b6:3a:10:01", "Hikvision", "V5.7.3 build 220112")
OLD_CAM = device("198.18.0.12", "44:19:b6:3a:10:02", "Hikvision", "V5.6.2build 190701")
DAHUA = device("198.18.0.31", "9c:8e:cd:0a:00:31", "Dahua", tls=False)


def test_nothing_found_is_ok_with_perfdata() -> None:
    r = evaluate(doc(PC))
    assert r.code == OK
    status, perf = r.line.split(" | ")
    assert status.startswith("CAMSCAN OK - 0 Hikvision/Dahua devices")
    assert "\n" not in r.line and all(PERF.match(p) for p in perf.split())


def test_a_found_device_warns_and_a_serious_risk_note_is_critical() -> None:
    assert evaluate(doc(PC, CAM)).code == WARNING
    r = evaluate(doc(PC, CAM, OLD_CAM))
    assert r.code == CRITICAL and "hikvision-cve-2021-36260" in r.line
    assert "hikvision=2;;;0;" in r.line and "found=2;0;;0;" in r.line
    # A medium note (plaintext web) only warns, whatever the threshold on the count.
    assert evaluate(doc(DAHUA), limits=Thresholds(warn_found=5)).code == WARNING


def test_thresholds_on_the_count() -> None:
    d = doc(CAM, DAHUA)
    assert evaluate(d, limits=Thresholds(warn_found=5, crit_severity="critical")).code == WARNING
    assert evaluate(doc(CAM), limits=Thresholds(warn_found=1)).code == OK
    assert evaluate(doc(CAM), limits=Thresholds(crit_found=0)).code == CRITICAL


def test_with_a_baseline_only_what_is_new_counts() -> None:
    base = doc(PC, CAM, OLD_CAM)
    assert evaluate(doc(PC, CAM, OLD_CAM), base).code == OK
    r = evaluate(doc(PC, CAM, OLD_CAM, DAHUA), base)
    assert r.code == WARNING and r.line.startswith("CAMSCAN WARNING - 1 new Hikvision/Dahua")
    moved = copy.deepcopy(base)
    moved["devices"][1]["ip"] = "198.18.0.99"  # same camera (MAC), new address: not new
    assert evaluate(moved, base).code == OK


def test_incomplete_or_stale_scans_are_unknown() -> None:
    assert evaluate(doc(PC, complete=False)).code == UNKNOWN
    assert evaluate(doc(CAM, complete=False)).code == WARNING  # a finding still reported
    now = datetime.fromisoformat(STARTED) + timedelta(hours=2)
    assert evaluate(doc(PC), limits=Thresholds(max_age_s=3600), now=now).code == UNKNOWN
    assert evaluate(doc(PC), limits=Thresholds(max_age_s=3 * 3600), now=now).code == OK


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "camscan", "check", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_reads_stdin_and_files_and_exits_by_the_conventions(tmp_path: Path) -> None:
    r = run("-", stdin=json.dumps(doc(PC, OLD_CAM)))
    assert (r.returncode, r.stdout.count("\n")) == (CRITICAL, 1)
    assert r.stdout.startswith("CAMSCAN CRITICAL - ")
    base = tmp_path / "base.json"
    base.write_text(json.dumps(doc(PC, OLD_CAM)))
    r = run("-", "--baseline", str(base), stdin=json.dumps(doc(PC, OLD_CAM)))
    assert r.returncode == OK, r.stdout


@pytest.mark.parametrize(
    "args", [["missing.json"], ["-", "--bogus"], ["-", "--critical-severity", "dire"]]
)
def test_bad_input_or_arguments_are_unknown(args: list[str]) -> None:
    r = run(*args, stdin="{}")
    assert r.returncode == UNKNOWN
    assert r.stdout.startswith("CAMSCAN UNKNOWN - ") and r.stdout.count("\n") == 1
