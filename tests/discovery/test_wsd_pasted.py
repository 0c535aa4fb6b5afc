"""WS-Discovery messages pasted offline: fragments with undeclared prefixes and Hello messages are
read (not turned into probe.error); a live reply stays strictly a ProbeMatches envelope."""

from __future__ import annotations

import contextlib
import time

import pytest
from capture_files import load
from hypothesis import given, settings
from hypothesis import strategies as st

from camscan import rawkeys
from camscan.discovery import wsd
from camscan.identify import identify
from camscan.models import Evidence


def _body_only(capture: bytes) -> bytes:
    """The <env:Body> element of a capture, as Haicam's comment quoted it (no Envelope, so
    env:, d:, wsadis: and dn: are undeclared)."""
    text = capture.decode()
    return text[text.index("<env:Body>") : text.index("</env:Body>") + len("</env:Body>")].encode()


def _keys(value: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for ev in rawkeys.expand([Evidence("h", "", "wsd.probe_match", value)]):
        out.setdefault(ev.key, []).append(ev.value)
    return out


def test_a_body_fragment_with_undeclared_prefixes_is_read() -> None:
    fragment = _body_only(load("wsd", "hikvision-ds-2cd2385g1-i.xml"))
    with pytest.raises(wsd.ParseError, match="unbound prefix"):
        wsd.parse_probe_matches(fragment)  # a live reply must be a whole envelope
    keys = _keys(fragment.decode())
    assert "probe.error" not in keys
    assert keys["wsd.epr_mac"] == ["58:50:ed:1f:e3:85"]
    assert "onvif://www.onvif.org/hardware/DS-2CD2385G1-I" in keys["onvif.scope"]
    v = identify(rawkeys.expand([Evidence("h", "", "wsd.probe_match", fragment.decode())]))
    assert (v.maker, v.model) == ("Hikvision", "DS-2CD2385G1-I")


def test_a_lone_probe_match_element_is_read() -> None:
    fragment = _body_only(load("wsd", "hikvision-ds-2cd2385g1-i.xml")).decode()
    match = fragment[fragment.index("<d:ProbeMatch>") : fragment.index("</d:ProbeMatch>") + 15]
    message = wsd.parse_pasted(match.encode())
    assert [m.epr for m in message.matches] == ["urn:uuid:aa85c000-6324-11b3-819e-5850ed1fe385"]


def test_a_hello_message_is_read_as_one_match() -> None:
    data = load("wsd", "hello-wsdiscovery-python.xml")
    with pytest.raises(wsd.ParseError, match="no ProbeMatches"):
        wsd.parse_probe_matches(data)
    message = wsd.parse_pasted(data)
    (match,) = message.matches
    assert match.epr == "urn:uuid:6f1d487b-d438-4708-b9c2-e860b399314c"
    assert match.scopes == ("http://other_scope",)
    assert match.metadata_version == "1"
    keys = _keys(data.decode())
    assert "probe.error" not in keys and keys["wsd.xaddrs"]


@pytest.mark.parametrize(
    "value",
    [
        "<d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe>",
        "not xml at all",
        "<x:Y>unbound</x:Y>",
        "<?xml version='1.0'?><Hello/",
    ],
)
def test_what_is_neither_a_match_nor_a_hello_is_still_an_error(value: str) -> None:
    keys = _keys(value)
    assert [k for k in keys if k != "wsd.probe_match"] == ["probe.error"]


def test_a_pasted_message_is_bounded_like_a_live_one() -> None:
    big = b"<d:Hello>" + b" " * (wsd.MAX_REPLY + 1) + b"</d:Hello>"
    with pytest.raises(wsd.ParseError, match="exceeds"):
        wsd.parse_pasted(big)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=2000),
        st.builds(
            lambda a, b: b"<d:Hello><a:EndpointReference>" + a + b"</d:Hello>" + b,
            st.binary(max_size=400),
            st.binary(max_size=200),
        ),
        st.builds(lambda a: b"<?xml version='1.0'?>" + a, st.binary(max_size=400)),
    )
)
def test_any_pasted_bytes_give_matches_or_parse_error(data: bytes) -> None:
    started = time.monotonic()
    with contextlib.suppress(wsd.ParseError):
        message = wsd.parse_pasted(data)
        assert 0 < len(message.matches) <= wsd.MAX_MATCHES
    assert time.monotonic() - started < 1.0
