"""Vendor ports and favicon hashes (pure), and the banner transport against local servers.

The transport tests run servers on 127.0.0.x, so they are marked `lab`: they run only inside
scripts/test's empty namespace.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from camscan import targets
from camscan.context import ScanContext, ScanSettings
from camscan.models import Evidence
from camscan.probes import banners, favicon, paths, vendorports
from camscan_lab.personalities import hostile
from camscan_lab.personalities import http as http_personality
from camscan_lab.personalities import rtsp as rtsp_personality
from camscan_lab.personality import Closer, LabHost

HIK_8000 = bytes.fromhex("000000100000001e0000001e00000000")  # nmap "Hikvision IPCam control port"


def test_hikvision_greeting_recorded_as_hex() -> None:
    evs = vendorports.port_evidence("198.18.0.11", 8000, HIK_8000)
    assert [(e.key, e.value) for e in evs] == [
        ("tcp.open.8000", "open"),
        ("tcp.banner.8000", "000000100000001e0000001e00000000"),
    ]


def test_text_greeting_kept_as_text_and_silent_port_only_open() -> None:
    assert vendorports.greeting_value(b"SSH-2.0-dropbear\r\n") == "SSH-2.0-dropbear\r\n"
    assert [e.key for e in vendorports.port_evidence("h", 37777, b"")] == ["tcp.open.37777"]
    assert len(vendorports.greeting_value(b"\x00" * 10_000)) == 2 * vendorports.MAX_GREETING


def test_favicon_hashes() -> None:
    icon = bytes(range(256)) * 3
    assert favicon.favicon_md5(b"") == "d41d8cd98f00b204e9800998ecf8427e"
    # Shodan hashes MIME base64 (a newline every 76 characters, and at the end).
    text = base64.encodebytes(icon)
    assert text.count(b"\n") == -(-len(base64.b64encode(icon)) // 76)
    import mmh3

    assert favicon.favicon_mmh3(icon) == mmh3.hash(text)
    assert favicon.favicon_mmh3(icon) != mmh3.hash(base64.b64encode(icon))


# ------------------------------------------------------------------ transport (loopback)


def loopback(ip: str) -> LabHost:
    return LabHost(
        ip,
        ip,
        "02:00:00:00:00:01",
        "lo",
        "",
        8,
        {},
        lambda f, t, p: socket.socket(f, t, p),
        lambda argv: 0,
    )


Serve = Callable[[LabHost, Mapping[str, Any]], Awaitable[Closer]]

DAHUA_ROOT = {
    "path": "/",
    "status": "HTTP/1.1 200 OK",
    "headers": ["CONNECTION: close", "CONTENT-LENGTH: 1", "CONTENT-TYPE: text/html"],
    "body": "\ufeff<html><head><title>WEB SERVICE</title></head></html>",
}
RPC2 = {
    "method": "POST",
    "path": "/RPC2_Login",
    "body_contains": "global.login",
    "status": "HTTP/1.1 200 OK",
    "headers": ["CONTENT-LENGTH: 1"],
    "body": '{"params":{"realm":"Login to 4M0747EPAA1D284","mac":"3CEF8C6101C0"}}',
}
ICON = {
    "path": "/favicon.ico",
    "status": "HTTP/1.1 200 OK",
    "headers": ["Content-Length: 1"],
    "body_hex": "0001020304",
}


async def run(
    services: list[tuple[Serve, str, dict[str, Any]]], targets: list[str], settings: ScanSettings
) -> tuple[list[Evidence], ScanContext, float]:
    closers = [await serve(loopback(ip), table) for serve, ip, table in services]
    evidence: list[Evidence] = []
    ctx = ScanContext(settings, None, None, [], evidence.append)
    started = time.monotonic()
    try:
        await asyncio.gather(*(banners.probe_host(ctx, ip) for ip in targets))
    finally:
        for closer in closers:
            closer.close()
    return evidence, ctx, time.monotonic() - started


def by_key(evs: list[Evidence], host: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in evs:
        if e.host == host:
            out.setdefault(e.key, []).append(e.value)
    return out


def fast(deep: bool = False, save: Path | None = None) -> ScanSettings:
    """Short timeouts so hostile cases finish quickly."""
    return ScanSettings(
        connect_timeout_s=0.5,
        read_timeout_s=0.6,
        host_budget_s=4.0,
        ports=(80, 443, 554, 8000, 37777),
        deep=deep,
        save_captures=save,
    )


@pytest.mark.lab
def test_replayed_device_gives_every_banner_key() -> None:
    ip = "127.0.0.11"
    services: list[tuple[Serve, str, dict[str, Any]]] = [
        (http_personality.serve, ip, {"port": 80, "response": [DAHUA_ROOT, ICON, RPC2]}),
        (
            http_personality.serve_tls,
            ip,
            {"port": 443, "response": [DAHUA_ROOT], "cert_subject": "CN=dahua,O=Dahua"},
        ),
        (
            rtsp_personality.serve,
            ip,
            {
                "port": 554,
                "response": [
                    {
                        "method": "OPTIONS",
                        "status": "RTSP/1.0 200 OK",
                        "headers": [
                            "CSeq: 9",
                            "Server: Rtsp Server/3.0",
                            "Public: OPTIONS, DESCRIBE",
                        ],
                    },
                    {
                        "method": "DESCRIBE",
                        "status": "RTSP/1.0 401 Unauthorized",
                        "headers": [
                            "CSeq: 9",
                            'WWW-Authenticate: Digest realm="Login to 4M0747EPAA1D284"',
                        ],
                    },
                ],
            },
        ),
    ]
    evs, ctx, _ = asyncio.run(run(services, [ip], fast()))
    got = by_key(evs, ip)
    assert got["http.title"] == ["WEB SERVICE", "WEB SERVICE"]  # port 80 and 443
    assert got["http.headers"][0].startswith("CONNECTION: close\r\nCONTENT-LENGTH: ")
    assert "http.server" not in got
    assert got["tls.subject"] == ["CN=dahua,O=Dahua"]
    assert got["rtsp.server"] == ["Rtsp Server/3.0"]
    assert got["rtsp.www_authenticate"] == ['Digest realm="Login to 4M0747EPAA1D284"']
    assert got["http.favicon.md5"] == [favicon.favicon_md5(bytes.fromhex("0001020304"))]
    assert "dahua.rpc2_realm" not in got  # RPC2_Login is deep-only
    assert sorted(got["tcp.open.80"] + got["tcp.open.443"]) == ["open", "open"]
    assert "probe.error" not in got
    assert ctx.stat("http").answered >= 4 and ctx.stat("tls").answered >= 1
    assert ctx.stat("rtsp").answered == 2


@pytest.mark.lab
def test_deep_adds_rpc2_challenge() -> None:
    ip = "127.0.0.12"
    services: list[tuple[Serve, str, dict[str, Any]]] = [
        (http_personality.serve, ip, {"port": 80, "response": [DAHUA_ROOT, RPC2]})
    ]
    evs, _, _ = asyncio.run(run(services, [ip], fast(deep=True)))
    got = by_key(evs, ip)
    assert got["dahua.rpc2_realm"] == ["Login to 4M0747EPAA1D284"]
    assert got["dahua.rpc2_mac"] == ["3CEF8C6101C0"]


@pytest.mark.lab
def test_redirects_followed_on_same_host_only() -> None:
    ip = "127.0.0.13"
    chain = [
        {"path": "/", "status": "HTTP/1.1 302 Found", "headers": ["Location: /a"]},
        {"path": "/a", "status": "HTTP/1.1 302 Found", "headers": [f"Location: http://{ip}/b"]},
        {
            "path": "/b",
            "status": "HTTP/1.1 302 Found",
            "headers": ["Location: http://198.51.100.7/elsewhere"],
        },
    ]
    services: list[tuple[Serve, str, dict[str, Any]]] = [
        (http_personality.serve, ip, {"port": 80, "response": chain})
    ]
    evs, _, _ = asyncio.run(run(services, [ip], fast()))
    assert by_key(evs, ip)["http.location"] == [
        "/a",
        f"http://{ip}/b",
        "http://198.51.100.7/elsewhere",
    ]


HOSTILE = {
    "127.0.0.21": "silent",
    "127.0.0.22": "flood",
    "127.0.0.23": "garbage",
    "127.0.0.24": "reset",
    "127.0.0.25": "badcert",
    "127.0.0.26": "slowloris",
}
EXPECTED = {
    "silent": "80: timeout",
    "flood": "80: oversize",
    "garbage": "80: garbage",
    "reset": "80: reset",
    "badcert": "80: garbage",
    "slowloris": "80: timeout",
}


@pytest.mark.lab
def test_hostile_hosts_are_reported_and_bounded_and_others_unharmed() -> None:
    good = "127.0.0.20"
    services: list[tuple[Serve, str, dict[str, Any]]] = [
        (http_personality.serve, good, {"port": 80, "response": [DAHUA_ROOT]})
    ]
    services += [(hostile.serve, ip, {"port": 80, "mode": mode}) for ip, mode in HOSTILE.items()]
    services.append((hostile.serve, "127.0.0.25", {"port": 443, "mode": "badcert"}))
    evs, _, took = asyncio.run(run(services, [good, *HOSTILE], fast()))
    assert took < 4.0
    for ip, mode in HOSTILE.items():
        errors = by_key(evs, ip).get("probe.error", [])
        assert EXPECTED[mode] in errors, (mode, errors)
    assert any(e.startswith("443: tls: ") for e in by_key(evs, "127.0.0.25")["probe.error"])
    assert by_key(evs, good)["http.title"] == ["WEB SERVICE"]
    assert "probe.error" not in by_key(evs, good)
    flood = [e for e in evs if e.host == "127.0.0.22"]
    assert sum(len(e.value) + len(e.raw or "") for e in flood) < 200_000


@pytest.mark.lab
def test_per_host_connection_limit() -> None:
    ip = "127.0.0.30"
    open_now = 0
    peak = 0

    async def scenario() -> None:
        nonlocal open_now, peak

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal open_now, peak
            open_now += 1
            peak = max(peak, open_now)
            await asyncio.sleep(0.1)
            open_now -= 1
            writer.close()

        servers = [await asyncio.start_server(handle, ip, port) for port in range(9001, 9013)]
        ctx = ScanContext(
            ScanSettings(
                ports=tuple(range(9001, 9013)),
                connect_timeout_s=0.5,
                read_timeout_s=0.5,
                max_per_host=16,
            ),
            None,
            None,
            [],
            lambda ev: None,
        )
        await banners.probe_host(ctx, ip)
        for server in servers:
            server.close()

    asyncio.run(scenario())
    assert 1 <= peak <= banners.MAX_PER_HOST


@pytest.mark.lab
def test_tcp_alive() -> None:
    async def scenario() -> tuple[bool, bool]:
        server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.40", 80)
        ctx = ScanContext(ScanSettings(connect_timeout_s=0.3), None, None, [], lambda ev: None)
        try:
            up = await banners.tcp_alive(ctx, "127.0.0.40")
            # 192.0.2.1 (TEST-NET-1) has no route in the empty test namespace
            down = await banners.tcp_alive(ctx, "192.0.2.1")
        finally:
            server.close()
        return up, down

    assert asyncio.run(scenario()) == (True, False)


@pytest.mark.lab
def test_save_captures_writes_replies_as_fixtures(tmp_path: Path) -> None:
    ip = "127.0.0.14"
    services: list[tuple[Serve, str, dict[str, Any]]] = [
        (http_personality.serve, ip, {"port": 80, "response": [DAHUA_ROOT]})
    ]
    old = os.umask(0o022)
    try:
        asyncio.run(run(services, [ip], fast(save=tmp_path)))
    finally:
        os.umask(old)
    saved = tmp_path / "http" / f"{ip}_80.http"
    assert saved.read_bytes() == http_personality.render(DAHUA_ROOT)
    assert saved.stat().st_mode & 0o777 == 0o600  # the device's MAC and serial: owner only


@pytest.mark.lab
@pytest.mark.parametrize("deep", [False, True])
def test_every_request_is_read_only_and_credential_free(deep: bool) -> None:
    ip = "127.0.0.50"
    seen: list[bytes] = []

    async def scenario() -> None:
        async def http_handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.append(await reader.readuntil(b"\r\n\r\n"))
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            writer.close()

        async def rtsp_handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            for _ in range(2):
                seen.append(await reader.readuntil(b"\r\n\r\n"))
                writer.write(b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n")
                await writer.drain()
            writer.close()

        servers = [
            await asyncio.start_server(http_handle, ip, 80),
            await asyncio.start_server(rtsp_handle, ip, 554),
        ]
        ctx = ScanContext(fast(deep=deep), None, None, [], lambda ev: None)
        await banners.probe_host(ctx, ip)
        for server in servers:
            server.close()

    asyncio.run(scenario())
    methods = {head.split(b" ", 1)[0] for head in seen}
    assert methods <= ({b"GET", b"OPTIONS", b"DESCRIBE"} | ({b"POST"} if deep else set()))
    assert (b"POST" in methods) is deep
    for head in seen:
        assert b"authorization" not in head.lower()
        target = head.split(b" ")[1].decode()
        assert not any(bad in target for bad in targets.FORBIDDEN), target
    assert len(seen) == 2 + 2 + len(paths.selected_paths(deep))  # /, favicon, RTSP x2, paths


@pytest.mark.lab
def test_redirect_to_an_exploit_path_is_not_followed() -> None:
    ip = "127.0.0.15"
    chain = [
        {"path": "/", "status": "HTTP/1.1 302 Found", "headers": ["Location: /SDK/webLanguage"]},
        {
            "path": "/SDK/webLanguage",
            "status": "HTTP/1.1 200 OK",
            "headers": [],
            "body": "followed",
        },
    ]
    services: list[tuple[Serve, str, dict[str, Any]]] = [
        (http_personality.serve, ip, {"port": 80, "response": chain})
    ]
    evs, _, _ = asyncio.run(run(services, [ip], fast()))
    assert by_key(evs, ip)["http.status"] == ["HTTP/1.1 302 Found"]
