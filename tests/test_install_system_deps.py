"""scripts/install-system-deps leaves the host's services as it found them.

The script runs against a temporary root with fake `apt-get`, `dpkg-query` and `systemctl` on
PATH: no package is installed, no daemon started, nothing sent. The fakes record what the
script asked for and what policy-rc.d said while "apt-get install" ran.
"""

from __future__ import annotations

import hashlib
import os
import signal
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "install-system-deps"

FAKE_DPKG_QUERY = """#!/bin/sh
# dpkg-query -W -f='${Status}' PKG
pkg=$3
grep -qx "$pkg" "$FAKE_STATE/installed" && printf 'install ok installed' && exit 0
exit 1
"""

FAKE_APT_GET = """#!/bin/sh
echo "apt-get $*" >> "$FAKE_STATE/log"
[ "$1" = install ] || exit 0
policy="$CAMSCAN_INSTALL_ROOT/usr/sbin/policy-rc.d"
# What a maintainer script's invoke-rc.d would see: run the policy as it does.
if [ -x "$policy" ]; then "$policy" avahi-daemon start; echo "policy-rc.d $?" >> "$FAKE_STATE/log"
else echo "policy-rc.d none" >> "$FAKE_STATE/log"; fi
[ -n "$FAKE_APT_FAIL" ] && exit 100
[ -n "$FAKE_APT_SLEEP" ] && sleep "$FAKE_APT_SLEEP"
for a in "$@"; do case "$a" in -*|install) ;; *) echo "$a" >> "$FAKE_STATE/installed" ;; esac; done
exit 0
"""

FAKE_SYSTEMCTL = """#!/bin/sh
echo "systemctl $*" >> "$FAKE_STATE/log"
"""

BASE = ["iproute2", "python3-venv", "python3-pip", "libcap2-bin"]
TEST_EXTRA = [
    "avahi-daemon",
    "chromium",
    "arp-scan",
    "nmap",
    "libpango-1.0-0",
    "libpangoft2-1.0-0",
    "libharfbuzz-subset0",
    "postgresql",
    "golang-github-gopacket-gopacket-dev",
    "gcc",
    "python3-dev",
    "tshark",
]


@dataclass
class Host:
    root: Path
    state: Path
    bin: Path

    @property
    def policy(self) -> Path:
        return self.root / "usr" / "sbin" / "policy-rc.d"

    def env(self, fail_apt: bool = False, apt_sleep: str = "") -> dict[str, str]:
        return {
            "PATH": f"{self.bin}:{os.environ['PATH']}",
            "CAMSCAN_INSTALL_ROOT": str(self.root),
            "FAKE_STATE": str(self.state),
            "FAKE_APT_FAIL": "1" if fail_apt else "",
            "FAKE_APT_SLEEP": apt_sleep,
        }

    def run(self, *args: str, fail_apt: bool = False) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(SCRIPT), *args],
            env=self.env(fail_apt),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    def log(self) -> list[str]:
        path = self.state / "log"
        return path.read_text().splitlines() if path.exists() else []

    def installed(self, *pkgs: str) -> None:
        with (self.state / "installed").open("a") as f:
            f.writelines(p + "\n" for p in pkgs)


@pytest.fixture
def host(tmp_path: Path) -> Host:
    h = Host(tmp_path / "root", tmp_path / "state", tmp_path / "bin")
    for d in (h.root / "usr" / "sbin", h.state, h.bin):
        d.mkdir(parents=True)
    (h.state / "installed").touch()
    for name, text in (
        ("dpkg-query", FAKE_DPKG_QUERY),
        ("apt-get", FAKE_APT_GET),
        ("systemctl", FAKE_SYSTEMCTL),
    ):
        (h.bin / name).write_text(text)
        (h.bin / name).chmod(0o755)
    return h


