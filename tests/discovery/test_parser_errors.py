"""Every device parser raises only its own ParseError, whatever the bytes declare."""

from __future__ import annotations

import asyncio
import contextlib
import encodings.aliases
from collections.abc import Callable
from ipaddress import IPv4Network
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camscan.context import ScanContext, ScanSettings
from camscan.discovery import sadp, ssdp, udp, wsd
from camscan.discovery.datagram import Datagram
from camscan.models import Evidence, MethodStats
from camscan.probes import onvif

PARSERS: list[tuple[str, Callable[[bytes], object], type[Exception]]] = [
    ("sadp", sadp.parse_probe_match, sadp.ParseError),
    ("wsd", wsd.parse_probe_matches, wsd.ParseError),
    ("ssdp", ssdp.parse_description, ssdp.ParseError),
    ("onvif", onvif.parse_response, onvif.ParseError),
]
# Every codec name Python knows (text and bytes-to-bytes codecs alike), a few it does not.
ENCODINGS = sorted(
    {
        *encodings.aliases.aliases,
        *encodings.aliases.aliases.values(),
        "x-nope",
        "rot13",
        "base64",
        "hex",
        "zlib",
        "bz2",
        "uu",
        "mbcs",
        "idna",
        "punycode",
        "undefined",
        "utf-7",
        "utf-16",
        "utf-32",
        "cp037",
        "",
    }
)
BODIES = [
    b"<ProbeMatch><DeviceSN>x</DeviceSN><MAC>44-19-b6-00-00-01</MAC></ProbeMatch>",
    b"<Envelope><Body><ProbeMatches><ProbeMatch/></ProbeMatches></Body></Envelope>",
    b"<root><device><manufacturer>x</manufacturer></device></root>",
    b"<a:Envelope><a:Body/></a:Envelope>",
    b"\xff\xfe<\x00a\x00/\x00>\x00",
    b"",
]


def _declared(encoding: str, body: bytes) -> bytes:
    return f'<?xml version="1.0" encoding="{encoding}"?>'.encode() + body


@pytest.mark.parametrize(("name", "parse", "error"), PARSERS, ids=[p[0] for p in PARSERS])
def test_an_unknown_declared_encoding_is_a_parse_error(
    name: str, parse: Callable[[bytes], object], error: type[Exception]
) -> None:
    for encoding in ("x-nope", "rot13", "base64", "mbcs"):
        for body in BODIES:
            # SADP reads a reply that is not XML by its flat tags: a result is fine too
            with contextlib.suppress(error):
                parse(_declared(encoding, body))


def test_sadp_reads_the_flat_tags_of_a_reply_in_an_unknown_encoding() -> None:
    reply = sadp.parse_probe_match(_declared("x-nope", BODIES[0]))
    assert reply.get("DeviceSN") == "x"


@pytest.mark.parametrize(("name", "parse", "error"), PARSERS, ids=[p[0] for p in PARSERS])
@settings(max_examples=150, deadline=None)
@given(
    encoding=st.one_of(st.sampled_from(ENCODINGS), st.text(max_size=12)),
    body=st.one_of(st.sampled_from(BODIES), st.binary(max_size=300)),
)
def test_any_declared_encoding_gives_a_result_or_the_parse_error(
    name: str, parse: Callable[[bytes], object], error: type[Exception], encoding: str, body: bytes
) -> None:
    data = _declared(encoding.replace('"', ""), body)
    with contextlib.suppress(error):
        parse(data)


def test_a_reply_the_handler_cannot_read_is_counted_not_raised() -> None:
    stats = MethodStats("sadp")
    seen: list[str] = []

    def on_datagram(dg: Datagram) -> None:
        if dg.ip == "198.18.0.5":
            raise LookupError("unknown encoding: x-nope")
        seen.append(dg.ip)

    collector = udp._Collector(udp._Limits(8192), stats, on_datagram)
    collector.datagram_received(b"bad", ("198.18.0.5", 37020))
    collector.datagram_received(b"good", ("198.18.0.6", 37020))
    assert seen == ["198.18.0.6"]
    assert stats.errors == 1
    assert stats.notes == ["reply from 198.18.0.5 not read: LookupError: unknown encoding: x-nope"]


def test_one_failed_description_fetch_leaves_the_others_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def reply(ip: str) -> bytes:
        return (
            f"HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\nUSN: uuid:{ip}::upnp:rootdevice\r\n"
            f"LOCATION: http://{ip}:49152/rootDesc.xml\r\n\r\n"
        ).encode()

    async def exchange(
        ctx: ScanContext, method: str, sends: object, on_datagram: Any, **kwargs: object
    ) -> None:
        on_datagram(Datagram("198.18.0.7", 1900, reply("198.18.0.7")))
        on_datagram(Datagram("198.18.0.8", 1900, reply("198.18.0.8")))

    async def fetch(ctx: ScanContext, session: object, host: str, location: str) -> None:
        if host == "198.18.0.7":
            raise LookupError("unknown encoding: x-nope")
        await asyncio.sleep(0.2)  # still running when the other one fails
        ctx.emit(Evidence(host, "ssdp", "upnp.manufacturer", "Dahua"))

    monkeypatch.setattr(udp, "exchange", exchange)
    monkeypatch.setattr(ssdp, "_fetch_description", fetch)
    found: list[Evidence] = []
    ctx = ScanContext(
        settings=ScanSettings(),
        interface=None,
        source_ip="127.0.0.1",
        in_scope=IPv4Network("198.18.0.0/24"),
        emit=found.append,
    )
    asyncio.run(ssdp.discover(ctx))
    assert [(e.host, e.value) for e in found if e.key == "upnp.manufacturer"] == [
        ("198.18.0.8", "Dahua")
    ]
    stats = ctx.stat("ssdp")
    assert stats.errors == 1
    assert any("LookupError" in note for note in stats.notes)
