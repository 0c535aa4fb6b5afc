"""NDJSON stream: header first, a line per device, summary last; valid even when cut short."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from output_sample import hikvision_camera, lorex_camera, sample_result

from camscan.models import Evidence
from camscan.output.ndjson import NdjsonWriter, write_all
from camscan.output.schema import validate_ndjson_line

GOLDEN = Path(__file__).parent / "golden" / "scan.ndjson"
HERE = Path(__file__).parent


def _lines(text: str) -> list[dict]:
    assert text.endswith("\n")
    lines = [json.loads(line) for line in text.split("\n")[:-1]]
    for line in lines:
        validate_ndjson_line(line)
    return lines


def test_stream_matches_golden_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("camscan.__version__", "0.0.0+golden")
    buf = io.StringIO()
    write_all(sample_result(), buf, fingerprint_version="2026.11.1")
    if os.environ.get("CAMSCAN_REGEN_GOLDEN"):
        GOLDEN.write_text(buf.getvalue(), encoding="utf-8")
    assert buf.getvalue() == GOLDEN.read_text(encoding="utf-8")


def test_complete_stream_shape() -> None:
    buf = io.StringIO()
    write_all(sample_result(), buf)
    lines = _lines(buf.getvalue())
    assert [x["type"] for x in lines] == ["header"] + ["device"] * 6 + ["summary"]
    assert lines[-1]["complete"] is True
    assert lines[-1]["summary"]["hikvision"] == 2
    assert lines[0]["scope"]["targets"] == ["198.18.0.0/24"]


@pytest.mark.parametrize(
    ("exc", "says"),
    [
        (KeyboardInterrupt(), "interrupted"),
        (RuntimeError("socket exploded"), "fatal error: RuntimeError: socket exploded"),
    ],
)
def test_interrupted_stream_is_valid_and_says_incomplete(exc: BaseException, says: str) -> None:
    result = sample_result()
    buf = io.StringIO()
    with pytest.raises(type(exc)), NdjsonWriter(buf) as w:
        w.start(result.scope, result.started, site=result.site)
        w.device(hikvision_camera())
        w.device(lorex_camera())
        raise exc
    lines = _lines(buf.getvalue())
    assert [x["type"] for x in lines] == ["header", "device", "device", "summary"]
    final = lines[-1]
    assert final["complete"] is False
    assert says in final["errors"][0]
    # Nothing found is lost: the summary counts the devices already streamed.
    assert (final["summary"]["devices"], final["summary"]["dahua"]) == (2, 1)


def test_writer_ignores_devices_after_the_summary() -> None:
    result = sample_result()
    buf = io.StringIO()
    w = NdjsonWriter(buf)
    w.start(result.scope, result.started)
    w.finish(result)
    w.device(hikvision_camera())
    w.abort("late")
    assert [x["type"] for x in _lines(buf.getvalue())] == ["header", "summary"]


def test_device_strings_cannot_break_lines() -> None:
    dev = hikvision_camera()
    dev.evidence.append(Evidence(dev.ip, "http", "http.title", "a\u2028b\u0085c\rd\ne", 80))
    buf = io.StringIO()
    w = NdjsonWriter(buf)
    w.device(dev)
    assert len(buf.getvalue().splitlines()) == 1  # str.splitlines breaks on U+2028 and U+0085
    line = json.loads(buf.getvalue())
    assert any(ev["value"] == "a\u2028b\u0085c\rd\ne" for ev in line["evidence"])


# A child that streams two devices, then waits to be interrupted the way a user would.
CHILD = f"""
import sys, time
sys.path.insert(0, {str(HERE)!r})
from output_sample import sample_result
from camscan.output.ndjson import NdjsonWriter
r = sample_result()
with NdjsonWriter(sys.stdout) as w:
    w.start(r.scope, r.started, site=r.site)
    for d in r.devices[:2]:
        w.device(d)
    while True:
        time.sleep(0.05)
"""


def test_sigint_mid_scan_leaves_valid_output_marked_incomplete() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    first = [proc.stdout.readline() for _ in range(3)]  # header + 2 devices, flushed as written
    time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=20)
    assert proc.returncode != 0  # KeyboardInterrupt propagates after the stream is closed
    lines = _lines("".join(first) + rest)
    assert [x["type"] for x in lines] == ["header", "device", "device", "summary"]
    assert lines[-1]["complete"] is False
    assert "interrupted" in lines[-1]["errors"][0]
    assert "KeyboardInterrupt" in err


class _FullDisk(io.StringIO):
    """A file that takes `room` lines, then fails as a full disk does."""

    def __init__(self, room: int) -> None:
        super().__init__()
        self.room = room

    def write(self, s: str) -> int:
        if self.room <= 0:
            raise OSError(28, "No space left on device")
        self.room -= 1
        return super().write(s)


@pytest.mark.parametrize("room", [0, 1, 2])
def test_a_file_that_fills_up_hands_every_line_to_stdout(room: int) -> None:
    result = sample_result()
    whole = io.StringIO()
    write_all(result, whole)
    file, stdout, warnings = _FullDisk(room), io.StringIO(), []
    writer = NdjsonWriter(file, fallback=stdout, name="scan.ndjson", warn=warnings.append)
    writer.start(result.scope, result.started, site=result.site, operator=result.operator)
    for device in sorted(result.devices, key=lambda d: tuple(map(int, d.ip.split(".")))):
        writer.device(device)
    writer.finish(result)
    assert writer.fell_back
    assert stdout.getvalue() == whole.getvalue()  # from the header on, nothing lost
    assert warnings == [
        "camscan: error: cannot write scan.ndjson: No space left on device; "
        "writing the stream to stdout instead"
    ]


def test_without_a_fallback_a_failing_stream_still_raises() -> None:
    writer = NdjsonWriter(_FullDisk(0))
    result = sample_result()
    with pytest.raises(OSError):
        writer.start(result.scope, result.started)
