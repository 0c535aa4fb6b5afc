"""`camscan report`, `diff` and `history` through the real CLI app."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from output_sample import sample_result
from typer.testing import CliRunner

from camscan.cli import app
from camscan.inventory import Inventory
from camscan.output.document import build_document
from camscan.output.jsonout import write_json

runner = CliRunner()


@pytest.fixture
def scans(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    write_json(sample_result(), a)
    later = sample_result()
    later.devices = [d for d in later.devices if d.ip != "198.18.0.31"]
    write_json(later, b)
    return a, b


def test_report_writes_html(scans: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    res = runner.invoke(app, ["report", str(scans[0]), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "1 of them sold as Lorex" in out.read_text(encoding="utf-8")


def test_report_pdf_without_weasyprint_is_one_line_exit_1(
    scans: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "weasyprint", None)
    res = runner.invoke(app, ["report", str(scans[0]), "-o", str(tmp_path / "r.pdf")])
    assert res.exit_code == 1
    assert res.stderr.strip().count("\n") == 0 and "WeasyPrint" in res.stderr


def test_report_of_a_non_document_fails_cleanly(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"hello": 1}')
    res = runner.invoke(app, ["report", str(bad), "-o", str(tmp_path / "r.html")])
    assert res.exit_code == 1 and "not a camscan scan document" in res.stderr


def test_diff_of_two_files(scans: tuple[Path, Path]) -> None:
    res = runner.invoke(app, ["diff", str(scans[0]), str(scans[1])])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["counts"]["removed"] == 1 and out["counts"]["still_present"] == 5
    assert out["counts"]["still_present_hikvision_dahua"] == 3
    assert "1 removed" in res.stderr


def test_diff_and_history_from_the_inventory(scans: tuple[Path, Path], tmp_path: Path) -> None:
    db = tmp_path / "inv.sqlite3"
    with Inventory(db) as inv:
        for p in scans:
            inv.store(json.loads(p.read_text()))
    res = runner.invoke(app, ["diff", "1", "2", "--db", str(db), "--quiet"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["removed"][0]["ip"] == "198.18.0.31"
    assert res.stderr == ""
    res = runner.invoke(app, ["history", "--db", str(db)])
    assert res.exit_code == 0, res.output
    assert [(s["id"], s["site"]) for s in json.loads(res.stdout)] == [
        (1, "Town Hall"),
        (2, "Town Hall"),
    ]
    assert "2 stored scans" in res.stderr


def test_history_without_an_inventory_is_empty_and_creates_nothing(tmp_path: Path) -> None:
    db = tmp_path / "none.sqlite3"
    res = runner.invoke(app, ["history", "--db", str(db)])
    assert res.exit_code == 0 and json.loads(res.stdout) == [] and "no inventory" in res.stderr
    assert not db.exists()


def test_diff_of_an_unknown_reference_is_a_usage_error(tmp_path: Path) -> None:
    res = runner.invoke(app, ["diff", "nope.json", "also-nope", "--db", str(tmp_path / "i.db")])
    assert res.exit_code == 2 and "neither a scan file nor" in res.stderr


def test_diff_of_a_missing_scan_id(tmp_path: Path, scans: tuple[Path, Path]) -> None:
    db = tmp_path / "inv.sqlite3"
    with Inventory(db) as inv:
        inv.store(build_document(sample_result()))
    res = runner.invoke(app, ["diff", "1", "7", "--db", str(db)])
    assert res.exit_code == 1 and "no scan 7" in res.stderr


def test_a_hostile_scan_file_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from camscan.cli import main

    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000)  # nested past the recursion limit
    with pytest.raises(SystemExit) as exc:
        main(["report", str(deep), "-o", str(tmp_path / "r.html")])
    err = capsys.readouterr().err
    assert exc.value.code == 1
    assert err.startswith(f"camscan: error: cannot read {deep}: ") and err.count("\n") == 1


def _altered(src: Path, dst: Path, change: str) -> Path:
    doc = json.loads(src.read_text())
    if change == "version":
        doc["schema_version"] = "9.0"
    elif change == "no-version":
        del doc["schema_version"]
    elif change == "bad-confidence":
        doc["devices"][0]["verdict"]["confidence"] = "<b>certain</b>\n" * 50
    else:  # an NDJSON stream from a newer major version
        (dst.with_suffix(".ndjson")).write_text(
            json.dumps(
                {
                    "type": "header",
                    **{k: doc[k] for k in ("schema_version", "tool")},
                    "schema_version": "2.0",
                }
            )
            + "\n"
        )
        return dst.with_suffix(".ndjson")
    dst.write_text(json.dumps(doc))
    return dst


@pytest.mark.parametrize("change", ["version", "no-version", "bad-confidence", "ndjson-v2"])
@pytest.mark.parametrize("command", ["report", "diff"])
def test_a_document_off_the_schema_is_refused_in_one_line(
    command: str,
    change: str,
    scans: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from camscan.cli import main

    bad = _altered(scans[0], tmp_path / "bad.json", change)
    argv = (
        ["report", str(bad), "-o", str(tmp_path / "r.html")]
        if command == "report"
        else ["diff", str(scans[1]), str(bad)]
    )
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    assert exc.value.code == 1 and out == ""
    assert err.startswith(f"camscan: error: cannot read {bad}: ") and err.count("\n") == 1, err
    if change in ("version", "ndjson-v2"):
        assert "schema_version" in err and "reads 1.x" in err
    assert not (tmp_path / "r.html").exists()
