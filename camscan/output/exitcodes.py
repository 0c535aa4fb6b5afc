"""camscan's exit codes (documented in docs/outputs.md) and how a scan picks one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from camscan.models import ScanResult

OK = 0
RUNTIME_ERROR = 1  # the scan or the command failed, or was interrupted before finishing
USAGE_ERROR = 2  # bad options or arguments (typer/click also use 2)
FOUND = 3  # --fail-on-found: at least one Hikvision or Dahua device was found
RISK = 4  # --fail-on-risk: at least one device carries a risk note


def exit_code(*, found: bool, complete: bool, fail_on_found: bool) -> int:
    """3 if asked to fail on any Hikvision/Dahua device and one was found; 1 if incomplete; 0."""
    if fail_on_found and found:
        return FOUND
    return OK if complete else RUNTIME_ERROR


def exit_code_for(result: ScanResult, fail_on_found: bool) -> int:
    """The exit code of a finished (or interrupted) scan."""
    return exit_code(
        found=any(d.verdict.is_target_maker for d in result.devices),
        complete=result.complete,
        fail_on_found=fail_on_found,
    )


def exit_code_for_document(doc: Mapping[str, Any], fail_on_found: bool) -> int:
    """The exit code of a saved scan document."""
    found = bool(doc["summary"]["hikvision"] or doc["summary"]["dahua"])
    return exit_code(found=found, complete=doc["complete"], fail_on_found=fail_on_found)
