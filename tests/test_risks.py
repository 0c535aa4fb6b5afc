"""Risk notes: the advisory file self-tests, and notes reach the document, CSV and exit code."""

from __future__ import annotations

import csv
import io
import shutil
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from camscan import risks
from camscan.cli import app
from camscan.models import Confidence, Device, Evidence, Verdict
from camscan.output.csv import csv_text
from camscan.output.document import SCHEMA_VERSION, device_to_dict


def test_every_advisory_example_holds() -> None:
    assert risks.self_test() == []


def test_every_advisory_has_examples_both_ways_and_a_source() -> None:
    for adv in risks.default_advisories():
        assert adv.must_match and adv.must_not_match, adv.id
        assert adv.sources and all(s.strip() for s in adv.sources), adv.id


def test_the_self_test_reports_an_example_that_does_not_hold() -> None:
    (adv,) = [a for a in risks.default_advisories() if a.id == "hikvision-cve-2021-36260"]
    broken = replace(
        adv,
        must_match=({"maker": "Hikvision", "firmware": "V5.5.800 build 210628"},),
        must_not_match=({"maker": "Hikvision", "firmware": "V5.6.2build 190701"},),
    )
    assert len(risks.self_test([broken])) == 2


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"kind": "exploit"}, "kind must be one of"),
        ({"severity": "apocalyptic"}, "severity must be one of"),
        ({"pattern": "(?=x)"}, "pattern"),
        ({"key": None}, "needs key and pattern"),
    ],
)
def test_a_malformed_advisory_is_refused(entry: dict[str, Any], message: str) -> None:
    base = {
        "id": "x",
        "kind": "evidence",
        "title": "t",
        "severity": "high",
        "certainty": "disclosed",
        "advice": "a",
        "sources": ["s"],
        "key": "sadp.activated",
        "pattern": "false",
        "must_match": [],
        "must_not_match": [],
    }
    bad = {k: v for k, v in {**base, **entry}.items() if v is not None}
    with pytest.raises(risks.RiskDataError, match=message):
        risks.parse({"advisory": [bad]})


def test_duplicate_ids_are_refused() -> None:
    entry = {
        "id": "x",
        "kind": "plaintext_web",
        "title": "t",
        "severity": "high",
        "certainty": "disclosed",
        "advice": "a",
        "sources": ["s"],
        "must_match": [],
        "must_not_match": [],
    }
    with pytest.raises(risks.RiskDataError, match="twice"):
        risks.parse({"advisory": [entry, entry]})


def camera(firmware: str | None, *evidence: tuple[str, str, str | None]) -> Device:
    ip = "198.18.0.2"
    return Device(
        ip=ip,
        mac="44:19:b6:00:00:02",
        evidence=[
            Evidence(ip, key.split(".")[0], key, value, raw=raw) for key, value, raw in evidence
        ],
        verdict=Verdict(
            maker="Hikvision",
            brand="Hikvision",
            device_type="camera",
            model="DS-2CD2385G1-I",
            firmware=firmware,
            serial=None,
            confidence=Confidence.CONFIRMED,
        ),
    )


def ids(device: Device) -> list[str]:
    return [r["id"] for r in device_to_dict(device)["risks"]]


def test_notes_come_from_what_the_device_disclosed() -> None:
    tls = ("tls.subject", "CN=IPC", None)
    assert ids(camera("V5.6.2build 190701", tls)) == ["hikvision-cve-2021-36260"]
    assert ids(camera("V5.5.800 build 210628", tls)) == []
    assert ids(camera(None, ("sadp.activated", "false", None), tls)) == [
        "hikvision-sadp-not-activated"
    ]
    reply = "<ProbeMatch><HCPlatformEnable>true</HCPlatformEnable></ProbeMatch>"
    assert ids(camera(None, ("sadp.reply", "ProbeMatch", reply), tls)) == [
        "hikvision-hik-connect-enabled"
    ]
    assert ids(camera(None, ("http.server", "App-webs/", None))) == ["plaintext-web-only"]


