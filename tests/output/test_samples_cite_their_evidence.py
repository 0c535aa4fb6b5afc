"""The samples a reviewer reads: every item a verdict cites is in that device's evidence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from camscan.output.document import uncited

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample"


def _devices(name: str) -> list[dict[str, Any]]:
    text = (SAMPLE / name).read_text(encoding="utf-8")
    if name.endswith(".ndjson"):
        lines = [json.loads(line) for line in text.splitlines()]
        return [line for line in lines if line["type"] == "device"]
    devices: list[dict[str, Any]] = json.loads(text)["devices"]
    return devices


@pytest.mark.parametrize("name", ["scan.json", "scan-next-quarter.json", "scan.ndjson"])
def test_every_decided_by_item_is_in_the_device_evidence(name: str) -> None:
    devices = _devices(name)
    assert sum(len(d["verdict"]["decided_by"]) for d in devices) > 100
    missing = {
        d["ip"]: [f"{m['key']}={m['value'][:40]!r}" for m in uncited(d)]
        for d in devices
        if uncited(d)
    }
    assert missing == {}


def test_a_document_citing_an_absent_item_is_caught() -> None:
    device = next(d for d in _devices("scan.json") if d["verdict"]["decided_by"])
    cited = device["verdict"]["decided_by"][0]
    trimmed = {
        **device,
        "evidence": [
            e
            for e in device["evidence"]
            if (e["key"], e["value"]) != (cited["key"], cited["value"])
        ],
    }
    assert uncited(trimmed) == [cited]
