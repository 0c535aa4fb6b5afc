"""HTTP and HTTPS personalities: replay recorded responses byte for byte.

A service table (`kind = "http"` or `"https"`) holds `[[service.response]]` entries:
`method` (default GET), `path` (exact request target, or `"*"` as a fallback), optional
`body_contains` (substring of the request body), `status` (the status line as captured),
`headers` (header lines as captured, case and order kept), `body` or `body_hex`, `source`.
The first exact-path match wins, then the first `"*"` match, else a plain 404. The only edit
made to a recording: a captured Content-Length line gets the real body length (name case kept),
since public captures are often abbreviated. Every response closes the connection.
HTTPS (`serve_tls`) adds a certificate: `cert_pem` + `key_pem`, or one generated at start from
`cert_subject`, `cert_issuer` (RFC 4514), `cert_serial` (hex), `cert_not_before`/`cert_not_after`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
import ssl
import tempfile
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from camscan_lab.personality import Closer, LabHost

MAX_REQUEST_HEAD = 64 * 1024
MAX_REQUEST_BODY = 1024 * 1024
REQUEST_TIMEOUT_S = 10.0
NOT_FOUND = (
    b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 0\r\n"
    b"Connection: close\r\n\r\n"
)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class _Servers:
    """Closes every asyncio server a personality started."""

    def __init__(self, servers: Sequence[asyncio.AbstractServer]) -> None:
        self.servers = list(servers)

    def close(self) -> None:
        for server in self.servers:
            server.close()


def listening_socket(host: LabHost, port: int, backlog: int = 256) -> socket.socket:
    """A non-blocking TCP listener on the device's address, made inside its namespace."""
    sock = host.socket(socket.AF_INET, socket.SOCK_STREAM, 0)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host.ip, port))
    sock.listen(backlog)
    sock.setblocking(False)
    return sock


async def listen(
    host: LabHost, port: int, handler: Handler, ssl_ctx: ssl.SSLContext | None = None
) -> Closer:
    """Serve `handler` on the device's `port` (TLS if `ssl_ctx`)."""
    server = await asyncio.start_server(
        handler,
        sock=listening_socket(host, port),
        ssl=ssl_ctx,
        ssl_handshake_timeout=10.0 if ssl_ctx else None,
    )
    return _Servers([server])


def body_bytes(entry: Mapping[str, Any]) -> bytes:
    """The recorded body: `body_hex` if present, else `body` as UTF-8."""
    if "body_hex" in entry:
        return bytes.fromhex("".join(str(entry["body_hex"]).split()))
    return str(entry.get("body", "")).encode("utf-8")


def render(entry: Mapping[str, Any], replace: Mapping[str, str] | None = None) -> bytes:
    """The recorded response as bytes; Content-Length fixed, headers in `replace` re-valued."""
    body = body_bytes(entry)
    lines = [str(entry["status"])]
    for line in entry.get("headers", []):
        name, sep, _value = str(line).partition(":")
        low = name.strip().lower()
        if sep and low == "content-length":
            line = f"{name}: {len(body)}"
        elif sep and replace and low in replace:
            line = f"{name}: {replace[low]}"
        lines.append(str(line))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


def choose(
    responses: Sequence[Mapping[str, Any]], method: str, target: str, body: bytes
) -> Mapping[str, Any] | None:
    """The response recorded for this request: exact path first, then `"*"`, else None."""
    bare = target.split("?", 1)[0]

    def fits(entry: Mapping[str, Any]) -> bool:
        if str(entry.get("method", "GET")).upper() != method.upper():
            return False
        needle = entry.get("body_contains")
        return needle is None or str(needle).encode("utf-8") in body

    for wanted in (target, bare, "*"):
        for entry in responses:
            if entry.get("path", "*") == wanted and fits(entry):
                return entry
    return None


async def read_request(reader: asyncio.StreamReader) -> tuple[str, str, bytes] | None:
    """(method, target, body) of one request, or None if the client sent nothing usable."""
    try:
        async with asyncio.timeout(REQUEST_TIMEOUT_S):
            head = await reader.readuntil(b"\r\n\r\n")
            if len(head) > MAX_REQUEST_HEAD:
                return None
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length" and value.strip().isdigit():
                    length = min(int(value.strip()), MAX_REQUEST_BODY)
            body = await reader.readexactly(length) if length else b""
    except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
        return None
    parts = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
    if len(parts) < 2:
        return None
    return parts[0], parts[1], body


def responder(responses: Sequence[Mapping[str, Any]]) -> Handler:
    """A connection handler answering one request from `responses`, then closing."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await read_request(reader)
            if request is not None:
                entry = choose(responses, *request)
                writer.write(NOT_FOUND if entry is None else render(entry))
                await writer.drain()
        except (OSError, ssl.SSLError):
            pass
        finally:
            writer.close()

    return handle


async def serve(host: LabHost, table: Mapping[str, Any]) -> Closer:
    """Replay `table["response"]` on `table["port"]` (default 80)."""
    return await listen(host, int(table.get("port", 80)), responder(table.get("response", [])))


def _when(value: object, default: dt.datetime) -> dt.datetime:
    if value is None:
        return default
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def make_certificate(table: Mapping[str, Any]) -> tuple[bytes, bytes]:
    """(cert PEM, key PEM) built from the table's `cert_*` fields."""
    subject = x509.Name.from_rfc4514_string(str(table.get("cert_subject", "CN=camera")))
    issuer = (
        x509.Name.from_rfc4514_string(str(table["cert_issuer"]))
        if "cert_issuer" in table
        else subject
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    serial = (
        int(str(table["cert_serial"]), 16)
        if "cert_serial" in table
        else x509.random_serial_number()
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(_when(table.get("cert_not_before"), now - dt.timedelta(days=1)))
        .not_valid_after(_when(table.get("cert_not_after"), now + dt.timedelta(days=3650)))
        .sign(key, hashes.SHA256())
    )
    return (
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def server_context(cert_pem: bytes, key_pem: bytes) -> ssl.SSLContext:
    """A TLS server context for a PEM certificate and key (ssl needs them as files)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as tmp:
        cert_path, key_path = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        with open(cert_path, "wb") as f:
            f.write(cert_pem)
        with open(key_path, "wb") as f:
            f.write(key_pem)
        ctx.load_cert_chain(cert_path, key_path)
    return ctx


async def serve_tls(host: LabHost, table: Mapping[str, Any]) -> Closer:
    """Replay `table["response"]` over TLS on `table["port"]` (default 443)."""
    if "cert_pem" in table:
        cert_pem, key_pem = str(table["cert_pem"]).encode(), str(table["key_pem"]).encode()
    else:
        cert_pem, key_pem = await asyncio.to_thread(make_certificate, table)
    ctx = server_context(cert_pem, key_pem)
    return await listen(
        host, int(table.get("port", 443)), responder(table.get("response", [])), ctx
    )