def test_a_note_says_why_and_what_to_do() -> None:
    (note,) = device_to_dict(camera("V5.6.2build 190701", ("tls.subject", "CN=x", None)))["risks"]
    assert note["cves"] == ["CVE-2021-36260"] and note["certainty"] == "in range"
    assert "V5.6.2build 190701 on DS-2CD2385G1-I" in note["detail"]
    assert note["advice"] and note["source"].startswith("https://")


def test_old_documents_get_their_notes_when_read() -> None:
    d = device_to_dict(camera("V5.6.2build 190701", ("http.server", "App-webs/", None)))
    old = {
        "schema_version": "1.0",
        "summary": {"devices": 1},
        "devices": [{k: v for k, v in d.items() if k != "risks"}],
    }
    new = risks.with_risks(old)
    assert [r["id"] for r in new["devices"][0]["risks"]] == [
        "hikvision-cve-2021-36260",
        "plaintext-web-only",
    ]
    assert new["summary"]["risks"] == {"hikvision-cve-2021-36260": 1, "plaintext-web-only": 1}
    assert SCHEMA_VERSION == "1.1"


def test_csv_has_a_risks_column() -> None:
    doc = {
        "site": None,
        "started": "2026-11-23T02:00:00+00:00",
        "devices": [
            device_to_dict(camera("V5.6.2build 190701", ("http.server", "App-webs/", None)))
        ],
    }
    (row,) = csv.DictReader(io.StringIO(csv_text(doc)))
    assert row["risks"] == (
        "hikvision-cve-2021-36260 (critical, in range); plaintext-web-only (medium, disclosed)"
    )


def test_fingerprints_test_command_runs_the_risk_examples_too(tmp_path: Path) -> None:
    root = tmp_path / "fp"
    shutil.copytree(risks.DEFAULT_FILE.parents[1], root)
    path = root / "risks" / "advisories.toml"
    text = path.read_text(encoding="utf-8")
    broken = text.replace(
        'firmware = "V5.6.2build 190701" },\n  { maker = "Hikvision", model = "DS-2CD2142FWD-I"',
        'firmware = "V5.5.800 build 210628" },\n  { maker = "Hikvision", model = "DS-2CD2142FWD-I"',
        1,
    )
    assert broken != text
    path.write_text(broken, encoding="utf-8")
    result = CliRunner().invoke(app, ["fingerprints", "test", "--dir", str(root)])
    assert result.exit_code == 1
    assert "hikvision-cve-2021-36260: must match" in result.stderr


def _notes(advisories: tuple[risks.Advisory, ...]) -> list[list[str]]:
    out = []
    for adv in advisories:
        for ex in (*adv.must_match, *adv.must_not_match):
            out.append([n.detail for n in risk_notes_of(ex, advisories)])
    return out


def risk_notes_of(example: Any, advisories: tuple[risks.Advisory, ...]) -> list[risks.RiskNote]:
    return risks.risk_notes(risks.example_device(example), advisories)


def test_advisories_seen_valid_load_without_parsing_or_compiling_and_note_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compiled_patterns: list[object]
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = tmp_path / "advisories.toml"
    shutil.copy(risks.DEFAULT_FILE, path)
    checked = risks.load(path)
    compiled = compiled_patterns
    compiled.clear()  # from here on: the cached load's, then the notes'

    def no_parse(text: str) -> dict[str, Any]:
        raise AssertionError("parsed again")

    monkeypatch.setattr(tomllib, "loads", no_parse)
    cached = risks.load(path)
    assert compiled == []
    assert [a.id for a in cached] == [a.id for a in checked]
    assert risks.self_test(cached) == [] and compiled
    assert _notes(cached) == _notes(checked)


def test_an_edited_advisory_file_is_checked_again_with_its_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = tmp_path / "advisories.toml"
    shutil.copy(risks.DEFAULT_FILE, path)
    risks.load(path)
    text = path.read_text()
    first = next(line for line in text.splitlines() if line.startswith("firmware = "))
    path.write_text(text.replace(first, "firmware = '(?<=V)5'", 1))
    for _ in range(2):
        with pytest.raises(risks.RiskDataError, match="firmware") as caught:
            risks.load(path)
        assert "\n" not in str(caught.value)
