"""Diff of two scans: new/removed/changed/still-present, matching by MAC, then serial, then IP."""

from __future__ import annotations

import json
from dataclasses import replace

from output_sample import (
    axis_camera,
    conflicting_device,
    hikvision_camera,
    lorex_camera,
    outside_scope_nvr,
    sample_result,
    undetermined_host,
)

from camscan.diff import diff_documents, diff_to_dict, match_devices
from camscan.models import Confidence, Device, DeviceType, Verdict
from camscan.output.document import build_document, device_to_dict


def _new_dahua() -> Device:
    return Device(
        ip="198.18.0.77",
        mac="3c:ef:8c:77:77:77",
        verdict=Verdict(
            maker="Dahua",
            brand="Dahua",
            device_type=DeviceType.CAMERA,
            model="IPC-HDW2431T",
            firmware=None,
            serial="7G0AAAAPAZ12345",
            confidence=Confidence.CONFIRMED,
        ),
    )


def test_two_removed_one_added() -> None:
    before = build_document(sample_result())
    after_result = sample_result()
    after_result.devices = [
        d for d in after_result.devices if d.ip not in ("198.18.0.31", "198.18.0.60")
    ] + [_new_dahua()]
    after = build_document(after_result)
    diff = diff_documents(before, after)
    assert [d["ip"] for d in diff.new] == ["198.18.0.77"]
    assert sorted(d["ip"] for d in diff.removed) == ["198.18.0.31", "198.18.0.60"]
    assert sorted(p.after["ip"] for p in diff.still_present) == [
        "198.18.0.11",
        "198.18.0.40",
        "198.18.0.45",
        "198.18.1.15",
    ]
    assert diff.changed == []
    # Hikvision camera, the Dahua/Hikvision conflict, the Hikvision NVR; not the Axis.
    assert diff.counts() == {
        "new": 1,
        "removed": 2,
        "changed": 0,
        "still_present": 4,
        "still_present_hikvision_dahua": 3,
        "new_hikvision_dahua": 1,
        "removed_hikvision_dahua": 1,
    }
    out = diff_to_dict(diff, before, after, a_label="a.json", b_label="b.json")
    assert json.loads(json.dumps(out)) == out
    assert out["counts"]["still_present_hikvision_dahua"] == 3
    assert out["before"]["ref"] == "a.json" and out["new"][0]["model"] == "IPC-HDW2431T"


def _dev(device: Device, **changes: object) -> dict:
    return device_to_dict(replace(device, **changes))  # type: ignore[arg-type]


def test_mac_match_wins_over_a_new_address() -> None:
    hik = hikvision_camera()
    diff = match_devices([_dev(hik)], [_dev(hik, ip="198.18.0.211")])
    assert [p.matched_by for p in diff.still_present] == ["mac"]
    assert diff.changed[0].changes == {"ip": ("198.18.0.11", "198.18.0.211")}


def test_serial_matches_when_the_mac_is_unknown() -> None:
    # Routed scans see no MAC: the serial carries the identity.
    lorex = lorex_camera()
    diff = match_devices([_dev(lorex, mac=None)], [_dev(lorex, mac=None, ip="10.9.9.9")])
    assert [p.matched_by for p in diff.still_present] == ["serial"]
    assert not diff.new and not diff.removed


def test_ip_matches_only_without_contradicting_identity() -> None:
    undet = undetermined_host()
    same = match_devices([_dev(undet, mac=None)], [_dev(undet)])
    assert [p.matched_by for p in same.still_present] == ["ip"]
    # A different MAC at the same address is a replacement, not the same device.
    replaced = match_devices([_dev(undet)], [_dev(undet, mac="02:00:5e:99:99:99")])
    assert not replaced.still_present
    assert len(replaced.new) == len(replaced.removed) == 1


def test_firmware_upgrade_is_a_change_and_still_counts() -> None:
    hik = hikvision_camera()
    upgraded = _dev(hik, verdict=replace(hik.verdict, firmware="V5.7.3build 220112"))
    diff = match_devices([_dev(hik)], [upgraded])
    assert diff.changed[0].changes == {"firmware": ("V5.6.2build 190701", "V5.7.3build 220112")}
    assert diff.still_present_target == 1


def test_still_present_counts_a_camera_that_went_quiet() -> None:
    hik = hikvision_camera()
    quiet = _dev(
        hik,
        verdict=replace(hik.verdict, maker=None, brand=None, confidence=Confidence.UNDETERMINED),
    )
    diff = match_devices([_dev(hik)], [quiet])
    assert diff.still_present_target == 1


def test_equal_records_are_each_matched_once() -> None:
    devs = [_dev(d) for d in (axis_camera(), conflicting_device(), outside_scope_nvr())]
    twice = [*devs, dict(devs[0])]
    diff = match_devices(twice, devs)
    assert len(diff.still_present) == 3 and len(diff.removed) == 1
