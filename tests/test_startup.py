"""Start-up stays small: heavy libraries load when a scan needs them, off the event loop."""

from __future__ import annotations

import subprocess
import sys


def test_discovery_modules_do_not_import_aiohttp_until_used() -> None:
    # aiohttp builds two TLS contexts on import (~0.2 s): done on the loop, it stalled the
    # ARP sweep and every listener at the start of each scan.
    code = (
        "import sys, camscan.discovery.ssdp, camscan.probes.onvif, camscan.pipeline; "
        "print('aiohttp' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "False"


def test_the_lazy_import_runs_in_a_thread() -> None:
    code = """
import asyncio, sys, threading
from camscan.discovery import lazy
seen = []
real = lazy.import_aiohttp
def spy():
    seen.append(threading.current_thread() is threading.main_thread())
    real()
lazy.import_aiohttp = spy
asyncio.run(lazy.load_aiohttp())
asyncio.run(lazy.load_aiohttp())  # already there: no second import
print(seen, "aiohttp" in sys.modules)
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[False] True"
