"""`camscan --version` answers without importing any command's module."""

from __future__ import annotations

import subprocess
import sys

RUN = """
import sys
from camscan.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    print(exc.code, sorted(m for m in sys.modules if m.startswith("camscan.cli.")))
"""


def _run(*args: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", RUN, *args], capture_output=True, text=True, timeout=60, check=True
    )
    return out.stdout.strip().splitlines()


def test_version_loads_no_command() -> None:
    from camscan import __version__

    assert _run("--version") == [f"camscan {__version__}", "0 []"]


def test_help_still_lists_every_command() -> None:
    lines = _run("--help", "--version")
    assert any("pcap" in line for line in lines) and any(" scan " in line for line in lines)
