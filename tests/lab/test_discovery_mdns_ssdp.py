"""End to end in the default lab: mDNS (incl. a real avahi-daemon) and SSDP/UPnP discovery."""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

import pytest
from discovery_runs import WINDOW_S, Run, run_discoverer

from camscan.context import ScanContext, ScanSettings
from camscan.discovery import mdns, ssdp
from camscan.discovery.ssdp import parse_description
from camscan.models import Evidence

pytestmark = pytest.mark.lab


def facts(found: list[Evidence], host: str) -> set[tuple[str, str, int | None]]:
    return {(e.key, e.value, e.port) for e in found if e.host == host}


def services_of(lab: Any, *kinds: str) -> list[tuple[Any, Any]]:
    return [(d, s) for d in lab.devices for s in d.spec.services if s.kind in kinds]


@pytest.fixture(scope="module")
def mdns_run(lab: Any) -> Run:
    """One mDNS discovery of the default lab, shared by the tests below."""
    return run_discoverer(lab, mdns.discover, "mdns")


def test_mdns_finds_every_published_instance_and_ignores_out_of_scope(
    lab: Any, mdns_run: Run
) -> None:
    found, all_stats, took = mdns_run
    stats = all_stats["mdns"]
    scope = ipaddress.ip_network(lab.spec.settings.scan_subnet)
    published = services_of(lab, "mdns", "avahi")
    assert {d.name for d, s in published if s.kind == "avahi"} == {"hik-cam-loading"}
    outside = 0
    for device, service in published:
        got = facts(found, device.ip)
        if ipaddress.ip_address(device.ip) not in scope:
            outside += 1
            assert got == set(), f"{device.name} is outside the scan scope"
            continue
        for inst in service.table["instance"]:
            port = inst["port"]
            want = {
                ("mdns.service", inst["type"], port),
                ("mdns.instance", inst["name"], port),
                ("mdns.hostname", inst["hostname"], port),
                ("mdns.txt", ";".join(inst["txt"]), port),
            }
            assert want <= got, f"{device.name}: missing {want - got}"
    assert outside >= 1 and stats.dropped >= outside
    assert stats.answered == len(
        {d.ip for d, _ in published if ipaddress.ip_address(d.ip) in scope}
    )
    assert stats.errors == 0
    assert {e.host for e in found} <= {d.ip for d, _ in published}
    assert took < WINDOW_S + 1.0


def test_avahi_published_camera(lab: Any, mdns_run: Run) -> None:
    found, _, _ = mdns_run
    got = facts(found, lab.device("hik-cam-loading").ip)
    assert ("mdns.instance", "HIKVISION DS-2CD2387G2-LU - 123456789", 80) in got
    assert ("mdns.service", "_CGI._tcp.local.", 80) in got
    assert ("mdns.txt", "path=/", 80) in got
    assert ("mdns.hostname", "DS-2CD2387G2-LU20230815AAWR123456789.local.", 80) in got


def test_ssdp_finds_every_device_with_every_recorded_field(lab: Any) -> None:
    found, all_stats, took = run_discoverer(lab, ssdp.discover, "ssdp")
    stats = all_stats["ssdp"]
    devices = services_of(lab, "ssdp")
    assert devices
    for device, service in devices:
        table = service.table
        ip = device.ip
        got = {(k, v) for k, v, _ in facts(found, ip)}
        location = f"http://{ip}:{table['description_port']}{table['description_path']}"
        want = {("upnp.server", table["server"].replace("{ip}", ip)), ("upnp.location", location)}
        for advert in table["advert"]:
            want |= {("upnp.st", advert["st"]), ("upnp.usn", advert["usn"])}
        if device.role == "hostile":  # its description does not parse: an error, no fields
            assert any(k == "probe.error" and "bad description XML" in v for k, v in got)
        elif table.get("description"):
            desc = parse_description(table["description"].replace("{ip}", ip).encode())
            keys = {
                "manufacturer": "upnp.manufacturer",
                "modelName": "upnp.model_name",
                "modelNumber": "upnp.model_number",
                "modelDescription": "upnp.model_description",
                "serialNumber": "upnp.serial",
                "friendlyName": "upnp.friendly_name",
                "UDN": "upnp.udn",
            }
            want |= {(keys[k], v) for k, v in desc.fields.items()}
            assert any(k == "upnp.description" for k, _ in got)
        else:
            assert any(k == "probe.error" and "HTTP 404" in v for k, v in got)
        assert want <= got, f"{device.name}: missing {want - got}"
    assert stats.answered == len(devices)
    assert {e.host for e in found} == {d.ip for d, _ in devices}
    assert took < WINDOW_S + 1.5


def test_ssdp_out_of_scope_answers_are_dropped(lab: Any) -> None:
    found: list[Evidence] = []
    ctx = ScanContext(
        settings=ScanSettings(listen_window_s=1.5),
        interface=lab.scanner_interface,
        source_ip=lab.scanner_ip,
        in_scope=ipaddress.ip_network("198.18.3.0/24"),
        emit=found.append,
    )
    with lab.in_scanner():
        asyncio.run(ssdp.discover(ctx))
    assert found == []
    assert ctx.stat("ssdp").dropped >= len(services_of(lab, "ssdp"))


def test_ssdp_hears_notify_without_searching(lab: Any) -> None:
    """Listening alone (no M-SEARCH sent) hears the devices that announce themselves."""
    from camscan.discovery.udp import exchange

    found: list[Evidence] = []
    ctx = ScanContext(
        settings=ScanSettings(listen_window_s=2.5),
        interface=lab.scanner_interface,
        source_ip=lab.scanner_ip,
        in_scope=ipaddress.ip_network(lab.spec.settings.scan_subnet),
        emit=found.append,
    )
    hearing = ssdp.SsdpHearing(ctx, lambda host, location: None)

    async def listen() -> None:
        await exchange(
            ctx,
            "ssdp",
            [],
            hearing.feed,
            max_size=ssdp.MAX_DATAGRAM,
            port=ssdp.SSDP_PORT,
            groups=[ssdp.SSDP_GROUP],
        )

    with lab.in_scanner():
        asyncio.run(listen())
    announcing = {d.ip for d, s in services_of(lab, "ssdp") if s.table["notify_interval_s"] > 0}
    assert announcing
    assert {e.host for e in found} == announcing
    assert ctx.stat("ssdp").sent == 0
