"""WS-Discovery: captured ProbeMatches (Hikvision, Amcrest/Dahua layout, Axis), hostile bytes."""

from __future__ import annotations

import contextlib
import random
import time

import pytest
from capture_files import load
from hypothesis import given, settings
from hypothesis import strategies as st

from camscan.context import ScanSettings
from camscan.discovery import wsd
from camscan.keys import is_known_key
from camscan.models import Evidence
from camscan.probes import onvif


def test_probe_carries_types_and_message_id() -> None:
    data = wsd.build_probe("dn:NetworkVideoTransmitter", "urn:uuid:1234")
    assert b"<d:Types>dn:NetworkVideoTransmitter</d:Types>" in data
    assert b"<a:MessageID>urn:uuid:1234</a:MessageID>" in data
    assert b'xmlns:dn="http://www.onvif.org/ver10/network/wsdl"' in data
    assert b"http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action>" in data


def test_hikvision_ptz_capture() -> None:
    # ProbeMatches, DS-2CD3955FWD-IWS (programcj/programming_path Onvif_Discover.c)
    message = wsd.parse_probe_matches(load("wsd", "hikvision-ds-2cd3955fwd-iws.xml"))
    assert message.relates_to == "uuid:bfe8bb88-03a2-4e1a-904a-59a7d2882649"
    (match,) = message.matches
    assert match.epr == "urn:uuid:18ec6401-3aa0-11b5-83f6-b4a3820fd92d"
    assert match.types == ("dn:NetworkVideoTransmitter", "tds:Device")
    assert "onvif://www.onvif.org/name/HIKVISION%20DS-2CD3955FWD-IWS" in match.scopes
    assert "onvif://www.onvif.org/type/ptz" in match.scopes and len(match.scopes) == 8
    assert match.xaddrs[0] == "http://192.168.0.218/onvif/device_service"
    assert match.metadata_version == "10"
    assert wsd.epr_mac(match.epr) == "b4:a3:82:0f:d9:2d"


def test_hikvision_epr_mac_agrees_with_its_mac_scope() -> None:
    (match,) = wsd.parse_probe_matches(load("wsd", "hikvision-ds-2cd2385g1-i.xml")).matches
    assert "onvif://www.onvif.org/MAC/58:50:ed:1f:e3:85" in match.scopes
    assert wsd.epr_mac(match.epr) == "58:50:ed:1f:e3:85"


def test_amcrest_capture_has_dahua_layout_and_no_epr_mac() -> None:
    (match,) = wsd.parse_probe_matches(load("wsd", "amcrest-ip2m-841b.xml")).matches
    assert "onvif://www.onvif.org/extension/unique_identifier" in match.scopes
    assert "onvif://www.onvif.org/name/Amcrest" in match.scopes
    assert match.metadata_version == "1"
    assert wsd.epr_mac(match.epr) is None  # a random (v4) UUID carries no MAC


@pytest.mark.parametrize(
    ("epr", "mac"),
    [
        ("urn:uuid:aa85c000-6324-11b3-819e-5850ed1fe385", "58:50:ed:1f:e3:85"),
        ("uuid:278b1b37-153c-452d-b316-d2ed4e99e6a2", None),  # version 4
        ("urn:uuid:aa85c000-6324-11b3-819e-5950ed1fe385", None),  # node marked random (bit 40)
        ("http://example/device", None),
        ("", None),
    ],
)
def test_epr_mac_only_from_v1_uuids(epr: str, mac: str | None) -> None:
    assert wsd.epr_mac(epr) == mac


def test_evidence_keys_and_one_scope_each() -> None:
    raw = Evidence(
        "198.18.0.12",
        "wsd",
        "wsd.probe_match",
        load("wsd", "hikvision-ds-2cd2385g1-i.xml").decode(),
        3702,
    )
    found = wsd.expand(raw)
    assert all(is_known_key(ev.key) and ev.host == "198.18.0.12" for ev in found)
    by_key = {ev.key: ev.value for ev in found}
    assert by_key["wsd.epr_mac"] == "58:50:ed:1f:e3:85"
    assert by_key["wsd.types"] == "dn:NetworkVideoTransmitter tds:Device"
    assert by_key["wsd.metadata_version"] == "10"
    assert sum(ev.key == "onvif.scope" for ev in found) == 8


def xaddrs_asked(match: wsd.ProbeMatch, host: str) -> list[str]:
    """What the ONVIF probe asks of `host` after this ProbeMatch was heard from it."""
    return onvif.advertised(wsd.match_evidence(match, host), host)


