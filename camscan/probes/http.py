"""HTTP responses as devices send them: pure parse keeping raw case and order, and `expand`."""

from __future__ import annotations

import html
from dataclasses import dataclass

from camscan import linre
from camscan.models import Evidence

MAX_HEADER = 64 * 1024  # a header block longer than this is "oversize"
MAX_BODY = 64 * 1024  # bodies are cut here; a longer body is not an error
MAX_TITLE = 512

_STATUS_RE = linre.compile(rb"^HTTP/(\d)\.(\d) +(\d{3})(?: (.*))?$")
_TITLE_RE = linre.compile(rb"(?is)<title[^>]*>(.*?)</title")
_FLAT_HEADER_KEYS = {
    "server": "http.server",
    "www-authenticate": "http.www_authenticate",
    "set-cookie": "http.cookie",
    "location": "http.location",
}


class ParseError(ValueError):
    """Bytes that are not an HTTP response."""


class HeaderLookup:
    """Header access by name (case-insensitive) over `headers`, as the device sent them."""

    __slots__ = ()
    headers: tuple[tuple[str, str], ...]

    def header(self, name: str) -> str | None:
        """The first value of header `name` (case-insensitive), or None."""
        values = self.header_all(name)
        return values[0] if values else None

    def header_all(self, name: str) -> list[str]:
        """Every value of header `name` (case-insensitive), in order."""
        low = name.lower()
        return [v for n, v in self.headers if n.lower() == low]


@dataclass(frozen=True, slots=True)
class HttpResponse(HeaderLookup):
    """One parsed response; `headers` keeps each name's original case and the device's order."""

    status_line: str
    status: int
    reason: str
    header_block: str  # the header lines exactly as sent, without the status line
    headers: tuple[tuple[str, str], ...]
    body: bytes  # de-chunked if the device sent chunked encoding, at most MAX_BODY

    @property
    def title(self) -> str | None:
        """Text of the first HTML <title>, whitespace collapsed, or None."""
        m = _TITLE_RE.search(self.body)
        if m is None:
            return None
        text = html.unescape(m.group(1).decode("utf-8", "replace"))
        return " ".join(text.split())[:MAX_TITLE]


def split_head(data: bytes) -> tuple[bytes, bytes] | None:
    """(header block incl. status line, rest) if `data` holds a complete head, else None."""
    crlf = data.find(b"\r\n\r\n")
    lf = data.find(b"\n\n")
    if crlf < 0 and lf < 0:
        return None
    # Some embedded servers end lines with a bare LF; take whichever terminator comes first.
    if crlf >= 0 and (lf < 0 or crlf <= lf):
        return data[:crlf], data[crlf + 4 :]
    return data[:lf], data[lf + 2 :]


_CHUNK_SIZE_RE = linre.compile(rb"[0-9A-Fa-f]{1,16}")


def _dechunk(data: bytes) -> bytes:
    """Chunked transfer decoding, tolerant of truncation (a cut body is kept as far as it goes)."""
    out = bytearray()
    pos = 0
    while pos < len(data) and len(out) < MAX_BODY:
        eol = data.find(b"\n", pos)
        if eol < 0:
            break
        size_text = data[pos:eol].split(b";")[0].strip()
        # Only 1*HEXDIG (RFC 7230 §4.1): int() also takes "-4", which sent `pos` backwards.
        if not _CHUNK_SIZE_RE.fullmatch(size_text):
            raise ParseError(f"bad chunk size {size_text[:20]!r}")
        size = int(size_text, 16)
        if size == 0:
            break
        start = eol + 1
        out += data[start : start + size]
        pos = start + size
        if data[pos : pos + 2] == b"\r\n":
            pos += 2
        elif data[pos : pos + 1] == b"\n":
            pos += 1
    return bytes(out[:MAX_BODY])


@dataclass(frozen=True, slots=True)
class Head:
    """The parts of an HTTP-style message (HTTP and RTSP share the syntax, RFC 2326 §4)."""

    status_line: str
    status: int
    reason: str
    header_block: str  # raw header lines, original case and order
    headers: tuple[tuple[str, str], ...]
    body: bytes  # as received: callers cap it


def parse_head(data: bytes, status_re: linre.Regex, protocol: str) -> Head:
    """Status line, headers and body of a (possibly truncated) response; ParseError otherwise."""
    parts = split_head(data)
    head, body = parts if parts is not None else (data, b"")
    if len(head) > MAX_HEADER:
        raise ParseError("header block over 64 KiB")
    lines = head.split(b"\n")
    status_raw = lines[0].rstrip(b"\r")
    m = status_re.match(status_raw)
    if m is None:
        raise ParseError(f"not an {protocol} status line: {status_raw[:40]!r}")
    headers: list[tuple[str, str]] = []
    for raw in lines[1:]:
        line = raw.rstrip(b"\r").decode("latin-1")
        if not line:
            continue
        if line[0] in " \t" and headers:  # obsolete line folding (RFC 7230 §3.2.4)
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, sep, value = line.partition(":")
        if not sep:
            continue  # a malformed line is kept in header_block, not in headers
        headers.append((name.strip(), value.strip()))
    return Head(
        status_raw.decode("latin-1"),
        int(m.group(3)),
        (m.group(4) or b"").decode("latin-1").strip(),
        b"\n".join(lines[1:]).decode("latin-1"),
        tuple(headers),
        body,
    )


def parse_http_response(data: bytes) -> HttpResponse:
    """Parse a (possibly truncated) response; a head without its blank line is taken as a whole."""
    head = parse_head(data, _STATUS_RE, "HTTP")
    block = head.header_block
    resp = HttpResponse(
        head.status_line, head.status, head.reason, block, head.headers, head.body[:MAX_BODY]
    )
    te = (resp.header("Transfer-Encoding") or "").lower()
    if "chunked" in te:
        return HttpResponse(
            resp.status_line, resp.status, resp.reason, block, resp.headers, _dechunk(head.body)
        )
    return resp


def expand(ev: Evidence) -> list[Evidence]:
    """Structured http.* keys read out of one raw `http.response` item."""
    return response_evidence(
        parse_http_response(ev.value.encode("utf-8")), ev.host, ev.source, ev.port
    )


def response_evidence(
    resp: HttpResponse, host: str, source: str, port: int | None
) -> list[Evidence]:
    """The structured http.* items of one parsed response."""

    def out(key: str, value: str) -> Evidence:
        return Evidence(host, source, key, value, port)

    items = [out("http.status", resp.status_line), out("http.headers", resp.header_block)]
    for name, value in resp.headers:
        key = _FLAT_HEADER_KEYS.get(name.lower())
        if key is not None:
            items.append(out(key, value))
    title = resp.title
    if title is not None:
        items.append(out("http.title", title))
    if resp.body:
        items.append(out("http.body", resp.body.decode("utf-8", "replace")))
    # An empty value (`<title></title>`, `Server:` with nothing after it) says nothing.
    return [item for item in items if item.value]
