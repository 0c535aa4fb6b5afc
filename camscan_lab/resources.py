"""Where the lab's data lives: the checkout's examples/lab, or the wheel's copy."""

from __future__ import annotations

from pathlib import Path

from camscan.resources import checkout_or

_DATA = Path(__file__).resolve().parent / "_data"


def lab_data(*parts: str) -> Path:
    """`examples/lab/parts…` of a checkout, else of the installed camscan_lab."""
    return checkout_or("examples/lab", _DATA / "lab").joinpath(*parts)
