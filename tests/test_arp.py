"""ARP request builder and reply parser on bytes; no sockets."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from ipaddress import IPv4Address
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from camscan.discovery.arp import (
    FRAME_LEN,
    ArpHost,
    ArpPermissionError,
    ArpReply,
    ArpResult,
    ParseError,
    build_request,
    parse_reply,
    reply_filter,
)

# who-has 24.166.173.159 tell 24.166.172.1, from 00:07:0d:af:f4:54 (42 bytes, unpadded);
# intel-go/yanff packet/arp_test.go gtLineARPRequest, "created with gopacket library".
CAPTURED_REQUEST = bytes.fromhex(
    "ffffffffffff00070daff4540806000108000604000100070daff45418a6ac0100000000000018a6ad9f"
)

# 192.168.1.2 is-at 00:03:2f:1a:74:de (Linksys), to 192.168.1.105 at 00:1b:11:51:b7:ce, with
# 4 trailing bytes; packetfu/packetfu test/test_arp.rb test_arp_read.
CAPTURED_REPLY = bytes.fromhex(
    "001b1151b7ce00032f1a74de0806000108000604000200032f1a74dec0a80102001b1151b7cec0a80169c0a80169"
)

# 10.0.0.2 is-at c4:02:32:6b:00:00 to 10.0.0.1 (c4:01:32:58:00:00); intel-go/yanff
# packet/arp_test.go gtLineARPReply.
CAPTURED_REPLY_2 = bytes.fromhex(
    "c40132580000c402326b000008060001080006040002c402326b00000a000002c401325800000a000001"
)


def test_request_matches_captured_bytes() -> None:
    frame = build_request("00:07:0d:af:f4:54", "24.166.172.1", IPv4Address("24.166.173.159"))
    assert len(frame) == FRAME_LEN == 60
    assert frame[:42] == CAPTURED_REQUEST
    assert frame[42:] == b"\x00" * 18  # Ethernet minimum-size padding


def test_request_fields() -> None:
    frame = build_request("02-00-5E-10-00-02", "198.18.0.2", "198.18.0.77")
    assert frame[0:6] == b"\xff" * 6
    assert frame[6:12] == bytes.fromhex("02005e100002")
    assert struct.unpack("!HHHBBH", frame[12:22]) == (0x0806, 1, 0x0800, 6, 4, 1)
    assert frame[28:32] == IPv4Address("198.18.0.2").packed
    assert frame[32:38] == b"\x00" * 6
    assert frame[38:42] == IPv4Address("198.18.0.77").packed


def test_request_rejects_bad_mac() -> None:
    with pytest.raises(ValueError, match="not a MAC"):
        build_request("00:07:0d:af:f4", "1.2.3.4", "1.2.3.5")


def test_parse_captured_reply() -> None:
    assert parse_reply(CAPTURED_REPLY) == ArpReply(
        sender_mac="00:03:2f:1a:74:de",
        sender_ip=IPv4Address("192.168.1.2"),
        target_mac="00:1b:11:51:b7:ce",
        target_ip=IPv4Address("192.168.1.105"),
        eth_src="00:03:2f:1a:74:de",
    )
    reply = parse_reply(CAPTURED_REPLY_2)
    assert reply is not None
    assert (reply.sender_ip, reply.sender_mac) == (IPv4Address("10.0.0.2"), "c4:02:32:6b:00:00")


def test_padded_reply_parses() -> None:
    padded = CAPTURED_REPLY_2 + b"\x00" * (60 - len(CAPTURED_REPLY_2))
    assert parse_reply(padded) == parse_reply(CAPTURED_REPLY_2)


def test_vlan_tagged_reply_parses() -> None:
    tagged = CAPTURED_REPLY_2[:12] + bytes.fromhex("81000064") + CAPTURED_REPLY_2[12:]
    reply = parse_reply(tagged)
    assert reply is not None and reply.sender_ip == IPv4Address("10.0.0.2")


def test_request_is_not_a_reply() -> None:
    assert parse_reply(CAPTURED_REQUEST) is None
    assert parse_reply(build_request("02:00:00:00:00:01", "10.0.0.1", "10.0.0.2")) is None


def test_other_traffic_is_none() -> None:
    ipv4 = CAPTURED_REPLY[:12] + b"\x08\x00" + b"\x45" + b"\x00" * 40
    assert parse_reply(ipv4) is None
    assert parse_reply(b"") is None
    assert parse_reply(b"\x00" * 13) is None
    # Tagged frame cut inside the tag.
    assert parse_reply(CAPTURED_REPLY[:12] + b"\x81\x00\x00") is None


def test_other_arp_hardware_is_none() -> None:
    # htype 6 (IEEE 802) with the usual lengths: valid ARP, not IPv4-over-Ethernet.
    frame = bytearray(CAPTURED_REPLY)
    frame[14:16] = b"\x00\x06"
    assert parse_reply(bytes(frame)) is None


@pytest.mark.parametrize("cut", [14, 15, 21, 22, 30, 41])
def test_truncated_arp_raises_parse_error(cut: int) -> None:
    with pytest.raises(ParseError, match="truncated"):
        parse_reply(CAPTURED_REPLY[:cut])


def test_wrong_lengths_raise_parse_error() -> None:
    frame = bytearray(CAPTURED_REPLY)
    frame[18] = 8  # hlen
    with pytest.raises(ParseError, match="hlen 8"):
        parse_reply(bytes(frame))


@given(st.binary(max_size=200))
def test_any_bytes_give_reply_none_or_parse_error(data: bytes) -> None:
    try:
        result = parse_reply(data)
    except ParseError:
        return
    assert result is None or isinstance(result, ArpReply)


@given(st.binary(min_size=28, max_size=28), st.binary(max_size=20))
def test_any_arp_body_gives_reply_none_or_parse_error(body: bytes, tail: bytes) -> None:
    try:
        result = parse_reply(CAPTURED_REPLY[:14] + body + tail)
    except ParseError:
        return
    assert result is None or isinstance(result, ArpReply)


def test_build_parse_round_trip_through_a_reply() -> None:
    request = build_request("02:00:5e:10:00:02", "198.18.0.2", "198.18.0.11")
    # Make the reply a host would send: swap roles, op 2.
    reply = (
        request[6:12]
        + bytes.fromhex("4419b63a1001")
        + b"\x08\x06"
        + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2)
        + bytes.fromhex("4419b63a1001")
        + request[38:42]
        + request[22:28]
        + request[28:32]
    )
    parsed = parse_reply(reply)
    assert parsed is not None
    assert parsed.sender_ip == IPv4Address("198.18.0.11")
    assert parsed.sender_mac == "44:19:b6:3a:10:01"
    assert parsed.target_ip == IPv4Address("198.18.0.2")


# -------------------------------------------------------------------------- BPF filter


def run_bpf(prog: bytes, frame: bytes) -> int:
    """A tiny interpreter for the instructions reply_filter uses."""
    insns = [struct.unpack("HBBI", prog[i : i + 8]) for i in range(0, len(prog), 8)]
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = insns[pc]
        if code == 0x28:
            if k + 2 > len(frame):
                return 0
            acc = int.from_bytes(frame[k : k + 2], "big")
        elif code == 0x20:
            if k + 4 > len(frame):
                return 0
            acc = int.from_bytes(frame[k : k + 4], "big")
        elif code == 0x15:
            pc += jt if acc == k else jf
        elif code == 0x06:
            return k
        else:  # pragma: no cover - reply_filter emits nothing else
            raise AssertionError(f"unexpected BPF code {code:#x}")
        pc += 1


def test_bpf_accepts_only_replies_to_us() -> None:
    prog = reply_filter(IPv4Address("192.168.1.105"))
    assert run_bpf(prog, CAPTURED_REPLY) > 0
    assert run_bpf(reply_filter(IPv4Address("192.168.1.106")), CAPTURED_REPLY) == 0
    assert run_bpf(prog, CAPTURED_REQUEST) == 0
    assert run_bpf(prog, CAPTURED_REPLY[:12] + b"\x08\x00" + CAPTURED_REPLY[14:]) == 0
    assert run_bpf(prog, CAPTURED_REPLY[:20]) == 0


# -------------------------------------------------------------------------- result


def test_result_reports_duplicates_both_ways() -> None:
    a, b, c = IPv4Address("198.18.0.10"), IPv4Address("198.18.0.11"), IPv4Address("198.18.0.12")
    r = ArpResult(
        hosts={
            a: ArpHost(a, "02:00:00:00:00:0a", 0.01, ["02:00:00:00:00:0b"]),
            b: ArpHost(b, "02:00:00:00:00:0b", 0.02),
            c: ArpHost(c, "02:00:00:00:00:0c", 0.03),
        }
    )
    assert r.duplicate_ips() == {a: ["02:00:00:00:00:0a", "02:00:00:00:00:0b"]}
    assert r.shared_macs() == {"02:00:00:00:00:0b": [a, b]}
    assert r.macs()[c] == "02:00:00:00:00:0c"
    assert r.notes() == [
        "duplicate: 198.18.0.10 answered from 02:00:00:00:00:0a, 02:00:00:00:00:0b",
        "shared MAC: 02:00:00:00:00:0b answered for 198.18.0.10, 198.18.0.11",
    ]


def test_permission_error_is_one_line() -> None:
    msg = str(ArpPermissionError())
    assert "root or CAP_NET_RAW" in msg and "\n" not in msg


def test_without_raw_socket_rights_the_error_says_so() -> None:
    # Opening an AF_PACKET socket with protocol 0 receives and sends nothing.
    code = (
        "from camscan.discovery.arp import check_raw_socket, ArpPermissionError\n"
        "try:\n    check_raw_socket()\nexcept ArpPermissionError as e:\n    print(e)\n"
    )
    argv = [sys.executable, "-c", code]
    if os.geteuid() == 0:
        # Stay root (file access unchanged) but lose CAP_NET_RAW, as an unprivileged user would.
        argv = ["setpriv", "--bounding-set=-net_raw", "--inh-caps=-net_raw", *argv]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout == "ARP sweep needs root or CAP_NET_RAW (raw AF_PACKET socket)\n"


def test_a_flood_of_macs_claiming_one_address_stays_bounded() -> None:
    # A spoofer (or a hostile device) answering for one address from ever new MACs must not
    # grow the evidence, the notes or the sweep's memory without bound.
    from ipaddress import IPv4Network

    from camscan.context import ScanContext, ScanSettings
    from camscan.discovery.arp import MAX_MACS_PER_IP, _Sweep
    from camscan.models import Evidence
    from camscan.targets import InterfaceInfo, from_addresses

    emitted: list[Evidence] = []
    ctx = ScanContext(
        settings=ScanSettings(),
        interface="eth0",
        source_ip="198.18.0.2",
        in_scope=IPv4Network("198.18.0.0/24"),
        emit=emitted.append,
    )
    iface = InterfaceInfo(
        "eth0", 2, "02:00:5e:10:00:02", IPv4Address("198.18.0.2"), IPv4Network("198.18.0.0/24")
    )
    sweep = _Sweep(ctx, iface, from_addresses([IPv4Address("198.18.0.9")]))
    for n in range(5000):
        mac = f"02:00:00:00:{n >> 8:02x}:{n & 0xFF:02x}"
        sweep.on_frame(build_reply(mac, "198.18.0.9", "02:00:5e:10:00:02", "198.18.0.2"), 0.0)
    (host,) = sweep.result.hosts.values()
    assert len(host.other_macs) == MAX_MACS_PER_IP - 1
    assert len(emitted) == MAX_MACS_PER_IP
    assert len(sweep.seen) == MAX_MACS_PER_IP
    assert sweep.result.dropped == 5000 - MAX_MACS_PER_IP


def build_reply(sender_mac: str, sender_ip: str, target_mac: str, target_ip: str) -> bytes:
    """An ARP reply frame: `sender_ip` is at `sender_mac`, to `target_ip`/`target_mac`."""
    s, t = bytes.fromhex(sender_mac.replace(":", "")), bytes.fromhex(target_mac.replace(":", ""))
    return (
        t
        + s
        + b"\x08\x06"
        + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2)
        + s
        + IPv4Address(sender_ip).packed
        + t
        + IPv4Address(target_ip).packed
    )


def test_proxy_arp_for_a_whole_subnet_is_one_short_note() -> None:
    # A router doing proxy ARP answers for every address of a /16 with its one MAC.
    result = ArpResult()
    for n in range(1, 5001):
        ip = IPv4Address("10.20.0.0") + n
        result.hosts[ip] = ArpHost(ip, "00:00:5e:00:01:01", 0.0)
    (note,) = result.notes()
    assert note.startswith("shared MAC: 00:00:5e:00:01:01 answered for 10.20.0.1, 10.20.0.2")
    assert note.endswith("and 4984 more")
    assert len(note) < 400


# -------------------------------------------------------------------------- the adaptive sweep


def make_sweep(addresses: list[str], **settings: object) -> tuple[Any, list[Any]]:
    """A sweep's state over `addresses`, fed by hand (no socket)."""
    from ipaddress import IPv4Network

    from camscan.context import ScanContext, ScanSettings
    from camscan.discovery.arp import _Sweep
    from camscan.targets import InterfaceInfo, from_addresses

    emitted: list[Any] = []
    ctx = ScanContext(
        settings=ScanSettings(**settings),  # type: ignore[arg-type]
        interface="eth0",
        source_ip="198.18.0.2",
        in_scope=IPv4Network("198.18.0.0/16"),
        emit=emitted.append,
    )
    iface = InterfaceInfo(
        "eth0", 2, "02:00:5e:10:00:02", IPv4Address("198.18.0.2"), IPv4Network("198.18.0.0/16")
    )
    return _Sweep(ctx, iface, from_addresses(IPv4Address(a) for a in addresses)), emitted


