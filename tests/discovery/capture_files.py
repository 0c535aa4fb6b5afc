"""Read tests/captures/<protocol>/<name>: a '# summary -- source' line, then the bytes."""

from __future__ import annotations

from pathlib import Path

from camscan_lab import captures

CAPTURES = Path(__file__).resolve().parent.parent / "captures"


def read(path: Path) -> bytes:
    """The captured bytes of one fixture file (hex files decoded), without the summary line."""
    return captures.read(path)


def load(protocol: str, name: str) -> bytes:
    """The captured bytes of tests/captures/<protocol>/<name>."""
    return read(CAPTURES / protocol / name)


def names(protocol: str) -> list[str]:
    """Every capture file of a protocol."""
    return sorted(p.name for p in (CAPTURES / protocol).iterdir() if p.is_file())
