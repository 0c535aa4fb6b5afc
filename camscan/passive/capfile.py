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
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

CHUNK = 1 << 20  # bytes read at a time
MAX_FRAME = 262144  # pcap's largest snaplen (libpcap MAXIMUM_SNAPLEN); larger frames are skipped
MAX_BLOCK = 16 << 20  # a record claiming more is corruption, not a packet
PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6), b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9), b"\xa1\xb2\x3c\x4d": (">", 1e-9),
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
    first_ts: float | None = None
    last_ts: float | None = None
    problems: list[str] = field(default_factory=list)


# (timestamp, link type, frame bytes)
Record = tuple[float, int, bytes]


class Prefilter:
    """Which Ethernet frames are worth decoding, judged in place on the read buffer.

    Most of a large capture is traffic no reader wants; judging it on a few header bytes,
    before a frame is copied out or a function called, is what makes reading fast. The pcap
    loop inlines `wants` for that reason; keep the two in step.
    """

    __slots__ = ("ethertypes", "tcp_all", "tcp_first_bytes", "tcp_ports", "udp_ports")

    def __init__(self, udp_ports: set[int], tcp_first_bytes: frozenset[int],
                 ethertypes: frozenset[int], tcp_ports: frozenset[int] = frozenset()) -> None:
        self.udp_ports = udp_ports  # UDP frames with either port here are kept
        self.tcp_ports = tcp_ports  # TCP segments sent from these ports are kept
        self.tcp_first_bytes = tcp_first_bytes  # TCP payloads starting with one of these
        self.ethertypes = ethertypes  # non-IPv4 ethertypes kept whole (ARP, LLDP, VLAN, ...)
        self.tcp_all = False  # the decoder sets it while a TCP reply is being rebuilt

    def wants(self, buf: bytes, f: int, end: int) -> bool:
        """True when the Ethernet frame buf[f:end] may carry something a reader takes."""
        if end - f < 38 or buf[f + 12] != 8 or buf[f + 13] != 0:
            return end - f >= 14 and (buf[f + 12] << 8 | buf[f + 13]) in self.ethertypes
        proto = buf[f + 23]
        if buf[f + 20] & 0x3F or buf[f + 21]:
            return proto == 17  # a fragment: the ports are in the first one only
        if proto == 17:
            return ((buf[f + 34] << 8 | buf[f + 35]) in self.udp_ports
                    or (buf[f + 36] << 8 | buf[f + 37]) in self.udp_ports)
        if proto != 6:
            return False
        l4 = f + 14 + (buf[f + 14] & 0x0F) * 4
        if end < l4 + 20:
            return False
        first = l4 + (buf[l4 + 12] >> 4) * 4
        return bool(buf[l4 + 13] & 0x07 or self.tcp_all
                    or (end > first and buf[first] in self.tcp_first_bytes)
                    or (buf[l4] << 8 | buf[l4 + 1]) in self.tcp_ports)


