"""pyproject.toml declares exactly the third-party packages the code imports."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
FIRST_PARTY = {"camscan", "camscan_lab"}
# Extras that are tools, not imports of the package; `lab` is camscan_lab's (checked apart).
TOOL_EXTRAS = {"test", "dev", "deploy"}
# Every other extra is a part of the product behind an option (`report --pdf`, `server`).
PRODUCT_EXTRAS = sorted(set(PROJECT["optional-dependencies"]) - TOOL_EXTRAS - {"lab"})
# Loaded by another library rather than imported: distribution -> the text in camscan/ that
# makes the other library load it (checked below, so the exception cannot outlive its use).
LOADED_BY_NAME = {"psycopg": "postgresql+psycopg://"}  # SQLAlchemy's dialect, named in the URL


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_names(reqs: list[str]) -> set[str]:
    """Distribution names of requirement strings; self-references (camscan[x]) left out."""
    names = {_norm(re.split(r"[\s<>=!~;\[(]", r, maxsplit=1)[0]) for r in reqs}
    return names - {"camscan"}


def _imported_distributions(package: str) -> dict[str, list[str]]:
    """Third-party distribution -> the files of `package` that import it (any depth)."""
    to_dist = importlib.metadata.packages_distributions()
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top in sys.stdlib_module_names or top in FIRST_PARTY:
                    continue
                # A distribution that is not installed here (an extra) is named like its module.
                for dist in to_dist.get(top, [top]):
                    found.setdefault(_norm(dist), []).append(path.relative_to(ROOT).as_posix())
    return found


def test_the_product_declares_exactly_what_it_imports() -> None:
    imported = _imported_distributions("camscan")
    declared = _requirement_names(PROJECT["dependencies"])
    optional = set().union(
        *(_requirement_names(PROJECT["optional-dependencies"][e]) for e in PRODUCT_EXTRAS)
    )
    assert {d: f for d, f in imported.items() if d not in declared | optional} == {}
    assert sorted((declared | optional) - set(imported) - set(LOADED_BY_NAME)) == []
    code = "".join(p.read_text() for p in (ROOT / "camscan").rglob("*.py"))
    assert [d for d, text in LOADED_BY_NAME.items() if text not in code] == []


def test_the_lab_extra_carries_what_the_lab_imports_beyond_the_product() -> None:
    imported = _imported_distributions("camscan_lab")
    product = _requirement_names(PROJECT["dependencies"])
    lab = _requirement_names(PROJECT["optional-dependencies"]["lab"])
    assert {d: f for d, f in imported.items() if d not in product | lab} == {}
    assert sorted(lab - set(imported)) == []


def test_the_product_extras_are_the_ones_expected() -> None:
    assert {"pdf", "server"} <= set(PRODUCT_EXTRAS)


def test_dev_installs_the_lab_and_the_tests() -> None:
    dev = PROJECT["optional-dependencies"]["dev"]
    assert any(re.fullmatch(r"camscan\[(?=.*\btest\b)(?=.*\blab\b)[\w,]+\]", r) for r in dev)
