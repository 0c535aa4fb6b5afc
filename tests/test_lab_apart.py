"""The lab is not the product: camscan imports and runs without camscan_lab installed."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Runs in a fresh interpreter where `import camscan_lab` fails as if it were not installed.
WITHOUT_LAB = """
import importlib, json, pkgutil, sys
sys.modules["camscan_lab"] = None  # an import of it now raises ImportError
import camscan
names = sorted(m.name for m in pkgutil.walk_packages(camscan.__path__, "camscan.")
               if m.name != "camscan.__main__")  # __main__ runs the command line
for name in names:
    importlib.import_module(name)
lab = sorted(m for m in sys.modules if m.startswith("camscan_lab") and sys.modules[m])
print(json.dumps({"imported": names, "lab_modules": lab}))
"""


def without_lab(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120, cwd=ROOT
    )


def test_every_product_module_imports_with_the_lab_hidden() -> None:
    proc = without_lab(WITHOUT_LAB)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert {"camscan.pipeline", "camscan.cli.scan", "camscan.discovery.sadp"} <= set(
        result["imported"]
    )
    assert result["lab_modules"] == []


def test_no_product_module_names_the_lab_in_an_import_statement() -> None:
    offenders = []
    for path in sorted((ROOT / "camscan").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [
                f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] == "camscan_lab"
            ]
    assert offenders == []


RUN_CLI = """
import sys
sys.modules["camscan_lab"] = None
from camscan.cli import main
main(sys.argv[1:])
"""


def test_lab_commands_without_the_lab_say_how_to_install_it() -> None:
    for argv in (["demo"], ["lab", "up", "--hosts", "3"], ["lab", "--help"]):
        proc = without_lab(RUN_CLI, *argv)
        assert (proc.returncode, proc.stdout) == (2, ""), (argv, proc.stderr)
        assert proc.stderr == (
            "camscan: error: the lab is not installed: "
            "pip install 'camscan[lab]' (from a checkout: '.[lab]')\n"
        )


def test_without_the_lab_the_other_commands_still_work() -> None:
    proc = without_lab(RUN_CLI, "--help")
    assert proc.returncode == 0, proc.stderr
    assert all(c in proc.stdout for c in ("scan", "identify", "fingerprints", "demo"))
    proc = without_lab(RUN_CLI, "fingerprints", "test")
    assert proc.returncode == 0, proc.stderr


def test_with_the_lab_installed_the_lab_commands_are_offered() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "camscan", "lab", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert all(c in proc.stdout for c in ("up", "down", "status", "exec"))
