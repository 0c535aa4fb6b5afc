"""Files readable by their owner only: scan outputs and fixtures hold MACs and serials."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TextIO


def _open(path: Path) -> int:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):  # never chmod a device or FIFO given as -o
            os.fchmod(fd, 0o600)  # an existing file keeps no wider mode
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_private(path: Path) -> TextIO:
    """`path` opened for writing text, truncated, readable by its owner only (0600)."""
    return os.fdopen(_open(path), "w", encoding="utf-8")


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to a new or truncated `path`, readable by its owner only (0600)."""
    with os.fdopen(_open(path), "wb") as f:
        f.write(data)


__all__ = ["open_private", "write_private"]