def snapshot(path: Path) -> tuple[str, int, int, str] | None:
    """What a later `apt-get upgrade` would see of policy-rc.d: kind, mode, mtime, content."""
    if not os.path.lexists(path):
        return None
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode):
        return ("link", 0, 0, os.readlink(path))
    return (
        "file",
        stat.S_IMODE(st.st_mode),
        st.st_mtime_ns,
        hashlib.sha256(path.read_bytes()).hexdigest(),
    )


def service_calls(log: list[str]) -> list[str]:
    return [line for line in log if line.startswith("systemctl")]


def test_no_policy_before_means_none_after_and_starts_blocked_during(host: Host) -> None:
    r = host.run()
    assert r.returncode == 0, r.stderr
    assert "policy-rc.d 101" in host.log()  # service start was blocked while installing
    assert snapshot(host.policy) is None  # and is not blocked any more afterwards
    assert service_calls(host.log()) == []  # nothing with a service unit was installed


def test_existing_policy_is_put_back_exactly(host: Host) -> None:
    host.policy.write_text("#!/bin/sh\n# the admin's own policy\nexit 0\n")
    host.policy.chmod(0o750)
    os.utime(host.policy, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    before = snapshot(host.policy)
    r = host.run("--test")
    assert r.returncode == 0, r.stderr
    assert "policy-rc.d 101" in host.log()
    assert snapshot(host.policy) == before


def test_symlinked_policy_stays_a_symlink(host: Host, tmp_path: Path) -> None:
    target = tmp_path / "site-policy"
    target.write_text("#!/bin/sh\nexit 0\n")
    host.policy.symlink_to(target)
    before = snapshot(host.policy)
    assert host.run().returncode == 0
    assert snapshot(host.policy) == before
    assert target.read_text() == "#!/bin/sh\nexit 0\n"  # not written through the link


def test_failed_install_still_restores(host: Host) -> None:
    host.policy.write_text("#!/bin/sh\nexit 0\n")
    before = snapshot(host.policy)
    r = host.run(fail_apt=True)
    assert r.returncode != 0
    assert snapshot(host.policy) == before


def test_an_install_stopped_by_a_signal_still_restores(host: Host) -> None:
    host.policy.write_text("#!/bin/sh\nexit 0\n")
    before = snapshot(host.policy)
    proc = subprocess.Popen(
        ["bash", str(SCRIPT)],
        env=host.env(apt_sleep="2"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while "policy-rc.d 101" not in host.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) != 0
    assert snapshot(host.policy) == before


def test_nothing_missing_touches_nothing(host: Host) -> None:
    host.installed(*BASE, *TEST_EXTRA)
    r = host.run("--test")
    assert r.returncode == 0, r.stderr
    assert host.log() == []  # no apt-get, no systemctl
    assert snapshot(host.policy) is None


def test_a_service_the_host_already_had_is_left_alone(host: Host) -> None:
    host.installed("avahi-daemon", "postgresql")  # the user's own (printer discovery, a DB)
    assert host.run("--test").returncode == 0
    assert service_calls(host.log()) == []
    assert not any("avahi-daemon" in line for line in host.log() if line.startswith("apt-get"))


def test_a_newly_installed_daemon_is_left_disabled_never_masked_or_stopped(host: Host) -> None:
    assert host.run("--test").returncode == 0
    calls = service_calls(host.log())
    assert sorted(calls) == [
        "systemctl disable --quiet avahi-daemon.service avahi-daemon.socket",
        "systemctl disable --quiet postgresql.service",
    ]
    assert not any(w in c for c in calls for w in ("mask", "stop", "kill"))


def test_line_one_installs_no_daemon(host: Host) -> None:
    assert host.run().returncode == 0
    installs = [line for line in host.log() if line.startswith("apt-get install")]
    assert len(installs) == 1
    assert "avahi-daemon" not in installs[0]


def test_bad_argument_is_a_usage_error(host: Host) -> None:
    r = host.run("--frobnicate")
    assert r.returncode == 2
    assert host.log() == []
