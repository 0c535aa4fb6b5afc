"""Types of the C record walk (_recwalk.c)."""

from _typeshed import ReadableBuffer as Buffer

class Tally:
    """Records walked: packets, cut, tmin, tmax."""

    packets: int
    cut: int
    tmin: float
    tmax: float

Walked = tuple[int, float, int, bytes | None]  # next position, time stamp, link type, frame

def pcap(
    buf: Buffer,
    pos: int,
    big_endian: bool,
    unit: float,
    link: int,
    filter: Buffer | None,
    tcp_all: bool,
    tally: Tally,
) -> Walked: ...
def epb(
    buf: Buffer,
    pos: int,
    big_endian: bool,
    units: Buffer,
    links: Buffer,
    filter: Buffer | None,
    tcp_all: bool,
    tally: Tally,
) -> Walked: ...
def wants(frame: Buffer, filter: Buffer, tcp_all: bool) -> bool: ...
