"""The sensor's spool: finished scan documents waiting in a directory until the server has them.

The spool is the queue. A document is written atomically (temp file, fsync, rename), so a
crash leaves either the whole file or none; it is removed only after the server acknowledged
it, so a WAN outage of days just leaves files waiting. A document the server refused as
invalid moves to `rejected/` with the reason beside it, so it does not block the others.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REJECTED = "rejected"
SUFFIX = ".json"


def spool_document(doc: Mapping[str, Any], spool: Path) -> Path:
    """Write `doc` into the spool directory atomically; returns its path."""
    spool.mkdir(parents=True, exist_ok=True, mode=0o750)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    data = json.dumps(doc, ensure_ascii=False).encode()
    path = spool / f"{stamp}-{hashlib.sha256(data).hexdigest()[:16]}{SUFFIX}"
    fd, tmp = tempfile.mkstemp(prefix=".incoming-", suffix=".tmp", dir=spool)
    try:
        with os.fdopen(fd, "wb") as f:  # mkstemp's 0600: a scan document maps the network
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(spool, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself survives a power cut
        finally:
            os.close(dir_fd)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def pending(spool: Path) -> list[Path]:
    """Documents waiting in the spool, oldest first (names start with their UTC time)."""
    if not spool.is_dir():
        return []
    return sorted(
        p
        for p in spool.iterdir()
        if p.is_file() and p.suffix == SUFFIX and not p.name.startswith(".")
    )


def reject(path: Path, reason: str) -> Path:
    """Move a refused document to `rejected/` beside it, with the reason in `NAME.reason`."""
    target_dir = path.parent / REJECTED
    target_dir.mkdir(exist_ok=True, mode=0o750)
    target = target_dir / path.name
    os.replace(path, target)
    target.with_suffix(".reason").write_text(reason + "\n", encoding="utf-8")
    return target
