"""`camscan pcap`: the scan document from capture files, and one-line errors for bad files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from packets import arp_frame, tcp_reply, udp_frame, write_pcap

from camscan.cli import main
from camscan.output.document import build_document, document_to_result
from camscan.output.schema import validate_document, validate_ndjson_line

CAPTURES = Path(__file__).resolve().parents[1] / "captures"
CAM_MAC = "44:19:b6:00:00:10"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def capture(tmp_path: Path, *, compress: bool = False) -> Path:
    http = (CAPTURES / "http" / "hikvision-app-webs.http").read_bytes()
    frames = [
        arp_frame(CAM_MAC, "198.18.0.10", "198.18.0.1"),
        *tcp_reply(
            "198.18.0.10",
            80,
            "198.18.0.1",
            40000,
            http,
            src_mac=CAM_MAC,
            request=b"GET / HTTP/1.1\r\n\r\n",
        ),
        udp_frame("198.18.0.11", 12345, "198.18.0.1", 53, b"irrelevant", src_mac=CAM_MAC),
    ]
    name = "cam.pcap.gz" if compress else "cam.pcap"
    return write_pcap(tmp_path / name, frames, compress=compress)


def test_pcap_writes_a_valid_scan_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = capture(tmp_path, compress=True)
    code, out, err = run(["pcap", str(path), "--site", "Depot", "-q"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    validate_document(doc)
    passive = doc["scope"]["passive"]
    assert passive["statement"] == f"passive: capture files {path}"
    assert passive["packets"] == 5
    assert passive["packets_by_protocol"] == {"arp": 1, "http": 1}
    assert passive["first_packet"] == "2023-11-14T22:13:20+00:00"
    assert doc["site"] == "Depot"
    (dev,) = doc["devices"]
    assert (dev["ip"], dev["mac"], dev["verdict"]["maker"]) == ("198.18.0.10", CAM_MAC, "Hikvision")
    assert build_document(document_to_result(doc))["scope"] == doc["scope"]


def test_pcap_ndjson_lines_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["pcap", str(capture(tmp_path)), "--format", "ndjson", "-q"], capsys)
    lines = [json.loads(line) for line in out.splitlines()]
    for line in lines:
        validate_ndjson_line(line)
    assert [line["type"] for line in lines] == ["header", "device", "summary"]
    assert code == 0


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
def test_output_files_are_private(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Documents hold MACs and serials: 0600 like the inventory, whatever the umask or old mode."""
    old = os.umask(0o022)
    try:
        target = tmp_path / f"heard.{fmt}"
        target.write_text("old")
        target.chmod(0o644)
        code, _, err = run(
            ["pcap", str(capture(tmp_path)), "-f", fmt, "-q", "-o", str(target)], capsys
        )
        fresh = tmp_path / "new" / f"heard.{fmt}"
        run(["pcap", str(capture(tmp_path)), "-f", fmt, "-q", "-o", str(fresh)], capsys)
    finally:
        os.umask(old)
    assert code == 0, err
    assert target.read_text() != "old"
    assert target.stat().st_mode & 0o777 == 0o600
    assert fresh.stat().st_mode & 0o777 == 0o600


def test_damaged_file_keeps_what_was_read_and_warns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = capture(tmp_path)
    path.write_bytes(path.read_bytes()[:-20])
    code, out, err = run(["pcap", str(path), "-q"], capsys)
    doc = json.loads(out)
    assert code == 0
    assert doc["devices"][0]["verdict"]["maker"] == "Hikvision"
    assert "camscan: warning:" in err and "truncated at offset" in err
    assert doc["scope"]["passive"]["problems"]


def test_not_a_capture_is_one_line_exit_1_and_others_still_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("not a capture")
    code, out, err = run(["pcap", str(bad), str(capture(tmp_path)), "-q"], capsys)
    assert code == 1
    assert err.strip().splitlines() == [
        f"camscan: error: {bad}: not a pcap or pcapng file (magic 6e6f7420)"
    ]
    doc = json.loads(out)
    assert doc["complete"] is False and len(doc["devices"]) == 1


def test_missing_file_is_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["pcap", str(tmp_path / "nope.pcap")], capsys)
    assert code == 2 and out == ""
    assert err.strip() == f"camscan: error: {tmp_path / 'nope.pcap'}: no such file"
