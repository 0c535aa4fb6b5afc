"""End to end in the default lab: Hikvision SADP, Dahua DHIP, WS-Discovery, then ONVIF queries."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from typing import Any

import pytest
from discovery_runs import WINDOW_S, Run, run_discoverer

from camscan import targets
from camscan.context import ScanContext, ScanSettings
from camscan.discovery import dhip, sadp, wsd
from camscan.discovery.datagram import Datagram
from camscan.identify import identify
from camscan.models import Evidence
from camscan.probes import onvif
from camscan_lab.personalities import dhip as lab_dhip
from camscan_lab.personalities import sadp as lab_sadp

pytestmark = pytest.mark.lab


def facts(found: list[Evidence], host: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for ev in found:
        if ev.host == host:
            out.setdefault(ev.key, set()).add(ev.value)
    return out


def carrying(lab: Any, kind: str) -> list[tuple[Any, Any]]:
    return [
        (d, s)
        for d in lab.devices
        for s in d.spec.services
        if s.kind == kind and not s.table.get("hostile")
    ]


def in_scope(lab: Any, ip: str) -> bool:
    return ipaddress.ip_address(ip) in ipaddress.ip_network(lab.spec.settings.scan_subnet)


@pytest.fixture(scope="module")
def sadp_run(lab: Any) -> Run:
    return run_discoverer(lab, sadp.discover, "sadp")


@pytest.fixture(scope="module")
def dhip_run(lab: Any) -> Run:
    return run_discoverer(lab, dhip.discover, "dhip")


async def wsd_then_onvif(ctx: ScanContext) -> None:
    """WS-Discovery, then the ONVIF probe of every in-scope host it heard, as a scan runs them."""
    heard: set[str] = set()
    emit = ctx.emit

    def record(ev: Evidence) -> None:
        heard.add(ev.host)
        emit(ev)

    ctx.emit = record
    await wsd.discover(ctx)
    ctx.emit = emit
    hosts = sorted(h for h in heard if targets.in_scope(ctx.in_scope, h))
    with ctx.timed(onvif.SOURCE):
        await asyncio.gather(*(onvif.probe_host(ctx, h) for h in hosts))


@pytest.fixture(scope="module")
def wsd_run(lab: Any) -> Run:
    return run_discoverer(lab, wsd_then_onvif, "wsd")


def test_sadp_finds_every_device_with_every_field(lab: Any, sadp_run: Run) -> None:
    found, stats, took = sadp_run
    devices = carrying(lab, "sadp")
    assert len(devices) >= 10
    for device, service in devices:
        got = facts(found, device.ip)
        body = lab_sadp.reply_body(service.table)
        assert body is not None
        want = sadp.parse_probe_match(body)
        for name, key in sadp.FIELD_KEYS.items():
            if (value := want.get(name)) is not None:
                assert got.get(key) == {value}, f"{device.name}: {key}"
        assert got["sadp.mac"] == {device.mac.replace(":", "-")}
        assert got["mac"] == {device.mac} and got["model"] == {device.spec.table["model"]}
        # A recorded reply keeps the address it was recorded with.
        recorded = "capture" in service.table
        assert got["sadp.ipv4"] == ({want.get("IPv4Address")} if recorded else {device.ip})
        assert len(got["sadp.reply"]) == 1
    assert [d.name for d, s in devices if "capture" in s.table] == ["hik-cam-lobby"]
    assert {e.host for e in found} == {d.ip for d, _ in devices}
    assert stats["sadp"].answered == len(devices) and stats["sadp"].errors == 0
    assert took < WINDOW_S + 1.0


def test_sadp_reports_the_device_outside_the_scope(lab: Any, sadp_run: Run) -> None:
    found, _, _ = sadp_run
    outside = [d for d, _ in carrying(lab, "sadp") if not in_scope(lab, d.ip)]
    assert [d.name for d in outside] == ["hik-factory-default"]
    got = facts(found, outside[0].ip)
    assert got["sadp.activated"] == {"false"} and got["sadp.ipv4"] == {"198.19.0.64"}


def test_dhip_finds_every_device_with_every_field(lab: Any, dhip_run: Run) -> None:
    found, stats, took = dhip_run
    devices = carrying(lab, "dhip")
    assert len(devices) >= 10
    for device, service in devices:
        got = facts(found, device.ip)
        packet = lab_dhip.reply_packet(service.table)
        assert packet is not None
        want = dhip.parse_packet(packet)
        for name, key in dhip.FIELD_KEYS.items():
            if (value := want.get(name)) is not None:
                assert got.get(key) == {value}, f"{device.name}: {key}"
        # A recorded reply keeps the addresses it was recorded with.
        recorded = "capture" in service.table
        assert got["dhip.ipv4"] == (
            {want.get("IPv4Address.IPAddress")} if recorded else {device.ip}
        )
        assert got["mac"] == {device.mac}
        assert got["model"] == {device.spec.table["model"]}
        if recorded:  # what crossed the lab's network is the recording, unchanged
            raw = dhip.reply_evidence(Datagram(device.ip, dhip.PORT, packet))[0]
            assert got["dhip.reply"] == {raw.value}
    assert [d.name for d, s in devices if "capture" in s.table] == ["dahua-cam-yard"]
    vendors = {d.name: facts(found, d.ip)["dhip.vendor"] for d, _ in devices}
    assert vendors["lorex-cam"] == {"Lorex"} and vendors["intelbras-cam"] == {"Intelbras"}
    assert vendors["bcs-cam"] == {"General"}
    assert facts(found, lab.device("lorex-cam").ip)["dhip.port"] == {"35000"}
    outside = [d.name for d, _ in devices if not in_scope(lab, d.ip)]
    assert outside == ["intelbras-factory-default"]
    legacy = carrying(lab, "dhip_legacy")
    assert {e.host for e in found} == {d.ip for d, _ in devices + legacy}
    assert stats["dhip"].answered == len(devices)
    assert took < WINDOW_S + 1.0


def test_legacy_5050_discovery_finds_old_firmware(lab: Any, dhip_run: Run) -> None:
    found, stats, _ = dhip_run
    ((device, service),) = carrying(lab, "dhip_legacy")
    got = facts(found, device.ip)
    assert got["dhip.model"] == {service.table["device_type"]} == {device.spec.table["model"]}
    assert got["dhip.serial"] == {service.table["serial"]}
    assert got["dhip.ipv4"] == {device.ip} and got["mac"] == {device.mac}
    assert "dhip.reply" not in got  # it does not speak DHIP
    assert stats["dhip_legacy"].answered == 1 and stats["dhip_legacy"].errors == 0
    assert WINDOW_S <= stats["dhip_legacy"].duration_s < WINDOW_S + 0.5


def test_dhip_flood_and_oversize_are_dropped_and_counted(lab: Any, dhip_run: Run) -> None:
    found, stats, _ = dhip_run
    flooder = lab.device("hostile-flood")
    (service,) = [s for s in flooder.spec.services if s.kind == "dhip"]
    assert service.table["flood"] >= 100 and service.table["oversize_bytes"] > dhip.MAX_REPLY
    assert not [e for e in found if e.host == flooder.ip]
    # Each search brings one oversize and `flood` junk datagrams; a source keeps at most a few.
    assert stats["dhip"].dropped >= service.table["flood"]
    assert 0 < stats["dhip"].errors <= 8


def test_wsd_finds_every_device_and_its_scopes(lab: Any, wsd_run: Run) -> None:
    found, stats, took = wsd_run
    # hostile-xml's reply declares an unknown encoding: counted as an error, never credited
    hostile = [d for d, _ in carrying(lab, "wsd") if d.role == "hostile"]
    assert [facts(found, d.ip) for d in hostile] == [{}]
    devices = [(d, s) for d, s in carrying(lab, "wsd") if d.role != "hostile"]
    assert len(devices) >= 12
    for device, service in devices:
        got = facts(found, device.ip)
        (want,) = wsd.parse_probe_matches(service.table["reply"].strip().encode()).matches
        assert got["wsd.epr"] == {want.epr}, device.name
        assert got["wsd.xaddrs"] == {" ".join(want.xaddrs)}
        assert got["wsd.types"] == {" ".join(want.types)}
        assert got["wsd.metadata_version"] == {want.metadata_version}
        assert got["onvif.scope"] == set(want.scopes)
        if device.name.startswith("hik-"):
            assert got["wsd.epr_mac"] == {device.mac}
            assert f"onvif://www.onvif.org/MAC/{device.mac}" in got["onvif.scope"]
        else:
            assert "wsd.epr_mac" not in got
    assert stats["wsd"].errors >= len(hostile)  # one per probe it answered
    assert stats["wsd"].answered == len(devices) + len(carrying(lab, "wsd_thirdparty"))
    assert took < WINDOW_S + 3.0


def test_wsd_finds_the_device_published_by_the_wsdiscovery_package(lab: Any, wsd_run: Run) -> None:
    found, _, _ = wsd_run
    ((device, service),) = carrying(lab, "wsd_thirdparty")
    got = facts(found, device.ip)
    assert got["onvif.scope"] == set(service.table["scopes"])
    assert got["wsd.xaddrs"] == {service.table["xaddr"]}
    assert "dn:NetworkVideoTransmitter" in next(iter(got["wsd.types"]))
    assert "urn:uuid:" in next(iter(got["wsd.epr"]))


def test_onvif_answers_of_in_scope_devices_are_evidence(lab: Any, wsd_run: Run) -> None:
    found, stats, _ = wsd_run
    answering = [
        (d, s)
        for d, s in carrying(lab, "http")
        if any(r.get("path") == "/onvif/device_service" for r in s.table["response"])
    ]
    assert len(answering) >= 10
    for device, _ in answering:
        got = facts(found, device.ip)
        assert got["onvif.system_time"] == {"2026-03-03T10:12:41Z"}, device.name
        if device.name == "hik-cam-stairs":  # ONVIF authentication off: identity answered
            assert got["onvif.manufacturer"] == {"HIKVISION"}
            assert got["onvif.model"] == {device.spec.table["model"]}
            assert got["onvif.hardware_id"] == {"88"}
            assert "onvif.fault" not in got
        else:
            assert got["onvif.fault"] == {
                "ter:NotAuthorized: Sender not Authorized".join(("env:Sender/", ""))
                if device.name.startswith("hik-")
                else "s:Sender/ter:NotAuthorized: Sender not Authorized"
            }
            (challenge,) = got["onvif.www_authenticate"]
            assert challenge.startswith("Digest ")
            if device.name.startswith(("dahua-", "amcrest-", "cpplus-")):
                assert 'realm="Login to ' in challenge
    outside = lab.device("hik-factory-default")
    assert facts(found, outside.ip)["wsd.epr_mac"] == {outside.mac}
    assert not [e for e in found if e.host == outside.ip and e.source == onvif.SOURCE]
    assert stats["onvif"].answered >= 2 * len(answering)
    assert 0 < stats["onvif"].duration_s < 2.0  # the probe phase: every host at once


def test_discovery_evidence_alone_names_maker_and_oem_brand(
    lab: Any, sadp_run: Run, dhip_run: Run
) -> None:
    # Issue 4 bar: SADP/DHIP evidence, fed through identification, attributes every device.
    evidence = sadp_run[0] + dhip_run[0]
    devices = carrying(lab, "sadp") + carrying(lab, "dhip") + carrying(lab, "dhip_legacy")
    for device, _ in devices:
        verdict = identify([e for e in evidence if e.host == device.ip])
        expect = device.expect
        assert (verdict.maker, verdict.brand) == (expect["maker"], expect["brand"]), device.name


def test_wsd_traps_are_not_called_hikvision_or_dahua(lab: Any, wsd_run: Run) -> None:
    for name in ("vigi-cam", "goahead-cam"):
        verdict = identify(e for e in wsd_run[0] if e.host == lab.device(name).ip)
        assert not verdict.is_target_maker, name


def test_authenticated_device_information_with_a_username_token(lab: Any) -> None:
    found: list[Evidence] = []
    ctx = ScanContext(
        settings=ScanSettings(
            listen_window_s=1.0, onvif_user="admin", onvif_password="lab-only-password"
        ),
        interface=lab.scanner_interface,
        source_ip=lab.scanner_ip,
        in_scope=ipaddress.ip_network(lab.spec.settings.scan_subnet),
        emit=found.append,
        host_evidence=lambda host: [e for e in found if e.host == host],
    )
    with lab.in_scanner():
        asyncio.run(wsd_then_onvif(ctx))
    entrance = lab.device("dahua-cam-entrance")
    got = facts(found, entrance.ip)
    assert got["onvif.manufacturer"] == {"Dahua"}
    assert got["onvif.serial"] == {"4M0747EPAA1D284"}
    assert not [e for e in found if "lab-only-password" in e.value + (e.raw or "")]


def test_vendor_discoverers_run_together_within_the_window(
    lab: Any, sadp_run: Run, dhip_run: Run, wsd_run: Run
) -> None:
    found: list[Evidence] = []
    ctx = ScanContext(
        settings=ScanSettings(listen_window_s=WINDOW_S),
        interface=lab.scanner_interface,
        source_ip=lab.scanner_ip,
        in_scope=ipaddress.ip_network(lab.spec.settings.scan_subnet),
        emit=found.append,
    )

    async def together() -> None:
        await asyncio.gather(sadp.discover(ctx), dhip.discover(ctx), wsd.discover(ctx))

    with lab.in_scanner():
        started = time.monotonic()
        asyncio.run(together())
        took = time.monotonic() - started
    print(f"sadp+dhip+wsd+onvif together: {took:.2f} s")
    for method, alone in (
        ("sadp", sadp_run),
        ("dhip", dhip_run),
        ("dhip_legacy", dhip_run),
        ("wsd", wsd_run),
    ):
        assert ctx.stat(method).answered == alone[1][method].answered, method
    assert {e.host for e in found} == {
        e.host for run in (sadp_run, dhip_run, wsd_run) for e in run[0]
    }
    assert took < WINDOW_S + 1.0
