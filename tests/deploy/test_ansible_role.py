"""The camscan_sensor Ansible role, applied for real to a temporary target root.

ansible-playbook runs with connection local, every path under a temporary prefix; the role's
user creation and service start are switched off (they would change this machine), and the
timers are enabled inside the prefix with `systemctl --root`, which starts nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROLE_DIR = ROOT / "deploy" / "ansible" / "roles"
PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
TOKEN = "tok_0123456789abcdefghijklmnopqrstuvwxyzABCDE"


def test_role_writes_venv_config_token_units_and_enables_the_timers(tmp_path: Path) -> None:
    if not PLAYBOOK.exists():
        pytest.fail("ansible-playbook missing: pip install -e '.[dev]' (the deploy extra)")
    if shutil.which("systemctl") is None:
        pytest.skip("systemctl is needed to enable units in a target root")
    target = tmp_path / "root"
    target.mkdir()
    # The role installs a wheel of this checkout: built here, offline, with the test venv's
    # setuptools (the test namespace has no network to fetch build dependencies).
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            str(tmp_path / "w"),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=200,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    [wheel] = (tmp_path / "w").glob("camscan-*.whl")
    play = tmp_path / "play.yml"
    variables = {
        "camscan_sensor_root": str(target),
        "camscan_sensor_create_user": False,
        "camscan_sensor_start_timers": False,
        "camscan_sensor_user": "nobody",
        "camscan_sensor_group": "nogroup",
        "camscan_sensor_package": str(wheel),
        "camscan_sensor_pip_extra_args": "--no-deps --no-index",
        "camscan_sensor_python": "/usr/bin/python3",
        "camscan_sensor_site": "Town Hall, 'east' wing",
        "camscan_sensor_server": "https://inventory.example.org:8443",
        "camscan_sensor_token": TOKEN,
        "camscan_sensor_ca_pem": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        "camscan_sensor_interface": "vlan20",
    }
    play.write_text(
        json.dumps(
            [
                {
                    "name": "camscan sensor into a temporary root",
                    "hosts": "localhost",
                    "connection": "local",
                    "gather_facts": False,
                    "vars": variables,
                    "roles": ["camscan_sensor"],
                }
            ]
        ),
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "ANSIBLE_ROLES_PATH": str(ROLE_DIR),
        "ANSIBLE_HOME": str(tmp_path / "a"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "a" / "tmp"),
        "LC_ALL": "C.UTF-8",
        "ANSIBLE_NOCOLOR": "1",
        "PIP_NO_INDEX": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
    }
    proc = subprocess.run(
        [str(PLAYBOOK), "-i", "localhost,", str(play)],
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "failed=0" in proc.stdout

    venv = target / "opt" / "camscan" / "venv"
    assert (venv / "bin" / "camscan").is_file()
    assert list((venv / "lib").glob("python3*/site-packages/camscan-*.dist-info"))

    etc = target / "etc" / "camscan"
    env_file = (etc / "sensor.env").read_text(encoding="utf-8")
    assert "CAMSCAN_SITE='Town Hall, '\"'\"'east'\"'\"' wing'" in env_file  # shell-quoted
    assert "CAMSCAN_SERVER=https://inventory.example.org:8443" in env_file
    assert "CAMSCAN_CA_ARGS='--ca-file /etc/camscan/server-ca.pem'" in env_file
    token = etc / "token"
    assert token.read_text(encoding="utf-8") == TOKEN + "\n"
    assert stat.S_IMODE(token.stat().st_mode) == 0o640
    assert TOKEN not in proc.stdout  # no_log kept it out of the output
    assert (target / "var" / "lib" / "camscan" / "spool").is_dir()

    units = target / "etc" / "systemd" / "system"
    scan = (units / "camscan-scan.service").read_text(encoding="utf-8")
    push = (units / "camscan-push.service").read_text(encoding="utf-8")
    for line in (
        "User=nobody",
        "AmbientCapabilities=CAP_NET_RAW",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=CAP_NET_RAW",
        "--spool /var/lib/camscan/spool",
        "--localnet --interface ${CAMSCAN_INTERFACE}",
    ):
        assert line in scan, line
    assert "ExecStart=/opt/camscan/venv/bin/camscan push --spool /var/lib/camscan/spool" in push
    assert "CapabilityBoundingSet=\n" in push and "AmbientCapabilities" not in push
    wants = units / "timers.target.wants"
    assert sorted(p.name for p in wants.iterdir()) == ["camscan-push.timer", "camscan-scan.timer"]
    assert os.readlink(wants / "camscan-push.timer").endswith(
        "/etc/systemd/system/camscan-push.timer"
    )

    # Applied again: nothing changes (the role is idempotent).
    again = subprocess.run(
        [str(PLAYBOOK), "-i", "localhost,", str(play)],
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout[-2000:]