def reply_from(ip: str, n: int = 1) -> bytes:
    return build_reply(f"02:00:00:00:00:{n:02x}", ip, "02:00:5e:10:00:02", "198.18.0.2")


def ask(sweep: Any, at: float) -> tuple[bytes, int] | None:
    """What the sweep sends next at time `at`, recorded as sent then."""
    item = sweep.next_frame()
    if item is not None:
        sweep.inflight[item[0]] = (at, item[1])
        sweep.order.append((at, item[0], item[1]))
    return item  # type: ignore[no-any-return]


def test_wait_follows_measured_latency_not_a_fixed_timeout() -> None:
    sweep, _ = make_sweep(["198.18.0.9"], arp_timeout_s=0.25)
    assert sweep.wait() == 0.25  # nothing measured yet
    for _ in range(20):
        sweep.measure(0.002, 0.0)
    assert sweep.wait() == 0.25  # a fast segment: the floor
    for _ in range(40):
        sweep.measure(1.5, 0.0)  # answers queueing up for 1.5 s: wait for them
    assert 1.5 < sweep.wait() <= 10.0


def test_rate_backs_off_when_latency_rises_and_recovers_to_the_ceiling() -> None:
    sweep, _ = make_sweep(["198.18.0.9"], rate=1000)
    for _ in range(20):
        sweep.measure(0.001, 1.0)
    sweep.control(1.0)
    assert sweep.rate == 1000  # fast answers: the ceiling
    t = 1.0
    for _ in range(20):  # slow answers keep coming
        t += 0.05
        sweep.measure(0.2, t)
        sweep.control(t)
    assert sweep.rate < 500 and sweep.result.backoffs >= 2
    assert sweep.result.rate_min == sweep.rate
    low = sweep.rate
    for _ in range(4):
        sweep.measure(0.001, t)
    t += 0.05
    sweep.control(t)
    assert sweep.rate == low  # calm: no increase right after a cut
    for _ in range(120):
        t += 0.05
        sweep.measure(0.001, t)
        sweep.control(t)
    assert sweep.rate == 1000 > low  # recovered, slowly, never above the ceiling
    assert any("rate was cut" in n for n in sweep.result.notes())


