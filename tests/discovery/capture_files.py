"""Read tests/captures/<protocol>/<name>: a '# summary -- source' line, then the bytes."""

from __future__ import annotations

from pathlib import Path

CAPTURES = Path(__file__).resolve().parent.parent / "captures"


def load(protocol: str, name: str) -> bytes:
    """The captured bytes (hex files are decoded) without the summary line."""
    text = (CAPTURES / protocol / name).read_bytes()
    first, _, rest = text.partition(b"\n")
    assert first.startswith(b"# ") and b" -- " in first, f"{name}: needs '# summary -- source'"
    return bytes.fromhex(rest.decode()) if name.endswith(".hex") else rest


def names(protocol: str) -> list[str]:
    """Every capture file of a protocol."""
    return sorted(p.name for p in (CAPTURES / protocol).iterdir() if p.is_file())
