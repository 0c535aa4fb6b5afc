"""RTSP OPTIONS/DESCRIBE without credentials: pure build and parse, and `expand`."""

from __future__ import annotations

from dataclasses import dataclass

from camscan import linre
from camscan.models import Evidence
from camscan.probes.http import HeaderLookup, parse_head
from camscan.probes.http import ParseError as HttpParseError

MAX_BODY = 64 * 1024
USER_AGENT = "camscan"

_STATUS_RE = linre.compile(rb"^RTSP/(\d)\.(\d) +(\d{3})(?: (.*))?$")
_CONTENT_LENGTH_RE = linre.compile(rb"(?im)^content-length[ \t]*:[ \t]*(\d{1,9})[ \t]*\r?$")


class ParseError(ValueError):
    """Bytes that are not an RTSP response."""


@dataclass(frozen=True, slots=True)
class RtspResponse(HeaderLookup):
    """One parsed RTSP response; header names keep their original case and order."""

    status_line: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def sdp(self) -> str | None:
        """The body when it is an SDP description, else None."""
        ctype = (self.header("Content-Type") or "").lower()
        if self.body and ("sdp" in ctype or self.body.startswith(b"v=")):
            return self.body.decode("utf-8", "replace")
        return None


def build_request(method: str, url: str, cseq: int) -> bytes:
    """An RTSP/1.0 request carrying no credentials."""
    accept = "Accept: application/sdp\r\n" if method == "DESCRIBE" else ""
    return (
        f"{method} {url} RTSP/1.0\r\nCSeq: {cseq}\r\nUser-Agent: {USER_AGENT}\r\n{accept}\r\n"
    ).encode("ascii")


def content_length(head: bytes) -> int:
    """The Content-Length of a raw head (0 when absent or unreadable)."""
    m = _CONTENT_LENGTH_RE.search(head)
    return int(m.group(1)) if m else 0


def parse_rtsp_response(data: bytes) -> RtspResponse:
    """Parse one (possibly truncated) RTSP response."""
    try:
        head = parse_head(data, _STATUS_RE, "RTSP")
    except HttpParseError as exc:
        raise ParseError(str(exc)) from None
    return RtspResponse(head.status_line, head.status, head.headers, head.body[:MAX_BODY])


def expand(ev: Evidence) -> list[Evidence]:
    """Structured rtsp.* keys read out of one raw `rtsp.response` item."""
    return response_evidence(
        parse_rtsp_response(ev.value.encode("utf-8")), ev.host, ev.source, ev.port
    )


def response_evidence(
    resp: RtspResponse, host: str, source: str, port: int | None
) -> list[Evidence]:
    """The structured rtsp.* items of one parsed response."""

    def out(key: str, value: str) -> Evidence:
        return Evidence(host, source, key, value, port)

    items = [out("rtsp.status", resp.status_line)]
    for key, name in (
        ("rtsp.server", "Server"),
        ("rtsp.public", "Public"),
        ("rtsp.www_authenticate", "WWW-Authenticate"),
    ):
        items.extend(out(key, v) for v in resp.header_all(name))
    sdp = resp.sdp
    if sdp is not None:
        items.append(out("rtsp.sdp", sdp))
    # An empty value (`<title></title>`, `Server:` with nothing after it) says nothing.
    return [item for item in items if item.value]
