"""The lab network end to end: isolation, ARP faithfulness, fillers, services, up/down lifecycle."""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from camscan_lab import netns
from camscan_lab.network import STATE_ROOT, Lab, proc_starttime

pytestmark = pytest.mark.lab

ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
SWEEP_RATE = 4000  # ARP requests per second; 1,000 macvlan fillers keep up with 8,000
UNUSED_IP = "198.18.0.250"  # in the office segment, no device has it

SMALL_SPEC = """
[lab]
scan_subnet = "198.18.0.0/24"
prefix_len = 15
scanner_ip = "198.18.0.2"
scanner_mac = "02:00:5e:10:00:02"

[[device]]
name = "banner-box"
ip = "198.18.0.50"
mac = "00:80:77:01:02:03"
role = "other"

[[device]]
name = "future-box"
ip = "198.18.0.51"
mac = "b0:7c:8e:01:02:03"
role = "other"
"""

TCP_SERVICES = """
[[service]]
device = "banner-box"
kind = "tcp"
port = 2323
greeting = "login: "
source = "test"

[[service]]
device = "banner-box"
kind = "tcp"
port = 7000
greeting_hex = "00 01 02"
reply_hex = "ca fe"
source = "test"
"""

UNWRITTEN_SERVICES = """
[[service]]
device = "future-box"
kind = "csa-kind-nobody-wrote"
port = 9999

[[service]]
device = "banner-box"
kind = "csa-kind-nobody-wrote"
port = 9998
"""


