"""The data directories travel inside the wheel, and an install finds them without a checkout."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import pytest

from camscan import resources
from camscan_lab import captures
from camscan_lab import resources as lab_resources

ROOT = Path(__file__).resolve().parents[1]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


@pytest.mark.parametrize("package", sorted(SETUPTOOLS["package-dir"]))
def test_every_data_file_is_shipped_in_the_wheel(package: str) -> None:
    top = ROOT / SETUPTOOLS["package-dir"][package]
    globs = SETUPTOOLS["package-data"][package]
    assert package in SETUPTOOLS["packages"]
    files = [
        p.relative_to(top).as_posix()
        for p in top.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    ]
    assert files
    missed = [f for f in files if not any(fnmatch.fnmatchcase(f, g) for g in globs)]
    assert missed == []


def test_an_install_without_a_checkout_reads_its_own_copy(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(resources, "_CHECKOUT", tmp_path)  # no pyproject.toml: not a checkout
    assert resources.data_path("fingerprints", "oui") == (
        Path(resources.__file__).resolve().parent / "_data" / "fingerprints" / "oui"
    )
    assert lab_resources.lab_data("office") == (
        Path(lab_resources.__file__).resolve().parent / "_data" / "lab" / "office"
    )
    assert captures.capture_path("dhip/x.hex") == (
        Path(captures.__file__).resolve().parent / "_data" / "captures" / "dhip" / "x.hex"
    )


def test_a_checkout_reads_its_top_level_directories() -> None:
    assert resources.data_path("fingerprints") == ROOT / "fingerprints"
    assert resources.data_path("schemas", "scan.schema.json").is_file()
    assert lab_resources.lab_data("office") == ROOT / "examples" / "lab" / "office"
