"""SSDP/UPnP: pure build/parse on captured and hostile bytes; lab personality's messages."""

from __future__ import annotations

import socket
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camscan import rawkeys
from camscan.discovery import ssdp, udp
from camscan.discovery.ssdp import (
    MAX_DATAGRAM,
    MAX_DESCRIPTION,
    ParseError,
    build_msearch,
    description_evidence,
    message_evidence,
    parse_description,
    parse_ssdp,
    same_host_location,
)
from camscan.keys import is_known_key
from camscan.models import Evidence
from camscan_lab.personalities import ssdp as lab_ssdp
from camscan_lab.personality import LabHost

CAPTURES = Path(__file__).parents[1] / "captures" / "ssdp"
OFFICE = Path(__file__).parents[2] / "examples" / "lab" / "office"


def capture(name: str) -> bytes:
    return (CAPTURES / name).read_bytes()


def test_msearch_is_a_valid_ssdp_all_search() -> None:
    msg = parse_ssdp(build_msearch())
    assert msg.kind == "search"
    assert msg.headers["HOST"] == "239.255.255.250:1900"
    assert msg.headers["MAN"] == '"ssdp:discover"'
    assert msg.headers["ST"] == "ssdp:all"
    assert 1 <= int(msg.headers["MX"]) <= 2
    assert build_msearch().endswith(b"\r\n\r\n")


def test_dahua_search_reply() -> None:
    # HTTP/1.1 200 OK, SERVER "... ZheJiang Dahua Technology CO.,LTD. Upnp SDK" (HA #46822)
    msg = parse_ssdp(capture("dahua-search-reply.http"))
    assert msg.kind == "reply"
    assert msg.location == "http://192.168.1.20:49152/upnp_device_desc.xml"
    assert msg.st == "urn:schemas-upnp-org:device:3.0-1L047ACPAW00037"
    ev = {e.key: e.value for e in message_evidence("192.168.1.20", msg)}
    assert ev == {
        "upnp.server": "Linux/3.8.8, UPnP/1.0, ZheJiang Dahua Technology CO.,LTD. Upnp SDK",
        "upnp.location": "http://192.168.1.20:49152/upnp_device_desc.xml",
        "upnp.st": "urn:schemas-upnp-org:device:3.0-1L047ACPAW00037",
        "upnp.usn": "uuid:www.dahuatech.com.device_3_0-1L047ACPAW00037::"
        "urn:schemas-upnp-org:device:3.0-1L047ACPAW00037",
    }


def test_synology_notify_uses_nt_as_st() -> None:
    msg = parse_ssdp(capture("synology-notify.http"))
    assert msg.kind == "notify"
    assert msg.st == "upnp:rootdevice"
    assert msg.headers["SERVER"] == "Synology/DSM/192.168.1.5"
    assert msg.headers["NTS"] == "ssdp:alive"


def test_broadcom_reply_header_names_are_case_insensitive() -> None:
    data = capture("broadcom-search-reply.http").replace(b"SERVER:", b"Server:")
    msg = parse_ssdp(data)
    assert msg.headers["SERVER"].endswith("Broadcom UPNP/0.9")


def test_synology_description() -> None:
    desc = parse_description(capture("synology-rt2600ac-description.xml"))
    assert desc.device_type == "urn:schemas-upnp-org:device:Basic:1"
    assert desc.fields == {
        "manufacturer": "Synology",
        "modelName": "RT2600ac",
        "modelNumber": "RT2600ac 5.2-8227",
        "modelDescription": "Synology NAS",
        "serialNumber": "001132cb4b7a",
        "friendlyName": "SynologyRouter (RT2600ac)",
        "UDN": "uuid:73796E6F-6473-6D00-0000-001132cb4b7a",
    }


def test_expand_via_rawkeys_registry() -> None:
    text = capture("synology-rt2600ac-description.xml").decode()
    raw = Evidence("198.18.0.60", "ssdp", "upnp.description", text, 5000)
    out = rawkeys.expand([raw])
    got = {e.key: e.value for e in out[1:]}
    assert out[0] is raw
    assert got["upnp.model_name"] == "RT2600ac"
    assert got["upnp.udn"] == "uuid:73796E6F-6473-6D00-0000-001132cb4b7a"
    assert all(e.port == 5000 and e.host == "198.18.0.60" for e in out)


def test_every_emitted_key_is_in_the_vocabulary() -> None:
    msg = parse_ssdp(capture("dahua-search-reply.http"))
    desc = parse_description(capture("synology-rt2600ac-description.xml"))
    for ev in message_evidence("h", msg) + description_evidence("h", desc, 80):
        assert is_known_key(ev.key), ev.key