def test_rate_never_below_the_floor() -> None:
    from camscan.discovery.arp import MIN_RATE

    sweep, _ = make_sweep(["198.18.0.9"], rate=100)
    sweep.measure(0.001, 1.0)
    for i in range(200):
        sweep.measure(3.0, 1.0 + i * 4)
        sweep.control(1.0 + i * 4)
    assert sweep.rate == MIN_RATE


def test_the_same_slow_answers_cut_the_rate_once_and_old_ones_not_at_all() -> None:
    # A sparse range: a few slow answers, then none for a while. Cutting again on them at
    # every look took the rate to the floor, where a /16 takes almost an hour.
    sweep, _ = make_sweep(["198.18.0.9"], rate=1000)
    sweep.measure(0.001, 1.0)
    for _ in range(4):
        sweep.measure(0.4, 1.0)
    t = 1.0
    for _ in range(18):  # 0.9 s, no new answer
        t += 0.05
        sweep.control(t)
    assert sweep.result.backoffs == 1 and sweep.rate == 700
    for _ in range(40):  # two more: the answers no longer say anything; climb back
        t += 0.05
        sweep.control(t)
    assert sweep.rate == 1000 and sweep.result.backoffs == 1


@pytest.mark.parametrize(
    ("queueing", "lost", "fresh", "step"),
    [
        (0.0, False, True, 1),
        (0.0, True, False, -1),  # a loss always cuts
        (0.3, False, True, -1),
        (0.3, False, False, 0),  # slow, but nothing new since the last cut: hold
        (0.07, False, True, 0),  # between half the target and the target: hold
    ],
)
def test_rate_steps(queueing: float, lost: bool, fresh: bool, step: int) -> None:
    from camscan.discovery.arp import rate_step

    assert rate_step(queueing, lost, fresh) == step


