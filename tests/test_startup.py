"""Start-up stays small: heavy libraries load when a scan needs them, off the event loop."""

from __future__ import annotations

import subprocess
import sys


def _fresh_python(code: str) -> str:
    """What `code` prints in a new interpreter (its imports start from nothing)."""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return out.stdout.strip()


def test_discovery_modules_do_not_import_aiohttp_until_used() -> None:
    # aiohttp builds two TLS contexts on import (~0.2 s): done on the loop, it stalled the
    # ARP sweep and every listener at the start of each scan.
    code = (
        "import sys, camscan.discovery.ssdp, camscan.probes.onvif, camscan.pipeline; "
        "print('aiohttp' in sys.modules)"
    )
    assert _fresh_python(code) == "False"


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
    assert _fresh_python(code) == "[False] True"


def test_a_scan_loads_zeroconf_and_the_certificate_reader_only_when_it_uses_them() -> None:
    # ~90 ms of start-up together: an ARP-only scan (or one without mDNS) never needs them.
    code = (
        "import sys, camscan.cli.scan, camscan.pipeline, camscan.discovery.registry; "
        "print(sorted(m for m in ('zeroconf', 'cryptography.x509') if m in sys.modules))"
    )
    assert _fresh_python(code) == "[]"


def test_the_lazy_mdns_discoverer_runs_mdns_discovery() -> None:
    code = """
import asyncio, sys, threading
import camscan.discovery.registry as d
from camscan.context import Method
calls = []
async def fake(ctx):
    calls.append((ctx, threading.current_thread() is threading.main_thread()))
import camscan.discovery.mdns as mdns
mdns.discover = fake
asyncio.run(d.DISCOVERERS[Method.MDNS]("ctx"))
print(calls)
"""
    assert _fresh_python(code) == "[('ctx', True)]"


def test_the_documents_fingerprint_version_is_had_without_loading_the_library() -> None:
    code = """
from camscan.cli.common import fingerprint_version
from camscan.fingerprints import default_library
version = fingerprint_version()
loaded = default_library.cache_info().currsize
print(loaded, version == default_library().version)
"""
    assert _fresh_python(code) == "0 True"


def test_what_camscan_pcap_imports_leaves_asyncio_and_the_transports_out() -> None:
    # Reading a capture sends nothing: asyncio (~40 ms with ssl), the UDP and TCP transports
    # and `camscan scan` only slowed the start of every `camscan pcap`.
    code = (
        "import sys, camscan.cli.passive, camscan.passive.session, camscan.devices; "
        "print(sorted(m for m in ('asyncio', 'ssl', 'camscan.cli.scan', 'camscan.discovery.udp', "
        "'camscan.discovery.arp', 'camscan.probes.banners', 'camscan.pipeline') "
        "if m in sys.modules))"
    )
    assert _fresh_python(code) == "[]"


def test_the_command_line_freezes_what_start_up_made_before_running_a_command() -> None:
    # Start-up's objects live until exit; frozen, no collection during the run walks them.
    code = (
        "import gc\n"
        "from camscan.cli import main\n"
        "before = gc.get_freeze_count()\n"
        "try:\n"
        "    main(['--version'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(before == 0, gc.get_freeze_count() > 1000)\n"
    )
    assert _fresh_python(code).splitlines()[-1] == "True True"
