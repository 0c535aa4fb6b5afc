"""Fragmented IPv6 UDP datagrams (RFC 8200 §4.5) reassembled and read, bounded, as over IPv4."""

from __future__ import annotations

import itertools
import json
import random
import struct
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packets import ether, ipv6, udp6_frame, udp_segment, write_pcap

from camscan.cli import main
from camscan.passive import fragments
from camscan.passive.hearing import Hearing

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "discovery"))
from capture_files import load

CAM = "fe80::a614:37ff:fe00:41"
CAM_MAC = "a4:14:37:00:00:41"  # Hikvision
ASKER = "fe80::1"
ASKER_MAC = "02:00:00:00:00:01"
MATCH = load("wsd", "hikvision-ds-2cd3955fwd-iws.xml")  # 3,380 bytes: three 1,232-byte pieces
CAPTURES = Path(__file__).resolve().parents[1] / "captures"
SSDP_REPLY = (CAPTURES / "ssdp" / "dahua-search-reply.http").read_bytes()  # 407 bytes


def fragment6(
    src: str,
    sport: int,
    dst: str,
    dport: int,
    data: bytes,
    cuts: list[int],
    *,
    ident: int = 0x2A,
    src_mac: str = CAM_MAC,
    headers: bytes = b"",
) -> list[bytes]:
    """The UDP datagram's frames, cut at `cuts` (multiples of 8) behind a Fragment header each;
    `headers`: unfragmentable extension headers (their chain must end pointing at 44)."""
    datagram = udp_segment(sport, dport, data)
    bounds = [0, *cuts, len(datagram)]
    out = []
    for start, stop in itertools.pairwise(bounds):
        more = stop < len(datagram)
        frag = struct.pack("!BBHI", 17, 0, start | more, ident)
        body = headers + frag + datagram[start:stop]
        out.append(ether(src_mac, ASKER_MAC, 0x86DD, ipv6(src, dst, 0 if headers else 44, body)))
    return out


def hear(frames: list[bytes]) -> Hearing:
    h = Hearing()
    for i, f in enumerate(frames):
        h.feed(1_700_000_000 + i * 0.001, 1, f)
    h.finish()
    return h


def evidence(h: Hearing) -> dict[str, set[tuple[str, str]]]:
    return {host: {(ev.key, ev.value) for ev in items} for host, items in h.by_host.items()}


def match_fragments(**kw: object) -> list[bytes]:
    return fragment6(CAM, 3702, ASKER, 50000, MATCH, [1232, 2464], **kw)  # type: ignore[arg-type]


WHOLE_MATCH = udp6_frame(CAM, 3702, ASKER, 50000, MATCH, src_mac=CAM_MAC, dst_mac=ASKER_MAC)


@pytest.mark.parametrize("order", [[0, 1, 2], [2, 1, 0], [1, 2, 0], [0, 2, 1]])
def test_a_probe_match_in_three_fragments_is_read_as_if_whole(order: list[int]) -> None:
    frags = match_fragments()
    assert len(frags) == 3
    h = hear([frags[i] for i in order])
    whole = hear([WHOLE_MATCH])
    assert "wsd.probe_match" in {k for k, _ in evidence(h)[CAM]}
    assert evidence(h) == evidence(whole)
    assert h.packets == whole.packets == {"wsd": 1}
    assert [(d.ip, d.mac, d.verdict.maker) for d in h.devices()] == [
        (d.ip, d.mac, d.verdict.maker) for d in whole.devices()
    ]
    assert h.devices()[0].mac == CAM_MAC  # credited from the first fragment's frame
    assert h.fragments_unread == 0 and not h._fragments.pending


