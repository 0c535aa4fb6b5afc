"""ONVIF over HTTP against hostile loopback servers (runs only in scripts/test's namespace)."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from camscan.context import ScanContext, ScanSettings
from camscan.models import Evidence
from camscan.probes import onvif

pytestmark = pytest.mark.lab  # sockets: only inside the isolated test namespace

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        ),
        0,
    )
    return await reader.readexactly(length)


ATTRIBUTED = [
    Evidence("127.0.0.1", "arp", "mac", "44:19:b6:3a:10:01"),  # a Hikvision camera
    Evidence("127.0.0.1", "sadp", "sadp.model", "DS-2CD2385G1-I"),
    Evidence("127.0.0.1", "http", "http.server", "App-webs/", 80),
]


def run(
    handler: Handler, *, heard: list[Evidence] | None = None, **settings: Any
) -> tuple[list[Evidence], ScanContext, float]:
    found: list[Evidence] = []
    ctx = ScanContext(
        ScanSettings(**settings),
        None,
        None,  # type: ignore[arg-type]
        ipaddress.ip_network("127.0.0.0/8"),
        found.append,
        host_evidence=lambda host: [*(heard or []), *found],
    )

    async def guarded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def main() -> float:
        server = await asyncio.start_server(guarded, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        started = time.monotonic()
        async with server:
            await onvif.query(ctx, "127.0.0.1", f"http://127.0.0.1:{port}/onvif/device_service")
        return time.monotonic() - started

    took = asyncio.run(main())
    return found, ctx, took


def test_refusal_with_challenge_and_html_body_is_evidence() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(
            b'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm="Login to '
            b'4M0747EPAA1D284", nonce="1"\r\nContent-Length: 9\r\n\r\n<html/>\r\n'
        )
        await writer.drain()

    found, ctx, _ = run(handler)
    assert {(e.key, e.value) for e in found} == {
        ("onvif.www_authenticate", 'Digest realm="Login to 4M0747EPAA1D284", nonce="1"')
    }
    assert ctx.stat("onvif").answered == 2 and ctx.stat("onvif").errors == 0


def test_a_50_mb_answer_is_cut_and_counted() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 52428800\r\n\r\n")
        for _ in range(800):
            writer.write(b"<" * 65536)
            await writer.drain()

    found, ctx, took = run(handler)
    assert ctx.stat("onvif").dropped == 2
    assert [e.key for e in found] == ["probe.error", "probe.error"]
    assert took < 5


def test_a_silent_server_costs_only_the_timeouts() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    found, ctx, took = run(handler, connect_timeout_s=0.3, read_timeout_s=0.3)
    assert ctx.stat("onvif").errors == 2
    assert all(e.key == "probe.error" and "Timeout" in e.value for e in found)
    assert took < 2.0


TIME_2020 = (
    b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    b'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" '
    b'xmlns:tt="http://www.onvif.org/ver10/schema"><s:Body>'
    b"<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:UTCDateTime><tt:Time>"
    b"<tt:Hour>1</tt:Hour><tt:Minute>2</tt:Minute><tt:Second>3</tt:Second></tt:Time>"
    b"<tt:Date><tt:Year>2020</tt:Year><tt:Month>1</tt:Month><tt:Day>1</tt:Day></tt:Date>"
    b"</tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
    b"</s:Body></s:Envelope>"
)


def test_discovery_never_sends_a_token_and_a_day_off_clock_is_reported() -> None:
    """A device claiming another time gets no token signed in its time: it is reported."""
    tokens: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:  # one connection per request (force_close), but be general
            body = await _read_request(reader)
            if b"GetSystemDateAndTime" in body:
                answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (
                    len(TIME_2020),
                    TIME_2020,
                )
            else:
                if b"UsernameToken" in body:
                    tokens.append(body)
                answer = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"
            writer.write(answer)
            await writer.drain()

    found, ctx, _ = run(handler, onvif_user="admin", onvif_password="pw")
    assert tokens == []  # nothing heard of the host says camera: no token at all
    assert any(n.startswith("credentials withheld from 127.0.0.1") for n in ctx.stat("onvif").notes)
    (offset,) = [e.value for e in found if e.key == "onvif.clock_offset"]
    assert offset.startswith("-") and "behind the scanner's clock" in offset

    found, ctx, _ = run(handler, heard=ATTRIBUTED, onvif_user="admin", onvif_password="pw")
    (token,) = tokens
    now = datetime.now(UTC)
    created = re.search(rb"Created[^>]*>([^<]+)</", token)
    assert created is not None
    stamp = datetime.strptime(created.group(1).decode()[:19], "%Y-%m-%dT%H:%M:%S")
    assert abs((stamp.replace(tzinfo=UTC) - now).total_seconds()) < 60  # our clock, not 2020
    assert b"pw<" not in token and b">pw" not in token
    assert [e.key for e in found].count("onvif.credentials_sent") == 1