def test_only_xaddrs_of_the_replying_device_are_queried() -> None:
    (match,) = wsd.parse_probe_matches(load("wsd", "axis-m1034-w.xml")).matches
    assert xaddrs_asked(match, "10.0.0.246") == ["http://10.0.0.246/onvif/device_service"]
    assert xaddrs_asked(match, "10.0.0.9") == []


def test_at_most_two_xaddrs_of_a_match_are_asked_each_once() -> None:
    many = tuple(f"http://198.18.0.5:{8080 + i}/onvif/device_service" for i in range(4))
    match = wsd.ProbeMatch("urn:uuid:1", (), (), many, "1")
    again = [*wsd.match_evidence(match, "198.18.0.5"), *wsd.match_evidence(match, "198.18.0.5")]
    assert onvif.advertised(again, "198.18.0.5") == list(many[:2])


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"<x/>",
        wsd.build_probe("dn:NetworkVideoTransmitter"),  # a Probe is not an answer
        b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>'
        b"<ProbeMatches/></s:Body></s:Envelope>",
        b'<!DOCTYPE e [<!ENTITY x "y">]><Envelope><Body><ProbeMatches><ProbeMatch/>'
        b"</ProbeMatches></Body></Envelope>",
        b"<Envelope>" + b"<Body>" * 10000,
        b"<" * (wsd.MAX_REPLY + 1),
    ],
)
def test_hostile_bytes_raise_parse_error(data: bytes) -> None:
    with pytest.raises(wsd.ParseError):
        wsd.parse_probe_matches(data)


def test_scope_and_match_counts_are_bounded() -> None:
    scopes = " ".join(f"s:{i}" for i in range(100))
    match = f"<ProbeMatch><Scopes>{scopes}</Scopes></ProbeMatch>"
    data = f"<Envelope><Body><ProbeMatches>{match * 40}</ProbeMatches></Body></Envelope>"
    assert len(data) < wsd.MAX_REPLY
    message = wsd.parse_probe_matches(data.encode())
    assert len(message.matches) == wsd.MAX_MATCHES
    assert len(message.matches[0].scopes) == wsd.MAX_SCOPES


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=3000),
        st.builds(
            lambda a, b: b"<Envelope><Body><ProbeMatches><ProbeMatch>" + a + b,
            st.binary(max_size=500),
            st.binary(max_size=500),
        ),
    )
)
def test_any_bytes_give_matches_or_parse_error(data: bytes) -> None:
    started = time.monotonic()
    with contextlib.suppress(wsd.ParseError):
        wsd.parse_probe_matches(data)
    assert time.monotonic() - started < 1.0


def test_an_xaddr_whose_port_is_out_of_range_is_not_queried() -> None:
    match = wsd.ProbeMatch(
        "urn:uuid:1",
        (),
        (),
        (
            "http://198.18.0.5:99999/onvif/device_service",  # urlsplit(...).port raises on it
            "http://198.18.0.5:8080/onvif/device_service",
        ),
        "1",
    )
    assert xaddrs_asked(match, "198.18.0.5") == ["http://198.18.0.5:8080/onvif/device_service"]


def test_an_xaddr_on_an_exploit_path_is_not_queried() -> None:
    match = wsd.ProbeMatch(
        "urn:uuid:1",
        (),
        (),
        (
            "http://198.18.0.5/SDK/webLanguage",
            "http://198.18.0.5/%53ecurity/users?auth=x",
            "http://198.18.0.5/onvif/device_service",
        ),
        "1",
    )
    assert xaddrs_asked(match, "198.18.0.5") == ["http://198.18.0.5/onvif/device_service"]


@pytest.mark.parametrize("seed", range(50))
def test_each_round_of_probes_repeats_once_after_udp_min_to_max_delay(seed: int) -> None:
    # SOAP-over-UDP 1.1 Appendix I: MULTICAST_UDP_REPEAT 1, UDP_MIN_DELAY 50 ms, UDP_MAX_DELAY 250
    first, repeat, second_repeat = wsd.resend_schedule(random.Random(seed))
    assert first == 0.0 and 0.05 <= repeat <= 0.25
    # new Probes once every answer to the first is due (APP_MAX_DELAY after the repeat at the
    # latest), repeated the same way; their answers still land inside the default window
    assert wsd.FRESH_ROUND_S >= 0.25 + wsd.APP_MAX_DELAY_S
    assert 0.05 <= second_repeat - wsd.FRESH_ROUND_S <= 0.25
    assert second_repeat + wsd.APP_MAX_DELAY_S <= ScanSettings().listen_window_s
