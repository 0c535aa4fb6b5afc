"""Evidence goes to the host that sent it; addresses its messages name are only a note on it."""

from __future__ import annotations

import asyncio
import socket
from ipaddress import IPv4Network
from typing import Any

import pytest
from zeroconf import ServiceStateChange
from zeroconf._dns import DNSAddress, DNSPointer, DNSService, DNSText
from zeroconf.const import _CLASS_IN, _CLASS_IN_UNIQUE, _TYPE_A, _TYPE_PTR

from camscan.context import ScanContext, ScanSettings
from camscan.discovery import mdns
from camscan.keys import NAMES_OTHER
from camscan.models import Evidence
from camscan_lab.personalities import mdns as lab_mdns

SERVICE = "_CGI._tcp.local."
INSTANCE = f"HIKVISION DS-2CD2722FWD-IZS - 733050075.{SERVICE}"
SENDER, NAMED = "198.18.0.9", "198.18.0.50"


def _announcement(address: str) -> bytes:
    """A Hikvision-style answer whose A record names `address`."""
    answers = [DNSPointer(SERVICE, _TYPE_PTR, _CLASS_IN, 4500, INSTANCE)]
    extra = [
        DNSService(INSTANCE, 33, _CLASS_IN_UNIQUE, 120, 0, 0, 80, "cam.local."),
        DNSText(INSTANCE, 16, _CLASS_IN_UNIQUE, 4500, lab_mdns._txt_rdata(["path=/"])),
        DNSAddress("cam.local.", _TYPE_A, _CLASS_IN_UNIQUE, 120, socket.inet_aton(address)),
    ]
    (data,) = lab_mdns.build_response(answers, extra)
    return data


def test_the_book_remembers_who_sent_an_instance() -> None:
    book = mdns.SenderBook(own="198.18.0.2")
    book.feed(_announcement(NAMED), SENDER)
    book.feed(_announcement(NAMED), "198.18.0.2")  # our own packet looped back
    book.feed(b"\x00garbage", "198.18.0.3")
    assert book.senders(INSTANCE) == [SENDER]
    assert book.senders(INSTANCE.upper()) == [SENDER]
    assert book.senders("other._CGI._tcp.local.") == []


def test_the_book_is_bounded() -> None:
    book = mdns.SenderBook(own=None)
    for n in range(mdns.MAX_SENDERS + 5):
        book.feed(_announcement(NAMED), f"198.18.1.{n}")
    assert len(book.senders(INSTANCE)) == mdns.MAX_SENDERS


def _discover(
    monkeypatch: pytest.MonkeyPatch, packets: list[tuple[str, bytes]], addresses: list[str]
) -> tuple[list[Evidence], Any]:
    """Run discover() against fakes: `packets` arrive through zeroconf's socket, then the
    instance resolves to `addresses` (what zeroconf's cache would hold)."""

    class FakeTransport:
        def __init__(self) -> None:
            self.protocol: Any = asyncio.DatagramProtocol()

        def get_protocol(self) -> Any:
            return self.protocol

        def set_protocol(self, protocol: Any) -> None:
            self.protocol = protocol

    transport = FakeTransport()

    class Engine:
        def __init__(self) -> None:
            self.readers = [type("Wrapped", (), {"transport": transport})()]

    class Inner:
        engine = Engine()

        async def async_wait_for_start(self) -> None:
            pass

    class FakeZeroconf:
        zeroconf = Inner()

        def __init__(self, **kwargs: object) -> None:
            pass

        async def async_close(self) -> None:
            pass

    class FakeBrowser:
        def __init__(self, zc: object, name: str, handlers: list[Any]) -> None:
            if name == mdns.SERVICES_META:
                handlers[0](zc, name, SERVICE, ServiceStateChange.Added)
                return
            for sender, data in packets:
                transport.protocol.datagram_received(data, (sender, 5353))
            handlers[0](zc, SERVICE, INSTANCE, ServiceStateChange.Added)

        async def async_cancel(self) -> None:
            pass

    class FakeInfo:
        def __init__(self, service: str, name: str) -> None:
            self.server, self.port, self.properties = "cam.local.", 80, {b"path": b"/"}

        async def async_request(self, zc: object, timeout: float) -> bool:
            return True

        def parsed_addresses(self, version: object) -> list[str]:
            return addresses

    monkeypatch.setattr(mdns, "AsyncZeroconf", FakeZeroconf)
    monkeypatch.setattr(mdns, "AsyncServiceBrowser", FakeBrowser)
    monkeypatch.setattr(mdns, "AsyncServiceInfo", FakeInfo)
    found: list[Evidence] = []
    ctx = ScanContext(
        settings=ScanSettings(listen_window_s=0.2),
        interface=None,
        source_ip="198.18.0.2",
        in_scope=IPv4Network("198.18.0.0/24"),
        emit=found.append,
    )
    asyncio.run(mdns.discover(ctx))
    return found, ctx.stat("mdns")