def _mac_bytes(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


def _mac_str(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def packet_socket(lab: Lab, proto: int) -> socket.socket:
    """An AF_PACKET socket on the scanner's interface, made inside the scanner's namespace."""
    with lab.in_scanner():
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(proto))
        sock.bind((lab.scanner_interface, proto))  # the name resolves in this namespace
    sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
    return sock


def arp_sweep(lab: Lab, ips: Iterable[str], wait_s: float = 1.0) -> dict[str, set[str]]:
    """Crafted ARP requests from the scanner for `ips`; answering IP -> MACs it answered with."""
    mac, sip = _mac_bytes(lab.scanner_mac), socket.inet_aton(lab.scanner_ip)
    head = b"\xff" * 6 + mac + struct.pack("!HHHBBH", ETH_P_ARP, 1, ETH_P_IP, 6, 4, 1) + mac + sip
    answers: dict[str, set[str]] = defaultdict(set)

    def drain(sock: socket.socket, until: float) -> None:
        while (left := until - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                frame = sock.recv(2048)
            except TimeoutError:
                return
            if frame[12:14] == b"\x08\x06" and frame[20:22] == b"\x00\x02" and frame[38:42] == sip:
                answers[socket.inet_ntoa(frame[28:32])].add(_mac_str(frame[22:28]))

    with packet_socket(lab, ETH_P_ARP) as sock:
        start = time.monotonic()
        for n, ip in enumerate(ips):
            # Paced: macvlan fans each broadcast out to every filler serially, and bursts
            # overflow its broadcast queue.
            drain(sock, start + n / SWEEP_RATE)
            sock.send(head + b"\x00" * 6 + socket.inet_aton(ip))
        drain(sock, time.monotonic() + wait_s)
    return dict(answers)


def run_in(ns: str, *argv: str) -> str:
    """`ip -n NS argv` output."""
    return subprocess.run(
        ["ip", "-n", ns, *argv], check=True, capture_output=True, text=True
    ).stdout


def _write_spec(root: Path, **files: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "devices.toml").write_text(SMALL_SPEC)
    for name, text in files.items():
        (root / f"{name}.toml").write_text(text)
    return root


@pytest.fixture(scope="module")
def small_lab(lab_prefix: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """Two devices (tcp services, services of an unwritten kind) and 300 HTTP-serving fillers."""
    spec = _write_spec(
        tmp_path_factory.mktemp("small"), tcp=TCP_SERVICES, future=UNWRITTEN_SERVICES
    )
    small = Lab(spec, lab_prefix[:-1] + "s-", hosts=300, filler_http=True, owner_pid=os.getpid())
    try:
        small.up()
        yield small
    finally:
        small.down()


# ---- isolation ----------------------------------------------------------------------------


def test_no_lab_interface_in_the_namespace_that_built_it(lab: Lab) -> None:
    links = json.loads(
        subprocess.run(
            ["ip", "-j", "-d", "link", "show"], check=True, capture_output=True, text=True
        ).stdout
    )
    kinds = {link.get("linkinfo", {}).get("info_kind") for link in links}
    macs = {link.get("address") for link in links}
    assert not kinds & {"veth", "bridge", "macvlan"}
    assert not macs & ({d.mac for d in lab.devices} | {lab.scanner_mac})
    assert lab.status().up


def test_no_default_route_in_any_lab_namespace(lab: Lab, small_lab: Lab) -> None:
    assert small_lab.filler_netns(small_lab.fillers[0]) in small_lab.namespaces()
    for ns in lab.namespaces() + small_lab.namespaces():
        routes = json.loads(run_in(ns, "-j", "route", "show", "table", "all"))
        assert not [r for r in routes if r.get("dst") == "default"], ns
    probe = subprocess.run(
        ["ip", "-n", lab.scanner_netns, "route", "get", "192.0.2.1"], capture_output=True, text=True
    )
    assert probe.returncode != 0 and "unreachable" in probe.stderr.lower()


def test_scanner_can_send_multicast_and_broadcast_without_a_default_route(lab: Lab) -> None:
    with lab.in_scanner():
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        # ENETUNREACH here would mean the on-link routes are missing.
        assert sock.sendto(b"csa", ("239.255.255.250", 9)) == 3
        assert sock.sendto(b"csa", ("255.255.255.255", 9)) == 3
    assert {"224.0.0.0/4", "255.255.255.255"} <= {
        r["dst"] for r in json.loads(run_in(lab.device("router").netns, "-j", "route"))
    }


def test_scanner_interface_has_spec_address_and_mac(lab: Lab) -> None:
    (link,) = json.loads(run_in(lab.scanner_netns, "-j", "addr", "show", lab.scanner_interface))
    assert link["address"] == lab.scanner_mac
    assert [(a["local"], a["prefixlen"]) for a in link["addr_info"]] == [(lab.scanner_ip, 15)]


# ---- ARP ----------------------------------------------------------------------------------


def test_every_device_answers_arp_for_its_own_ip_with_its_spec_mac(lab: Lab) -> None:
    devices = lab.devices
    assert len(devices) >= 40
    answers = arp_sweep(lab, [d.ip for d in devices] + [UNUSED_IP])
    # One MAC per address: a device answering for another's IP would add a second MAC.
    assert answers == {d.ip: {d.mac} for d in devices}


def test_fillers_answer_arp_each_for_itself_only(small_lab: Lab) -> None:
    fillers = small_lab.fillers
    assert len(fillers) == 300
    assert fillers[0].ip == "198.18.4.1" and fillers[253].ip == "198.18.4.254"
    answers = arp_sweep(small_lab, [h.ip for h in fillers] + ["198.18.5.200"])
    assert answers == {h.ip: {h.mac} for h in fillers}


def test_filler_http_reply_leaves_by_the_fillers_own_mac(small_lab: Lab) -> None:
    for host in (small_lab.fillers[0], small_lab.fillers[-1]):
        with packet_socket(small_lab, ETH_P_IP) as sniff:
            with small_lab.in_scanner():
                conn = socket.create_connection((host.ip, 80), timeout=3)
            with conn:
                conn.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
                page = b""
                while chunk := conn.recv(4096):
                    page += chunk
            assert page.startswith(b"HTTP/1.1 200 OK\r\n") and b"It works" in page
            sniff.settimeout(0.2)
            sources = set()
            with pytest.raises(TimeoutError):
                while True:
                    frame = sniff.recv(2048)
                    if frame[26:30] == socket.inet_aton(host.ip):
                        sources.add(_mac_str(frame[6:12]))
        assert sources == {host.mac}


# ---- services -----------------------------------------------------------------------------


def _read_all(ip: str, port: int, send: bytes = b"") -> bytes:
    conn = socket.create_connection((ip, port), timeout=3)
    with conn:
        if send:
            conn.sendall(send)
        out = b""
        while chunk := conn.recv(4096):
            out += chunk
    return out


def test_tcp_service_replays_its_greeting_and_reply(small_lab: Lab) -> None:
    box = small_lab.device("banner-box")
    with small_lab.in_scanner():
        assert _read_all(box.ip, 2323) == b"login: "
        assert _read_all(box.ip, 7000, send=b"hello") == bytes.fromhex("000102cafe")


def test_a_kind_nobody_wrote_is_skipped_not_fatal(small_lab: Lab) -> None:
    status = small_lab.status()
    assert status.up and status.runner_alive
    assert status.services_started == 3  # two tcp services and the fillers' HTTP
    assert sorted(s.split(":")[0] for s in status.services_skipped) == [
        "banner-box csa-kind-nobody-wrote/9998",
        "future-box csa-kind-nobody-wrote/9999",
    ]
    assert arp_sweep(small_lab, ["198.18.0.51"]) == {"198.18.0.51": {"b0:7c:8e:01:02:03"}}


def test_status_reports_neighbour_limits(small_lab: Lab) -> None:
    gc = small_lab.status().gc_thresh
    if Path("/proc/sys/net/ipv4/neigh/default/gc_thresh3").exists():
        assert gc.startswith("unchanged")  # 303 hosts need no raise
    else:
        assert gc.startswith("not writable from this namespace")


def test_cli_status_and_exec(lab: Lab) -> None:
    cli = [sys.executable, "-m", "camscan", "lab"]
    out = subprocess.run(
        [*cli, "status", "--json", "--prefix", lab.prefix],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    status = json.loads(out)
    assert status["up"] and status["runner_alive"] and status["devices"] == len(lab.devices)
    assert len(status["namespaces"]) == len(lab.namespaces())
    routes = subprocess.run(
        [*cli, "exec", "--prefix", lab.prefix, "--", "ip", "-j", "route"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert {r["dst"] for r in json.loads(routes)} == {
        "198.18.0.0/15",
        "224.0.0.0/4",
        "255.255.255.255",
    }


# ---- lifecycle ----------------------------------------------------------------------------


def _processes_in(inodes: set[int]) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            link = os.readlink(f"/proc/{pid}/ns/net")
        except OSError:
            continue
        if int(link[5:-1]) in inodes:
            found.append(int(pid))
    return found


def test_up_down_idempotent_and_down_cleans_up_after_a_crash(
    lab_prefix: str, tmp_path: Path
) -> None:
    spec = _write_spec(tmp_path / "life", tcp=TCP_SERVICES)
    life = Lab(spec, lab_prefix[:-1] + "l-")
    first = life.up()
    assert first.up and life.up().runner_pid == first.runner_pid  # second up: a no-op

    # Crash: the runner dies hard, and a stray process lives in a device namespace.
    stray = subprocess.Popen(
        ["ip", "netns", "exec", life.device("banner-box").netns, "sleep", "60"]
    )
    assert first.runner_pid is not None
    os.kill(first.runner_pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while life.status().runner_alive and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not life.status().up

    again = life.up()  # repairs: tears the wreck down, builds anew
    assert again.up and again.runner_pid != first.runner_pid
    assert stray.wait(timeout=5) is not None
    with life.in_scanner():
        assert _read_all(life.device("banner-box").ip, 2323) == b"login: "

    names = life.namespaces()
    inodes = {netns.inode(n) for n in names}
    inside = _processes_in(inodes)
    assert again.runner_pid in inside
    removed = life.down()
    assert sorted(removed) == sorted(names)
    assert not [n for n in netns.list_netns() if n.startswith(life.prefix)]
    assert all(proc_starttime(pid) is None for pid in inside)
    assert not list(STATE_ROOT.glob(f"{life.prefix}*"))  # no state directory, no lock file
    assert life.down() == [] and not life.status().up and life.status().phase is None


def test_a_lab_whose_owner_dies_without_down_takes_itself_down(
    lab_prefix: str, tmp_path: Path
) -> None:
    spec, prefix = _write_spec(tmp_path / "orphan"), lab_prefix[:-1] + "o-"
    owner = (
        "import os; from camscan_lab.network import Lab; "
        f"Lab({str(spec)!r}, {prefix!r}, owner_pid=os.getpid()).up()"
    )
    subprocess.run([sys.executable, "-c", owner], check=True)  # exits without `down`
    orphan = Lab(prefix=prefix)
    try:
        runner = orphan.status().runner_pid
        assert runner is not None
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and (
            [n for n in netns.list_netns() if n.startswith(prefix)]
            or proc_starttime(runner) is not None
        ):
            time.sleep(0.1)
        assert not [n for n in netns.list_netns() if n.startswith(prefix)]
        assert proc_starttime(runner) is None and not (STATE_ROOT / prefix).exists()
    finally:
        orphan.down()
