"""Hostile devices: services that misbehave on purpose, to prove the probes stay bounded.

`mode` of the service table: `silent` accepts and never answers; `flood` sends a status line
and then 50 MB of header bytes; `garbage` sends random bytes; `reset` sends half a header and
then an RST (SO_LINGER 0); `badcert` speaks just enough TLS to send a certificate that is
garbage DER (`cert = "expired"` serves a real but expired certificate instead; a plain-text
client gets a TLS alert); `slowloris` drips one byte a second; `redos` answers every request
with text built to make a backtracking regex engine stall (a 401 whose WWW-Authenticate repeats
"Digest " and a 60 KB body of unclosed `<userCheck `, `<title>` and `RPC2_Login` runs);
`onvif-clock` is an ONVIF device service whose clock runs a day ahead, which refuses
GetDeviceInformation and appends every WS-UsernameToken it is sent to `token_log(host)`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import socket
import struct
from collections.abc import Mapping
from typing import Any

from camscan_lab.personalities.http import (
    Handler,
    listen,
    make_certificate,
    responder,
    server_context,
)
from camscan_lab.personality import Closer, LabHost

FLOOD_BYTES = 50 * 1024 * 1024
HOLD_S = 120.0  # how long a hostile connection is kept at most
HALF_HEADER = b"HTTP/1.1 200 OK\r\nServer: App-w"
DRIP = b"HTTP/1.1 200 OK\r\nServer: drip\r\n" + b"X-Drip: " + b"a" * 4096


async def _drain_then_hold(reader: asyncio.StreamReader) -> None:
    """Read and discard whatever the client sends until it closes or HOLD_S passes."""
    try:
        async with asyncio.timeout(HOLD_S):
            while await reader.read(4096):
                pass
    except (TimeoutError, OSError):
        pass


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _drain_then_hold(reader)


async def _flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    chunk = b"a" * 65536
    writer.write(b"HTTP/1.1 200 OK\r\nX-Flood: ")
    sent = 0
    while sent < FLOOD_BYTES:
        writer.write(chunk)
        await writer.drain()
        sent += len(chunk)


async def _garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    data = bytearray(os.urandom(16384))
    data[0] = 0x8F  # never a printable protocol name by chance
    writer.write(bytes(data))
    await writer.drain()


async def _reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(HALF_HEADER)
    await writer.drain()
    await asyncio.sleep(0.05)  # let the half header leave before the RST
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


REDOS_REALM = "Digest " * 7000  # `(?:basic|digest)\b.*\brealm=` retried from every word
REDOS_BODY = ("<userCheck " * 1800 + "<title>" * 2800 + "RPC2_Login" * 2000).encode()


async def _redos(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        async with asyncio.timeout(10):
            await reader.readuntil(b"\r\n\r\n")
    except (TimeoutError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return
    writer.write(
        b"HTTP/1.1 401 Unauthorized\r\nServer: redos\r\nWWW-Authenticate: "
        + REDOS_REALM.encode()
        + b"\r\nContent-Type: text/html\r\nContent-Length: "
        + str(len(REDOS_BODY)).encode()
        + b"\r\nConnection: close\r\n\r\n"
        + REDOS_BODY
    )
    await writer.drain()
    writer.close()  # an orderly close: the whole answer arrives before the connection ends
    await writer.wait_closed()


ONVIF_AHEAD = dt.timedelta(days=1)


def token_log(netns: str) -> str:
    """Where the `onvif-clock` device of namespace `netns` writes the tokens it receives."""
    return f"/tmp/camscan-lab-tokens-{netns}.log"


def _onvif_time_reply() -> bytes:
    t = dt.datetime.now(dt.UTC) + ONVIF_AHEAD
    return (
        '<?xml version="1.0" encoding="UTF-8"?><env:Envelope '
        'xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" '
        'xmlns:tt="http://www.onvif.org/ver10/schema"><env:Body>'
        "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
        "<tt:DateTimeType>Manual</tt:DateTimeType><tt:UTCDateTime><tt:Time>"
        f"<tt:Hour>{t.hour}</tt:Hour><tt:Minute>{t.minute}</tt:Minute>"
        f"<tt:Second>{t.second}</tt:Second></tt:Time><tt:Date><tt:Year>{t.year}</tt:Year>"
        f"<tt:Month>{t.month}</tt:Month><tt:Day>{t.day}</tt:Day></tt:Date></tt:UTCDateTime>"
        "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse></env:Body></env:Envelope>"
    ).encode()


def _onvif_clock(netns: str) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":", 1)[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                body = await reader.readexactly(min(length, 65536))
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            return
        if b"UsernameToken" in body:
            with open(token_log(netns), "ab") as log:
                log.write(body + b"\n")
        if b"GetSystemDateAndTime" in body:
            reply = _onvif_time_reply()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml\r\n"
                b"Content-Length: " + str(len(reply)).encode() + b"\r\n\r\n" + reply
            )
        else:
            writer.write(
                b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest "
                b'realm="onvif", nonce="1"\r\nContent-Length: 0\r\n\r\n'
            )
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    return handle


async def _slowloris(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    async with asyncio.timeout(HOLD_S):
        for i in range(len(DRIP)):
            writer.write(DRIP[i : i + 1])
            await writer.drain()
            await asyncio.sleep(1.0)


def _record(content_type: int, payload: bytes) -> bytes:
    return struct.pack("!BHH", content_type, 0x0303, len(payload)) + payload


def _handshake(msg_type: int, body: bytes) -> bytes:
    return struct.pack("!B", msg_type) + len(body).to_bytes(3, "big") + body


def _client_suites(hello: bytes) -> list[int]:
    """Cipher suites offered in a ClientHello record (empty if unreadable)."""
    try:
        pos = 5 + 4 + 2 + 32  # record header, handshake header, version, random
        pos += 1 + hello[pos]  # session id
        (n,) = struct.unpack("!H", hello[pos : pos + 2])
        return [int.from_bytes(hello[pos + 2 + i : pos + 4 + i], "big") for i in range(0, n, 2)]
    except (IndexError, struct.error):
        return []


def garbage_certificate_flight(client_hello: bytes) -> bytes:
    """ServerHello + a Certificate whose only certificate is garbage DER + ServerHelloDone."""
    usable = [
        s for s in _client_suites(client_hello) if s >> 8 != 0x13 and s not in (0x00FF, 0x5600)
    ]
    suite = next(
        (s for s in (0xC02F, 0xC030, 0x009C, 0x002F) if s in usable),
        usable[0] if usable else 0xC02F,
    )
    renegotiation_info = b"\xff\x01\x00\x01\x00"  # RFC 5746: OpenSSL clients insist on it
    hello = (
        b"\x03\x03"
        + os.urandom(32)
        + b"\x00"
        + struct.pack("!HB", suite, 0)
        + struct.pack("!H", len(renegotiation_info))
        + renegotiation_info
    )
    junk = b"\x30\x82\x01\x00" + random.Random(7).randbytes(256)  # a SEQUENCE of nonsense
    certs = len(junk).to_bytes(3, "big") + junk
    flight = (
        _handshake(2, hello)
        + _handshake(11, len(certs).to_bytes(3, "big") + certs)
        + _handshake(14, b"")
    )
    return _record(22, flight)


async def _badcert(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        async with asyncio.timeout(10):
            first = await reader.read(16384)
    except TimeoutError:
        return
    if first[:1] != b"\x16":
        writer.write(_record(21, b"\x02\x46"))  # fatal alert: protocol_version
    else:
        writer.write(garbage_certificate_flight(first))
    await writer.drain()
    await _drain_then_hold(reader)


MODES: dict[str, Handler] = {
    "silent": _silent,
    "flood": _flood,
    "garbage": _garbage,
    "reset": _reset,
    "badcert": _badcert,
    "slowloris": _slowloris,
    "redos": _redos,
}


def _guarded(mode: Handler) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await mode(reader, writer)
        except (OSError, TimeoutError):
            pass  # the client gave up on us: that is the point
        finally:
            writer.transport.abort()

    return handle


async def serve(host: LabHost, table: Mapping[str, Any]) -> Closer:
    """Misbehave per `table["mode"]` on `table["port"]` (default 80)."""
    mode = str(table["mode"])
    port = int(table.get("port", 80))
    if mode == "badcert" and table.get("cert") == "expired":
        now = dt.datetime.now(dt.UTC)
        spec = {
            "cert_subject": "CN=expired",
            "cert_not_before": now - dt.timedelta(days=800),
            "cert_not_after": now - dt.timedelta(days=400),
            **table,
        }
        cert_pem, key_pem = await asyncio.to_thread(make_certificate, spec)
        return await listen(
            host, port, responder(table.get("response", [])), server_context(cert_pem, key_pem)
        )
    if mode == "onvif-clock":
        return await listen(host, port, _guarded(_onvif_clock(host.netns)))
    if mode not in MODES:
        raise ValueError(f"unknown hostile mode {mode!r}; known: {', '.join(MODES)}")
    return await listen(host, port, _guarded(MODES[mode]))
