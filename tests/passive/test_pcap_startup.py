"""`camscan pcap` starts small: it loads what reading a capture needs, not the active scan."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from packets import arp_frame, write_pcap

# Each of these costs tens of milliseconds to import and serves only the active scan (the
# pipeline and its HTTP client), the schema check of unseen library content, the table, or
# mDNS answers (python-zeroconf's parser; this capture has none).
HEAVY = ("camscan.pipeline", "aiohttp", "jsonschema", "rich.console", "zeroconf")

RUN = """
import json, sys
from camscan.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps([code, [m for m in {heavy!r} if m in sys.modules]]))
"""


def _pcap(args: list[str], cache: Path) -> tuple[int, list[str]]:
    out = subprocess.run(
        [sys.executable, "-c", RUN.format(heavy=HEAVY), "pcap", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "XDG_CACHE_HOME": str(cache)},
        check=True,
    )
    code, loaded = json.loads(out.stdout.strip().splitlines()[-1])
    return code, loaded


def test_pcap_loads_neither_the_scan_pipeline_nor_the_schema_check(tmp_path: Path) -> None:
    capture = write_pcap(
        tmp_path / "ten.pcap",
        [arp_frame(f"44:19:b6:00:00:{i:02x}", f"198.18.0.{i}", "198.18.0.1") for i in range(10)],
    )
    args = [str(capture), "-q", "-o", str(tmp_path / "doc.json")]
    code, first = _pcap(args, tmp_path / "cache")
    assert code in (0, 3)
    assert first == ["jsonschema"], "library content not seen before is checked"
    code, again = _pcap(args, tmp_path / "cache")
    assert code in (0, 3)
    assert again == []
    doc = json.loads((tmp_path / "doc.json").read_text())
    assert doc["scope"]["passive"]["packets"] == 10 and len(doc["devices"]) == 10
