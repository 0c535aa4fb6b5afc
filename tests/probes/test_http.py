"""HTTP response parsing on captured bytes, hostile bytes and any bytes; path table rules."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from camscan import rawkeys, targets
from camscan.models import Evidence
from camscan.probes import banners, http, paths, rpc2

CAPTURES = Path(__file__).parents[1] / "captures" / "http"


def capture(name: str) -> bytes:
    return (CAPTURES / name).read_bytes()


def test_dahua_skeleton_keeps_upper_case_names_in_order_and_no_server() -> None:
    # HTTP/1.1 200 OK, CONNECTION/CONTENT-LENGTH/CACHE-CONTROL/CONTENT-TYPE, BOM + XHTML Strict
    resp = http.parse_http_response(capture("dahua-web-service.http"))
    assert resp.status_line == "HTTP/1.1 200 OK"
    assert [n for n, _ in resp.headers] == [
        "CONNECTION",
        "CONTENT-LENGTH",
        "CACHE-CONTROL",
        "CONTENT-TYPE",
    ]
    assert resp.header_block.startswith("CONNECTION: close\r\nCONTENT-LENGTH: ")
    assert resp.header("Server") is None
    assert resp.header("content-type") == "text/html"
    assert resp.title == "WEB SERVICE"
    assert resp.body.startswith(b"\xef\xbb\xbf<!DOCTYPE html PUBLIC")


def test_cpplus_title_with_en_dash() -> None:
    resp = http.parse_http_response(capture("cpplus-dvr.http"))
    assert resp.title == "CPPLUS DVR –Web View"


def test_hikvision_app_webs_http10() -> None:
    resp = http.parse_http_response(capture("hikvision-app-webs.http"))
    assert resp.status == 200
    assert resp.status_line == "HTTP/1.0 200 OK"
    assert resp.header("Server") == "App-webs/"
    assert [n for n, _ in resp.headers][:2] == ["Date", "Server"]


def test_hikvision_usercheck_401_keeps_digest_challenge() -> None:
    resp = http.parse_http_response(capture("hikvision-usercheck-401.http"))
    assert resp.status == 401
    auth = resp.header("WWW-Authenticate")
    assert auth is not None and auth.startswith('Digest realm="DS-2CD2385G1-I", domain="::"')
    assert b"<statusValue>401</statusValue>" in resp.body


def test_chunked_body_is_decoded() -> None:
    resp = http.parse_http_response(capture("synology-chunked.http"))
    assert resp.title == "Synology DiskStation"
    assert resp.body.endswith(b"</html>\n")
    assert b"\r\n0\r\n" not in resp.body


def test_expand_yields_every_flat_key_once_per_header() -> None:
    raw = capture("hikvision-webs-302.http").decode()
    ev = Evidence("198.18.0.12", "http", "http.response", raw, 80)
    out = {(e.key, e.value) for e in http.expand(ev)}
    assert ("http.status", "HTTP/1.1 302 Redirect") in out
    assert ("http.server", "Hikvision-Webs") in out
    assert ("http.location", "http://198.18.0.12:80/doc/page/login.asp") in out
    assert all(e.port == 80 and e.host == "198.18.0.12" for e in http.expand(ev))


def test_expand_via_rawkeys_registry() -> None:
    raw = capture("xiongmai-netsurveillance.http").decode()
    items = rawkeys.expand([Evidence("198.18.0.61", "http", "http.response", raw, 80)])
    keys = {e.key: e.value for e in items}
    assert keys["http.title"] == "NETSurveillance WEB"
    assert "http.server" not in keys
    assert keys["http.headers"] == "Content-type: text/html\r\nExpires: 0"


def test_set_cookie_and_www_authenticate_each_value() -> None:
    raw = (
        b"HTTP/1.1 401 Unauthorized\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"
        b'WWW-Authenticate: Digest realm="x"\r\nWWW-Authenticate: Basic realm="/"\r\n\r\n'
    )
    ev = Evidence("h", "http", "http.response", raw.decode(), 80)
    items = http.expand(ev)
    assert [e.value for e in items if e.key == "http.cookie"] == ["a=1", "b=2"]
    assert [e.value for e in items if e.key == "http.www_authenticate"] == [
        'Digest realm="x"',
        'Basic realm="/"',
    ]


def test_bare_lf_line_endings_and_folding() -> None:
    resp = http.parse_http_response(b"HTTP/1.0 200 OK\nServer: a\n b\nX: 1\n\nbody")
    assert resp.headers == (("Server", "a b"), ("X", "1"))
    assert resp.body == b"body"


def test_truncated_head_is_parsed_as_far_as_it_goes() -> None:
    resp = http.parse_http_response(b"HTTP/1.1 200 OK\r\nServer: App-w")
    assert resp.header("Server") == "App-w"
    assert resp.body == b""


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"garbage",
        b"\x8f\x00\x01",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"RTSP/1.0 200 OK\r\n\r\n",
        b"SSH-2.0-dropbear\r\n",
        b"HTTP/x.y 200 OK\r\n\r\n",
    ],
)
def test_non_http_raises_parse_error(data: bytes) -> None:
    with pytest.raises(http.ParseError):
        http.parse_http_response(data)


def test_oversize_head_raises() -> None:
    with pytest.raises(http.ParseError):
        http.parse_http_response(b"HTTP/1.1 200 OK\r\nX: " + b"a" * (70 * 1024) + b"\r\n\r\n")


def test_body_capped_at_64k() -> None:
    resp = http.parse_http_response(b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * (200 * 1024))
    assert len(resp.body) == http.MAX_BODY


def test_bad_chunk_size_is_parse_error() -> None:
    with pytest.raises(http.ParseError):
        http.parse_http_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")


@given(st.binary(max_size=2048))
def test_any_bytes_give_response_or_parse_error(data: bytes) -> None:
    with contextlib.suppress(http.ParseError):
        http.parse_http_response(data)


@given(st.binary(max_size=1024))
def test_any_bytes_after_a_status_line_parse(data: bytes) -> None:
    try:
        resp = http.parse_http_response(b"HTTP/1.1 200 OK\r\n" + data)
    except http.ParseError:
        return
    assert resp.status == 200


def test_requests_carry_no_credentials() -> None:
    for entry in paths.VENDOR_PATHS:
        req = banners.build_http_request(
            "198.18.0.11", 80, entry.method, entry.path, entry.body, entry.content_type
        )
        assert b"authorization" not in req.lower()
        assert b'password":""' in req or b"password" not in req.lower()


def test_path_table_has_no_exploit_paths() -> None:
    for entry in paths.VENDOR_PATHS:
        for bad in targets.FORBIDDEN:
            assert bad not in entry.path, entry.name


def test_rpc2_login_is_deep_only() -> None:
    default = {p.name for p in paths.selected_paths(deep=False)}
    deep = {p.name for p in paths.selected_paths(deep=True)}
    assert "dahua_rpc2_login" not in default
    assert "dahua_rpc2_login" in deep
    assert {"hik_usercheck", "hik_login_asp", "hik_device_info"} <= default


def test_rpc2_challenge_fields() -> None:
    resp = http.parse_http_response(capture("amcrest-rpc2-challenge.http"))
    assert rpc2.parse_challenge(resp.body) == {
        "dahua.rpc2_realm": "Login to AMC000N49SSV0M2U46",
        "dahua.rpc2_mac": "9C8ECD0A1B2C",
    }
    assert rpc2.parse_challenge(b"not json") == {}
    assert rpc2.parse_challenge(b"[1, 2]") == {}


def test_rpc2_challenge_survives_hostile_json() -> None:
    assert rpc2.parse_challenge(b"[" * 100_000) == {}  # nesting deeper than the recursion limit
    found = rpc2.parse_challenge(b'{"params": {"realm": "Login to \\ud800X", "mac": "\\udc80"}}')
    assert found == {"dahua.rpc2_realm": "Login to \ufffdX", "dahua.rpc2_mac": "\ufffd"}


@pytest.mark.parametrize("size", [b"-4", b"-0x4", b"+4", b"0x4", b"4_0", b" "])
def test_a_chunk_size_that_is_not_plain_hex_is_a_parse_error(size: bytes) -> None:
    # "-4" sent the decoder back to where it started: an endless loop that froze the whole
    # scan's event loop (and Ctrl-C with it). A bound on the time proves the fix.
    import signal

    def stuck(signum: int, frame: object) -> None:
        raise TimeoutError("dechunking did not end")

    previous = signal.signal(signal.SIGALRM, stuck)
    signal.alarm(5)
    try:
        with pytest.raises(http.ParseError):
            http.parse_http_response(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                + size
                + b"\r\nab\r\n0\r\n\r\n"
            )
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_one_port_failing_unexpectedly_does_not_orphan_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio
    from ipaddress import IPv4Network

    from camscan.context import ScanContext, ScanSettings

    finished: list[int] = []

    async def http_port(self: Any, port: int, use_tls: bool) -> None:
        raise OSError(28, "No space left on device")  # e.g. --save-captures on a full disk

    async def rtsp_port(self: Any, port: int) -> None:
        await asyncio.sleep(0.05)
        finished.append(port)

    monkeypatch.setattr(banners._HostProbe, "http_port", http_port)
    monkeypatch.setattr(banners._HostProbe, "rtsp_port", rtsp_port)
    seen: list[Evidence] = []
    settings = ScanSettings(ports=(80, 554))
    ctx = ScanContext(
        settings=settings,
        interface=None,
        source_ip=None,
        in_scope=IPv4Network("198.18.0.0/24"),
        emit=seen.append,
    )
    asyncio.run(banners.probe_host(ctx, "198.18.0.9"))
    assert finished == [554]  # ran to its end before probe_host returned
    assert [(ev.key, ev.value) for ev in seen] == [
        ("probe.error", "80: failed: OSError: [Errno 28] No space left on device")
    ]


@pytest.mark.parametrize(
    "location",
    [
        "/Security/users?auth=YWRtaW46MTEK",
        "/security/USERS?x=1",  # case: embedded servers often match paths without it
        "/%53ecurity/users",  # percent-encoded: the device decodes it to the exploit path
        "/Security%2Fusers",
        "/%2553DK/webLanguage",  # encoded twice
        "/sdk/weblanguage",
        "/onvif-http/snapshot?AUTH=YWRtaW46MTEK",
        "/x?%61uth=1",
    ],
)
def test_a_redirect_to_an_exploit_path_is_never_followed_however_spelled(
    location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio
    from ipaddress import IPv4Network

    from camscan.context import ScanContext, ScanSettings

    asked: list[str] = []

    async def exchange(self: Any, port: int, use_tls: bool, method: str, path: str) -> bytes:
        asked.append(path)
        return b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"

    monkeypatch.setattr(banners._HostProbe, "http_exchange", exchange)
    ctx = ScanContext(
        settings=ScanSettings(),
        interface=None,
        source_ip=None,
        in_scope=IPv4Network("198.18.0.0/24"),
        emit=lambda ev: None,
    )
    host = banners._HostProbe(ctx, "198.18.0.9")
    redirect = f"HTTP/1.1 302 Found\r\nLocation: {location}\r\n\r\n".encode()
    asyncio.run(host.follow_redirects(80, False, http.parse_http_response(redirect)))
    assert asked == []
    assert targets.is_forbidden(location)


def test_the_vendor_paths_themselves_are_not_forbidden() -> None:
    assert not [p.path for p in paths.VENDOR_PATHS if targets.is_forbidden(p.path)]
    assert not targets.is_forbidden("/doc/page/login.asp?_1=1")