def test_retries_go_only_to_silent_addresses_after_their_wait() -> None:
    sweep, emitted = make_sweep(["198.18.0.9", "198.18.0.10"], retries=2, arp_timeout_s=0.25)
    first = {ask(sweep, 0.0), ask(sweep, 0.0)}
    assert {p for p, _ in first if p} == {
        IPv4Address("198.18.0.9").packed,
        IPv4Address("198.18.0.10").packed,
    }
    assert ask(sweep, 0.0) is None  # both asked; nothing due
    sweep.on_frame(reply_from("198.18.0.9"), 0.004)
    assert sweep.result.latencies.tolist() == [0.004]
    sweep.expire(0.2)
    assert ask(sweep, 0.2) is None  # the silent one is still waited for
    sweep.expire(0.3)
    assert ask(sweep, 0.3) == (IPv4Address("198.18.0.10").packed, 1)
    sweep.expire(0.6)
    assert ask(sweep, 0.6) == (IPv4Address("198.18.0.10").packed, 2)
    sweep.expire(0.9)
    assert ask(sweep, 0.9) is None and not sweep.order  # given up after 2 retries
    # An answer after that is late: it shows answers take longer than the sweep waited.
    sweep.on_frame(reply_from("198.18.0.10", 2), 0.91)
    assert sweep.result.late == 1 and len(sweep.result.latencies) == 2
    assert [e.host for e in emitted] == ["198.18.0.9", "198.18.0.10"]