def test_an_ssdp_reply_in_two_fragments_after_unfragmentable_headers() -> None:
    # A hop-by-hop header (8 bytes, PadN) before the Fragment header stays with every piece.
    hop_by_hop = struct.pack("!BB", 44, 0) + b"\x01\x04\0\0\0\0"
    frags = fragment6(CAM, 1900, ASKER, 40000, SSDP_REPLY, [208], headers=hop_by_hop)
    whole = udp6_frame(CAM, 1900, ASKER, 40000, SSDP_REPLY, src_mac=CAM_MAC, dst_mac=ASKER_MAC)
    h = hear(frags[::-1])
    assert "upnp.server" in {k for k, _ in evidence(h)[CAM]}
    assert evidence(h) == evidence(hear([whole]))
    assert h.fragments_unread == 0


def test_a_fragmented_reply_in_a_capture_file_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through `camscan pcap`: the prefilter (Python or C) passes every piece to the decoder."""
    frags = match_fragments()
    path = write_pcap(tmp_path / "v6frag.pcap", [frags[1], frags[0], frags[2]])
    with pytest.raises(SystemExit) as exc:
        main(["pcap", str(path), "-q"])
    out, err = capsys.readouterr()
    assert exc.value.code == 0, err
    doc = json.loads(out)
    (dev,) = doc["devices"]
    assert (dev["ip"], dev["mac"], dev["verdict"]["maker"]) == (CAM, CAM_MAC, "Hikvision")
    assert not any("fragments" in e for e in doc["errors"])


def test_a_datagram_missing_its_last_fragment_is_counted_incomplete(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frames = match_fragments()[:2]
    h = hear(frames)
    assert h.by_host == {} and not h.packets
    assert h.fragments_unread == 1 and len(h._fragments.pending) == 1
    path = write_pcap(tmp_path / "missing.pcap", frames)
    with pytest.raises(SystemExit) as exc:
        main(["pcap", str(path), "-q"])
    out, err = capsys.readouterr()
    assert exc.value.code == 0, err
    doc = json.loads(out)
    assert doc["devices"] == []
    assert any(
        e.startswith("1 UDP datagrams that came in fragments were not read") for e in doc["errors"]
    )


def test_overlapping_fragments_lose_the_datagram_and_its_later_pieces() -> None:
    """RFC 5722: a piece overlapping another drops the whole datagram, counted once."""
    first, middle, last = match_fragments()
    datagram = udp_segment(3702, 50000, MATCH)
    # A piece over [1224, 2464): eight bytes into the first one's range.
    frag = struct.pack("!BBHI", 17, 0, 1224 | 1, 0x2A)
    overlap = ether(CAM_MAC, ASKER_MAC, 0x86DD, ipv6(CAM, ASKER, 44, frag + datagram[1224:2464]))
    h = hear([first, overlap, middle, last])
    assert h.by_host == {} and not h.packets
    assert h.fragments_unread == 1
    assert not h._fragments.pending  # the pieces after the overlap were not held


def test_an_exact_copy_of_a_fragment_is_no_overlap() -> None:
    """A capture may hold a frame twice (RFC 8200 §4.5 lets a copy be dropped, not the datagram)."""
    first, middle, last = match_fragments()
    h = hear([first, middle, middle, last, last, first])
    assert "wsd.probe_match" in {k for k, _ in evidence(h)[CAM]}
    assert h.fragments_unread == 0 and not h._fragments.pending


def test_fragments_of_a_datagram_to_no_readers_port_are_not_kept() -> None:
    frags = fragment6(CAM, 40000, ASKER, 40001, MATCH, [1232, 2464])
    in_order = hear(frags)
    assert not in_order._fragments.pending and in_order.fragments_unread == 0
    # Out of order, later pieces wait for the first; it says the datagram is no reader's.
    h = Hearing()
    h.feed(1.0, 1, frags[2])
    assert len(h._fragments.pending) == 1
    h.feed(1.1, 1, frags[0])
    h.feed(1.2, 1, frags[1])
    h.finish()
    assert not h._fragments.pending and h.fragments_unread == 0 and h.by_host == {}


def test_a_fragment_cut_by_the_snap_length_loses_its_datagram() -> None:
    first, middle, last = match_fragments()
    h = hear([first, middle[:200], last])
    assert h.by_host == {} and h.fragments_unread == 1 and not h._fragments.pending


def test_pieces_that_are_not_whole_octets_or_past_the_end_are_given_up() -> None:
    datagram = udp_segment(3702, 50000, MATCH)

    def piece(start: int, stop: int, more: bool, ident: int) -> bytes:
        frag = struct.pack("!BBHI", 17, 0, start | more, ident)
        return ether(CAM_MAC, ASKER_MAC, 0x86DD, ipv6(CAM, ASKER, 44, frag + datagram[start:stop]))

    # A non-last piece of 1,230 bytes (not 8-octet units); a last piece ending before another.
    h = hear([piece(0, 1230, True, 1), piece(1232, 2464, True, 2), piece(8, 16, False, 2)])
    assert h.fragments_unread == 2 and not h._fragments.pending and h.by_host == {}


def test_the_table_stays_bounded_under_a_flood_of_identifications() -> None:
    datagram = udp_segment(3702, 50000, MATCH)
    h = Hearing()
    n = 5000
    for ident in range(n):  # first pieces to a read port whose rest never comes
        frag = struct.pack("!BBHI", 17, 0, 1, ident)
        frame = ether(CAM_MAC, ASKER_MAC, 0x86DD, ipv6(CAM, ASKER, 44, frag + datagram[:1232]))
        h.feed(float(ident), 1, frame)
    table = h._fragments
    assert len(table.pending) == fragments.MAX_PENDING
    assert len(table.gone) <= fragments.MAX_GONE
    assert h.fragments_unread == n  # each given up or still incomplete, counted once
    # Many pieces of few datagrams: the bytes held stay under their bound too.
    for ident in range(n, n + 200):
        for start in range(0, 40 * 1232, 1232):
            frag = struct.pack("!BBHI", 17, 0, start | 1, ident)
            body = frag + datagram[:8] + bytes(1224)
            h.feed(1.0, 1, ether(CAM_MAC, ASKER_MAC, 0x86DD, ipv6(CAM, ASKER, 44, body)))
            assert table.size <= fragments.MAX_BYTES
    assert table.size == sum(d.size for d in table.pending.values())
    # A reply after the flood is still reassembled and read.
    for frame in match_fragments(ident=0xFFFFFFFF):
        h.feed(2.0, 1, frame)
    assert "wsd.probe_match" in {ev.key for ev in h.by_host[CAM]}


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_cutting_order_and_copies_read_the_same(data: st.DataObject) -> None:
    units = (len(MATCH) + 8) // 8
    cuts = sorted(data.draw(st.sets(st.integers(1, units - 1), max_size=12)))
    # No cut at all is an atomic fragment (offset 0, no more), read in place.
    frags = fragment6(CAM, 3702, ASKER, 50000, MATCH, [c * 8 for c in cuts])
    copies = data.draw(st.lists(st.sampled_from(frags), max_size=4))
    order = frags + copies
    random.Random(data.draw(st.integers(0, 2**32))).shuffle(order)
    h = hear(order)
    assert "wsd.probe_match" in {k for k, _ in evidence(h)[CAM]}
    assert h.fragments_unread == 0


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 0x1FFF), st.booleans(), st.integers(0, 3), st.binary(max_size=64)),
        max_size=8,
    )
)
def test_any_fragments_are_read_or_dropped_never_raise(
    pieces: list[tuple[int, bool, int, bytes]],
) -> None:
    h = Hearing()
    for offset, more, ident, body in pieces:
        frag = struct.pack("!BBHI", 17, 0, offset << 3 | more, ident)
        h.feed(1.0, 1, ether(CAM_MAC, ASKER_MAC, 0x86DD, ipv6(CAM, ASKER, 44, frag + body)))
    h.finish()
    assert h.fragments_unread >= 0
    assert h._fragments.size == sum(d.size for d in h._fragments.pending.values())
