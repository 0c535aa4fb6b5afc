"""Banner probes end to end in the default lab: every recorded banner seen, hostiles bounded."""

from __future__ import annotations

import asyncio
import ipaddress
import resource
import time
from collections.abc import Mapping
from typing import Any

import pytest

from camscan.context import ScanContext, ScanSettings
from camscan.models import Evidence
from camscan.probes import banners, http, paths
from camscan_lab.personalities.http import render
from camscan_lab.personalities.rtsp import choose as rtsp_choose

pytestmark = pytest.mark.lab

HOSTILE_ERRORS = {
    "silent": {80: "80: timeout"},
    "flood": {80: "80: oversize"},
    "garbage": {80: "80: garbage"},
    "reset": {80: "80: reset"},
    "badcert": {80: "80: garbage", 443: "443: tls: "},
    "slowloris": {80: "80: timeout"},
}


def subnet_devices(lab: Any) -> list[Any]:
    net = ipaddress.ip_network(lab.spec.settings.scan_subnet)
    return [d for d in lab.devices if ipaddress.IPv4Address(d.ip) in net]


@pytest.fixture(scope="module")
def banner_run(lab: Any) -> tuple[list[Evidence], ScanContext, float, float]:
    """One banner phase over every device of the scan subnet, as the pipeline runs it."""
    found: list[Evidence] = []
    ctx_box: list[ScanContext] = []

    async def phase() -> float:
        ctx = ScanContext(ScanSettings(), lab.scanner_interface, lab.scanner_ip, [], found.append)
        ctx_box.append(ctx)
        started = time.monotonic()
        await asyncio.gather(*(banners.probe_host(ctx, d.ip) for d in subnet_devices(lab)))
        return time.monotonic() - started

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with lab.in_scanner():
        took = asyncio.run(phase())
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    return found, ctx_box[0], took, grown_mb


def values(evs: list[Evidence], ip: str, key: str, port: int | None = None) -> list[str]:
    return [
        e.value for e in evs if e.host == ip and e.key == key and (port is None or e.port == port)
    ]


def services(lab: Any, kind: str) -> list[tuple[Any, Mapping[str, Any]]]:
    return [(d, s.table) for d in subnet_devices(lab) for s in d.spec.services if s.kind == kind]


def test_phase_within_budget_and_memory_bounded(
    banner_run: tuple[list[Evidence], ScanContext, float, float],
) -> None:
    _evs, ctx, took, grown_mb = banner_run
    assert took <= 10.0
    assert grown_mb < 150  # a 50 MB flood must not be buffered
    for method in ("http", "tls", "rtsp", "tcp"):
        assert ctx.stat(method).sent > 0


def test_every_recorded_http_root_response_is_seen(
    lab: Any, banner_run: tuple[list[Evidence], ScanContext, float, float]
) -> None:
    evs = banner_run[0]
    checked = 0
    for kind in ("http", "https"):
        for device, table in services(lab, kind):
            root = next(
                (
                    r
                    for r in table.get("response", [])
                    if r.get("path") == "/" and r.get("method", "GET") == "GET"
                ),
                None,
            )
            if root is None or table["port"] not in banners.HTTP_PORTS | banners.HTTPS_PORTS:
                continue
            want = http.parse_http_response(render(root))
            port = int(table["port"])
            assert want.status_line in values(evs, device.ip, "http.status", port), device.name
            assert want.header_block in values(evs, device.ip, "http.headers", port), device.name
            if want.title:  # an empty <title></title> says nothing and is not emitted
                assert want.title in values(evs, device.ip, "http.title", port), device.name
            for name, value in want.headers:
                if name.lower() == "server":
                    assert value in values(evs, device.ip, "http.server", port), device.name
                if name.lower() == "www-authenticate":
                    assert value in values(evs, device.ip, "http.www_authenticate", port)
            checked += 1
    assert checked >= 30