def test_an_answer_in_time_cancels_the_retry() -> None:
    sweep, _ = make_sweep(["198.18.0.9"], retries=3, arp_timeout_s=0.25)
    ask(sweep, 0.0)
    sweep.on_frame(reply_from("198.18.0.9"), 0.2)
    sweep.expire(5.0)
    assert ask(sweep, 5.0) is None and not sweep.order and not sweep.inflight


def test_answers_from_outside_the_targets_are_dropped() -> None:
    sweep, emitted = make_sweep(["198.18.0.9"])
    sweep.on_frame(reply_from("198.18.0.77"), 0.0)
    assert emitted == [] and sweep.result.dropped == 1


def test_latency_summary() -> None:
    result = ArpResult()
    assert result.latency_ms() is None
    result.latencies.extend([0.001 * i for i in range(1, 101)])
    assert result.latency_ms() == {"min": 1.0, "median": 50.5, "p95": 96.0, "max": 100.0}


def test_an_answer_only_to_a_repeat_is_a_loss_and_cuts_the_rate() -> None:
    sweep, _ = make_sweep(["198.18.0.9", "198.18.0.10"], retries=1, rate=1000, arp_timeout_s=0.25)
    ask(sweep, 0.0), ask(sweep, 0.0)
    sweep.on_frame(reply_from("198.18.0.9"), 0.001)
    sweep.control(0.01)
    assert sweep.rate == 1000  # a fast answer, nothing lost
    sweep.expire(0.3)
    ask(sweep, 0.3)  # 198.18.0.10 asked again ...
    sweep.on_frame(reply_from("198.18.0.10"), 0.301)  # ... and answers: the first was lost
    sweep.control(0.4)
    assert sweep.rate < 1000 and sweep.result.answered_on_retry == 1
    assert len(sweep.result.latencies) == 1  # the ambiguous answer is no latency sample
    assert any("answered only when asked again" in n for n in sweep.result.notes())


