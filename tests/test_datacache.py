"""The checked-data cache: where it lives, what it keeps, and what it refuses to return."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs
import pytest

from camscan import datacache


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the XDG rule is Linux's")
@pytest.mark.parametrize("xdg", [None, "", "relative/cache", "/abs/cache", "/abs/cache/"])
def test_the_cache_directory_is_the_one_platformdirs_names(
    xdg: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    if xdg is None:
        monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CACHE_HOME", xdg)
    assert datacache.cache_dir() == platformdirs.user_cache_path("camscan")


def test_what_is_written_is_read_back_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    key = datacache.digest(b"a", b"b")
    assert key != datacache.digest(b"ab") and key != datacache.digest(b"a", b"", b"b")
    assert datacache.read("k", key) is None
    datacache.write("k", key, {"docs": [1, "two", None, 3.5, True]})
    assert datacache.read("k", key) == {"docs": [1, "two", None, 3.5, True]}
    assert datacache.read("k", datacache.digest(b"other")) is None
    (entry,) = (tmp_path / "camscan" / "k").iterdir()
    assert entry.stat().st_mode & 0o777 == 0o600
    raw = entry.read_bytes()
    for damaged in (raw[:-1], raw[:-1] + bytes([raw[-1] ^ 1]), b"", raw[1:]):
        entry.write_bytes(damaged)
        assert datacache.read("k", key) is None


def test_only_the_most_recent_entries_of_a_kind_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    keys = [datacache.digest(str(n).encode()) for n in range(datacache.KEPT + 2)]
    for n, key in enumerate(keys):
        datacache.write("k", key, n)
        # distinct times whatever the file system's clock grain: n-th written, n-th oldest
        os.utime(tmp_path / "camscan" / "k" / f"{key}.bin", ns=(n * 10**9, n * 10**9))
    assert [datacache.read("k", k) for k in keys[-datacache.KEPT :]] == list(
        range(2, datacache.KEPT + 2)
    )
    assert len(list((tmp_path / "camscan" / "k").iterdir())) == datacache.KEPT


def test_a_value_marshal_cannot_keep_is_not_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    datacache.write("k", "x", {"when": object()})
    assert not (tmp_path / "camscan" / "k" / "x.bin").exists()
