"""Data checked once and kept by content hash in the user's cache directory (marshal, 0600)."""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import sys
from pathlib import Path
from typing import Any

KEPT = 8  # contents kept per kind: each edit of a data file is new content
_MAGIC = b"camscan-checked\x01"
_SUFFIX = ".bin"
# marshal's format belongs to the interpreter: another Python writes under other names.
_FORMAT = f"{sys.implementation.cache_tag}/marshal{marshal.version}".encode()


def digest(*parts: bytes) -> str:
    """The key of a content made of `parts` (each part length-prefixed, so none can blur)."""
    h = hashlib.sha256(_FORMAT)
    for part in parts:
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.hexdigest()


def cache_dir() -> Path | None:
    """The user's cache directory for camscan, as platformdirs names it; None without a home."""
    if sys.platform.startswith("linux"):
        # Importing platformdirs costs ~4 ms of every start; on Linux its answer is the XDG
        # rule (an absolute $XDG_CACHE_HOME, else ~/.cache), which a test holds it to.
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        if os.path.isabs(xdg):
            return Path(xdg, "camscan")
        home = os.path.expanduser("~")
        return Path(home, ".cache", "camscan") if os.path.isabs(home) else None
    import platformdirs

    try:
        return platformdirs.user_cache_path("camscan")
    except (OSError, RuntimeError):  # no home directory to find a cache in
        return None


def _entry(kind: str, key: str) -> Path | None:
    cache = cache_dir()
    return None if cache is None else cache / kind / f"{key}{_SUFFIX}"


def read(kind: str, key: str) -> Any | None:
    """What `write` kept under `key`, or None (absent, damaged, or written by another Python)."""
    entry = _entry(kind, key)
    if entry is None:
        return None
    try:
        raw = entry.read_bytes()
    except OSError:
        return None
    body = raw[len(_MAGIC) + 32 :]
    # A checksum of the body: a file cut short or changed on disk is never taken as checked.
    if raw[: len(_MAGIC)] != _MAGIC or raw[len(_MAGIC) : len(_MAGIC) + 32] != _sha(body):
        return None
    try:
        return marshal.loads(body)
    except (EOFError, ValueError, TypeError):
        return None


def write(kind: str, key: str, data: Any) -> None:
    """Keep `data` (plain values only) under `key`; a cache that cannot be written costs nothing."""
    entry = _entry(kind, key)
    if entry is None:
        return
    try:
        body = marshal.dumps(data)
    except ValueError:  # a value marshal cannot keep (a TOML date, say): nothing is kept
        return
    part = entry.with_name(f"{entry.name}.{os.getpid()}.part")
    try:
        entry.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(_MAGIC + _sha(body) + body)
        os.replace(part, entry)
        # The entry just written stays whatever the clock's grain: the oldest others go.
        others = [e for e in entry.parent.glob(f"*{_SUFFIX}") if e != entry]
        for old in sorted(others, key=lambda e: e.stat().st_mtime_ns)[
            : max(len(others) - KEPT + 1, 0)
        ]:
            old.unlink(missing_ok=True)
    except OSError:  # read-only or missing: the data is checked again next time
        with contextlib.suppress(OSError):
            part.unlink(missing_ok=True)


def _sha(body: bytes) -> bytes:
    return hashlib.sha256(body).digest()
