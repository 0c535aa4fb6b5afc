"""ONVIF over HTTP against hostile loopback servers (runs only in scripts/test's namespace)."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Awaitable, Callable

import pytest

from camscan.context import ScanContext, ScanSettings
from camscan.discovery import onvif
from camscan.models import Evidence

pytestmark = pytest.mark.lab  # sockets: only inside the isolated test namespace

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length")), 0)
    return await reader.readexactly(length)


def run(handler: Handler, **settings: float) -> tuple[list[Evidence], ScanContext, float]:
    found: list[Evidence] = []
    ctx = ScanContext(ScanSettings(**settings), None, None,  # type: ignore[arg-type]
                      ipaddress.ip_network("127.0.0.0/8"), found.append)

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
        writer.write(b'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm="Login to '
                     b'4M0747EPAA1D284", nonce="1"\r\nContent-Length: 9\r\n\r\n<html/>\r\n')
        await writer.drain()

    found, ctx, _ = run(handler)
    assert {(e.key, e.value) for e in found} == {
        ("onvif.www_authenticate", 'Digest realm="Login to 4M0747EPAA1D284", nonce="1"')}
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
