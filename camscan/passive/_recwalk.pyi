"""Types of the C record walk (_recwalk.c)."""

from _typeshed import ReadableBuffer as Buffer

Walked = tuple[int, int, int, int, float, float]  # pos, wanted, packets, cut, earliest, latest

def pcap(
    buf: Buffer, pos: int, big_endian: bool, unit: float, filter: Buffer | None, tcp_all: bool
) -> Walked: ...
def epb(
    buf: Buffer,
    pos: int,
    big_endian: bool,
    units: Buffer,
    ethernet: Buffer,
    filter: Buffer | None,
    tcp_all: bool,
) -> Walked: ...
def wants(frame: Buffer, filter: Buffer, tcp_all: bool) -> bool: ...