def test_records_naming_another_address_are_credited_to_the_sender(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    found, stats = _discover(monkeypatch, [(SENDER, _announcement(NAMED))], [NAMED])
    assert {e.host for e in found} == {SENDER}
    assert ("mdns.instance", "HIKVISION DS-2CD2722FWD-IZS - 733050075") in {
        (e.key, e.value) for e in found
    }
    notes = [e.value for e in found if e.key == NAMES_OTHER]
    assert notes == [f"mDNS {INSTANCE[: -len(SERVICE) - 1]}.{SERVICE} names {NAMED}"]
    assert stats.answered == 1


def test_the_scanners_own_address_is_never_a_device(monkeypatch: pytest.MonkeyPatch) -> None:
    found, _ = _discover(monkeypatch, [(SENDER, _announcement("198.18.0.2"))], ["198.18.0.2"])
    assert {e.host for e in found} == {SENDER}


def test_a_device_announcing_itself_is_found_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    found, _ = _discover(monkeypatch, [(SENDER, _announcement(SENDER))], [SENDER])
    assert {e.host for e in found} == {SENDER}
    assert not [e for e in found if e.key == NAMES_OTHER]


def test_an_instance_nobody_in_scope_sent_is_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    found, stats = _discover(monkeypatch, [("10.1.1.1", _announcement(NAMED))], [NAMED])
    assert found == []
    assert stats.dropped == 1


def _ctx(found: list[Evidence]) -> ScanContext:
    return ScanContext(
        settings=ScanSettings(),
        interface=None,
        source_ip="127.0.0.1",
        in_scope=IPv4Network("198.18.0.0/24"),
        emit=found.append,
    )


@pytest.mark.parametrize(
    "location", [f"http://{NAMED}:49152/rootDesc.xml", f"http://{NAMED}/rootDesc.xml"]
)
def test_an_ssdp_location_elsewhere_is_a_note_on_the_sender(location: str) -> None:
    from camscan.discovery import ssdp

    found: list[Evidence] = []
    asyncio.run(ssdp._fetch_description(_ctx(found), None, SENDER, location))  # type: ignore[arg-type]
    assert [(e.host, e.key, e.value) for e in found] == [
        (SENDER, NAMES_OTHER, f"SSDP LOCATION {location}")
    ]


def test_a_forbidden_path_on_the_sender_itself_is_no_note() -> None:
    from camscan.discovery import ssdp

    found: list[Evidence] = []
    location = f"http://{SENDER}/Security/users?auth=YWRtaW46MTEK"
    asyncio.run(ssdp._fetch_description(_ctx(found), None, SENDER, location))  # type: ignore[arg-type]
    assert found == []


def test_wsd_xaddrs_elsewhere_are_a_note_and_never_queried(monkeypatch: pytest.MonkeyPatch) -> None:
    from camscan.discovery import udp, wsd
    from camscan.discovery.datagram import Datagram
    from camscan.probes import onvif

    xaddrs = (
        f"http://{NAMED}/onvif/device_service http://{SENDER}/onvif/device_service "
        "http://[fe80::5a50:edff:fe1f:e385]/onvif/device_service"  # its own, for all we know
    )
    reply = (
        '<?xml version="1.0"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" '
        'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"><s:Body><d:ProbeMatches>'
        "<d:ProbeMatch><a:EndpointReference><a:Address>urn:uuid:1</a:Address>"
        f"</a:EndpointReference><d:XAddrs>{xaddrs}</d:XAddrs></d:ProbeMatch>"
        "</d:ProbeMatches></s:Body></s:Envelope>"
    ).encode()
    queried: list[tuple[str, str]] = []

    async def exchange(
        ctx: ScanContext, method: str, sends: object, on_datagram: Any, **kwargs: object
    ) -> None:
        on_datagram(Datagram(SENDER, 3702, reply))

    async def query(ctx: ScanContext, host: str, xaddr: str) -> None:
        queried.append((host, xaddr))

    monkeypatch.setattr(udp, "exchange", exchange)
    monkeypatch.setattr(onvif, "query", query)
    found: list[Evidence] = []
    ctx = _ctx(found)
    ctx.host_evidence = lambda host: [e for e in found if e.host == host]

    async def discover_then_probe() -> None:  # as a scan runs them: discovery, then probes
        await wsd.discover(ctx)
        await onvif.probe_host(ctx, SENDER)

    asyncio.run(discover_then_probe())
    assert {e.host for e in found} == {SENDER}
    assert [e.value for e in found if e.key == NAMES_OTHER] == [
        f"WS-Discovery XAddr http://{NAMED}/onvif/device_service"
    ]
    assert queried == [(SENDER, f"http://{SENDER}/onvif/device_service")]