def test_after_a_loss_retries_go_further_apart_and_one_more_is_allowed() -> None:
    sweep, _ = make_sweep(
        ["198.18.0.9", "198.18.0.10", "198.18.0.11"], retries=1, arp_timeout_s=0.25
    )
    for _ in range(3):
        ask(sweep, 0.0)
    sweep.on_frame(reply_from("198.18.0.9"), 0.001)  # latency measured: waits of 0.25 s
    sweep.expire(0.3)
    assert ask(sweep, 0.3) is not None and ask(sweep, 0.3) is not None  # both retried
    sweep.on_frame(reply_from("198.18.0.10"), 0.31)  # answered only the retry: a loss
    sweep.expire(0.6)
    assert ask(sweep, 0.6) is None  # 198.18.0.11 is not asked again within 0.5 s ...
    sweep.expire(0.81)
    assert ask(sweep, 0.81) == (IPv4Address("198.18.0.11").packed, 2)  # ... then a third time


def test_an_answer_after_giving_up_stretches_the_waits_and_cuts_the_rate() -> None:
    # Answers queueing for seconds (a host's backlog) arrive after the sweep gave up on their
    # address; listening stops too early unless that delay is learnt.
    sweep, emitted = make_sweep(["198.18.0.9", "198.18.0.10"], retries=0, arp_timeout_s=0.25)
    ask(sweep, 0.0), ask(sweep, 0.0)
    sweep.on_frame(reply_from("198.18.0.9"), 0.001)
    sweep.expire(0.3)
    assert not sweep.order and not sweep.inflight  # 198.18.0.10 given up
    sweep.on_frame(reply_from("198.18.0.10"), 2.0)
    assert [e.host for e in emitted] == ["198.18.0.9", "198.18.0.10"]
    assert sweep.result.late == 1 and sweep.wait() > 0.5
    sweep.control(2.0)
    assert sweep.rate < 1000
    assert any("given up" in n for n in sweep.result.notes())


# -------------------------------------------------------------------------- the policy, pure


def test_the_timeout_is_the_initial_one_until_an_answer_is_measured() -> None:
    from camscan.discovery.arp import retransmit_timeout

    assert retransmit_timeout(-1.0, 0.0, 0.1) == 0.1
    assert retransmit_timeout(0.001, 0.0005, 0.1) == 0.25  # measured and fast: the floor
    assert retransmit_timeout(1.0, 0.25, 0.1) == 2.0  # srtt + 4 rttvar
    assert retransmit_timeout(30.0, 5.0, 0.1) == 10.0  # bounded


def test_loss_rate_is_the_share_of_answers_that_needed_a_repeat() -> None:
    from camscan.discovery.arp import loss_rate

    assert loss_rate(0, 0) == 0.0
    assert loss_rate(2, 306) == pytest.approx(0.00654, abs=1e-5)
    assert loss_rate(5, 3) == 1.0


@pytest.mark.parametrize(
    ("loss", "retries", "tries"),
    [
        (0.0, 1, 2),  # nothing lost: --retries as given
        (2 / 306, 1, 2),  # a stray loss: two requests already miss a host 1 in 23,000 times
        (0.05, 1, 3),  # 1 in 400 with two: one more
        (0.2, 1, 5),  # heavy loss: up to three more
        (0.9, 1, 5),
        (1.0, 1, 5),
        (0.5, 0, 1),  # --retries 0 means one request, whatever is lost
        (0.05, 3, 4),  # a higher --retries is never lowered
    ],
)
def test_silent_addresses_get_as_many_requests_as_the_loss_calls_for(
    loss: float, retries: int, tries: int
) -> None:
    from camscan.discovery.arp import tries_needed

    assert tries_needed(loss, retries) == tries


def test_listening_ends_when_the_last_wait_does() -> None:
    from camscan.discovery.arp import listen_deadline

    assert listen_deadline(5.0, 0.0, 0.1, None) == 5.1
    assert listen_deadline(5.0, 5.05, 0.25, None) == 5.3  # a recent answer: wait after it
    assert listen_deadline(5.0, 0.0, 0.1, 4.95) == 4.95  # a request still waited for


