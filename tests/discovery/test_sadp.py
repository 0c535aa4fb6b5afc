"""SADP: captured ProbeMatch replies, hostile bytes, and the evidence they become."""

from __future__ import annotations

import time

import pytest
from capture_files import load, names
from hypothesis import given, settings
from hypothesis import strategies as st

from camscan.discovery import sadp
from camscan.discovery.datagram import Datagram
from camscan.keys import is_known_key
from camscan.models import Evidence


def test_inquiry_is_the_sadp_tool_probe() -> None:
    data = sadp.build_inquiry("e8ecfe09-90e4-44c0-842b-703f46b58c81")
    assert data == (
        b'<?xml version="1.0" encoding="utf-8"?><Probe>'
        b"<Uuid>E8ECFE09-90E4-44C0-842B-703F46B58C81</Uuid>"
        b"<Types>inquiry</Types></Probe>"
    )


def test_haicam_capture_every_listed_field() -> None:
    # SADP ProbeMatch, DS-2CD2385G1-I (Haicam/Haicam golang/discovery.go)
    reply = sadp.parse_probe_match(load("sadp", "ds-2cd2385g1-i.xml"))
    assert reply.get("DeviceType") == "141945"
    assert reply.get("DeviceDescription") == "DS-2CD2385G1-I"
    assert reply.get("DeviceSN") == "DS-2CD2385G1-I20200414AAWRE33842150"
    assert reply.get("MAC") == "58-50-ed-1f-e3-85"
    assert reply.get("IPv4Address") == "192.168.124.40"
    assert reply.get("IPv4SubnetMask") == "255.255.255.0"
    assert reply.get("IPv4Gateway") == "192.168.124.1"
    assert reply.get("SoftwareVersion") == "V5.6.2build 190701"
    assert reply.get("DSPVersion") == "V7.3 build 190626"
    assert reply.get("Activated") == "true"
    assert reply.get("HttpPort") == "80"
    assert reply.get("CommandPort") == "8000"
    assert reply.get("DetailOEMCode") == "1"
    assert reply.get("HCPlatformEnable") == "flase"  # the firmware's spelling, kept


def test_evidence_keys_are_vocabulary_and_carry_model_and_mac() -> None:
    datagram = Datagram("198.19.0.64", 37020, load("sadp", "ds-2cd2385g1-i.xml"))
    found = sadp.reply_evidence(datagram)
    assert found[0].key == "sadp.reply" and found[0].host == "198.19.0.64"
    assert all(is_known_key(ev.key) and ev.source == "sadp" for ev in found)
    by_key = {ev.key: ev.value for ev in found}
    assert by_key["model"] == "DS-2CD2385G1-I"
    assert by_key["mac"] == "58:50:ed:1f:e3:85"
    assert by_key["sadp.serial"] == "DS-2CD2385G1-I20200414AAWRE33842150"
    assert by_key["sadp.command_port"] == "8000"


def test_expand_reads_the_raw_item_back() -> None:
    found = sadp.reply_evidence(Datagram("10.0.0.9", 37020, load("sadp", "ds-2cd2385g1-i.xml")))
    raw, structured = found[0], found[1:]
    assert sadp.expand(raw) == structured


def test_selftest_layout_parses() -> None:
    reply = sadp.parse_probe_match(load("sadp", "universalscanner-selftest.xml"))
    assert reply.get("DeviceSN") == "Virtual-123456789"
    assert reply.get("DetailOEMCode") is None


def test_malformed_reply_is_read_tag_by_tag() -> None:
    # ethodump-ng parses SADP lines by hand because some replies are not well-formed XML.
    broken = (
        b'<?xml version="1.0" encoding="UTF-8"?>\r\n<ProbeMatch><Uuid>x</Uuid>\r\n'
        b"<DeviceDescription>DS-2CD2T43G0-I5</DeviceDescription>\r\n"
        b"<MAC>bc-ad-28-44-21-07</MAC>\r\n<Activated>false</Activated>\r\n"
    )
    reply = sadp.parse_probe_match(broken)
    assert reply.get("DeviceDescription") == "DS-2CD2T43G0-I5"
    assert reply.get("Activated") == "false"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00" * 40,
        b"<Probe><Uuid>1</Uuid><Types>inquiry</Types></Probe>",  # another client's inquiry
        b"<ProbeMatch></ProbeMatch>",
        b"<ProbeMatch><Foo>1</Foo></ProbeMatch>",
        b"<ProbeMatch>" + b"<a>" * 5000,
        b"x" * (sadp.MAX_REPLY + 1),
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        b"<ProbeMatch><DeviceDescription>&b;</DeviceDescription></ProbeMatch>",
        b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><ProbeMatch><MAC>&e;</MAC></ProbeMatch>',
    ],
)
def test_hostile_bytes_raise_parse_error(data: bytes) -> None:
    with pytest.raises(sadp.ParseError):
        sadp.parse_probe_match(data)


def test_field_values_are_bounded() -> None:
    data = b"<ProbeMatch><DeviceDescription>" + b"A" * 5000 + b"</DeviceDescription></ProbeMatch>"
    assert len(sadp.parse_probe_match(data).get("DeviceDescription") or "") == sadp.MAX_VALUE


def test_expand_of_garbage_raises_parse_error() -> None:
    with pytest.raises(sadp.ParseError):
        sadp.expand(Evidence("1.2.3.4", "sadp", "sadp.reply", "not xml"))


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=3000),
        st.builds(
            lambda a, b: a + b"<ProbeMatch>" + b, st.binary(max_size=300), st.binary(max_size=2000)
        ),
    )
)
def test_any_bytes_give_a_reply_or_parse_error(data: bytes) -> None:
    started = time.monotonic()
    try:
        reply = sadp.parse_probe_match(data)
    except sadp.ParseError:
        pass
    else:
        assert any(name in sadp.FIELD_KEYS for name, _ in reply.fields)
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("name", names("sadp"))
def test_every_capture_parses(name: str) -> None:
    assert sadp.parse_probe_match(load("sadp", name)).get("DeviceSN")
