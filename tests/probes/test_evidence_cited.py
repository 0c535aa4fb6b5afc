"""Banner probes emit the parsed items beside the raw response: a verdict cites only those."""

from __future__ import annotations

import asyncio

from camscan.context import ScanContext, ScanSettings
from camscan.devices import build_device
from camscan.models import Evidence
from camscan.output.document import device_to_dict, uncited
from camscan.probes import banners

IP = "127.0.0.61"
# A Hikvision web server and RTSP service as they answer an unauthenticated client.
HTTP_ROOT = (
    b"HTTP/1.1 200 OK\r\nServer: App-webs/\r\nContent-Type: text/html\r\n"
    b"Content-Length: 26\r\n\r\n<title>Hik Web</title>xxxx"
)
RTSP_REPLY = (
    b"RTSP/1.0 401 Unauthorized\r\nCSeq: {cseq}\r\nWWW-Authenticate: Digest "
    b'realm="IP Camera(21388)", nonce="1"\r\nServer: Hikvision-Webs\r\n\r\n'
)


async def _http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(HTTP_ROOT)
    await writer.drain()
    writer.close()


async def _rtsp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    for cseq in (1, 2):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(RTSP_REPLY.replace(b"{cseq}", str(cseq).encode()))
        await writer.drain()
    writer.close()


async def _probe() -> list[Evidence]:
    servers = [
        await asyncio.start_server(_http, IP, 8080),
        await asyncio.start_server(_rtsp, IP, 554),
    ]
    found: list[Evidence] = []
    ctx = ScanContext(ScanSettings(ports=(8080, 554)), None, None, [], found.append)
    try:
        await banners.probe_host(ctx, IP)
    finally:
        for server in servers:
            server.close()
    return found


def test_every_item_a_verdict_cites_is_in_the_device_evidence() -> None:
    found = asyncio.run(_probe())
    keys = {ev.key for ev in found}
    assert {
        "http.response",
        "http.server",
        "http.title",
        "rtsp.response",
        "rtsp.server",
        "rtsp.www_authenticate",
    } <= keys, keys
    device = build_device(IP, found, outside_scope=False, first_seen=None)
    assert device.verdict.maker == "Hikvision"
    cited = {m.evidence.key for m in device.verdict.matches}
    assert cited & {"http.server", "rtsp.www_authenticate"}, cited
    assert uncited(device_to_dict(device)) == []
