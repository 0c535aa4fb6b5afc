"""Write classic pcap files (the lab's recorder and the tests' capture builders use this)."""

from __future__ import annotations

import struct
from typing import BinaryIO

LINKTYPE_ETHERNET = 1
SNAPLEN = 262144


def file_header(linktype: int = LINKTYPE_ETHERNET, snaplen: int = SNAPLEN) -> bytes:
    """The 24-byte header of a microsecond pcap file, little-endian."""
    return struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype)


def record(ts: float, frame: bytes, orig_len: int | None = None) -> bytes:
    """One packet record."""
    sec = int(ts)
    usec = min(999999, round((ts - sec) * 1e6))
    return struct.pack("<IIII", sec, usec, len(frame), orig_len or len(frame)) + frame


class PcapWriter:
    """Appends records to an open binary file, header first."""

    def __init__(self, fh: BinaryIO, linktype: int = LINKTYPE_ETHERNET) -> None:
        self.fh = fh
        fh.write(file_header(linktype))

    def write(self, ts: float, frame: bytes, orig_len: int | None = None) -> None:
        """Write one frame."""
        self.fh.write(record(ts, frame, orig_len))


__all__ = ["PcapWriter", "file_header", "record"]
