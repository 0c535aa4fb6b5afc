"""mDNS / DNS-SD: captured responses (as bytes, no sockets) → services → Evidence; hostile bytes."""

from __future__ import annotations

import ipaddress
import json
import socket
import struct
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zeroconf._dns import DNSAddress, DNSPointer, DNSRecord, DNSService, DNSText
from zeroconf.const import _CLASS_IN, _CLASS_IN_UNIQUE, _TYPE_A, _TYPE_AAAA, _TYPE_ANY, _TYPE_PTR

from camscan.discovery import mdns
from camscan.discovery.mdns import (
    MAX_PACKET,
    SERVICES_META,
    MdnsService,
    ParseError,
    evidence,
    format_txt,
    instance_label,
    service_types_from_packet,
    services_from_packet,
)
from camscan.keys import is_known_key
from camscan_lab.personalities import mdns as lab_mdns

CAPTURES = Path(__file__).parents[1] / "captures" / "mdns"
OFFICE = Path(__file__).parents[2] / "examples" / "lab" / "office"


def _fqdn(name: str) -> str:
    return name if name.endswith(".") else name + "."


def _record(r: dict[str, Any]) -> DNSRecord:
    name = _fqdn(r["name"])
    cls = _CLASS_IN_UNIQUE if r["flush"] else _CLASS_IN
    ttl = r["ttl"]
    data = r["rdata"]
    if r["type"] == "PTR":
        return DNSPointer(name, _TYPE_PTR, cls, ttl, _fqdn(data))
    if r["type"] == "TXT":
        return DNSText(name, 16, cls, ttl, lab_mdns._txt_rdata(data))
    if r["type"] == "SRV":
        return DNSService(
            name,
            33,
            cls,
            ttl,
            data["priority"],
            data["weight"],
            data["port"],
            _fqdn(data["target"]),
        )
    if r["type"] == "A":
        return DNSAddress(name, _TYPE_A, cls, ttl, socket.inet_aton(data))
    return DNSAddress(name, _TYPE_AAAA, cls, ttl, ipaddress.IPv6Address(data).packed)


def captured_packets() -> list[tuple[str, bytes]]:
    """(source address, datagram) of each captured response, re-encoded from its records."""
    doc = json.loads((CAPTURES / "hikvision-cgi-tcp.json").read_text())
    out = []
    for p in doc["packets"]:
        answers = [_record(r) for r in p["answers"]]
        extra = [_record(r) for r in p["additionals"]]
        (data,) = lab_mdns.build_response(answers, extra)
        out.append((p["address"], data))
    return out


def test_captured_hikvision_responses() -> None:
    # qr=1 aa=1 an=1 ar=5: PTR _CGI._tcp.local -> "HIKVISION <model> - <sn>", TXT, SRV, A, AAAA×2
    packets = captured_packets()
    assert len(packets) == 4
    got = {}
    for address, data in packets:
        (svc,) = services_from_packet(data)
        assert svc.service == "_CGI._tcp.local."
        assert svc.port == 80
        assert svc.txt == "path=/"
        assert svc.addresses == (address,)  # the A record; AAAA ignored (IPv4 only)
        got[address] = (svc.instance, svc.hostname)
    assert got["10.0.1.166"] == (
        "HIKVISION DS-2CD2722FWD-IZS - 733050127",
        "DS-2CD2722FWD-IZS20170321BBWR733050127.local.",
    )
    assert got["10.0.1.215"] == (
        "HIKVISION DS-2CD2955FWD-IS - 236286152",
        "DS-2CD2955FWD-IS20190709AAWR236286152.local.",
    )


def test_evidence_of_a_resolved_instance() -> None:
    _, data = captured_packets()[1]
    (svc,) = services_from_packet(data)
    ev = evidence(svc, "10.0.1.166")
    assert {(e.key, e.value) for e in ev} == {
        ("mdns.service", "_CGI._tcp.local."),
        ("mdns.instance", "HIKVISION DS-2CD2722FWD-IZS - 733050127"),
        ("mdns.hostname", "DS-2CD2722FWD-IZS20170321BBWR733050127.local."),
        ("mdns.txt", "path=/"),
    }
    assert all(e.host == "10.0.1.166" and e.port == 80 and e.source == "mdns" for e in ev)
    assert all(is_known_key(e.key) for e in ev)


def test_instance_without_srv_or_txt_still_names_itself() -> None:
    svc = MdnsService("_ipp._tcp.local.", "P", None, None, None, ())
    assert [e.key for e in evidence(svc, "h")] == ["mdns.service", "mdns.instance"]


def test_format_txt() -> None:
    assert format_txt([(b"path", b"/")]) == "path=/"
    assert format_txt([(b"a", None), ("b", "2"), (b"", b"x")]) == "a;b=2"
    assert format_txt([]) is None
    assert len(format_txt([(b"k", b"v" * 5000)]) or "") == 1024


def test_instance_label() -> None:
    label = instance_label("HIKVISION X - 1._CGI._tcp.local.", "_CGI._tcp.local.")
    assert label == "HIKVISION X - 1"
    assert instance_label("Foo._cgi._tcp.local", "_CGI._tcp.local.") == "Foo"
    assert instance_label("odd", "_http._tcp.local.") == "odd"


# --- the lab responder's answers, parsed back by the scanner's parser ---------------------------


def _service(file: str, device: str) -> dict[str, Any]:
    services = tomllib.loads((OFFICE / file).read_text())["service"]
    return next(s for s in services if s["device"] == device)  # type: ignore[no-any-return]


