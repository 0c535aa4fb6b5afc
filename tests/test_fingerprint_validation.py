"""The library's TOML parse and schema check run on content not seen valid before, and only then."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from camscan import fingerprints
from camscan.fingerprints import LibraryError
from camscan.models import Evidence


@pytest.fixture
def validations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """A cache of our own, and the paths the schema check is run on."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    seen: list[Path] = []
    real = fingerprints._validate

    def spy(data: dict[str, Any], schema: dict[str, Any], path: Path) -> None:
        seen.append(path)
        real(data, schema, path)

    monkeypatch.setattr(fingerprints, "_validate", spy)
    return seen


def _shape(lib: fingerprints.Library) -> list[tuple[object, ...]]:
    return [
        (
            *(fp.id, fp.key, fp.regex.pattern, fp.strength, fp.maker, fp.brand, fp.examples),
            *(fp.counter_examples, tuple(r.pattern for r in (*fp.all_of, *fp.none_of))),
        )
        for fp in lib.fingerprints()
    ]


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "fp"
    shutil.copytree(fingerprints.DEFAULT_DIR, root, ignore=shutil.ignore_patterns("ieee.tsv"))
    return root


def test_content_seen_valid_is_not_checked_again(tmp_path: Path, validations: list[Path]) -> None:
    root = _copy(tmp_path)
    first = fingerprints.load(root)
    assert root / "brands.toml" in validations and root / "http.server.toml" in validations
    validations.clear()
    again = fingerprints.load(root)
    assert validations == []
    assert again.version == first.version
    assert [fp.id for fp in again.fingerprints()] == [fp.id for fp in first.fingerprints()]


def test_a_cached_load_parses_no_toml_and_gives_the_same_library(
    tmp_path: Path, validations: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _copy(tmp_path)
    parsed = fingerprints.load(root)
    calls: list[Path] = []
    real = fingerprints._parse_toml

    def spy(path: Path, raw: bytes) -> dict[str, Any]:
        calls.append(path)
        return real(path, raw)

    monkeypatch.setattr(fingerprints, "_parse_toml", spy)
    cached = fingerprints.load(root)
    assert calls == []
    assert _shape(cached) == _shape(parsed) and cached.brands == parsed.brands
    assert cached.oui == parsed.oui and cached.device_types == parsed.device_types
    assert fingerprints.self_test(cached) == []


def test_a_damaged_cache_is_parsed_and_checked_again(
    tmp_path: Path, validations: list[Path]
) -> None:
    root = _copy(tmp_path)
    fingerprints.load(root)
    (entry,) = (tmp_path / "cache" / "camscan" / "fingerprints-checked").iterdir()
    entry.write_bytes(entry.read_bytes()[:1000])  # as if the writer had been killed
    validations.clear()
    assert fingerprints.load(root).version
    assert root / "brands.toml" in validations


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw[:-40] + bytes(40),  # the body changed on disk: its checksum says so
        lambda raw: b"X" + raw[1:],  # not a cache entry of this format
        lambda raw: b"",
    ],
)
def test_a_corrupt_cache_entry_is_checked_again_and_rewritten(
    tmp_path: Path, validations: list[Path], damage: Any
) -> None:
    root = _copy(tmp_path)
    first = fingerprints.load(root)
    (entry,) = (tmp_path / "cache" / "camscan" / "fingerprints-checked").iterdir()
    entry.write_bytes(damage(entry.read_bytes()))
    validations.clear()
    again = fingerprints.load(root)
    assert root / "brands.toml" in validations
    assert _shape(again) == _shape(first)
    validations.clear()
    fingerprints.load(root)  # the entry was written anew
    assert validations == []


def test_the_cache_entry_of_other_content_is_not_taken(
    tmp_path: Path, validations: list[Path]
) -> None:
    root = _copy(tmp_path)
    fingerprints.load(root)
    (entry,) = (tmp_path / "cache" / "camscan" / "fingerprints-checked").iterdir()
    path = root / "rtsp.sdp.toml"
    path.write_text(path.read_text() + "\n# edited\n")
    validations.clear()
    fingerprints.load(root)
    assert path in validations
    assert len(list(entry.parent.iterdir())) == 2
    assert entry.stat().st_mode & 0o777 == 0o600


def test_a_cached_load_compiles_no_pattern_and_matches_as_a_checked_one(
    tmp_path: Path, validations: list[Path], compiled_patterns: list[object]
) -> None:
    root = _copy(tmp_path)
    checked = fingerprints.load(root)
    compiled = compiled_patterns
    compiled.clear()  # from here on: the cached load's, then the matches'
    cached = fingerprints.load(root)
    assert compiled == []
    values = [
        (fp.key, v)
        for fp in checked.fingerprints()
        for v in (*(e.value for e in fp.examples), *fp.counter_examples)
    ]
    values += [(k, v + "\u00e9 x") for k, v in values]  # non-ASCII text takes RE2's own path
    for key, value in values:
        ev = Evidence("h", "t", key, value)
        assert cached.match(ev, registrant=value) == checked.match(ev, registrant=value)
    assert 0 < len(compiled) <= sum(1 for _ in checked.fingerprints()) * 3
    assert fingerprints.self_test(cached) == []


