"""Server-to-client TCP byte streams rebuilt from segments, bounded per stream and in total.

Only the first reply of an exchange is wanted (an HTTP or RTSP response head and body, or the
TLS handshake up to the Certificate), so a stream starts at a segment that opens one, takes
segments in sequence order (holding a few out-of-order ones), and ends when the reply is
complete, at FIN/RST, at its size bound, or when the table is full (oldest first).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field

from camscan import linre
from camscan.passive import tlscert

MAX_STREAM = 128 * 1024  # head (<= 64 KiB) plus the 64 KiB of body a probe keeps
MAX_STREAMS = 1024
MAX_PENDING = 16  # out-of-order segments held per stream
MAX_REQUESTS = 4096  # flows with a request waiting for its response
_CLEN = linre.compile(rb"(?im)^content-length[ \t]*:[ \t]*(\d{1,9})[ \t]*\r?$")
_CHUNKED = linre.compile(rb"(?im)^transfer-encoding[ \t]*:[^\r\n]*chunked")
REQUEST_METHODS = (
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"OPTIONS ",
    b"DESCRIBE ",
    b"M-SEARCH ",
    b"SETUP ",
    b"PLAY ",
)

# server address (4 bytes), client address (4), server port (2), client port (2): the bytes of
# the IPv4 and TCP headers as they stand in a server-to-client segment
FlowKey = bytes


@dataclass(slots=True)
class Request:
    """The start of a request a client sent: method, path and the first bytes of its body."""

    method: str
    path: str
    head: bytes


@dataclass(slots=True)
class Stream:
    """One reply being rebuilt."""

    kind: str  # "http", "rtsp" or "tls"
    next_seq: int
    mac: bytes | None
    ttl: int
    data: bytearray = field(default_factory=bytearray)
    pending: dict[int, bytes] = field(default_factory=dict)
    request: Request | None = None
    last: float = 0.0  # capture time of its latest segment


@dataclass(slots=True)
class Reply:
    """A finished (or cut) reply, handed to the protocol readers."""

    key: FlowKey
    kind: str
    data: bytes
    request: Request | None
    mac: bytes | None
    ttl: int


def reply_kind(payload: bytes) -> str | None:
    """Which reply a segment opens, if any."""
    if payload[:7] == b"HTTP/1.":
        return "http"
    if payload[:7] == b"RTSP/1.":
        return "rtsp"
    if tlscert.is_server_hello(payload):
        return "tls"
    return None


def parse_request(payload: bytes) -> Request | None:
    """Method and path of a request line, if the segment starts one."""
    if not payload.startswith(REQUEST_METHODS):
        return None
    nl = payload.find(b"\n", 0, 4096)
    parts = payload[: nl if nl >= 0 else 4096].strip().split(b" ")
    if len(parts) < 2:
        return None
    return Request(
        parts[0].decode("ascii", "replace"), parts[1].decode("latin-1")[:2048], payload[:8192]
    )


def complete(kind: str, data: bytes | bytearray) -> bool:
    """True when the reply in `data` needs no more bytes."""
    if len(data) >= MAX_STREAM:
        return True
    if kind == "tls":
        _, ended = tlscert.handshake_bytes(bytes(data))
        if ended:
            return True
        try:
            return tlscert.server_certificate(bytes(data)) is not None
        except tlscert.ParseError:
            return True
    cut = data.find(b"\r\n\r\n")
    sep = 4
    if cut < 0:
        cut, sep = data.find(b"\n\n"), 2
        if cut < 0:
            return False
    head = bytes(data[:cut])
    body = len(data) - cut - sep
    m = _CLEN.search(head)
    if m is not None:
        return body >= int(m.group(1))
    if _CHUNKED.search(head):
        return data.endswith(b"0\r\n\r\n")
    return kind == "rtsp"  # RTSP without Content-Length has no body; HTTP reads to FIN


class StreamTable:
    """Streams being rebuilt and requests awaiting replies; finished replies come out of feed."""

    def __init__(self) -> None:
        self.streams: OrderedDict[FlowKey, Stream] = OrderedDict()
        self.requests: OrderedDict[FlowKey, deque[Request]] = OrderedDict()
        self.evicted = 0

    def request(self, key: FlowKey, req: Request) -> None:
        """Remember a client request (key from the server's side) for the reply to come."""
        queue = self.requests.get(key)
        if queue is None:
            if len(self.requests) >= MAX_REQUESTS:
                self.requests.popitem(last=False)
            queue = self.requests[key] = deque(maxlen=8)
        queue.append(req)

    def feed(
        self,
        key: FlowKey,
        seq: int,
        payload: bytes,
        fin: bool,
        mac: bytes | None,
        ttl: int,
        kind: str | None = None,
        now: float = 0.0,
    ) -> list[Reply]:
        """One server-to-client segment, heard at capture time `now`; the replies it
        completes (possibly evicted ones too).

        `kind`: reply_kind(payload), when the caller has already asked it."""
        out: list[Reply] = []
        stream = self.streams.get(key)
        if stream is None:
            if kind is None:
                kind = reply_kind(payload) if payload else None
            if kind is None:
                return out
            queue = self.requests.get(key)
            req = queue.popleft() if queue else None
            if fin or complete(kind, payload):  # the whole reply in one segment, as most are
                out.append(Reply(key, kind, payload[:MAX_STREAM], req, mac, ttl))
                return out
            if len(self.streams) >= MAX_STREAMS:
                old_key, old = self.streams.popitem(last=False)
                self.evicted += 1
                out.append(self._reply(old_key, old))
            stream = Stream(kind, seq, mac, ttl, request=req)
            self.streams[key] = stream
        stream.last = now
        if payload:
            self._add(stream, seq, payload)
        if fin or complete(stream.kind, stream.data):
            del self.streams[key]
            out.append(self._reply(key, stream))
        return out

    @staticmethod
    def _add(stream: Stream, seq: int, payload: bytes) -> None:
        if seq != stream.next_seq:
            ahead = (seq - stream.next_seq) & 0xFFFFFFFF
            if ahead < 0x80000000 and len(stream.pending) < MAX_PENDING:
                stream.pending[seq] = payload  # a later segment that arrived early
            elif ahead >= 0x80000000:  # a retransmission overlapping what we have
                skip = (stream.next_seq - seq) & 0xFFFFFFFF
                if skip < len(payload):
                    StreamTable._add(stream, stream.next_seq, payload[skip:])
            return
        room = MAX_STREAM - len(stream.data)
        stream.data += payload[:room]
        stream.next_seq = (seq + len(payload)) & 0xFFFFFFFF
        while stream.next_seq in stream.pending and len(stream.data) < MAX_STREAM:
            nxt = stream.pending.pop(stream.next_seq)
            stream.data += nxt[: MAX_STREAM - len(stream.data)]
            stream.next_seq = (stream.next_seq + len(nxt)) & 0xFFFFFFFF

    @staticmethod
    def _reply(key: FlowKey, stream: Stream) -> Reply:
        return Reply(key, stream.kind, bytes(stream.data), stream.request, stream.mac, stream.ttl)

    def expire(self, now: float, idle: float) -> list[Reply]:
        """The replies of streams silent for over `idle` seconds of capture time, as far as
        they go: a segment the capture missed would keep them open, and waiting for it."""
        stale = [k for k, s in self.streams.items() if now - s.last > idle]
        return [self._reply(k, self.streams.pop(k)) for k in stale]

    def flush(self) -> list[Reply]:
        """Every reply still open (end of capture): what was heard is kept."""
        out = [self._reply(k, s) for k, s in self.streams.items()]
        self.streams.clear()
        return out


__all__ = ["FlowKey", "Reply", "Request", "StreamTable", "complete", "parse_request", "reply_kind"]
