"""The demo needs no system daemon: without avahi-daemon the lab's own responder stands in."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from discovery_runs import run_discoverer

from camscan.discovery import mdns
from camscan_lab.network import Lab
from camscan_lab.personalities.mdns import AVAHI_ENV

pytestmark = pytest.mark.lab

DEVICES = """
[lab]
scan_subnet = "198.18.0.0/24"
prefix_len = 15
scanner_ip = "198.18.0.2"
scanner_mac = "02:00:5e:10:00:02"

[[device]]
name = "cam"
ip = "198.18.0.16"
mac = "44:19:b6:3a:10:06"
role = "camera"
expect = { maker = "Hikvision", brand = "Hikvision", type = "camera" }
"""

AVAHI = """
[[service]]
device = "cam"
kind = "avahi"
port = 5353
host_name = "DS-2CD2387G2-LU20230815AAWR123456789"
  [[service.instance]]
  type = "_CGI._tcp.local."
  name = "HIKVISION DS-2CD2387G2-LU - 123456789"
  hostname = "DS-2CD2387G2-LU20230815AAWR123456789.local."
  port = 80
  txt = ["path=/"]
"""

PUBLISHED = {
    ("mdns.instance", "HIKVISION DS-2CD2387G2-LU - 123456789"),
    ("mdns.service", "_CGI._tcp.local."),
    ("mdns.hostname", "DS-2CD2387G2-LU20230815AAWR123456789.local."),
    ("mdns.txt", "path=/"),
}


def _spec(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "devices.toml").write_text(DEVICES)
    (root / "avahi.toml").write_text(AVAHI)
    return root


def _published(lab: Lab) -> set[tuple[str, str]]:
    found, _, _ = run_discoverer(lab, mdns.discover, "mdns")
    return {(e.key, e.value) for e in found if e.host == "198.18.0.16"}


def _avahi_spawned(lab: Lab) -> list[list[str]]:
    report = lab._runner_report()
    return [s["argv"] for s in report.get("spawned", []) if "avahi" in " ".join(s["argv"])]


@pytest.mark.parametrize("avahi", ["installed", "missing"])
def test_avahi_service_is_published_with_or_without_avahi_daemon(
    avahi: str, lab_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if avahi == "installed":
        # The real third-party responder is part of the suite: install-system-deps --test.
        assert shutil.which("avahi-daemon"), "avahi-daemon missing: install-system-deps --test"
        monkeypatch.delenv(AVAHI_ENV, raising=False)
    else:
        monkeypatch.setenv(AVAHI_ENV, str(tmp_path / "no-such-avahi-daemon"))
    lab = Lab(_spec(tmp_path / "spec"), lab_prefix[:-1] + "av-", owner_pid=os.getpid())
    try:
        status = lab.up()
        assert status.services_skipped == ()
        assert _published(lab) >= PUBLISHED
        if avahi == "installed":
            assert status.notices == ()
            assert len(_avahi_spawned(lab)) == 1
        else:
            assert status.notices == (
                "cam: avahi-daemon is not installed: the lab's own mDNS responder publishes "
                "this device's services instead",
            )
            assert _avahi_spawned(lab) == []
    finally:
        lab.down()
