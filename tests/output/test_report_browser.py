"""The report rendered by a real headless Chromium: the page loads and shows the right totals.

Runs only inside scripts/test's empty network namespace (marked `lab`): the page is
self-contained and the flags switch off Chromium's background networking, and the namespace
has no route anywhere, so nothing can leave the machine even by mistake.
Set CAMSCAN_SCREENSHOT_DIR to keep the screenshot for a look.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from output_sample import sample_result

from camscan.output.document import build_document
from camscan.output.report import write_report

pytestmark = pytest.mark.lab
WIDTH, HEIGHT = 1280, 2400


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    pytest.fail("Chromium is not installed: run scripts/install-system-deps --test")


def _run_chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp / "profile"
    argv = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        *args,
    ]
    env = {**os.environ, "HOME": str(tmp)}
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False, env=env)


def _png_size_and_variety(data: bytes) -> tuple[int, int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    idat, pos = b"", 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return width, height, len(set(zlib.decompress(idat)))


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not os.environ.get("CAMSCAN_IN_TEST_NETNS"):
        pytest.fail("the browser test runs only inside scripts/test's namespace")
    path = tmp_path_factory.mktemp("report") / "report.html"
    write_report([build_document(sample_result(), fingerprint_version="2026.11.1")], path)
    return path


def test_rendered_dom_has_the_totals(report: Path, tmp_path: Path) -> None:
    proc = _run_chromium(tmp_path, "--dump-dom", report.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    # The NVR heard outside the scanned range is listed apart, not counted.
    assert "This scan found 1 Hikvision and 2 Dahua devices, 1 of them sold as Lorex." in dom
    assert 'data-total="Hikvision"><span class="big">1</span>' in dom
    assert 'data-total="All devices seen"><span class="big">5</span>' in dom
    assert "<svg" in dom and "Devices by maker" in dom
    assert "dhip.vendor.lorex" in dom


def test_screenshot_shows_a_rendered_page(report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    proc = _run_chromium(
        tmp_path,
        f"--screenshot={shot}",
        f"--window-size={WIDTH},{HEIGHT}",
        "--hide-scrollbars",
        report.as_uri(),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = shot.read_bytes()
    width, height, variety = _png_size_and_variety(data)
    assert (width, height) == (WIDTH, HEIGHT)
    # A blank or error page is a few kB of near-uniform pixels; the report is text, tables,
    # bars and colour.
    assert len(data) > 60_000 and variety > 200
    if keep := os.environ.get("CAMSCAN_SCREENSHOT_DIR"):
        shutil.copy(shot, Path(keep) / "report.png")
