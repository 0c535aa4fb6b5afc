"""IPv4 fragment reassembly for UDP (RFC 791 §3.2), bounded: a large discovery reply is whole.

A ProbeMatch with its scopes, or a DHIP reply, can exceed the link MTU and arrive in pieces.
At most MAX_PENDING datagrams are held at once (the oldest dropped first) and a datagram
larger than MAX_DATAGRAM is given up, so a flood of fragments cannot grow memory.
"""

from __future__ import annotations

import struct
from collections import OrderedDict

MAX_PENDING = 256
MAX_DATAGRAM = 65535


class Fragments:
    """Fragments by (source, destination, id, protocol) until a datagram is whole."""

    def __init__(self) -> None:
        self.pending: OrderedDict[bytes, dict[int, bytes]] = OrderedDict()
        self.lengths: dict[bytes, int] = {}  # payload length, once the last fragment is in
        self.heads: dict[bytes, bytes] = {}  # the IPv4 header of the first fragment
        self.dropped = 0

    def add(self, frame: bytes, off: int) -> bytes | None:
        """Hold one fragment (frame[off:] is its IPv4 packet); the whole packet once complete."""
        ihl = (frame[off] & 0x0F) * 4
        total = (frame[off + 2] << 8) | frame[off + 3]
        flags_off = (frame[off + 6] << 8) | frame[off + 7]
        more = bool(flags_off & 0x2000)
        start = (flags_off & 0x1FFF) * 8
        data = frame[off + ihl : off + total]
        if len(data) != total - ihl or start + len(data) > MAX_DATAGRAM:
            self.dropped += 1  # cut by the snap length, or impossible
            return None
        key = frame[off + 12 : off + 20] + frame[off + 4 : off + 6] + frame[off + 9 : off + 10]
        parts = self.pending.get(key)
        if parts is None:
            if len(self.pending) >= MAX_PENDING:
                old, _ = self.pending.popitem(last=False)
                self.lengths.pop(old, None)
                self.heads.pop(old, None)
                self.dropped += 1
            parts = self.pending[key] = {}
        parts[start] = data
        if start == 0:
            self.heads[key] = frame[off : off + ihl]
        if not more:
            self.lengths[key] = start + len(data)
        return self._whole(key)

    @property
    def unread(self) -> int:
        """Fragments given up, and datagrams still incomplete: what reassembly did not deliver."""
        return self.dropped + len(self.pending)

    def _whole(self, key: bytes) -> bytes | None:
        length = self.lengths.get(key)
        head = self.heads.get(key)
        if length is None or head is None:
            return None
        parts = self.pending[key]
        out = bytearray()
        while len(out) < length:
            piece = parts.get(len(out))
            if piece is None:
                return None  # a hole: wait for the missing fragment
            out += piece
        del self.pending[key], self.lengths[key], self.heads[key]
        ihl = len(head)
        header = bytearray(head)
        struct.pack_into("!H", header, 2, ihl + length)
        header[6:8] = b"\0\0"  # whole: no MF, offset 0
        return bytes(header) + bytes(out[:length])


__all__ = ["Fragments"]
