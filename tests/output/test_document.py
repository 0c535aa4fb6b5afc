"""The scan document: golden shape, key order, schema validity, round trip, summary figures."""

from __future__ import annotations

import copy
import json
import os
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest
from output_sample import sample_result

from camscan.models import Device
from camscan.output.document import (
    ARP_LIMIT,
    ROUTED_LIMIT,
    SCHEMA_VERSION,
    build_document,
    document_to_result,
)
from camscan.output.exitcodes import exit_code_for, exit_code_for_document
from camscan.output.jsonout import dumps_document, read_json, write_json
from camscan.output.schema import validate_document

GOLDEN = Path(__file__).parent / "golden" / "scan.json"
FP_VERSION = "2026.11.1"


def _doc(**kw: object) -> dict:
    return build_document(sample_result(**kw), fingerprint_version=FP_VERSION)  # type: ignore[arg-type]


def test_document_matches_golden_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("camscan.__version__", "0.0.0+golden")  # a release must not move it
    text = dumps_document(_doc())
    if os.environ.get("CAMSCAN_REGEN_GOLDEN"):
        GOLDEN.write_text(text, encoding="utf-8")
    # Text comparison pins key order as well as values.
    assert text == GOLDEN.read_text(encoding="utf-8")


def test_top_level_key_order_is_the_schema_order() -> None:
    assert list(_doc()) == [
        "schema_version",
        "tool",
        "fingerprints",
        "site",
        "operator",
        "started",
        "scope",
        "finished",
        "complete",
        "stats",
        "summary",
        "devices",
        "errors",
    ]
    assert _doc()["schema_version"] == SCHEMA_VERSION


def test_document_validates_against_schema() -> None:
    validate_document(_doc())
    validate_document(_doc(complete=False))


@pytest.mark.parametrize(
    "breakage",
    [
        lambda d: d.pop("summary"),
        lambda d: d["devices"][0]["verdict"].__setitem__("confidence", "pretty sure"),
        lambda d: d["devices"][0].__setitem__("mac", "44-19-B6-3A-10-01"),
        lambda d: d.__setitem__("schema_version", "2.0"),
        lambda d: d["scope"].__setitem__("surprise", 1),
    ],
)
def test_schema_rejects_a_broken_document(breakage: object) -> None:
    doc = copy.deepcopy(_doc())
    breakage(doc)  # type: ignore[operator]
    with pytest.raises(jsonschema.ValidationError):
        validate_document(doc)


def test_round_trip_through_result_is_lossless() -> None:
    doc = _doc()
    again = build_document(document_to_result(doc), fingerprint_version=FP_VERSION)
    assert again == doc
    # The raw excerpt of a deciding match comes back from the device's evidence list.
    result = document_to_result(doc)
    hik = next(d for d in result.devices if d.ip == "198.18.0.11")
    assert hik.verdict.matches[0].evidence in hik.evidence


def test_summary_counts() -> None:
    s = _doc()["summary"]
    assert (s["devices"], s["hikvision"], s["dahua"]) == (6, 2, 2)
    assert s["white_label"] == {"Lorex": 1}
    assert s["by_maker"] == {"Dahua": 2, "Hikvision": 2, "Axis": 1}
    assert s["by_confidence"] == {"confirmed": 3, "likely": 1, "possible": 1, "undetermined": 1}
    assert (s["conflicts"], s["undetermined"], s["outside_scope"]) == (1, 1, 1)


def test_devices_are_ordered_by_address_and_verdict_carries_evidence() -> None:
    devices = _doc()["devices"]
    assert [d["ip"] for d in devices] == [
        "198.18.0.11",
        "198.18.0.31",
        "198.18.0.40",
        "198.18.0.45",
        "198.18.0.60",
        "198.18.1.15",
    ]
    lorex = devices[1]["verdict"]
    assert (lorex["maker"], lorex["brand"], lorex["white_label"]) == ("Dahua", "Lorex", True)
    assert lorex["decided_by"][0]["fingerprint_id"] == "dhip.vendor.lorex"
    first = lorex["decided_by"][0]
    assert (first["source"], first["key"], first["value"], first["port"]) == (
        "dhip",
        "dhip.vendor",
        "Lorex",
        37810,
    )
    assert first["sets"] == {"maker": "Dahua", "brand": "Lorex"}


def test_scope_limits_follow_the_methods() -> None:
    local = _doc()["scope"]["limits"]
    assert ARP_LIMIT in local and ROUTED_LIMIT not in local
    assert any("SADP (Hikvision) and DHIP (Dahua)" in x for x in local)
    routed = sample_result()
    routed.scope = replace(routed.scope, interface=None, probes=["banners"])
    limits = build_document(routed)["scope"]["limits"]
    assert ROUTED_LIMIT in limits and ARP_LIMIT not in limits


def test_write_json_replaces_file_atomically(tmp_path: Path) -> None:
    target = tmp_path / "out" / "scan.json"
    write_json(sample_result(), target, fingerprint_version=FP_VERSION)
    assert read_json(target) == json.loads(dumps_document(_doc()))
    write_json(_doc(complete=False), target)
    assert read_json(target)["complete"] is False
    assert [p.name for p in target.parent.iterdir()] == ["scan.json"]  # no temp file left


def test_exit_codes() -> None:
    done, cut = sample_result(), sample_result(complete=False)
    assert exit_code_for(done, fail_on_found=False) == 0
    assert exit_code_for(done, fail_on_found=True) == 3
    assert exit_code_for(cut, fail_on_found=False) == 1
    assert exit_code_for(cut, fail_on_found=True) == 3
    clean = replace(done, devices=[Device(ip="198.18.0.9")])
    assert exit_code_for(clean, fail_on_found=True) == 0
    assert exit_code_for_document(build_document(clean), fail_on_found=True) == 0
    assert exit_code_for_document(_doc(), fail_on_found=True) == 3


def test_banners_without_arp_on_a_segment_state_the_connect_check() -> None:
    from camscan.output.document import CONNECT_LIMIT

    scan = sample_result()
    scan.scope = replace(scan.scope, probes=["banners"])
    limits = build_document(scan)["scope"]["limits"]
    assert CONNECT_LIMIT in limits and ARP_LIMIT not in limits and ROUTED_LIMIT not in limits
    assert CONNECT_LIMIT not in _doc()["scope"]["limits"]  # with ARP, ARP found the hosts
