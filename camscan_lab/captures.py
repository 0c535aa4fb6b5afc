"""Recorded real replies (tests/captures) that lab devices serve byte for byte.

A device built from the parser module's own constants would agree with the parser even where
both are wrong; a recorded reply cannot. The files keep a '# summary -- source' first line.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from camscan.resources import checkout_or

_INSTALLED = Path(__file__).resolve().parent / "_data" / "captures"


def capture_path(name: str) -> Path:
    """`tests/captures/<name>` of a checkout, else the installed copy."""
    return checkout_or("tests/captures", _INSTALLED) / name


def read(path: Path) -> bytes:
    """The recorded bytes of one capture file (hex files decoded), without the summary line."""
    first, _, rest = path.read_bytes().partition(b"\n")
    if not (first.startswith(b"# ") and b" -- " in first):
        raise ValueError(f"{path}: a capture starts with a '# summary -- source' line")
    return bytes.fromhex(rest.decode()) if path.suffix == ".hex" else rest


@cache
def recorded(name: str) -> bytes:
    """The bytes of capture `name` ("dhip/lorex-w461asc.hex"), read once."""
    return read(capture_path(name))
