"""The sensor spool: atomic documents, oldest first, refused ones set aside; scan --spool."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import pytest

from camscan.cli import main
from camscan.cli.scan import _after
from camscan.spool import REJECTED, pending, reject, spool_document

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample" / "scan.json"


def doc() -> dict[str, object]:
    loaded: dict[str, object] = json.loads(SAMPLE.read_text(encoding="utf-8"))
    return loaded


def test_spooled_document_is_whole_private_and_named_for_its_time_and_hash(tmp_path: Path) -> None:
    d = doc()
    path = spool_document(d, tmp_path / "spool")
    assert json.loads(path.read_bytes()) == d
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.name.endswith(hashlib.sha256(path.read_bytes()).hexdigest()[:16] + ".json")
    assert [p.name for p in (tmp_path / "spool").iterdir()] == [path.name]  # no temp files left
    assert pending(tmp_path / "spool") == [path]


def test_pending_is_oldest_first_and_skips_temp_and_rejected(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    for name in (
        "20261201T000000-b.json",
        "20261130T000000-a.json",
        ".incoming-x.tmp",
        ".hidden.json",
        "notes.txt",
    ):
        (spool / name).write_text("{}", encoding="utf-8")
    refused = spool / "20261202T000000-c.json"
    refused.write_text("{}", encoding="utf-8")
    moved = reject(refused, "HTTP 422: bad")
    assert moved == spool / REJECTED / refused.name
    assert (spool / REJECTED / "20261202T000000-c.reason").read_text() == "HTTP 422: bad\n"
    assert [p.name for p in pending(spool)] == ["20261130T000000-a.json", "20261201T000000-b.json"]


def test_after_scan_spools_the_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _after(doc(), quiet=True, report=None, store=False, db=None, spool=tmp_path / "s")
    [path] = pending(tmp_path / "s")
    assert json.loads(path.read_bytes()) == doc()
    assert "spooled as" in capsys.readouterr().err


def test_after_scan_reports_a_spool_it_cannot_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    assert not _after(doc(), quiet=True, report=None, store=False, db=None, spool=blocker / "spool")
    assert "scan not spooled" in capsys.readouterr().err


def test_scan_refuses_a_spool_that_is_a_file_before_any_packet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "not-a-dir"
    f.write_text("", encoding="utf-8")
    with pytest.raises(SystemExit) as exit_:
        main(["scan", "198.18.0.0/24", "--spool", str(f)])
    assert exit_.value.code == 2
    assert "is a file" in capsys.readouterr().err


def test_push_needs_one_source_a_server_and_a_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = tmp_path / "token"
    token.write_text("abc\n", encoding="utf-8")
    for argv in (
        ["push"],
        ["push", "--spool", str(tmp_path), str(SAMPLE)],
        ["push", "--spool", str(tmp_path), "--token-file", str(SAMPLE)],
        ["push", "--spool", str(tmp_path), "--server", "https://x", "--token-file", str(SAMPLE)],
        ["push", "--spool", str(tmp_path), "--server", "ftp://x", "--token-file", str(token)],
        [
            "push",
            "--spool",
            str(tmp_path),
            "--server",
            "http://inventory.example",
            "--token-file",
            str(token),
        ],
    ):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2, argv
    err = capsys.readouterr().err
    assert "Traceback" not in err and "give an https:// URL" in err
    assert "expected one token on one line" in err
    assert "travel only over https://" in err
