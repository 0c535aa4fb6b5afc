"""The banner probe of one host: HTTP(S), TLS, RTSP and vendor ports, read-only and bounded.

Transport: raw asyncio streams. aiohttp and requests normalise header names, merge or drop
malformed header lines and hide the status line as sent; Dahua's upper-case header skeleton and
missing `Server` header are fingerprints, so we read the bytes ourselves and hand them to the
pure parsers in `camscan.probes.http` and `camscan.probes.rtsp`.

Every exchange has a connect timeout and one read deadline (a device dripping a byte a second
cannot extend it), heads and bodies are capped, a host has at most `max_per_host` (≤ 4)
connections open and the scan `ctx.connections`; the whole host is bounded by `host_budget_s`.
A port that accepted a connection and then misbehaved yields `probe.error` "<port>: timeout",
"reset", "oversize", "garbage" or "tls: …"; closed and filtered ports are silent.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from urllib.parse import urljoin, urlsplit

from camscan.context import ScanContext
from camscan.models import Evidence, excerpt
from camscan.output.private import write_private
from camscan.probes import favicon, http, paths, rpc2, rtsp, tls, vendorports
from camscan.targets import is_forbidden
from camscan.traffic import traffic_log

HTTP_PORTS = frozenset({80, 81, 8080, 8081, 8899, 88})
HTTPS_PORTS = frozenset({443, 8443})
RTSP_PORTS = frozenset({554, 8554})
MAX_REDIRECTS = 3
MAX_PER_HOST = 4
GREETING_WAIT_S = 1.0  # how long a vendor port gets to speak first
USER_AGENT = "camscan/0.1 (read-only inventory)"


class ProbeFailure(Exception):
    """A port accepted the connection and then misbehaved; `str()` is the error kind."""


class PortClosed(Exception):
    """Refused, unreachable or filtered: nothing to report."""


def build_http_request(
    ip: str, port: int, method: str, path: str, body: bytes = b"", content_type: str | None = None
) -> bytes:
    """An HTTP/1.1 request with no credentials and `Connection: close`."""
    host = ip if port in (80, 443) else f"{ip}:{port}"
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {host}",
        f"User-Agent: {USER_AGENT}",
        "Accept: */*",
        "Connection: close",
    ]
    if body or method == "POST":
        lines += [
            f"Content-Type: {content_type or 'application/octet-stream'}",
            f"Content-Length: {len(body)}",
        ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _framing(head: bytes) -> tuple[int | None, bool]:
    """(Content-Length or None, chunked?) of a raw head."""
    chunked = b"chunked" in head.lower() and b"transfer-encoding" in head.lower()
    length = rtsp.content_length(head) if b"content-length" in head.lower() else None
    return length, chunked


async def read_response(reader: asyncio.StreamReader, magic: bytes, timeout_s: float) -> bytes:
    """One response starting with `magic` (b"HTTP/" or b"RTSP/"): head ≤ 64 KiB, body ≤ 64 KiB.

    Raises ProbeFailure: "timeout" if the head is not complete by the deadline, "garbage" if the
    first bytes are not `magic`, "oversize" past the head cap, "reset" if cut mid-head.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    buf = bytearray()

    async def chunk() -> bytes:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise TimeoutError
        try:
            return await asyncio.wait_for(reader.read(16384), remaining)
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
            raise ProbeFailure("reset") from None

    try:
        while (parts := http.split_head(bytes(buf))) is None:
            if len(buf) > http.MAX_HEADER:
                raise ProbeFailure("oversize")
            data = await chunk()
            if not data:  # closed before the head was complete
                raise ProbeFailure("reset")
            buf += data
            probe = bytes(buf[: len(magic)])
            if not magic.startswith(probe):
                raise ProbeFailure("garbage")
    except TimeoutError:
        raise ProbeFailure("timeout") from None
    head, body = parts
    if len(head) > http.MAX_HEADER:
        raise ProbeFailure("oversize")
    length, chunked = _framing(head)
    want = http.MAX_BODY if length is None else min(length, http.MAX_BODY)
    cut = len(buf) - len(body)  # the head with its blank line
    # The body is best effort: a device that stops sending keeps what it sent.
    with suppress(TimeoutError, ProbeFailure):
        while len(buf) - cut < want and not (chunked and b"0\r\n\r\n" in buf[cut:]):
            if magic == b"RTSP/" and length is None:
                break  # an RTSP response without Content-Length has no body
            data = await chunk()
            if not data:
                break
            buf += data
    return bytes(buf[: cut + http.MAX_BODY])


