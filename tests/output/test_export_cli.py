"""`camscan export`, `inventory add`, `report` over NDJSON/ids, `--version`: saved scans convert."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from output_sample import sample_result
from typer.testing import CliRunner

import camscan
from camscan.cli import app
from camscan.output.document import build_document
from camscan.output.jsonout import write_json
from camscan.output.ndjson import write_all
from camscan.output.reader import DocumentError, parse_document, read_document

runner = CliRunner()


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, Path]:
    """The sample scan as a JSON document and as the NDJSON stream the scan itself writes."""
    doc, stream = tmp_path / "scan.json", tmp_path / "scan.ndjson"
    write_json(sample_result(), doc)
    with stream.open("w", encoding="utf-8") as f:
        write_all(sample_result(), f)
    return doc, stream


def test_an_ndjson_stream_reads_back_as_the_same_document(saved: tuple[Path, Path]) -> None:
    doc, stream = saved
    assert read_document(stream) == {**read_document(doc), "fingerprints": {"version": None}}


def test_a_stream_cut_short_reads_as_incomplete(saved: tuple[Path, Path]) -> None:
    lines = saved[1].read_text().splitlines()[:-1]  # no summary line: the scan was killed
    doc = parse_document("\n".join(lines))
    assert doc["complete"] is False and doc["finished"] is None
    assert doc["summary"]["devices"] == len(lines) - 1


@pytest.mark.parametrize(
    "text", ["", "{", "[1]", '{"type": "device"}', '{"type":"header"}\n{"type":"bogus"}']
)
def test_what_is_not_a_scan_is_a_document_error(text: str) -> None:
    with pytest.raises(DocumentError):
        parse_document(text)


@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv", "netbox", "snipeit", "glpi"])
def test_export_from_ndjson_equals_export_from_json(fmt: str, saved: tuple[Path, Path]) -> None:
    doc, stream = saved
    a = runner.invoke(app, ["export", str(doc), "-f", fmt])
    b = runner.invoke(app, ["export", str(stream), "-f", fmt])
    assert a.exit_code == b.exit_code == 0, a.output + b.output
    if fmt == "json":  # the NDJSON writer leaves the fingerprint version to the summary
        assert json.loads(a.stdout)["devices"] == json.loads(b.stdout)["devices"]
    else:
        assert a.stdout == b.stdout


def test_json_to_ndjson_and_back_is_lossless(saved: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "again.ndjson"
    res = runner.invoke(app, ["export", str(saved[0]), "-o", str(out)])  # format from .ndjson
    assert res.exit_code == 0, res.output
    assert read_document(out) == read_document(saved[0])


def test_only_and_confidence_filters_keep_register_exports_to_cameras(
    saved: tuple[Path, Path],
) -> None:
    res = runner.invoke(app, ["export", str(saved[0]), "-f", "csv", "--only", "hikvision,dahua"])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert {r["maker"] for r in rows} == {"Hikvision", "Dahua"}
    assert "Axis" in runner.invoke(app, ["export", str(saved[0]), "-f", "csv"]).stdout
    res = runner.invoke(
        app,
        [
            "export",
            str(saved[0]),
            "-f",
            "json",
            "--only",
            "HIKVISION",
            "--min-confidence",
            "confirmed",
        ],
    )
    doc = json.loads(res.stdout)
    assert doc["devices"] and all(
        d["verdict"]["maker"] == "Hikvision" and d["verdict"]["confidence"] == "confirmed"
        for d in doc["devices"]
    )
    assert doc["summary"]["devices"] == len(doc["devices"])  # counted again after filtering


def test_export_refuses_an_extension_it_cannot_place(
    saved: tuple[Path, Path], tmp_path: Path
) -> None:
    res = runner.invoke(app, ["export", str(saved[0]), "-o", str(tmp_path / "x.xlsx")])
    assert res.exit_code == 2 and "give --format" in res.stderr
    assert not (tmp_path / "x.xlsx").exists()


def test_inventory_add_then_report_diff_and_export_by_id(
    saved: tuple[Path, Path], tmp_path: Path
) -> None:
    db = str(tmp_path / "inv.sqlite3")
    res = runner.invoke(app, ["inventory", "add", str(saved[0]), str(saved[1]), "--db", db])
    assert res.exit_code == 0, res.output
    assert res.stdout.split() == ["1", "2"]
    res = runner.invoke(app, ["diff", "1", "2", "--db", db, "-q"])
    assert res.exit_code == 0 and json.loads(res.stdout)["counts"]["new"] == 0
    res = runner.invoke(app, ["report", "2", "-o", "-", "--db", db])
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("<!DOCTYPE html>") and "sold as Lorex" in res.stdout
    res = runner.invoke(app, ["export", "1", "-f", "csv", "--db", db])
    assert res.exit_code == 0 and len(res.stdout.splitlines()) == 7


def test_inventory_add_of_a_bad_file_stores_nothing(
    saved: tuple[Path, Path], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"hello": 1}')
    db = tmp_path / "inv.sqlite3"
    res = runner.invoke(app, ["inventory", "add", str(saved[0]), str(bad), "--db", str(db)])
    assert res.exit_code == 1 and "not a camscan scan document" in res.stderr
    assert not db.exists()


def test_report_reads_ndjson(saved: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    res = runner.invoke(app, ["report", str(saved[1]), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "1 of them sold as Lorex" in out.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["report.txt", "report"])
def test_report_to_an_unknown_extension_is_a_usage_error(
    name: str, saved: tuple[Path, Path], tmp_path: Path
) -> None:
    res = runner.invoke(app, ["report", str(saved[0]), "-o", str(tmp_path / name)])
    assert res.exit_code == 2 and "unknown report type" in res.stderr
    assert not (tmp_path / name).exists()


def test_version() -> None:
    res = runner.invoke(app, ["--version"])
    assert (res.exit_code, res.stdout) == (0, f"camscan {camscan.__version__}\n")


def test_build_document_round_trip_matches_export(saved: tuple[Path, Path]) -> None:
    res = runner.invoke(app, ["export", str(saved[0])])
    assert json.loads(res.stdout) == build_document(sample_result())