def test_description_in_default_namespace_free_form_and_nested_devices() -> None:
    xml = (
        b"<root><device><manufacturer> ACME </manufacturer><modelName/>"
        b"<deviceList><device><manufacturer>Embedded</manufacturer></device></deviceList>"
        b"</device></root>"
    )
    assert parse_description(xml).fields == {"manufacturer": "ACME"}  # root device only


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\xff" * 20,
        b"HTTP/1.1 404 Not Found\r\nUSN: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nSERVER: x\r\n\r\n",
        b"NOTIFY * HTTP/1.1\r\n" + b"".join(b"H%d: v\r\n" % i for i in range(200)) + b"\r\n",
        b"HTTP/1.1 200 OK\r\nUSN: x\r\n" + b"A" * (MAX_DATAGRAM + 1),
    ],
)
def test_malformed_ssdp_raises_parse_error(data: bytes) -> None:
    with pytest.raises(ParseError):
        parse_ssdp(data)


def test_junk_header_lines_are_skipped() -> None:
    msg = parse_ssdp(b"HTTP/1.1 200 OK\r\nno colon here\r\n: empty name\r\nUSN: u\r\n\r\n")
    assert msg.headers == {"USN": "u"}


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<root><device><manufacturer>&lol2;</manufacturer></device></root>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<root><device><manufacturer>&x;</manufacturer></device></root>"""


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not xml",
        b"<root>",
        b"<html><body>hi</body></html>",
        b"<root><foo/></root>",
        BILLION_LAUGHS,
        EXTERNAL_ENTITY,
        b"\xff\xfe<\x00r\x00",
        b"<root><device>" + b"<x>" * 10 + b"</device></root>",
        b"<root><device><manufacturer>"
        + b"A" * MAX_DESCRIPTION
        + b"</manufacturer></device></root>",
    ],
)
def test_malformed_description_raises_parse_error(data: bytes) -> None:
    with pytest.raises(ParseError):
        parse_description(data)


def test_expand_of_garbage_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        ssdp.expand(Evidence("h", "ssdp", "upnp.description", "<oops"))


@settings(max_examples=300, deadline=2000)  # bounded, with room for a loaded CI machine
@given(st.binary(max_size=MAX_DATAGRAM + 64))
def test_any_bytes_parse_or_parse_error(data: bytes) -> None:
    try:
        msg = parse_ssdp(data)
    except ParseError:
        return
    assert msg.kind in ("reply", "notify", "search")


@settings(max_examples=200, deadline=2000)  # bounded, with room for a loaded CI machine
@given(
    st.one_of(
        st.binary(max_size=4096),
        st.text(max_size=2048).map(lambda t: f"<root><device>{t}</device></root>".encode()),
    )
)
def test_any_description_bytes_parse_or_parse_error(data: bytes) -> None:
    try:
        desc = parse_description(data)
    except ParseError:
        return
    assert all(isinstance(v, str) and v for v in desc.fields.values())


@pytest.mark.parametrize(
    ("location", "host", "expected"),
    [
        ("http://192.168.1.20:49152/upnp_device_desc.xml", "192.168.1.20", ("192.168.1.20", 49152)),
        ("http://192.168.1.20/d.xml", "192.168.1.20", ("192.168.1.20", 80)),
        ("http://192.168.1.21:49152/d.xml", "192.168.1.20", None),  # another host: never follow
        ("http://169.254.169.254/latest/meta-data", "192.168.1.20", None),
        ("http://nas.example:5000/d.xml", "192.168.1.20", None),  # names resolve elsewhere
        ("https://192.168.1.20/d.xml", "192.168.1.20", None),
        ("file:///etc/passwd", "192.168.1.20", None),
        ("http://192.168.1.20:99999/d.xml", "192.168.1.20", None),
        ("http://[::1/", "192.168.1.20", None),
    ],
)
def test_only_locations_on_the_replying_host_are_fetched(
    location: str, host: str, expected: tuple[str, int] | None
) -> None:
    assert same_host_location(location, host) == expected


# --- the lab personality's messages (pure parts) ----------------------------------------------


def _host(ip: str = "198.18.0.60") -> LabHost:
    def no_socket(*_: int) -> socket.socket:
        raise AssertionError("pure test")

    return LabHost(
        "synology-nas", ip, "00:11:32:22:23:24", "eth0", "ns", 15, {}, no_socket, lambda argv: 0
    )


def _service(device: str) -> dict[str, Any]:
    services = tomllib.loads((OFFICE / "ssdp.toml").read_text())["service"]
    return next(s for s in services if s["device"] == device)  # type: ignore[no-any-return]


def test_lab_replies_parse_back_into_the_recorded_fields() -> None:
    dev = lab_ssdp.device_from_service(_host(), _service("synology-nas"))
    assert dev.location == "http://198.18.0.60:5000/ssdp/desc-DSM-eth0.xml"
    for adv in dev.adverts:
        msg = parse_ssdp(lab_ssdp.build_reply(dev, adv))
        assert msg.kind == "reply"
        assert (msg.st, msg.headers["USN"]) == (adv.st, adv.usn)
        assert msg.headers["SERVER"] == "Synology/DSM/198.18.0.60"
        assert msg.headers["CONFIGID.UPNP.ORG"] == "1337"
        notify = parse_ssdp(lab_ssdp.build_notify(dev, adv))
        assert notify.kind == "notify" and notify.st == adv.st
    assert dev.description is not None
    assert parse_description(dev.description).fields["modelName"] == "DS218+"


def test_lab_answers_ssdp_all_and_exact_st_only() -> None:
    dev = lab_ssdp.device_from_service(_host(), _service("dahua-nvr"))
    assert dev.description is None  # no real Dahua description exists: LOCATION gives 404
    assert len(lab_ssdp.matching(dev, "ssdp:all")) == 2
    assert lab_ssdp.matching(dev, "upnp:rootdevice") == []
    assert [a.st for a in lab_ssdp.matching(dev, dev.adverts[0].st)] == [dev.adverts[0].st]


# --- what discover() does with each datagram (no sockets) --------------------------------------


def _ctx(found: list[Evidence]) -> Any:
    import ipaddress

    from camscan.context import ScanContext, ScanSettings

    return ScanContext(
        ScanSettings(), "eth0", "192.168.1.2", ipaddress.ip_network("192.168.1.0/24"), found.append
    )


def test_hearing_dedupes_keeps_scope_and_asks_for_each_location_once() -> None:
    from camscan.discovery.datagram import Datagram

    found: list[Evidence] = []
    asked: list[tuple[str, str]] = []
    ctx = _ctx(found)
    hearing = ssdp.SsdpHearing(ctx, lambda host, loc: asked.append((host, loc)))
    reply = capture("dahua-search-reply.http")
    hearing.feed(Datagram("192.168.1.20", 1900, reply))
    hearing.feed(Datagram("192.168.1.20", 1900, reply))  # the second M-SEARCH's answer
    hearing.feed(Datagram("10.9.9.9", 1900, reply))  # outside the scan scope
    hearing.feed(Datagram("192.168.1.30", 1900, b"\x00garbage"))
    hearing.feed(Datagram("192.168.1.31", 1900, build_msearch()))  # a control point, not a device
    assert asked == [("192.168.1.20", "http://192.168.1.20:49152/upnp_device_desc.xml")]
    assert sorted(e.key for e in found) == ["upnp.location", "upnp.server", "upnp.st", "upnp.usn"]
    assert {e.host for e in found} == {"192.168.1.20"}
    stats = ctx.stat("ssdp")
    assert (stats.answered, stats.dropped) == (1, 2)


def test_hearing_bounds_locations_under_a_flood() -> None:
    from camscan.discovery.datagram import Datagram

    asked: list[tuple[str, str]] = []
    hearing = ssdp.SsdpHearing(_ctx([]), lambda host, loc: asked.append((host, loc)))
    for n in range(ssdp.MAX_LOCATIONS + 50):
        msg = (
            f"HTTP/1.1 200 OK\r\nLOCATION: http://192.168.1.20:{1000 + n}/d.xml\r\n"
            f"USN: uuid:{n}\r\n\r\n"
        ).encode()
        hearing.feed(Datagram("192.168.1.20", 1900, msg))
    assert len(asked) == ssdp.MAX_LOCATIONS


def test_an_interrupted_discovery_ends_its_description_fetches_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio
    from ipaddress import IPv4Network

    from camscan.context import ScanContext, ScanSettings
    from camscan.discovery.datagram import Datagram

    reply = (
        b"HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\nUSN: uuid:1::upnp:rootdevice\r\n"
        b"LOCATION: http://198.18.0.7:49152/rootDesc.xml\r\n\r\n"
    )
    ended: list[str] = []

    async def exchange(
        ctx: ScanContext, method: str, sends: object, on_datagram: Any, **kwargs: object
    ) -> None:
        on_datagram(Datagram("198.18.0.7", 1900, reply))
        await asyncio.sleep(30)

    async def fetch(ctx: ScanContext, session: object, host: str, location: str) -> None:
        try:
            await asyncio.sleep(30)
        finally:
            ended.append(location)

    monkeypatch.setattr(udp, "exchange", exchange)
    monkeypatch.setattr(ssdp, "_fetch_description", fetch)

    async def main() -> list[str]:
        ctx = ScanContext(
            settings=ScanSettings(),
            interface=None,
            source_ip="127.0.0.1",
            in_scope=IPv4Network("198.18.0.0/24"),
            emit=lambda ev: None,
        )
        task = asyncio.create_task(ssdp.discover(ctx))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return list(ended)  # before the loop's final sweep could end it

    assert asyncio.run(main()) == ["http://198.18.0.7:49152/rootDesc.xml"]


def test_a_location_on_an_exploit_path_is_never_fetched() -> None:
    host = "198.18.0.7"
    assert ssdp.same_host_location(f"http://{host}:49152/rootDesc.xml", host) == (host, 49152)
    for path in (
        "/Security/users?auth=YWRtaW46MTEK",
        "/%53DK/webLanguage",
        "/onvif-http/snapshot?auth=x",
    ):
        assert ssdp.same_host_location(f"http://{host}{path}", host) is None, path