class _HostProbe:
    """The banner probes of one host, sharing its connection limit."""

    def __init__(self, ctx: ScanContext, ip: str) -> None:
        self.ctx = ctx
        self.ip = ip
        self.settings = ctx.settings
        self.limit = asyncio.Semaphore(max(1, min(MAX_PER_HOST, self.settings.max_per_host)))
        self.tls_seen: set[int] = set()
        self.tls_ctx = tls.client_context()

    def emit(
        self, source: str, key: str, value: str, port: int | None, raw: str | None = None
    ) -> None:
        self.ctx.emit(Evidence(self.ip, source, key, value, port, raw))

    def error(self, port: int, kind: str) -> None:
        self.emit("banner", "probe.error", f"{port}: {kind}", port)

    @asynccontextmanager
    async def connect(
        self, port: int, use_tls: bool
    ) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
        """A connection inside both limits; PortClosed if nothing accepts, ProbeFailure on TLS."""
        async with self.limit, self.ctx.connections:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(self.ip, port), self.settings.connect_timeout_s
                )
            except ConnectionResetError:
                # The handshake completed and the peer reset before this (busy) loop saw the
                # connect finish: an open port that misbehaved, not a closed one.
                raise ProbeFailure("reset") from None
            except (OSError, TimeoutError):
                raise PortClosed from None
            try:
                if use_tls:
                    await self.handshake(port, writer)
                yield reader, writer
            finally:
                writer.transport.abort()

    async def handshake(self, port: int, writer: asyncio.StreamWriter) -> None:
        stat = self.ctx.stat("tls")
        stat.sent += 1
        try:
            await asyncio.wait_for(
                writer.start_tls(self.tls_ctx, server_hostname=""),
                self.settings.connect_timeout_s + self.settings.read_timeout_s,
            )
        except TimeoutError:
            stat.errors += 1
            raise ProbeFailure("tls: handshake timeout") from None
        except (ssl.SSLError, OSError) as exc:
            stat.errors += 1
            reason = getattr(exc, "reason", None) or str(exc)[:120] or type(exc).__name__
            raise ProbeFailure(f"tls: handshake failed ({reason})") from None
        stat.answered += 1
        if port in self.tls_seen:
            return
        self.tls_seen.add(port)
        sslobj = writer.get_extra_info("ssl_object")
        der = sslobj.getpeercert(binary_form=True) if sslobj is not None else None
        if not der:
            return
        try:
            info = tls.parse_certificate(der)
        except tls.ParseError as exc:
            stat.dropped += 1
            raise ProbeFailure(f"tls: {exc}") from None
        for ev in tls.cert_evidence(self.ip, port, info):
            self.ctx.emit(ev)

    async def http_exchange(
        self,
        port: int,
        use_tls: bool,
        method: str,
        path: str,
        body: bytes = b"",
        content_type: str | None = None,
    ) -> bytes:
        """One request/response; raw bytes of the response."""
        stat = self.ctx.stat("http")
        request = build_http_request(self.ip, port, method, path, body, content_type)
        async with self.connect(port, use_tls) as (reader, writer):
            stat.sent += 1
            traffic_log.debug("http > %s:%d %r", self.ip, port, request[:512])
            writer.write(request)
            try:
                raw = await read_response(reader, b"HTTP/", self.settings.read_timeout_s)
            except ProbeFailure as exc:
                stat.errors += 1
                if str(exc) in ("oversize", "garbage"):
                    stat.dropped += 1
                raise
            traffic_log.debug("http < %s:%d %r", self.ip, port, raw[:2048])
            stat.answered += 1
            return raw

    async def http_port(self, port: int, use_tls: bool) -> None:
        """GET / with same-host redirects, then favicon and the vendor path table."""
        source = "https" if use_tls else "http"
        raw = await self.http_exchange(port, use_tls, "GET", "/")  # failures: see port()
        self.emit("tcp", f"tcp.open.{port}", "open", port)
        resp = self.emit_response(source, port, raw)
        if resp is not None:
            await self.follow_redirects(port, use_tls, resp)
        jobs = [self.favicon(port, use_tls)]
        jobs += [
            self.vendor_path(port, use_tls, p) for p in paths.selected_paths(self.settings.deep)
        ]
        await asyncio.gather(*jobs)

    def emit_response(self, source: str, port: int, raw: bytes) -> http.HttpResponse | None:
        """Emit the raw response and what it says; the parsed response, None if unreadable."""
        text = raw.decode("utf-8", "replace")
        self.emit(source, "http.response", text, port, excerpt(raw))
        self.save("http", f"{port}.http", raw)
        try:
            # Parsed from the text the raw item carries: the document's raw item, read again
            # (`camscan identify`), gives exactly these items.
            resp = http.parse_http_response(text.encode("utf-8"))
        except http.ParseError as exc:
            self.emit(source, "probe.error", f"cannot parse http.response: {exc}", port)
            return None
        for ev in http.response_evidence(resp, self.ip, source, port):
            self.ctx.emit(ev)
        return resp

    def save(self, protocol: str, name: str, raw: bytes) -> None:
        """With --save-captures, keep the reply as a test fixture (tests/captures/<protocol>/)."""
        root = self.settings.save_captures
        if root is None:
            return
        folder = root / protocol
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"{self.ip}_{name}"
        path, n = folder / stem, 1
        while path.exists():  # one file per exchange: redirects and vendor paths add more
            n += 1
            path = folder / f"{n}-{stem}"
        write_private(path, raw)

    async def follow_redirects(self, port: int, use_tls: bool, resp: http.HttpResponse) -> None:
        """Follow up to MAX_REDIRECTS Location headers that stay on this host."""
        url = f"{'https' if use_tls else 'http'}://{self.ip}:{port}/"
        for _ in range(MAX_REDIRECTS):
            location = resp.header("Location")
            if resp.status not in (301, 302, 303, 307, 308) or not location:
                return
            try:
                target = urlsplit(urljoin(url, location.strip()))
                target_port = target.port
            except ValueError:
                return
            if target.hostname != self.ip or target.scheme not in ("http", "https"):
                return  # same host only
            use_tls = target.scheme == "https"
            port = target_port or (443 if use_tls else 80)
            path = (target.path or "/") + (f"?{target.query}" if target.query else "")
            if is_forbidden(path):
                return  # not even when the device itself points there
            url = f"{target.scheme}://{self.ip}:{port}{path}"
            try:
                raw = await self.http_exchange(port, use_tls, "GET", path)
            except (ProbeFailure, PortClosed):
                return
            followed = self.emit_response("https" if use_tls else "http", port, raw)
            if followed is None:
                return
            resp = followed

    async def favicon(self, port: int, use_tls: bool) -> None:
        try:
            resp = http.parse_http_response(
                await self.http_exchange(port, use_tls, "GET", "/favicon.ico")
            )
        except (ProbeFailure, PortClosed, http.ParseError):
            return
        icon = resp.body
        if resp.status != 200 or not icon or icon.lstrip()[:1] == b"<":  # soft-404 HTML page
            return
        source = "https" if use_tls else "http"
        self.emit(source, "http.favicon.md5", favicon.favicon_md5(icon), port)
        self.emit(source, "http.favicon.mmh3", str(favicon.favicon_mmh3(icon)), port)

    async def vendor_path(self, port: int, use_tls: bool, entry: paths.VendorPath) -> None:
        try:
            raw = await self.http_exchange(
                port, use_tls, entry.method, entry.path, entry.body, entry.content_type
            )
            resp = http.parse_http_response(raw)
        except (ProbeFailure, PortClosed, http.ParseError):
            return
        if resp.status == 404:
            return
        head_len = len(raw) - len(resp.body)
        value = raw[: head_len + paths.PATH_EXCERPT].decode("utf-8", "replace")
        source = "https" if use_tls else "http"
        self.emit(source, f"http.path.{entry.name}", value, port, excerpt(raw))
        self.save("http", f"{port}_{entry.name}.http", raw)
        if entry.name == "dahua_rpc2_login":
            for key, found in rpc2.parse_challenge(resp.body).items():
                self.emit(source, key, found, port)

    async def rtsp_port(self, port: int) -> None:
        """OPTIONS then DESCRIBE rtsp://host/ without credentials, on one connection."""
        stat = self.ctx.stat("rtsp")
        url = f"rtsp://{self.ip}:{port}/" if port != 554 else f"rtsp://{self.ip}/"
        try:
            async with self.connect(port, False) as (reader, writer):
                self.emit("tcp", f"tcp.open.{port}", "open", port)
                for cseq, method in enumerate(("OPTIONS", "DESCRIBE"), start=1):
                    stat.sent += 1
                    writer.write(rtsp.build_request(method, url, cseq))
                    try:
                        raw = await read_response(reader, b"RTSP/", self.settings.read_timeout_s)
                    except ProbeFailure as exc:
                        stat.errors += 1
                        self.error(port, str(exc))
                        return
                    stat.answered += 1
                    traffic_log.debug("rtsp < %s:%d %r", self.ip, port, raw[:2048])
                    self.emit_rtsp(port, raw)
                    self.save("rtsp", f"{port}_{method.lower()}.rtsp", raw)
        except PortClosed:
            return

    def emit_rtsp(self, port: int, raw: bytes) -> None:
        """Emit the raw RTSP response and what it says (parsed as `emit_response` does)."""
        text = raw.decode("utf-8", "replace")
        self.emit("rtsp", "rtsp.response", text, port, excerpt(raw))
        try:
            resp = rtsp.parse_rtsp_response(text.encode("utf-8"))
        except rtsp.ParseError as exc:
            self.emit("rtsp", "probe.error", f"cannot parse rtsp.response: {exc}", port)
            return
        for ev in rtsp.response_evidence(resp, self.ip, "rtsp", port):
            self.ctx.emit(ev)

    async def tcp_port(self, port: int) -> None:
        """Connect, give the service a moment to speak first, record what it said."""
        stat = self.ctx.stat("tcp")
        stat.sent += 1
        try:
            async with self.connect(port, False) as (reader, _writer):
                wait = min(GREETING_WAIT_S, self.settings.read_timeout_s)
                try:
                    greeting = await asyncio.wait_for(reader.read(vendorports.MAX_GREETING), wait)
                except (TimeoutError, OSError):
                    greeting = b""
        except PortClosed:
            return
        stat.answered += 1
        for ev in vendorports.port_evidence(self.ip, port, greeting):
            self.ctx.emit(ev)

    async def port(self, port: int) -> None:
        try:
            if port in HTTP_PORTS:
                await self.http_port(port, False)
            elif port in HTTPS_PORTS:
                await self.http_port(port, True)
            elif port in RTSP_PORTS:
                await self.rtsp_port(port)
            else:
                await self.tcp_port(port)
        except PortClosed:
            return
        except ProbeFailure as exc:  # the port accepted, then GET / or the TLS handshake failed
            self.emit("tcp", f"tcp.open.{port}", "open", port)
            self.error(port, str(exc))
        except Exception as exc:  # e.g. --save-captures on a full disk: this port only
            self.error(port, f"failed: {type(exc).__name__}: {exc}")


