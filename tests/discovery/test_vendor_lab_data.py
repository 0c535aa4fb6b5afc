"""The office lab's SADP/DHIP/WS-Discovery/ONVIF data agree with devices.toml (pure, no lab)."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from camscan.discovery import dhip, sadp, wsd
from camscan.probes import onvif
from camscan_lab.network import DEFAULT_SPEC
from camscan_lab.personalities import dhip as lab_dhip
from camscan_lab.personalities import sadp as lab_sadp
from camscan_lab.spec import load_spec

SPEC = load_spec(DEFAULT_SPEC)


def services(kind: str) -> list[tuple[Any, Any]]:
    return [
        (d, s)
        for d in SPEC.devices
        for s in d.services
        if s.kind == kind and not s.table.get("hostile")
    ]


def ids(items: list[tuple[Any, Any]]) -> list[str]:
    return [d.name for d, _ in items]


@pytest.mark.parametrize(("device", "service"), services("sadp"), ids=ids(services("sadp")))
def test_sadp_reply_is_the_device(device: Any, service: Any) -> None:
    body = lab_sadp.reply_body(service.table)
    assert body is not None
    reply = sadp.parse_probe_match(body)
    assert reply.get("MAC") == device.mac.replace(":", "-")
    if "capture" not in service.table:  # a recorded reply keeps the address it was recorded with
        assert reply.get("IPv4Address") == device.ip
    assert reply.get("DeviceDescription") == device.table["model"]
    assert (reply.get("DeviceSN") or "").startswith(device.table["model"])
    assert reply.get("Activated") == ("false" if device.table.get("outside_scope") else "true")


@pytest.mark.parametrize(("device", "service"), services("dhip"), ids=ids(services("dhip")))
def test_dhip_reply_is_the_device(device: Any, service: Any) -> None:
    packet = lab_dhip.reply_packet(service.table)
    assert packet is not None
    reply = dhip.parse_packet(packet)
    assert reply.get("mac") == device.mac
    if "capture" not in service.table:  # a recorded reply keeps the address it was recorded with
        assert reply.get("IPv4Address.IPAddress") == device.ip
    assert reply.get("DeviceType") == device.table["model"]
    assert reply.get("SerialNo") and reply.get("Vendor")


# The hostile devices' replies lie about themselves on purpose (tests/lab checks them).
WSD_HONEST = [
    (d, s) for d, s in services("wsd") if d.role.split("-")[0] not in ("hostile", "impostor")
]


@pytest.mark.parametrize(("device", "service"), WSD_HONEST, ids=ids(WSD_HONEST))
def test_wsd_reply_is_the_device(device: Any, service: Any) -> None:
    (match,) = wsd.parse_probe_matches(service.table["reply"].strip().encode()).matches
    assert urlsplit(match.xaddrs[0]).hostname == device.ip
    hardware = [unquote(s.split("/hardware/", 1)[1]) for s in match.scopes if "/hardware/" in s]
    model = device.table.get("model", "")
    assert hardware and (hardware[0] == model.replace(" ", "-") or device.name == "goahead-cam")
    if device.name.startswith("hik-"):
        assert wsd.epr_mac(match.epr) == device.mac
        assert f"onvif://www.onvif.org/MAC/{device.mac}" in match.scopes


def test_onvif_answers_agree_with_sadp_and_the_devices() -> None:
    sadp_serials = {
        d.name: sadp.parse_probe_match(lab_sadp.reply_body(s.table) or b"").get("DeviceSN")
        for d, s in services("sadp")
    }
    answered = 0
    for device, service in services("http"):
        for entry in service.table["response"]:
            if entry.get("path") != "/onvif/device_service":
                continue
            assert entry["method"] == "POST" and entry["body_contains"]
            reply = onvif.parse_response(entry["body"].strip().encode())
            if reply.operation == onvif.GET_DEVICE_INFORMATION:
                answered += 1
                assert reply.get("Model") == device.table["model"]
                if device.name in sadp_serials:
                    assert reply.get("SerialNumber") == sadp_serials[device.name]
    assert answered == 2
