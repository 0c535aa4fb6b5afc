"""Types of the C record walk (_recwalk.c)."""

from _typeshed import ReadableBuffer as Buffer

class Tally:
    """Records walked: packets, cut, repeats (counted, not handed over), tmin, tmax."""

    packets: int
    cut: int
    repeats: int
    tmin: float
    tmax: float

class Walk:
    """(time stamp, link type, frame) of each wanted record; `pos`: where Python reads on."""

    pos: int
    def __iter__(self) -> Walk: ...
    def __next__(self) -> tuple[float, int, bytes]: ...

def pcap(
    buf: Buffer,
    pos: int,
    big_endian: bool,
    unit: float,
    link: int,
    prefilter: object | None,
    tally: Tally,
) -> Walk: ...
def epb(
    buf: Buffer,
    pos: int,
    big_endian: bool,
    units: Buffer,
    links: Buffer,
    prefilter: object | None,
    tally: Tally,
) -> Walk: ...
def wants(frame: Buffer, filter: Buffer, tcp_all: bool) -> bool: ...