async def probe_host(ctx: ScanContext, ip: str) -> None:
    """Run every banner probe of `ip` on `ctx.settings.ports` within `host_budget_s`."""
    host = _HostProbe(ctx, ip)
    try:
        async with asyncio.timeout(ctx.settings.host_budget_s):
            await asyncio.gather(*(host.port(p) for p in ctx.settings.ports))
    except TimeoutError:
        host.emit(
            "banner",
            "probe.error",
            f"budget: host budget of {ctx.settings.host_budget_s:g}s exceeded",
            None,
        )


async def tcp_alive(ctx: ScanContext, ip: str) -> bool:
    """True if any probe port accepts or refuses a TCP connection (either way the host is up)."""
    limit = asyncio.Semaphore(max(1, min(MAX_PER_HOST, ctx.settings.max_per_host)))

    async def knock(port: int) -> bool:
        async with limit, ctx.connections:
            try:
                _reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(ip, port), ctx.settings.connect_timeout_s
                )
            except (ConnectionRefusedError, ConnectionResetError):  # reset: accepted, then cut
                return True
            except (OSError, TimeoutError):
                return False
            writer.transport.abort()
            return True

    tasks = [asyncio.create_task(knock(p)) for p in ctx.settings.ports]
    try:
        for done in asyncio.as_completed(tasks):
            if await done:
                return True
        return False
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
