"""Where camscan's data lives: the checkout's top-level directories, or the wheel's copies."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parent
# top-level directory of the repository -> where pyproject puts it inside an installed wheel
_INSTALLED = {
    "fingerprints": _PACKAGE / "_data" / "fingerprints",
    "schemas": _PACKAGE / "_data" / "schemas",
}


def checkout_or(top: str, installed: Path) -> Path:
    """The checkout's `top` directory (where data is edited and tested), else `installed`."""
    checkout = _CHECKOUT / top
    is_checkout = checkout.is_dir() and (_CHECKOUT / "pyproject.toml").is_file()
    return checkout if is_checkout else installed


def data_path(top: str, *parts: str) -> Path:
    """`top/parts…` of a checkout, else of the install."""
    return checkout_or(top, _INSTALLED[top]).joinpath(*parts)
