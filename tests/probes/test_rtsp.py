"""RTSP response parsing on captured bytes, hostile bytes and any bytes."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from camscan.models import Evidence
from camscan.probes import rtsp

CAPTURES = Path(__file__).parents[1] / "captures" / "rtsp"


def capture(name: str) -> bytes:
    return (CAPTURES / name).read_bytes()


def expand(name: str) -> list[tuple[str, str]]:
    ev = Evidence("198.18.0.31", "rtsp", "rtsp.response", capture(name).decode(), 554)
    return [(e.key, e.value) for e in rtsp.expand(ev)]


def test_dahua_options_401_realm() -> None:
    # RTSP/1.0 401, Digest realm "Login to <serial>" (ws2543/about-multimedia capture)
    assert expand("dahua-options-401.rtsp") == [
        ("rtsp.status", "RTSP/1.0 401 Unauthorized"),
        (
            "rtsp.www_authenticate",
            'Digest realm="Login to 4M0747EPAA1D284", nonce="745449738fdf77164f570c37c9186b52"',
        ),
    ]


def test_dahua_options_200_server_public() -> None:
    items = dict(expand("dahua-options-200.rtsp"))
    assert items["rtsp.server"] == "Rtsp Server/3.0"
    assert "ANNOUNCE" in items["rtsp.public"] and "RECORD" in items["rtsp.public"]


def test_dahua_describe_sdp() -> None:
    items = dict(expand("dahua-describe-sdp.rtsp"))
    assert "a=packetization-supported:DH" in items["rtsp.sdp"]
    assert "s=Media Server" in items["rtsp.sdp"]


def test_legacy_dahua_and_hikvision() -> None:
    assert ("rtsp.server", "Dahua Rtsp Server") in expand("dahua-legacy-405.rtsp")
    hik = rtsp.parse_rtsp_response(capture("hikvision-describe-401.rtsp"))
    assert (hik.header("www-authenticate") or "").startswith('Digest realm="IP Camera(21388)"')
    assert hik.header("Date") == "Wed, Dec 01 2021 23:32:53 GMT"
    assert hik.header("Server") is None


def test_build_request_has_no_credentials() -> None:
    req = rtsp.build_request("DESCRIBE", "rtsp://198.18.0.31/", 2)
    assert req == (
        b"DESCRIBE rtsp://198.18.0.31/ RTSP/1.0\r\nCSeq: 2\r\nUser-Agent: camscan\r\n"
        b"Accept: application/sdp\r\n\r\n"
    )
    assert b"Authorization" not in rtsp.build_request("OPTIONS", "rtsp://h/", 1)


def test_content_length() -> None:
    assert rtsp.content_length(b"RTSP/1.0 200 OK\r\ncontent-LENGTH:  12\r\n") == 12
    assert rtsp.content_length(b"RTSP/1.0 200 OK\r\n") == 0


@pytest.mark.parametrize("data", [b"", b"HTTP/1.1 200 OK\r\n\r\n", b"\x00\x01", b"RTSP/1.0 20 OK"])
def test_non_rtsp_raises(data: bytes) -> None:
    with pytest.raises(rtsp.ParseError):
        rtsp.parse_rtsp_response(data)


@given(st.binary(max_size=2048))
def test_any_bytes_give_response_or_parse_error(data: bytes) -> None:
    with contextlib.suppress(rtsp.ParseError):
        rtsp.parse_rtsp_response(data)