def test_lab_responder_enumerates_types_and_answers_browse() -> None:
    published = lab_mdns.instances(_service("mdns.toml", "hp-printer"))
    ans, extra = lab_mdns.answer_records(SERVICES_META, _TYPE_PTR, published, "198.18.0.55")
    (meta,) = lab_mdns.build_response(ans, extra)
    assert service_types_from_packet(meta) == ["_ipp._tcp.local.", "_printer._tcp.local."]
    ans, extra = lab_mdns.answer_records("_ipp._tcp.local.", _TYPE_PTR, published, "198.18.0.55")
    (browse,) = lab_mdns.build_response(ans, extra)
    (svc,) = services_from_packet(browse)
    assert svc.instance == "HP LaserJet Pro M404-M405 [131415]"
    assert (svc.port, svc.addresses) == (631, ("198.18.0.55",))
    assert svc.txt is not None and "usb_MFG=HP" in svc.txt.split(";")


def test_lab_responder_answers_any_for_instance_and_host_only_when_asked() -> None:
    published = lab_mdns.instances(_service("mdns.toml", "synology-nas"))
    inst = published[0]
    ans, _ = lab_mdns.answer_records(inst.fullname, _TYPE_ANY, published, "198.18.0.60")
    assert {type(r) for r in ans} == {DNSService, DNSText}
    ans, _ = lab_mdns.answer_records(inst.hostname, _TYPE_A, published, "198.18.0.60")
    assert [r.name for r in ans] == ["DiskStation.local."]
    assert lab_mdns.answer_records("_other._tcp.local.", _TYPE_PTR, published, "1.2.3.4") == (
        [],
        [],
    )


def test_avahi_files_publish_the_recorded_instance() -> None:
    service = _service("avahi.toml", "hik-cam-loading")
    (inst,) = lab_mdns.instances(service)
    xml = lab_mdns.avahi_service_file(inst)
    assert "<name>HIKVISION DS-2CD2387G2-LU - 123456789</name>" in xml
    assert "<type>_CGI._tcp</type>" in xml and "<port>80</port>" in xml
    assert "<txt-record>path=/</txt-record>" in xml
    conf = lab_mdns.avahi_config(_host("hik-cam-loading", "198.18.0.16"), service)
    assert "enable-dbus=no" in conf and "allow-interfaces=eth0" in conf
    assert "host-name=DS-2CD2387G2-LU20230815AAWR123456789" in conf
    argv = lab_mdns.avahi_argv(Path("/tmp/x"))
    assert argv[:2] == ["unshare", "-m"]
    assert "mount -t tmpfs tmpfs /run" in argv[-1] and "--no-drop-root --no-chroot" in argv[-1]


def _host(name: str, ip: str) -> Any:
    from camscan_lab.personality import LabHost

    return LabHost(name, ip, "aa", "eth0", "ns", 15, {}, lambda *a: socket.socket(), lambda argv: 0)


# --- hostile bytes -------------------------------------------------------------------------------


def _header(qd: int = 0, an: int = 1) -> bytes:
    return struct.pack("!HHHHHH", 0, 0x8400, qd, an, 0, 0)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00" * 5,  # shorter than a header
        _header(an=3),  # announces records that are not there
        _header() + b"\xc0\x0c\x00\x0c\x00\x01",  # name pointer to itself: compression loop
        _header() + b"\x3f" + b"a" * 10,  # label runs past the end
        _header(an=1) + b"\x00" * (MAX_PACKET + 1),  # larger than any mDNS datagram
    ],
)
def test_hostile_packets_raise_parse_error(data: bytes) -> None:
    with pytest.raises(ParseError):
        services_from_packet(data)


@settings(max_examples=300, deadline=2000)  # bounded, with room for a loaded CI machine
@given(
    st.one_of(st.binary(max_size=1500), st.binary(max_size=1500).map(lambda b: _header(an=2) + b))
)
def test_any_bytes_give_services_or_parse_error(data: bytes) -> None:
    try:
        services = services_from_packet(data)
    except ParseError:
        return
    assert all(isinstance(s, MdnsService) for s in services)


def test_an_interrupted_browse_ends_its_resolves_before_closing_zeroconf(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio
    from ipaddress import IPv4Network

    from zeroconf import ServiceStateChange

    from camscan.context import ScanContext, ScanSettings

    events: list[str] = []

    class FakeZeroconf:
        zeroconf = object()

        def __init__(self, **kwargs: object) -> None:
            pass

        async def async_close(self) -> None:
            events.append("zeroconf closed")

    class FakeBrowser:
        def __init__(self, zc: object, name: str, handlers: list[Any]) -> None:
            kind = "_http._tcp.local." if name == mdns.SERVICES_META else name
            handlers[0](zc, kind, f"cam.{kind}", ServiceStateChange.Added)

        async def async_cancel(self) -> None:
            pass

    class FakeInfo:
        def __init__(self, service: str, name: str) -> None:
            pass

        async def async_request(self, zc: object, timeout: float) -> bool:
            try:
                await asyncio.sleep(30)
            finally:
                events.append("resolve ended")
            return False

    monkeypatch.setattr(mdns, "AsyncZeroconf", FakeZeroconf)
    monkeypatch.setattr(mdns, "AsyncServiceBrowser", FakeBrowser)
    monkeypatch.setattr(mdns, "AsyncServiceInfo", FakeInfo)

    async def main() -> list[str]:
        ctx = ScanContext(
            settings=ScanSettings(),
            interface=None,
            source_ip="127.0.0.1",
            in_scope=IPv4Network("198.18.0.0/24"),
            emit=lambda ev: None,
        )
        task = asyncio.create_task(mdns.discover(ctx))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return list(events)

    assert asyncio.run(main()) == ["resolve ended", "zeroconf closed"]