def test_a_pattern_re2_rejects_fails_at_load_though_the_library_was_cached_before(
    tmp_path: Path, validations: list[Path]
) -> None:
    root = _copy(tmp_path)
    fingerprints.load(root)
    path = root / "rtsp.sdp.toml"
    text = path.read_text()
    pattern = next(line for line in text.splitlines() if line.startswith("pattern = "))
    path.write_text(text.replace(pattern, "pattern = '(?<=x)y'", 1))
    for _ in range(2):  # a library that fails its checks is never remembered as checked
        with pytest.raises(LibraryError, match="pattern RE2 cannot compile") as caught:
            fingerprints.load(root)
        assert "\n" not in str(caught.value) and "rtsp.sdp.toml" in str(caught.value)


def test_a_value_marshal_cannot_keep_leaves_no_cache_and_still_loads(
    tmp_path: Path, validations: list[Path]
) -> None:
    root = _copy(tmp_path)
    path = root / "vocabulary" / "makers.toml"
    path.write_text(path.read_text() + "\nupdated = 2024-01-02\n")  # a TOML date
    fingerprints.load(root)
    validations.clear()
    assert fingerprints.load(root).makers
    assert root / "brands.toml" in validations


def test_an_edited_file_is_checked_and_its_error_is_one_line(
    tmp_path: Path, validations: list[Path]
) -> None:
    root = _copy(tmp_path)
    fingerprints.load(root)  # this content is now known valid
    path = root / "rtsp.sdp.toml"
    path.write_text(path.read_text().replace('strength = "strong"', 'strength = "huge"', 1))
    with pytest.raises(LibraryError, match="strength") as caught:
        fingerprints.load(root)
    assert "\n" not in str(caught.value)
    with pytest.raises(LibraryError, match="strength"):  # invalid content is never remembered
        fingerprints.load(root)


def test_a_file_missing_a_required_field_is_a_library_error_not_a_key_error(
    tmp_path: Path, validations: list[Path]
) -> None:
    root = _copy(tmp_path)
    fingerprints.load(root)
    path = root / "rtsp.sdp.toml"
    path.write_text(path.read_text().replace('key = "rtsp.sdp"', "", 1))
    with pytest.raises(LibraryError, match="'key' is a required property"):
        fingerprints.load(root)


def test_without_a_writable_cache_every_load_is_checked(
    tmp_path: Path, validations: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    root = _copy(tmp_path)
    fingerprints.load(root)
    validations.clear()
    fingerprints.load(root)
    assert root / "brands.toml" in validations


def test_bad_user_data_is_one_line_on_the_command_line(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    path = root / "rtsp.sdp.toml"
    path.write_text(path.read_text().replace('strength = "strong"', 'strength = "huge"', 1))
    out = subprocess.run(
        [sys.executable, "-m", "camscan", "fingerprints", "list", "--dir", str(root)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"XDG_CACHE_HOME": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("camscan: error: ")
    assert "rtsp.sdp.toml" in out.stderr and "strength" in out.stderr


def test_the_cache_keeps_only_the_most_recent_contents(
    tmp_path: Path, validations: list[Path]
) -> None:
    root = _copy(tmp_path)
    path = root / "rtsp.sdp.toml"
    text = path.read_text()
    for n in range(fingerprints._CACHE_KEPT + 3):  # each a library content of its own
        path.write_text(text + f"\n# edit {n}\n")
        fingerprints.load(root)
    kept = list((tmp_path / "cache" / "camscan" / "fingerprints-checked").iterdir())
    assert len(kept) == fingerprints._CACHE_KEPT
    validations.clear()
    fingerprints.load(root)  # the latest content is among those kept
    assert validations == []


def test_the_content_version_is_the_loaded_librarys_and_follows_the_files(
    tmp_path: Path, validations: list[Path]
) -> None:
    root = _copy(tmp_path)
    before = fingerprints.content_version(root)
    assert before == fingerprints.load(root).version == fingerprints.load(root).version
    path = root / "vocabulary" / "makers.toml"
    path.write_text(path.read_text() + "\n# edited\n")
    assert fingerprints.content_version(root) == fingerprints.load(root).version != before
    shipped = fingerprints.content_version(fingerprints.DEFAULT_DIR)
    assert shipped == fingerprints.default_library().version
    assert shipped == fingerprints.content_version(fingerprints.DEFAULT_DIR)
