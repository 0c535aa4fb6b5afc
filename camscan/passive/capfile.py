"""Streaming pcap and pcapng reader (gzip too): records out, bounded memory, damage reported.

Our own block reader rather than dpkt or scapy: the passive decoder needs nothing but
(timestamp, link type, frame bytes), and reading records straight out of a large buffer with
`struct.unpack_from` measured faster than dpkt's readers, which build a header object per
packet (benchmarks/pcap.py prints both); scapy's readers are slower still. Formats:
pcap (tcpdump.org/manpages/pcap-savefile.5.html, both byte orders, micro- and nanosecond
magic) and pcapng (IETF draft-ietf-opsawg-pcapng: SHB, IDB, EPB, SPB and the obsolete PB;
several sections and interfaces; if_tsresol).
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from camscan.passive._recwalk import Walk

try:  # the record walk in C (_recwalk.c): one pass, no Python call per irrelevant packet
    from camscan.passive import _recwalk as _built
except ImportError:  # built where a C compiler was at hand; without it, libpcap or Python
    _built = None  # type: ignore[assignment]
_recwalk: ModuleType | None = _built
try:  # libpcap, through a maintained binding: two passes in C when _recwalk is not built
    import pcapy
except ImportError:  # pragma: no cover - a declared dependency; the pure reader still works
    pcapy = None

CHUNK = 1 << 20  # bytes read at a time
MAX_FRAME = 262144  # pcap's largest snaplen (libpcap MAXIMUM_SNAPLEN); larger frames are skipped
MAX_BLOCK = 16 << 20  # a record claiming more is corruption, not a packet
PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
GZIP_MAGIC = b"\x1f\x8b"


class CaptureError(Exception):
    """A file that is not a readable capture at all; one line for the user."""


@dataclass(slots=True)
class ReadReport:
    """What reading one file gave: counts, time span, and where it was damaged."""

    path: str
    format: str = ""
    packets: int = 0
    cut: int = 0  # records shorter than the frame on the wire (snaplen)
    oversize: int = 0  # records over MAX_FRAME, skipped without being kept in memory
    repeats: int = 0  # wanted records the C walk counted as repeats instead of handing over
    first_ts: float | None = None
    last_ts: float | None = None
    problems: list[str] = field(default_factory=list)


# (timestamp, link type, frame bytes)
Record = tuple[float, int, bytes]


ETH_IPV6 = 0x86DD
# IPv6 next headers that are extension headers (hop-by-hop, routing, fragment, AH, destination
# options): kept, since what follows them is only known once the decoder has walked them.
IPV6_EXTENSIONS = frozenset({0, 43, 44, 51, 60})


class Prefilter:
    """Which Ethernet frames are worth decoding, judged in place on the read buffer.

    Most of a large capture is traffic no reader wants; judging it on a few header bytes,
    before a frame is copied out or a function called, is what makes reading fast. The same
    judgement is made in three places, to be kept in step: `wants` (the Python readers'),
    `bpf` (libpcap's filter language) and `_recwalk.c`; tests/passive/test_capfile_libpcap.py
    and test_recwalk.py compare them frame by frame. TCP is wanted for a SYN-ACK (an open
    port), a payload that may open a request or reply, or a port that speaks first; a bare
    SYN, FIN or RST says nothing unless a reply is being rebuilt, and then `tcp_all` passes
    every segment.
    """

    __slots__ = (
        "_bitmaps",
        "counts",
        "ethertypes",
        "generation",
        "repeats",
        "tcp_all",
        "tcp_first_bytes",
        "tcp_ports",
        "udp_ports",
    )

    def __init__(
        self,
        udp_ports: set[int],
        tcp_first_bytes: frozenset[int],
        ethertypes: frozenset[int],
        tcp_ports: frozenset[int] = frozenset(),
    ) -> None:
        self.udp_ports = udp_ports  # UDP frames with either port here are kept
        self.tcp_ports = tcp_ports  # TCP segments sent from these ports are kept
        self.tcp_first_bytes = tcp_first_bytes  # TCP payloads starting with one of these
        self.ethertypes = ethertypes  # non-IPv4 ethertypes kept whole (ARP, LLDP, VLAN, ...)
        self.tcp_all = False  # the decoder sets it while a TCP reply is being rebuilt
        self.generation = 0  # bumped when udp_ports changes (the C filter is rebuilt)
        self._bitmaps: tuple[int, bytes, bytes] | None = None  # generation, all, all but UDP
        # The decoder's table of frames it has read (key -> protocol, "" when uncounted) and
        # its per-protocol counts: the C walk counts a repeat there rather than hand it over.
        self.repeats: dict[bytes, str] | None = None
        self.counts: dict[str, int] = {}

    def add_udp_port(self, port: int) -> None:
        """Keep UDP frames to or from `port` too."""
        self.udp_ports.add(port)
        self.generation += 1

    def discard_udp_port(self, port: int) -> None:
        """No longer keep UDP frames for `port` (unless it is another rule's)."""
        self.udp_ports.discard(port)
        self.generation += 1

    def bitmaps(self) -> bytes:
        """The rules as _recwalk reads them: bitmaps of UDP ports, ethertypes, TCP source
        ports (8 KiB each), first bytes of a TCP payload and IPv6 extension headers (32 bytes
        each); `tcp_all` apart."""
        cached = self._bitmaps
        if cached is None or cached[0] != self.generation:
            rest = (
                cached[2]
                if cached is not None
                else _bitmap(self.ethertypes, 8192)
                + _bitmap(self.tcp_ports, 8192)
                + _bitmap(self.tcp_first_bytes, 32)
                + _bitmap(IPV6_EXTENSIONS, 32)
            )
            udp = _bitmap(self.udp_ports, 8192)
            cached = self._bitmaps = (self.generation, udp + rest, rest)
        return cached[1]

    def wants(self, buf: bytes, f: int, end: int) -> bool:
        """True when the Ethernet frame buf[f:end] may carry something a reader takes."""
        if end - f < 14:
            return False
        if buf[f + 12] != 8 or buf[f + 13] != 0:
            etype = buf[f + 12] << 8 | buf[f + 13]
            if etype == ETH_IPV6 and etype in self.ethertypes:
                return self._wants_ipv6(buf, f, end)
            return etype in self.ethertypes
        if end - f < 24:
            return False
        proto = buf[f + 23]
        if buf[f + 20] & 0x3F or buf[f + 21]:
            return proto == 17  # a fragment: the ports are in the first one only
        if proto == 17:
            return end - f >= 38 and (
                (buf[f + 34] << 8 | buf[f + 35]) in self.udp_ports
                or (buf[f + 36] << 8 | buf[f + 37]) in self.udp_ports
            )
        if proto != 6:
            return False
        return self.tcp_all or self._wants_tcp(buf, f + 14 + (buf[f + 14] & 0x0F) * 4, end)

    def _wants_ipv6(self, buf: bytes, f: int, end: int) -> bool:
        """`wants` for IPv6: the same port and first-byte rules on UDP/TCP right after the
        fixed header; extension headers are kept for the decoder to walk."""
        if end - f < 21:
            return False
        nxt = buf[f + 20]
        if nxt == 17:
            return end - f >= 58 and (
                (buf[f + 54] << 8 | buf[f + 55]) in self.udp_ports
                or (buf[f + 56] << 8 | buf[f + 57]) in self.udp_ports
            )
        if nxt == 6:
            return self.tcp_all or self._wants_tcp(buf, f + 54, end)
        return nxt in IPV6_EXTENSIONS

    def _wants_tcp(self, buf: bytes, l4: int, end: int) -> bool:
        """The TCP rule on a header at buf[l4:], the frame ending at `end` (tcp_all apart)."""
        if end < l4 + 14:
            return False
        first = l4 + (buf[l4 + 12] >> 4) * 4
        return bool(
            buf[l4 + 13] & 0x12 == 0x12  # a SYN-ACK: the port is open
            or (buf[l4] << 8 | buf[l4 + 1]) in self.tcp_ports
            or (end > first and buf[first] in self.tcp_first_bytes)
        )

    def bpf(self, *, tcp_all: bool | None = None) -> str:
        """`wants` as a libpcap filter expression (Ethernet), for the current ports and state.

        Where `wants` tests a length, the filter relies on BPF's rule that a load past the
        captured bytes rejects the frame: the UDP test loads the destination port first (byte
        37), the TCP tests load the flags byte (l4 + 13) before anything else.
        """
        wide = self.tcp_all if tcp_all is None else tcp_all
        other = [_any_range("ether[12:2]", sorted(self.ethertypes - {0x0800, ETH_IPV6}))]
        udp = sorted(self.udp_ports)
        ipv4 = ["(ether[20:2] & 0x3fff != 0 and ether[23] = 17)"]
        if udp:
            ipv4.append(
                f"(ether[20:2] & 0x3fff = 0 and ether[23] = 17 and "
                f"({_any_range('ether[36:2]', udp)} or "
                f"{_any_range('ether[34:2]', udp)}))"
            )
        if wide:
            ipv4.append("(ether[20:2] & 0x3fff = 0 and ether[23] = 6)")
        else:
            tcp = ["tcp[13] & 0x12 = 0x12"]
            if self.tcp_ports:
                tcp.append(_any_range("tcp[0:2]", sorted(self.tcp_ports)))
            if self.tcp_first_bytes:
                tcp.append(_any_range("tcp[((tcp[12] & 0xf0) >> 2)]", sorted(self.tcp_first_bytes)))
            ipv4.append(f"(ether[20:2] & 0x3fff = 0 and ether[23] = 6 and ({' or '.join(tcp)}))")
        both = (
            f"(ether[12:2] != 0x0800 and {' or '.join(other)}) or "
            f"(ether[12:2] = 0x0800 and ({' or '.join(ipv4)}))"
        )
        if ETH_IPV6 not in self.ethertypes:
            return both
        # IPv6 at fixed offsets (libpcap's tcp[] does not reach past an IPv6 header).
        ipv6 = [_any_range("ether[20]", sorted(IPV6_EXTENSIONS))]
        if udp:
            ipv6.append(
                f"(ether[20] = 17 and ({_any_range('ether[56:2]', udp)} or "
                f"{_any_range('ether[54:2]', udp)}))"
            )
        if wide:
            ipv6.append("ether[20] = 6")
        else:
            tcp6 = ["ether[67] & 0x12 = 0x12"]
            if self.tcp_ports:
                tcp6.append(_any_range("ether[54:2]", sorted(self.tcp_ports)))
            if self.tcp_first_bytes:
                tcp6.append(
                    _any_range(
                        "ether[54 + ((ether[66] & 0xf0) >> 2)]", sorted(self.tcp_first_bytes)
                    )
                )
            ipv6.append(f"(ether[20] = 6 and ({' or '.join(tcp6)}))")
        return f"{both} or (ether[12:2] = 0x86dd and ({' or '.join(ipv6)}))"


def _bitmap(values: Iterable[int], size: int) -> bytes:
    """One bit per value (value v is bit v % 8 of byte v // 8)."""
    out = bytearray(size)
    for v in values:
        out[v >> 3] |= 1 << (v & 7)
    return bytes(out)


def _any_range(field: str, values: list[int]) -> str:
    """A filter term true when `field` is one of the sorted `values` (runs become ranges)."""
    terms = []
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[j] + 1:
            j += 1
        if j == i:
            terms.append(f"{field} = {values[i]}")
        elif values[i] == 0:
            terms.append(f"{field} <= {values[j]}")
        else:
            terms.append(f"({field} >= {values[i]} and {field} <= {values[j]})")
        i = j + 1
    return "(" + (" or ".join(terms) or "0 = 1") + ")"


class _Stream:
    """A forward-only byte stream over a file with a sliding buffer and an absolute offset."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.read = getattr(fh, "read1", fh.read)  # one system call (or gzip block) a read
        self.buf = b""
        self.pos = 0
        self.base = 0  # file offset of buf[0]
        self.eof = False
        self.damage: str | None = None  # why the (compressed) file ended early

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def fill(self, need: int) -> bool:
        """True when `need` bytes are buffered from pos; False at the end of the file."""
        while len(self.buf) - self.pos < need:
            if self.eof:
                return False
            # A record that crosses the buffer's end: read only the bytes it lacks, so that
            # the next big read starts a buffer of its own rather than being copied behind it.
            rem = len(self.buf) - self.pos
            try:
                chunk = self.read(need - rem if rem else max(CHUNK, need))
            except (EOFError, OSError, zlib.error) as exc:  # gzip cut short or corrupt
                self.damage = str(exc) or type(exc).__name__
                chunk = b""
            if not chunk:
                self.eof = True
                return False
            self.base += self.pos
            self.buf = self.buf[self.pos :] + chunk
            self.pos = 0
        return True

    def remaining(self) -> int:
        return len(self.buf) - self.pos

    def skip(self, n: int) -> bool:
        """Skip n bytes without keeping them; False if the file ends first."""
        while n > 0:
            have = self.remaining()
            if have >= n:
                self.pos += n
                return True
            n -= have
            self.base += len(self.buf)
            self.buf, self.pos = b"", 0
            if not self.fill(min(n, CHUNK)):
                return False
        return True


def open_capture(path: str) -> BinaryIO:
    """The file, decompressed on the fly when it is gzip."""
    # Unbuffered: _Stream reads large chunks itself, and a short read must not leave the
    # rest of a buffer behind to be returned, and copied, piecemeal.
    fh = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by read_records
    if fh.read(2) == GZIP_MAGIC:
        fh.close()
        return gzip.GzipFile(path, "rb")  # type: ignore[return-value]
    fh.seek(0)
    return fh


def read_records(
    path: str, report: ReadReport, prefilter: Prefilter | None = None
) -> Iterator[Record]:
    """Every packet record of a pcap/pcapng file; damage goes into `report`, never raised.

    With a `prefilter`, Ethernet records it does not want are counted but not yielded.
    CaptureError only when nothing in the file is a capture (bad magic, unreadable file).
    """
    try:
        fh = open_capture(path)
    except OSError as exc:
        raise CaptureError(f"cannot read {path}: {exc.strerror or exc}") from None
    with fh:
        stream = _Stream(fh)
        if not stream.fill(4):
            reason = stream.damage or "empty or not a capture file"
            raise CaptureError(f"{path}: {reason}")
        magic = stream.buf[:4]
        if (
            prefilter is not None
            and _recwalk is None
            and pcapy is not None
            and not isinstance(fh, gzip.GzipFile)
            and _libpcap_suits(stream.buf, magic)
            and os.fstat(fh.fileno()).st_size >= LIBPCAP_MIN_BYTES
        ):
            fast = _libpcap(path, report, prefilter)
            if fast is not None:
                report.format = "pcap" if magic in PCAP_MAGICS else "pcapng"
                yield from fast
                return
        if magic in PCAP_MAGICS:
            report.format = "pcap"
            yield from _pcap(stream, report, prefilter)
        elif magic == PCAPNG_SHB:
            report.format = "pcapng"
            yield from _pcapng(stream, report, prefilter)
        else:
            raise CaptureError(f"{path}: not a pcap or pcapng file (magic {magic.hex()})")
        if stream.damage is not None:
            # The record cut by the damage was reported as a truncation: say why instead.
            if report.problems and report.problems[-1].startswith("truncated at"):
                report.problems.pop()
            report.problems.append(
                f"compressed data damaged after {stream.offset} bytes: {stream.damage}; kept "
                f"the {report.packets} packets read before"
            )


SAMPLE_EVERY = 1024  # packets between the time stamps the C counting pass samples
LIBPCAP_MIN_BYTES = 16 << 20  # smaller files are read whole by the pure reader (exact span)
WIDE_PASSES = 256  # frames let through a wide filter before a narrow one is compiled again


def _libpcap_suits(head: bytes, magic: bytes) -> bool:
    """True when libpcap can read this file as our reader would (Ethernet, no snap length).

    A snap length under 64 KiB means packets may be cut, which the pure reader counts one by
    one; libpcap does not tell of the packets its filter drops, so such files go the slow way.
    """
    if magic in PCAP_MAGICS:
        if len(head) < 24:
            return False
        order = PCAP_MAGICS[magic][0]
        snaplen, linktype = struct.unpack_from(order + "II", head, 16)
        return bool(linktype & 0x0FFFFFFF == 1 and (snaplen == 0 or snaplen >= 65535))
    if magic != PCAPNG_SHB or len(head) < 12:
        return False
    order = "<" if head[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
    shb_len = struct.unpack_from(order + "I", head, 4)[0]
    if len(head) < shb_len + 20:
        return False
    btype, _, linktype, _, snaplen = struct.unpack_from(order + "IIHHI", head, shb_len)
    return bool(btype == 1 and linktype == 1 and (snaplen == 0 or snaplen >= 65535))


def _libpcap(path: str, report: ReadReport, pf: Prefilter) -> Iterator[Record] | None:
    """The frames `pf` wants, read by libpcap with `pf.bpf()`; None when libpcap cannot.

    Two passes: the first counts every packet in C (and samples time stamps), so that a file
    libpcap finds damaged is handed whole to the pure reader, which says where; the second
    gives Python only the frames the filter passes. The filter follows the decoder's state
    (ports it learns, a TCP reply being rebuilt) between one frame and the next, as `wants`
    does in the pure reader. What this path cannot see: packets cut by a snap length among
    those dropped (files with a snap length under 64 KiB are not read this way), and time
    stamps between samples (the span's end may be up to SAMPLE_EVERY packets early).
    """
    try:
        counter = pcapy.open_offline(path)
        if counter.datalink() != 1:
            return None
        header, _ = counter.next()
        if header is None:
            return None
        sec, usec = header.getts()
        first = last = sec + usec * 1e-6
        total = 1
        skip = lambda *_: None  # noqa: E731 - loop_filtered needs a callback it never calls
        while True:
            counts = counter.loop_filtered(SAMPLE_EVERY, skip, 0)
            total += counts[0] + counts[1]
            header, _ = counter.next()
            if header is None:
                break
            total += 1
            sec, usec = header.getts()
            last = max(last, sec + usec * 1e-6)
            first = min(first, sec + usec * 1e-6)
        counter.close()
        reader = pcapy.open_offline(path)
        reader.setfilter(pf.bpf())
    except pcapy.PcapError:
        return None
    report.packets += total
    report.first_ts = first if report.first_ts is None else min(report.first_ts, first)
    report.last_ts = last if report.last_ts is None else max(report.last_ts, last)
    return _filtered(reader, report, pf)


def _filtered(reader: Any, report: ReadReport, pf: Prefilter) -> Iterator[Record]:
    """The frames libpcap's filter passes, the filter rebuilt when the prefilter changes."""
    generation, wide, passed = pf.generation, pf.tcp_all, 0
    if wide:
        reader.setfilter(pf.bpf(tcp_all=True))
    while True:
        try:
            header, frame = reader.next()
        except pcapy.PcapError as exc:
            report.problems.append(f"read error after {report.packets} packets: {exc}")
            return
        if header is None:
            return
        passed += 1
        # A wide filter (every TCP segment) outlives the reply that asked for it a while, so
        # a reply that opens and closes often does not recompile the filter each time.
        if wide and not pf.tcp_all and not pf.wants(frame, 0, len(frame)):
            continue
        sec, usec = header.getts()
        ts = sec + usec * 1e-6
        if header.getcaplen() < header.getlen():
            report.cut += 1
        if report.last_ts is None or ts > report.last_ts:
            report.last_ts = ts
        yield ts, 1, frame
        if (
            pf.generation != generation
            or (pf.tcp_all and not wide)
            or (wide and not pf.tcp_all and passed >= WIDE_PASSES)
        ):
            generation, wide, passed = pf.generation, pf.tcp_all, 0
            try:
                reader.setfilter(pf.bpf(tcp_all=wide))
            except pcapy.PcapError as exc:
                report.problems.append(f"capture filter failed: {exc}; stopped reading")
                return


def _tally(report: ReadReport, count: int, cut: int, tmin: float, tmax: float) -> None:
    """Add `count` (> 0) records, `cut` of them short, spanning tmin..tmax, to the report."""
    report.packets += count
    report.cut += cut
    if report.first_ts is None or tmin < report.first_ts:
        report.first_ts = tmin
    if report.last_ts is None or tmax > report.last_ts:
        report.last_ts = tmax


def _c_walk(
    stream: _Stream,
    report: ReadReport,
    pf: Prefilter | None,
    walk: Callable[..., Walk],
    *layout: object,
) -> Iterator[Record]:
    """Records whole in the buffer, walked in C (`walk` and its record `layout` arguments:
    pcap's or pcapng's); returns where Python must read on."""
    assert _recwalk is not None
    tally = _recwalk.Tally()
    records = walk(stream.buf, stream.pos, *layout, pf, tally)
    try:
        yield from records
    finally:
        stream.pos = records.pos
        if tally.packets:
            _tally(report, tally.packets, tally.cut, tally.tmin, tally.tmax)
        report.repeats += tally.repeats


def _note(report: ReadReport, ts: float | None, caplen: int, origlen: int) -> None:
    report.packets += 1
    if ts is not None:  # a simple packet block has no timestamp
        if report.first_ts is None or ts < report.first_ts:
            report.first_ts = ts
        if report.last_ts is None or ts > report.last_ts:
            report.last_ts = ts
    if caplen < origlen:
        report.cut += 1


def _truncated(report: ReadReport, offset: int, what: str) -> None:
    report.problems.append(
        f"truncated at offset {offset}: {what}; kept the {report.packets} packets before it"
    )


def _pcap(stream: _Stream, report: ReadReport, pf: Prefilter | None) -> Iterator[Record]:
    if not stream.fill(24):
        _truncated(report, 0, "the file header is incomplete")
        return
    order, unit = PCAP_MAGICS[stream.buf[:4]]
    linktype = struct.unpack_from(order + "I", stream.buf, 20)[0] & 0x0FFFFFFF
    stream.pos = 24
    unpack = struct.Struct(order + "IIII").unpack_from
    if linktype != 1:
        pf = None
    while True:
        if _recwalk is not None:
            yield from _c_walk(stream, report, pf, _recwalk.pcap, order == ">", unit, linktype)
        buf, pos = stream.buf, stream.pos
        # Without the C walk, or after a record it left to Python: whole records in the
        # buffer, unwanted ones skipped before anything is copied.
        count = cut = 0
        tmin, tmax = math.inf, -math.inf  # the span is earliest..latest, in whatever order
        n = len(buf)
        limit = n - 16
        try:
            while pos <= limit:
                sec, frac, caplen, origlen = unpack(buf, pos)
                f = pos + 16
                end = f + caplen
                if end > n or caplen > MAX_FRAME:
                    break
                count += 1
                if caplen < origlen:
                    cut += 1
                ts = sec + frac * unit
                if ts < tmin:
                    tmin = ts
                if ts > tmax:
                    tmax = ts
                if pf is not None and not pf.wants(buf, f, end):
                    pos = end
                    continue
                stream.pos = end
                yield ts, linktype, buf[f:end]
                pos = end
        finally:
            stream.pos = pos
            if count:
                _tally(report, count, cut, tmin, tmax)
        # The slow path: a record that crosses the buffer's end, is huge, or is damaged.
        if not stream.fill(16):
            if stream.remaining():
                _truncated(report, stream.offset, "a record header is incomplete")
            return
        sec, frac, caplen, origlen = unpack(stream.buf, stream.pos)
        if caplen > MAX_BLOCK:
            report.problems.append(
                f"corrupt record at offset {stream.offset}: captured length {caplen} is "
                f"impossible; stopped reading, kept the {report.packets} packets before it"
            )
            return
        ts = sec + frac * unit
        if caplen > MAX_FRAME:
            start = stream.offset
            stream.pos += 16
            if not stream.skip(caplen):
                _truncated(report, start, f"a {caplen}-byte record is incomplete")
                return
            _note(report, ts, caplen, origlen)
            report.oversize += 1
            continue
        if not stream.fill(16 + caplen):
            _truncated(
                report,
                stream.offset,
                f"a record needs {16 + caplen} bytes, {stream.remaining()} remain",
            )
            return
        pos = stream.pos
        stream.pos = pos + 16 + caplen
        _note(report, ts, caplen, origlen)
        if pf is None or pf.wants(stream.buf, pos + 16, pos + 16 + caplen):
            yield ts, linktype, stream.buf[pos + 16 : pos + 16 + caplen]


@dataclass(slots=True)
class _Interface:
    linktype: int
    unit: float  # seconds per timestamp tick


def _tsresol(options: bytes, order: str) -> float:
    """Seconds per tick from an IDB's options (if_tsresol, code 9); microseconds by default."""
    i = 0
    while i + 4 <= len(options):
        code, length = struct.unpack_from(order + "HH", options, i)
        if code == 0:
            break
        if code == 9 and length >= 1:
            v = options[i + 4]
            return 2.0 ** -(v & 0x7F) if v & 0x80 else 10.0**-v
        i += 4 + ((length + 3) & ~3)
    return 1e-6


def _epb_run(
    stream: _Stream,
    report: ReadReport,
    interfaces: list[_Interface],
    order: str,
    pf: Prefilter | None,
) -> Iterator[Record]:
    """The fast path of pcapng: enhanced packet blocks whole in the buffer, one after another.

    Returns at anything else (another block type, a block crossing the buffer's end, a bad or
    huge packet), which the block loop then reads.
    """
    if _recwalk is not None:
        units = struct.pack(f"={len(interfaces)}d", *(i.unit for i in interfaces))
        links = struct.pack(f"={len(interfaces)}i", *(i.linktype for i in interfaces))
        yield from _c_walk(stream, report, pf, _recwalk.epb, order == ">", units, links)
        return
    head = struct.Struct(order + "II").unpack_from
    epb = struct.Struct(order + "IIIII").unpack_from
    ethernet = [pf is not None and i.linktype == 1 for i in interfaces]
    buf, pos = stream.buf, stream.pos
    n = len(buf)
    count = cut = 0
    tmin, tmax = math.inf, -math.inf
    try:
        while pos + 32 <= n:
            btype, blen = head(buf, pos)
            if btype != 6 or blen < 32 or pos + blen > n:
                break
            iface, hi, lo, caplen, origlen = epb(buf, pos + 8)
            if iface >= len(interfaces) or caplen > blen - 32 or caplen > MAX_FRAME:
                break
            count += 1
            if caplen < origlen:
                cut += 1
            ts = ((hi << 32) | lo) * interfaces[iface].unit
            if ts < tmin:
                tmin = ts
            if ts > tmax:
                tmax = ts
            f = pos + 28
            end = f + caplen
            nxt = pos + blen
            if ethernet[iface] and not pf.wants(buf, f, end):  # type: ignore[union-attr]
                pos = nxt
                continue
            stream.pos = nxt
            yield ts, interfaces[iface].linktype, buf[f:end]
            pos = nxt
    finally:
        stream.pos = pos
        if count:
            _tally(report, count, cut, tmin, tmax)


def _pcapng(stream: _Stream, report: ReadReport, prefilter: Prefilter | None) -> Iterator[Record]:
    order = "<"
    interfaces: list[_Interface] = []
    while True:
        if interfaces:
            yield from _epb_run(stream, report, interfaces, order, prefilter)
        if not stream.fill(12):
            if stream.remaining():
                _truncated(report, stream.offset, "a block header is incomplete")
            return
        buf, pos = stream.buf, stream.pos
        btype = buf[pos : pos + 4]
        if btype == PCAPNG_SHB:
            bom = buf[pos + 8 : pos + 12]
            if bom == b"\x4d\x3c\x2b\x1a":
                order = "<"
            elif bom == b"\x1a\x2b\x3c\x4d":
                order = ">"
            else:
                report.problems.append(
                    f"corrupt section header at offset {stream.offset}; "
                    f"stopped reading, kept the {report.packets} packets"
                )
                return
            interfaces = []  # interface ids are per section
        btype_n, blen = struct.unpack_from(order + "II", buf, pos)
        if blen < 12 or blen % 4 or blen > MAX_BLOCK:
            report.problems.append(
                f"corrupt block at offset {stream.offset}: length {blen}; stopped reading, "
                f"kept the {report.packets} packets before it"
            )
            return
        if not stream.fill(blen):
            _truncated(report, stream.offset, f"a {blen}-byte block has {stream.remaining()} bytes")
            return
        buf, pos = stream.buf, stream.pos
        stream.pos = pos + blen
        body = pos + 8
        if btype_n == 6 and blen >= 32:  # enhanced packet block
            iface, hi, lo, caplen, origlen = struct.unpack_from(order + "IIIII", buf, body)
            if iface >= len(interfaces) or caplen > blen - 32:
                report.problems.append(
                    f"bad packet block at offset {stream.offset - blen}: skipped"
                )
                continue
            itf = interfaces[iface]
            ts = ((hi << 32) | lo) * itf.unit
            _note(report, ts, caplen, origlen)
            if caplen > MAX_FRAME:
                report.oversize += 1
                continue
            if (
                prefilter is not None
                and itf.linktype == 1
                and not prefilter.wants(buf, body + 20, body + 20 + caplen)
            ):
                continue
            yield ts, itf.linktype, buf[body + 20 : body + 20 + caplen]
        elif btype_n == 3 and blen >= 16 and interfaces:  # simple packet block
            (origlen,) = struct.unpack_from(order + "I", buf, body)
            caplen = min(origlen, blen - 16)
            _note(report, None, caplen, origlen)
            if caplen > MAX_FRAME:
                report.oversize += 1
                continue
            yield 0.0, interfaces[0].linktype, buf[body + 4 : body + 4 + caplen]
        elif btype_n == 2 and blen >= 32:  # obsolete packet block
            iface, _drops, hi, lo, caplen, origlen = struct.unpack_from(order + "HHIIII", buf, body)
            if iface >= len(interfaces) or caplen > blen - 32:
                continue
            itf = interfaces[iface]
            ts = ((hi << 32) | lo) * itf.unit
            _note(report, ts, caplen, origlen)
            if caplen <= MAX_FRAME:
                yield ts, itf.linktype, buf[body + 20 : body + 20 + caplen]
        elif btype_n == 1 and blen >= 20:  # interface description block
            linktype = struct.unpack_from(order + "H", buf, body)[0]
            interfaces.append(_Interface(linktype, _tsresol(buf[body + 8 : pos + blen - 4], order)))


__all__ = ["CaptureError", "Prefilter", "ReadReport", "Record", "open_capture", "read_records"]