def test_an_empty_range_ends_one_initial_wait_after_the_last_request() -> None:
    sweep, _ = make_sweep(["198.18.0.9", "198.18.0.10"], retries=1, arp_timeout_s=0.1)
    first, second = ask(sweep, 0.0), ask(sweep, 0.001)  # in random order
    assert first and second
    sweep.last_send = 0.001
    sweep.expire(0.1)
    assert ask(sweep, 0.1) == (first[0], 1)
    sweep.expire(0.101)
    assert ask(sweep, 0.101) == (second[0], 1)
    sweep.last_send = 0.101
    assert sweep.deadline() == pytest.approx(0.2)  # the first retry's wait
    sweep.expire(0.2)
    assert not sweep.done_listening(0.2)  # the second retry is still waited for
    sweep.expire(0.201)
    assert sweep.done_listening(0.201) and not sweep.inflight  # both given up, no more tries


def test_a_stray_loss_does_not_ask_every_silent_address_a_third_time() -> None:
    # A sparse /16: hundreds answer first time, one only to the repeat. Asking each of the
    # 65,000 silent addresses a third time would add a third to the sweep for nothing.
    live = [f"198.18.1.{i}" for i in range(1, 201)]
    sweep, _ = make_sweep([*live, "198.18.0.9"], retries=1, arp_timeout_s=0.1)
    for _ in range(201):
        ask(sweep, 0.0)
    for n, ip in enumerate(live[1:]):
        sweep.on_frame(reply_from(ip, n % 250 + 1), 0.002)
    sweep.expire(0.6)
    retried = {ask(sweep, 0.6), ask(sweep, 0.6)}
    assert {p for p, _ in retried if p} == {
        IPv4Address(live[0]).packed,
        IPv4Address("198.18.0.9").packed,
    }
    sweep.on_frame(reply_from(live[0], 251), 0.61)  # answered only the repeat: one loss
    assert sweep.tries() == 2
    sweep.expire(1.2)
    assert ask(sweep, 1.2) is None and not sweep.order  # 198.18.0.9 given up after two


def test_retries_and_first_requests_take_turns() -> None:
    # Retries first would starve the first requests, then idle at the end waiting for the
    # last retries to fall due: an empty /24 took one wait longer than its requests need.
    addresses = [f"198.18.2.{i}" for i in range(1, 11)]
    sweep, _ = make_sweep(addresses, retries=1, arp_timeout_s=0.1)
    for i in range(4):
        ask(sweep, i * 0.001)
    sweep.expire(0.2)  # the four are due again
    kinds = [ask(sweep, 0.2)[1] for _ in range(8)]  # type: ignore[index]
    assert kinds == [1, 0, 1, 0, 1, 0, 1, 0]
    assert [ask(sweep, 0.2)[1] for _ in range(2)] == [0, 0]  # type: ignore[index]
    assert ask(sweep, 0.2) is None


def test_addresses_given_up_are_remembered_boundedly_and_a_forgotten_one_still_counts() -> None:
    from camscan.discovery.arp import _GIVEN_UP_KEPT

    n = _GIVEN_UP_KEPT + 500
    addresses = [str(IPv4Address("198.18.64.0") + i) for i in range(n)]
    sweep, emitted = make_sweep(addresses, retries=0, arp_timeout_s=0.1)
    asked = [ask(sweep, 0.0) for _ in range(n)]
    sweep.expire(1.0)
    assert len(sweep.given_up) == _GIVEN_UP_KEPT  # a /16's worth would be megabytes
    forgotten = next(p for p, _ in asked if p not in sweep.given_up)  # type: ignore[misc]
    sweep.on_frame(reply_from(str(IPv4Address(forgotten))), 30.0)
    assert [e.host for e in emitted] == [str(IPv4Address(forgotten))]
    assert sweep.result.late == 0  # too late to learn from, not too late to count


def test_latency_median_of_an_odd_count_is_the_middle_answer() -> None:
    result = ArpResult()
    result.latencies.extend([0.003, 0.001, 0.002])
    assert result.latency_ms() == {"min": 1.0, "median": 2.0, "p95": 3.0, "max": 3.0}