def test_vendor_paths_recorded_where_the_device_answers(
    lab: Any, banner_run: tuple[list[Evidence], ScanContext, float, float]
) -> None:
    evs = banner_run[0]
    seen = 0
    for device, table in services(lab, "http"):
        recorded = {r.get("path") for r in table.get("response", [])}
        for entry in paths.selected_paths(deep=False):
            got = values(evs, device.ip, f"http.path.{entry.name}", int(table["port"]))
            if entry.path in recorded:
                assert got, (device.name, entry.name)
                seen += 1
            else:
                assert not got, (device.name, entry.name)  # the 404 fallback is not evidence
    assert seen >= 8
    assert not [e for e in evs if e.key.startswith("dahua.rpc2")]  # deep only


def test_every_recorded_rtsp_reply_is_seen(
    lab: Any, banner_run: tuple[list[Evidence], ScanContext, float, float]
) -> None:
    evs = banner_run[0]
    for device, table in services(lab, "rtsp"):
        for method in ("OPTIONS", "DESCRIBE"):
            entry = rtsp_choose(table.get("response", []), method)
            assert entry is not None
            assert entry["status"] in values(evs, device.ip, "rtsp.status"), device.name
            for line in entry.get("headers", []):
                name, _, value = str(line).partition(":")
                key = {
                    "server": "rtsp.server",
                    "public": "rtsp.public",
                    "www-authenticate": "rtsp.www_authenticate",
                }.get(name.strip().lower())
                if key:
                    assert value.strip() in values(evs, device.ip, key), (device.name, key)


def test_tls_certificates_and_vendor_ports(
    lab: Any, banner_run: tuple[list[Evidence], ScanContext, float, float]
) -> None:
    evs = banner_run[0]
    for device, table in services(lab, "https"):
        assert values(evs, device.ip, "tls.subject", 443) == [table["cert_subject"]]
        assert values(evs, device.ip, "tls.issuer", 443) == [table["cert_issuer"]]
    for device, table in services(lab, "tcp"):
        port = int(table["port"])
        if port not in ScanSettings().ports:
            continue
        assert values(evs, device.ip, f"tcp.open.{port}") == ["open"], device.name
        if "greeting_hex" in table:
            assert values(evs, device.ip, f"tcp.banner.{port}") == [table["greeting_hex"]]


def test_amcrest_has_dahua_banners_only(
    lab: Any, banner_run: tuple[list[Evidence], ScanContext, float, float]
) -> None:
    evs = banner_run[0]
    ip = lab.device("amcrest-cam").ip
    assert values(evs, ip, "http.headers", 80)[0].startswith("CONNECTION: close\r\n")
    assert not values(evs, ip, "http.server")
    assert any("Login to AMC" in v for v in values(evs, ip, "rtsp.www_authenticate"))


def test_each_hostile_host_reports_what_went_wrong_and_nothing_else_errs(
    lab: Any, banner_run: tuple[list[Evidence], ScanContext, float, float]
) -> None:
    evs = banner_run[0]
    hostile_ips = set()
    for device, table in services(lab, "hostile"):
        if table["mode"] in ("redos", "onvif-clock"):  # well-formed HTTP: the content is the attack
            assert values(evs, device.ip, "probe.error") == []
            assert values(evs, device.ip, "http.response")
            continue
        hostile_ips.add(device.ip)
        want = HOSTILE_ERRORS[table["mode"]][int(table["port"])]
        errors = values(evs, device.ip, "probe.error")
        assert any(e.startswith(want) for e in errors), (device.name, errors)
    assert len(hostile_ips) == 6
    others = [e for e in evs if e.key == "probe.error" and e.host not in hostile_ips]
    assert others == []


@pytest.mark.parametrize(
    "name", ["amcrest-cam", "cpplus-dvr", "intelbras-cam", "luma-nvr", "alibi-nvr", "truvision-nvr"]
)
def test_oem_devices_identified_from_banners_and_mac(
    lab: Any, banner_run: tuple[list[Evidence], ScanContext, float, float], name: str
) -> None:
    from camscan.identify import identify

    device = lab.device(name)
    evs = [e for e in banner_run[0] if e.host == device.ip]
    evs.append(Evidence(device.ip, "arp", "mac", device.mac))
    verdict = identify(evs)
    assert (verdict.maker, verdict.brand) == (device.expect["maker"], device.expect["brand"])
