"""Build Ethernet frames and capture files for the passive tests (bytes only, no sockets)."""

from __future__ import annotations

import gzip
import socket
import struct
from collections.abc import Iterable
from pathlib import Path

from camscan.passive.pcapwrite import file_header, record

ROUTER_MAC = "02:00:00:00:00:fe"
SCANNER_MAC = "02:00:00:00:00:01"


def mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def ipv4(src: str, dst: str, proto: int, payload: bytes, ttl: int = 64) -> bytes:
    head = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(payload),
        1,
        0x4000,
        ttl,
        proto,
        0,
        socket.inet_aton(src),
        socket.inet_aton(dst),
    )
    head = head[:10] + struct.pack("!H", _checksum(head)) + head[12:]
    return head + payload


def ether(src_mac: str, dst_mac: str, ethertype: int, payload: bytes) -> bytes:
    return mac(dst_mac) + mac(src_mac) + struct.pack("!H", ethertype) + payload


def udp_segment(sport: int, dport: int, data: bytes) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


def tcp_segment(sport: int, dport: int, seq: int, flags: int, data: bytes) -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, seq, 1, 5 << 4, flags, 65535, 0, 0) + data


def udp_frame(
    src: str,
    sport: int,
    dst: str,
    dport: int,
    data: bytes,
    *,
    src_mac: str,
    dst_mac: str = "01:00:5e:7f:ff:fa",
    ttl: int = 64,
) -> bytes:
    udp = udp_segment(sport, dport, data)
    return ether(src_mac, dst_mac, 0x0800, ipv4(src, dst, 17, udp, ttl))


def tcp_frame(
    src: str,
    sport: int,
    dst: str,
    dport: int,
    data: bytes,
    *,
    seq: int,
    flags: int = 0x18,
    src_mac: str,
    dst_mac: str = SCANNER_MAC,
    ttl: int = 64,
) -> bytes:
    tcp = tcp_segment(sport, dport, seq, flags, data)
    return ether(src_mac, dst_mac, 0x0800, ipv4(src, dst, 6, tcp, ttl))


def arp_frame(sender_mac: str, sender_ip: str, target_ip: str, op: int = 2) -> bytes:
    body = struct.pack(
        "!HHBBH6s4s6s4s",
        1,
        0x0800,
        6,
        4,
        op,
        mac(sender_mac),
        socket.inet_aton(sender_ip),
        b"\0" * 6,
        socket.inet_aton(target_ip),
    )
    return ether(sender_mac, "ff:ff:ff:ff:ff:ff", 0x0806, body)


def tcp_reply(
    server: str,
    sport: int,
    client: str,
    cport: int,
    data: bytes,
    *,
    src_mac: str,
    request: bytes | None = None,
    mss: int = 1400,
    ttl: int = 64,
) -> list[bytes]:
    """A request (optional) and the reply cut into segments, in order."""
    frames = []
    if request is not None:
        frames.append(
            tcp_frame(
                client,
                cport,
                server,
                sport,
                request,
                seq=1000,
                src_mac=SCANNER_MAC,
                dst_mac=src_mac,
            )
        )
    seq = 5000
    for i in range(0, len(data), mss):
        frames.append(
            tcp_frame(
                server, sport, client, cport, data[i : i + mss], seq=seq, src_mac=src_mac, ttl=ttl
            )
        )
        seq += len(data[i : i + mss])
    frames.append(
        tcp_frame(server, sport, client, cport, b"", seq=seq, flags=0x11, src_mac=src_mac, ttl=ttl)
    )
    return frames


def pcap_bytes(frames: Iterable[bytes], t0: float = 1_700_000_000.0) -> bytes:
    return file_header() + b"".join(record(t0 + i * 0.001, f) for i, f in enumerate(frames))


