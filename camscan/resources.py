"""Where camscan's data lives: the checkout's top-level directories, or the wheel's copies."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parent
# top-level directory of the repository -> where pyproject puts it inside an installed wheel
_INSTALLED = {
    "fingerprints": _PACKAGE / "_data" / "fingerprints",
    "schemas": _PACKAGE / "_data" / "schemas",
    "examples/lab": _PACKAGE / "_data" / "lab",
}


def data_path(top: str, *parts: str) -> Path:
    """`top/parts…` of a checkout (where the data is edited and tested), else of the install."""
    checkout = _CHECKOUT / top
    base = checkout if (checkout.is_dir() and (_CHECKOUT / "pyproject.toml").is_file()) \
        else _INSTALLED[top]
    return base.joinpath(*parts)
