"""UDP fragment reassembly, IPv4 (RFC 791 §3.2) and IPv6 (RFC 8200 §4.5), bounded.

A ProbeMatch with its scopes, or a DHIP reply, can exceed the link MTU and arrive in pieces.
At most MAX_PENDING datagrams and MAX_BYTES of their pieces are held at once (the oldest
given up first) and a datagram larger than MAX_DATAGRAM is given up, so a flood of fragments
cannot grow memory. An IPv6 datagram given up, read or of no reader's is remembered (MAX_GONE
keys), so that its later pieces are dropped rather than held as a new datagram that can never
be whole.
"""

from __future__ import annotations

import struct
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Container

MAX_PENDING = 256
MAX_BYTES = 4 << 20  # the pieces held, all datagrams together
MAX_DATAGRAM = 65535
MAX_GONE = 4096


class _Datagram:
    """The pieces of one datagram held so far."""

    __slots__ = ("head", "length", "mac", "parts", "size", "starts")

    def __init__(self) -> None:
        self.parts: dict[int, bytes] = {}  # offset in the datagram -> piece
        self.starts: list[int] = []  # IPv6: the offsets, sorted (pieces never overlap)
        self.size = 0  # bytes held
        self.length: int | None = None  # the datagram's length, once the last piece is in
        self.head: bytes | None = None  # the IP header of the first piece
        self.mac: bytes | None = None  # IPv6: the link-layer source of the first piece


class Fragments:
    """Fragments by (source, destination, identification[, protocol]) until a datagram is whole.

    An IPv4 key is 11 bytes, an IPv6 key 36: the two never meet in the one table.
    """

    def __init__(self) -> None:
        self.pending: OrderedDict[bytes, _Datagram] = OrderedDict()
        self.size = 0  # bytes held in `pending`
        self.gone: OrderedDict[bytes, None] = OrderedDict()  # keys given up or not wanted
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
        d = self._datagram(key)
        old = d.parts.get(start)
        d.parts[start] = data  # RFC 791 lets pieces overlap: the latest copy of a range wins
        self._grow(d, len(data) - (len(old) if old is not None else 0))
        if start == 0:
            d.head = frame[off : off + ihl]
        if not more:
            d.length = start + len(data)
        return self._whole4(key, d) if key in self.pending else None

    def add6(
        self, frame: bytes, off: int, fh: int, end: int, mac: bytes | None, ports: Container[int]
    ) -> tuple[bytes, bytes | None] | None:
        """Hold one IPv6 fragment (fixed header at `off`, Fragment header at `fh`, packet end
        `end`) of a UDP datagram to or from one of `ports`; once whole, the packet rebuilt
        without its fragment header, and the link-layer source of its first fragment."""
        if frame[fh] != 17:
            return None  # every fragment names the first header after it: not UDP, no reader's
        key = frame[off + 8 : off + 40] + frame[fh + 4 : fh + 8]
        if key in self.gone:
            return None
        start = ((frame[fh + 2] << 8) | frame[fh + 3]) & 0xFFF8
        more = frame[fh + 3] & 1
        data = frame[fh + 8 : end]
        if start == 0:
            if len(data) < 8:
                self._give_up(key)  # no UDP header in the first piece (RFC 7112): unreadable
                return None
            sport = (data[0] << 8) | data[1]
            dport = (data[2] << 8) | data[3]
            if sport not in ports and dport not in ports:
                self._forget(key)  # no reader's: its other pieces are not kept either
                return None
        declared = off + 40 + ((frame[off + 4] << 8) | frame[off + 5])
        if (
            len(frame) < declared  # cut by the snap length
            or not data
            or (more and len(data) % 8)  # RFC 8200: a piece but the last is whole 8-octet units
            or start + len(data) > MAX_DATAGRAM
        ):
            self._give_up(key)
            return None
        d = self._datagram(key)
        i = bisect_right(d.starts, start)
        if i and (prev := d.starts[i - 1]) + len(d.parts[prev]) > start:
            if prev == start and d.parts[prev] == data:
                return None  # the same fragment again (RFC 8200 §4.5): no overlap
            self._give_up(key)  # RFC 5722: overlapping pieces lose the whole datagram
            return None
        stop = start + len(data)
        if (
            (i < len(d.starts) and d.starts[i] < stop)
            or (d.length is not None and (stop > d.length or (not more and stop != d.length)))
            or (not more and d.starts and d.starts[-1] + len(d.parts[d.starts[-1]]) > stop)
        ):
            self._give_up(key)  # overlapping, or past the end another piece set
            return None
        d.starts.insert(i, start)
        d.parts[start] = data
        self._grow(d, len(data))
        if start == 0:
            d.head, d.mac = frame[off : off + 40], mac
        if not more:
            d.length = stop
        if key not in self.pending or d.length != d.size or d.head is None:
            return None
        # Read: a second copy of one of its pieces (a capture may hold two) starts no new one.
        self._forget(key)
        header = bytearray(d.head)
        struct.pack_into("!H", header, 4, d.length)
        header[6] = 17
        return bytes(header) + b"".join(d.parts[s] for s in d.starts), d.mac

    @property
    def unread(self) -> int:
        """Datagrams given up, and datagrams still incomplete: what reassembly did not deliver."""
        return self.dropped + len(self.pending)

    def _datagram(self, key: bytes) -> _Datagram:
        d = self.pending.get(key)
        if d is None:
            if len(self.pending) >= MAX_PENDING:
                self._give_up(next(iter(self.pending)))
            d = self.pending[key] = _Datagram()
        return d

    def _grow(self, d: _Datagram, n: int) -> None:
        """Count `n` more bytes held in `d`, giving up the oldest datagrams beyond MAX_BYTES."""
        d.size += n
        self.size += n
        while self.size > MAX_BYTES:
            self._give_up(next(iter(self.pending)))

    def _give_up(self, key: bytes) -> None:
        self.dropped += 1
        if len(key) == 36:
            self._forget(key)
        else:
            # An IPv4 identification is 16 bits and comes round again: not remembered.
            self.size -= self.pending.pop(key).size

    def _forget(self, key: bytes) -> None:
        """Drop what is held of an IPv6 datagram and keep none of its pieces still to come
        (its 32-bit identification is not used again for a long while)."""
        d = self.pending.pop(key, None)
        if d is not None:
            self.size -= d.size
        if len(self.gone) >= MAX_GONE:
            self.gone.popitem(last=False)
        self.gone[key] = None

    def _whole4(self, key: bytes, d: _Datagram) -> bytes | None:
        length, head = d.length, d.head
        if length is None or head is None:
            return None
        out = bytearray()
        while len(out) < length:
            piece = d.parts.get(len(out))
            if piece is None:
                return None  # a hole: wait for the missing fragment
            out += piece
        del self.pending[key]
        self.size -= d.size
        ihl = len(head)
        header = bytearray(head)
        struct.pack_into("!H", header, 2, ihl + length)
        header[6:8] = b"\0\0"  # whole: no MF, offset 0
        return bytes(header) + bytes(out[:length])


__all__ = ["Fragments"]