def write_pcap(path: Path, frames: Iterable[bytes], *, compress: bool = False) -> Path:
    data = pcap_bytes(frames)
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def pcapng_bytes(
    frames: Iterable[bytes], t0: float = 1_700_000_000.0, tsresol: int | None = None
) -> bytes:
    """A little-endian pcapng file: SHB, one Ethernet IDB, one EPB per frame."""

    def block(btype: int, body: bytes) -> bytes:
        body += b"\0" * (-len(body) % 4)
        n = 12 + len(body)
        return struct.pack("<II", btype, n) + body + struct.pack("<I", n)

    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    opts = b""
    unit = 1e-6
    if tsresol is not None:
        opts = struct.pack("<HHB3x", 9, 1, tsresol) + struct.pack("<HH", 0, 0)
        unit = 10.0**-tsresol
    out += block(1, struct.pack("<HHI", 1, 0, 262144) + opts)
    for i, f in enumerate(frames):
        ticks = round((t0 + i * 0.001) / unit)
        out += block(
            6, struct.pack("<IIIII", 0, ticks >> 32, ticks & 0xFFFFFFFF, len(f), len(f)) + f
        )
    return out


def ipv6(src: str, dst: str, nxt: int, body: bytes, hop: int = 64) -> bytes:
    """An IPv6 packet whose first next-header is `nxt` (UDP, TCP or an extension header)."""
    return (
        struct.pack("!IHBB", 6 << 28, len(body), nxt, hop)
        + socket.inet_pton(socket.AF_INET6, src)
        + socket.inet_pton(socket.AF_INET6, dst)
        + body
    )


def ext_headers(kinds: list[int], proto: int) -> bytes:
    """Extension headers of `kinds` in order, the last pointing at `proto`.

    Options headers (0, 43, 60) are 8 bytes with PadN; a fragment header (44) says offset 0
    and no more fragments (an atomic fragment); AH (51) is 12 bytes.
    """
    out = b""
    for i, kind in enumerate(kinds):
        nxt = kinds[i + 1] if i + 1 < len(kinds) else proto
        if kind == 51:
            out += struct.pack("!BBH", nxt, 1, 0) + b"\0" * 8
        elif kind == 44:
            out += struct.pack("!BBHI", nxt, 0, 0, 1)
        else:
            out += struct.pack("!BB", nxt, 0) + b"\x01\x04\0\0\0\0"  # PadN
    return out


def udp6_frame(
    src: str,
    sport: int,
    dst: str,
    dport: int,
    data: bytes,
    *,
    src_mac: str,
    dst_mac: str = "33:33:00:00:00:fb",
    hop: int = 255,
    headers: list[int] | None = None,
) -> bytes:
    udp = udp_segment(sport, dport, data)
    if headers:
        return ether(
            src_mac,
            dst_mac,
            0x86DD,
            ipv6(src, dst, headers[0], ext_headers(headers, 17) + udp, hop),
        )
    return ether(src_mac, dst_mac, 0x86DD, ipv6(src, dst, 17, udp, hop))


def tcp6_frame(
    src: str,
    sport: int,
    dst: str,
    dport: int,
    data: bytes,
    *,
    seq: int,
    flags: int = 0x18,
    src_mac: str,
    dst_mac: str = SCANNER_MAC,
    hop: int = 64,
) -> bytes:
    tcp = tcp_segment(sport, dport, seq, flags, data)
    return ether(src_mac, dst_mac, 0x86DD, ipv6(src, dst, 6, tcp, hop))


def tcp6_reply(
    server: str,
    sport: int,
    client: str,
    cport: int,
    data: bytes,
    *,
    src_mac: str,
    request: bytes | None = None,
    hop: int = 64,
) -> list[bytes]:
    """A request (optional), the whole reply in one segment, and the server's FIN, over IPv6."""
    frames = []
    if request is not None:
        frames.append(
            tcp6_frame(client, cport, server, sport, request, seq=1000, src_mac=SCANNER_MAC)
        )
    frames.append(
        tcp6_frame(server, sport, client, cport, data, seq=5000, src_mac=src_mac, hop=hop)
    )
    frames.append(
        tcp6_frame(
            server,
            sport,
            client,
            cport,
            b"",
            seq=5000 + len(data),
            flags=0x11,
            src_mac=src_mac,
            hop=hop,
        )
    )
    return frames
