"""scripts/fetch-test-captures with a fake apt-get: a private apt state, none of the host's."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "fetch-test-captures"

# Records its arguments; for `source`, leaves an upstream tarball with one test capture.
FAKE_APT_GET = r"""#!/usr/bin/env bash
echo "$*" >> "$FAKE_LOG"
for a in "$@"; do
  if [[ $a == source ]]; then
    mkdir -p up/tcpdump-9.9/tests && : > up/tcpdump-9.9/tests/x.pcap
    tar -czf tcpdump_9.9.orig.tar.gz -C up tcpdump-9.9 && rm -rf up
  fi
done
"""


def run(tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "apt-get").write_text(FAKE_APT_GET)
    (fake / "apt-get").chmod(0o755)
    log = tmp_path / "log"
    env = {
        "PATH": f"{fake}:{os.environ['PATH']}",
        "CAMSCAN_TEST_CAPTURES": str(tmp_path / "captures"),
        "FAKE_LOG": str(log),
    }
    proc = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    return proc, log.read_text().splitlines() if log.exists() else []


def test_fetches_through_a_private_apt_state_and_unpacks(tmp_path: Path) -> None:
    proc, calls = run(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "captures" / "tcpdump-9.9" / "tests" / "x.pcap").is_file()
    assert [c.split()[-1] for c in calls] == ["update", "tcpdump"]
    for call in calls:
        # Never the host's sources or lists: every call names the private ones.
        assert "Dir::Etc::SourceList=/dev/null" in call
        parts = dict(a.split("=", 1) for a in call.split() if a.startswith("Dir::"))
        assert parts["Dir::State::Lists"] != "/var/lib/apt/lists"
        assert parts["Dir::Etc::SourceParts"] != "/etc/apt/sources.list.d"
        assert parts["Dir::Cache::Archives"] != "/var/cache/apt/archives"
    assert "source --download-only tcpdump" in calls[1]


def test_nothing_is_fetched_when_the_captures_are_there(tmp_path: Path) -> None:
    (tmp_path / "captures" / "tcpdump-1.0" / "tests").mkdir(parents=True)
    proc, calls = run(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert calls == []
