"""Fingerprint sources point at public facts committed in fingerprints/SOURCES.md."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FINGERPRINTS = ROOT / "fingerprints"
SOURCES = FINGERPRINTS / "SOURCES.md"


def _data_files() -> list[Path]:
    return sorted(
        p for p in FINGERPRINTS.rglob("*") if p.suffix in (".toml", ".md") and p != SOURCES
    )


def test_every_sources_reference_names_an_entry_that_exists() -> None:
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', SOURCES.read_text()))
    refs = {
        (p.relative_to(ROOT).as_posix(), ref)
        for p in _data_files()
        for ref in re.findall(r"SOURCES\.md#([\w-]+)", p.read_text())
    }
    assert len(refs) > 50  # the model, scope and realm files all cite entries
    assert sorted(r for r in refs if r[1] not in anchors) == []


def test_no_fingerprint_cites_material_that_is_not_committed() -> None:
    # "knowledge §n" and machine paths pointed at notes outside the repository.
    stale = re.compile(r"knowledge|/work/|FP §|§\d")
    offenders = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in _data_files()
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if stale.search(line)
    ]
    assert offenders == []


def test_entries_cited_inside_sources_md_exist_too() -> None:
    text = SOURCES.read_text()
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', text))
    assert sorted(set(re.findall(r"\]\(#([\w-]+)\)", text)) - anchors) == []