class _Stream:
    """A forward-only byte stream over a file with a sliding buffer and an absolute offset."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
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
            try:
                chunk = self.fh.read1(max(CHUNK, need))  # type: ignore[attr-defined]
            except (EOFError, OSError, zlib.error) as exc:  # gzip cut short or corrupt
                self.damage = str(exc) or type(exc).__name__
                chunk = b""
            if not chunk:
                self.eof = True
                return False
            self.base += self.pos
            self.buf = self.buf[self.pos:] + chunk
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
    fh = open(path, "rb")  # noqa: SIM115 - returned to the caller, closed by read_records
    if fh.read(2) == GZIP_MAGIC:
        fh.close()
        return gzip.GzipFile(path, "rb")  # type: ignore[return-value]
    fh.seek(0)
    return fh


def read_records(path: str, report: ReadReport,
                 prefilter: Prefilter | None = None) -> Iterator[Record]:
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
                f"the {report.packets} packets read before")


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
    report.problems.append(f"truncated at offset {offset}: {what}; kept the {report.packets} "
                           "packets before it")


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
    udp = pf.udp_ports if pf is not None else set()
    tcp_first = pf.tcp_first_bytes if pf is not None else frozenset()
    ethertypes = pf.ethertypes if pf is not None else frozenset()
    tcp_ports = pf.tcp_ports if pf is not None else frozenset()
    while True:
        buf, pos = stream.buf, stream.pos
        # The fast path: whole records in the buffer, counted without a call per record,
        # unwanted ones (Prefilter.wants, inlined) skipped before anything is copied.
        count = cut = 0
        first_pos = last_pos = -1
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
                if first_pos < 0:
                    first_pos = pos
                last_pos = pos
                if pf is not None:
                    if caplen >= 38 and buf[f + 12] == 8 and buf[f + 13] == 0:
                        proto = buf[f + 23]
                        if proto == 17:
                            if not (buf[f + 20] & 0x3F or buf[f + 21]) and (
                                    buf[f + 34] << 8 | buf[f + 35]) not in udp and (
                                    buf[f + 36] << 8 | buf[f + 37]) not in udp:
                                pos = end
                                continue
                        elif proto == 6:
                            l4 = f + 14 + (buf[f + 14] & 0x0F) * 4
                            if end < l4 + 20:
                                pos = end
                                continue
                            first = l4 + (buf[l4 + 12] >> 4) * 4
                            if not (buf[l4 + 13] & 0x07 or pf.tcp_all or (
                                    end > first and buf[first] in tcp_first)
                                    or (buf[l4] << 8 | buf[l4 + 1]) in tcp_ports):
                                pos = end
                                continue
                        else:
                            pos = end
                            continue
                    elif caplen < 14 or (buf[f + 12] << 8 | buf[f + 13]) not in ethertypes:
                        pos = end
                        continue
                stream.pos = end
                yield sec + frac * unit, linktype, buf[f:end]
                pos = end
        finally:
            stream.pos = pos
            if count:
                report.packets += count
                report.cut += cut
                t1 = unpack(buf, first_pos)
                t2 = unpack(buf, last_pos)
                first_ts, last_ts = t1[0] + t1[1] * unit, t2[0] + t2[1] * unit
                report.first_ts = first_ts if report.first_ts is None else min(
                    report.first_ts, first_ts)
                report.last_ts = last_ts if report.last_ts is None else max(
                    report.last_ts, last_ts)
        # The slow path: a record that crosses the buffer's end, is huge, or is damaged.
        if not stream.fill(16):
            if stream.remaining():
                _truncated(report, stream.offset, "a record header is incomplete")
            return
        sec, frac, caplen, origlen = unpack(stream.buf, stream.pos)
        if caplen > MAX_BLOCK:
            report.problems.append(
                f"corrupt record at offset {stream.offset}: captured length {caplen} is "
                f"impossible; stopped reading, kept the {report.packets} packets before it")
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
            _truncated(report, stream.offset,
                       f"a record needs {16 + caplen} bytes, {stream.remaining()} remain")
            return
        pos = stream.pos
        stream.pos = pos + 16 + caplen
        _note(report, ts, caplen, origlen)
        yield ts, linktype, stream.buf[pos + 16:pos + 16 + caplen]


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
            return 2.0 ** -(v & 0x7F) if v & 0x80 else 10.0 ** -v
        i += 4 + ((length + 3) & ~3)
    return 1e-6


def _epb_run(stream: _Stream, report: ReadReport, interfaces: list[_Interface], order: str,
             pf: Prefilter | None) -> Iterator[Record]:
    """The fast path of pcapng: enhanced packet blocks whole in the buffer, one after another.

    Returns at anything else (another block type, a block crossing the buffer's end, a bad or
    huge packet), which the block loop then reads. The prefilter is inlined as in `_pcap`.
    """
    head = struct.Struct(order + "II").unpack_from
    epb = struct.Struct(order + "IIIII").unpack_from
    udp = pf.udp_ports if pf is not None else set()
    tcp_first = pf.tcp_first_bytes if pf is not None else frozenset()
    ethertypes = pf.ethertypes if pf is not None else frozenset()
    tcp_ports = pf.tcp_ports if pf is not None else frozenset()
    ethernet = [pf is not None and i.linktype == 1 for i in interfaces]
    buf, pos = stream.buf, stream.pos
    n = len(buf)
    count = cut = 0
    first = last = -1
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
            if first < 0:
                first = pos
            last = pos
            f = pos + 28
            end = f + caplen
            nxt = pos + blen
            if ethernet[iface]:
                if caplen >= 38 and buf[f + 12] == 8 and buf[f + 13] == 0:
                    proto = buf[f + 23]
                    if proto == 17:
                        if not (buf[f + 20] & 0x3F or buf[f + 21]) and (
                                buf[f + 34] << 8 | buf[f + 35]) not in udp and (
                                buf[f + 36] << 8 | buf[f + 37]) not in udp:
                            pos = nxt
                            continue
                    elif proto == 6:
                        l4 = f + 14 + (buf[f + 14] & 0x0F) * 4
                        if end < l4 + 20:
                            pos = nxt
                            continue
                        data = l4 + (buf[l4 + 12] >> 4) * 4
                        if not (buf[l4 + 13] & 0x07 or pf.tcp_all  # type: ignore[union-attr]
                                or (end > data and buf[data] in tcp_first)
                                or (buf[l4] << 8 | buf[l4 + 1]) in tcp_ports):
                            pos = nxt
                            continue
                    else:
                        pos = nxt
                        continue
                elif caplen < 14 or (buf[f + 12] << 8 | buf[f + 13]) not in ethertypes:
                    pos = nxt
                    continue
            stream.pos = nxt
            yield ((hi << 32) | lo) * interfaces[iface].unit, interfaces[iface].linktype, \
                buf[f:end]
            pos = nxt
    finally:
        stream.pos = pos
        if count:
            report.packets += count
            report.cut += cut
            for at in (first, last):
                iface, hi, lo = epb(buf, at + 8)[:3]
                ts = ((hi << 32) | lo) * interfaces[iface].unit
                report.first_ts = ts if report.first_ts is None else min(report.first_ts, ts)
                report.last_ts = ts if report.last_ts is None else max(report.last_ts, ts)


def _pcapng(stream: _Stream, report: ReadReport,
            prefilter: Prefilter | None) -> Iterator[Record]:
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
        btype = buf[pos:pos + 4]
        if btype == PCAPNG_SHB:
            bom = buf[pos + 8:pos + 12]
            if bom == b"\x4d\x3c\x2b\x1a":
                order = "<"
            elif bom == b"\x1a\x2b\x3c\x4d":
                order = ">"
            else:
                report.problems.append(f"corrupt section header at offset {stream.offset}; "
                                       f"stopped reading, kept the {report.packets} packets")
                return
            interfaces = []  # interface ids are per section
        btype_n, blen = struct.unpack_from(order + "II", buf, pos)
        if blen < 12 or blen % 4 or blen > MAX_BLOCK:
            report.problems.append(
                f"corrupt block at offset {stream.offset}: length {blen}; stopped reading, "
                f"kept the {report.packets} packets before it")
            return
        if not stream.fill(blen):
            _truncated(report, stream.offset,
                       f"a {blen}-byte block has {stream.remaining()} bytes")
            return
        buf, pos = stream.buf, stream.pos
        stream.pos = pos + blen
        body = pos + 8
        if btype_n == 6 and blen >= 32:  # enhanced packet block
            iface, hi, lo, caplen, origlen = struct.unpack_from(order + "IIIII", buf, body)
            if iface >= len(interfaces) or caplen > blen - 32:
                report.problems.append(f"bad packet block at offset {stream.offset - blen}: "
                                       "skipped")
                continue
            itf = interfaces[iface]
            ts = ((hi << 32) | lo) * itf.unit
            _note(report, ts, caplen, origlen)
            if caplen > MAX_FRAME:
                report.oversize += 1
                continue
            if prefilter is not None and itf.linktype == 1 and not prefilter.wants(
                    buf, body + 20, body + 20 + caplen):
                continue
            yield ts, itf.linktype, buf[body + 20:body + 20 + caplen]
        elif btype_n == 3 and blen >= 16 and interfaces:  # simple packet block
            (origlen,) = struct.unpack_from(order + "I", buf, body)
            caplen = min(origlen, blen - 16)
            _note(report, None, caplen, origlen)
            if caplen > MAX_FRAME:
                report.oversize += 1
                continue
            yield 0.0, interfaces[0].linktype, buf[body + 4:body + 4 + caplen]
        elif btype_n == 2 and blen >= 32:  # obsolete packet block
            iface, _drops, hi, lo, caplen, origlen = struct.unpack_from(
                order + "HHIIII", buf, body)
            if iface >= len(interfaces) or caplen > blen - 32:
                continue
            itf = interfaces[iface]
            ts = ((hi << 32) | lo) * itf.unit
            _note(report, ts, caplen, origlen)
            if caplen <= MAX_FRAME:
                yield ts, itf.linktype, buf[body + 20:body + 20 + caplen]
        elif btype_n == 1 and blen >= 20:  # interface description block
            linktype = struct.unpack_from(order + "H", buf, body)[0]
            interfaces.append(_Interface(linktype, _tsresol(buf[body + 8:pos + blen - 4], order)))


__all__ = ["CaptureError", "Prefilter", "ReadReport", "Record", "open_capture", "read_records"]
