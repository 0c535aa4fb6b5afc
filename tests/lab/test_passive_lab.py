"""Passive mode in the lab: a capture recorded during a scan names every device as the scan does,
and `camscan listen` hears devices while sending not one frame."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from camscan.context import ScanSettings
from camscan.output.document import build_document
from camscan.output.schema import validate_document, validate_ndjson_line
from camscan.passive import capfile
from camscan.passive.session import CaptureRun
from camscan.pipeline import ScanRequest, run_scan
from camscan_lab.network import BRIDGE, IFNAME, Lab, device_netns

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "passive"))
from packets import udp6_frame

pytestmark = pytest.mark.lab


def in_scanner(lab: Lab, *argv: str) -> list[str]:
    return ["ip", "netns", "exec", lab.scanner_netns, sys.executable, *argv]


@pytest.fixture(scope="module")
def recorded(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """An active scan of the lab, and the pcap an AF_PACKET recorder wrote meanwhile."""
    tmp = tmp_path_factory.mktemp("passive")
    pcap, active = tmp / "scan.pcap", tmp / "active.json"
    rec = subprocess.Popen(
        in_scanner(lab, "-m", "camscan_lab.recorder", lab.scanner_interface, str(pcap), "120"),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert rec.stdout is not None and rec.stdout.readline().strip() == "recording"
        proc = subprocess.run(
            in_scanner(
                lab,
                "-m",
                "camscan",
                "scan",
                lab.spec.scan_subnet,
                "--interface",
                lab.scanner_interface,
                "--quiet",
                "-o",
                str(active),
            ),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
    finally:
        rec.send_signal(signal.SIGTERM)
        rec.wait(timeout=10)
        if rec.stdout is not None:
            rec.stdout.close()
    return json.loads(active.read_text()), pcap


def verdicts(doc: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    return {
        d["ip"]: (
            d["mac"],
            d["verdict"]["maker"],
            d["verdict"]["brand"],
            d["verdict"]["device_type"],
            d["verdict"]["confidence"],
            d["verdict"]["model"],
        )
        for d in doc["devices"]
    }


def test_capture_of_a_lab_scan_gives_the_scans_verdicts(
    lab: Lab, recorded: tuple[dict[str, Any], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    active, pcap = recorded
    out = tmp_path / "passive.json"
    proc = subprocess.run(
        [sys.executable, "-m", "camscan", "pcap", str(pcap), "-q", "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    passive = json.loads(out.read_text())
    validate_document(passive)
    assert passive["scope"]["passive"]["statement"] == f"passive: capture files {pcap}"
    heard, scanned = verdicts(passive), verdicts(active)
    missing = [d.name for d in lab.spec.devices if d.ip not in heard]
    assert missing == []
    differ = {ip: (scanned[ip], heard[ip]) for ip in scanned if heard.get(ip) != scanned[ip]}
    assert differ == {}
    # Besides the devices, only the scanner itself is heard (its own ARP requests).
    assert set(heard) - set(scanned) == {lab.scanner_ip}
    # The same capture read by libpcap with its filter (large files go that way): the same.
    monkeypatch.setattr(capfile, "_recwalk", None)  # libpcap is the path without the C walk
    monkeypatch.setattr(capfile, "LIBPCAP_MIN_BYTES", 0)
    used, real = [], capfile._libpcap

    def spy(path: str, *rest: Any) -> Any:
        got = real(path, *rest)
        used.extend([path] if got is not None else [])  # libpcap took it
        return got

    monkeypatch.setattr(capfile, "_libpcap", spy)
    fast = build_document(CaptureRun([str(pcap)]).run())
    assert used == [str(pcap)]
    assert verdicts(fast) == heard
    # And by the pure-Python reader (neither the C walk nor libpcap): the same again.
    monkeypatch.setattr(capfile, "pcapy", None)
    pure = build_document(CaptureRun([str(pcap)]).run())
    assert verdicts(pure) == heard
    assert pure["scope"]["passive"] == passive["scope"]["passive"]


@pytest.fixture
def quiet_port(lab: Lab) -> Iterator[str]:
    """A namespace on the lab's bridge whose interface has no address and no IPv6: the kernel
    itself sends nothing there, so every frame its tx counter counts would be the listener's."""
    ns = f"{lab.prefix}listen"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        sysctl = ["ip", "netns", "exec", ns, "sysctl", "-q", "-w"]
        subprocess.run([*sysctl, "net.ipv6.conf.all.disable_ipv6=1"], check=True)
        subprocess.run([*sysctl, "net.ipv6.conf.default.disable_ipv6=1"], check=True)
        hub = ["ip", "-n", lab.hub_netns, "link"]
        subprocess.run(
            [*hub, "add", "lsn0", "type", "veth", "peer", "name", "eth0", "netns", ns], check=True
        )
        subprocess.run([*hub, "set", "lsn0", "master", BRIDGE, "up"], check=True)
        subprocess.run(["ip", "-n", ns, "link", "set", "eth0", "up"], check=True)
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


def _tx_packets(ns: str) -> int:
    out = subprocess.run(
        ["ip", "netns", "exec", ns, "cat", "/sys/class/net/eth0/statistics/tx_packets"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(out)


def _wait_for_packet_socket(ns: str, timeout_s: float = 6.0) -> None:
    """Until a packet socket is open in `ns` (the listener has started: its start-up time
    varies with the machine's load)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        table = subprocess.run(
            ["ip", "netns", "exec", ns, "cat", "/proc/net/packet"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        if len(table.splitlines()) > 1:
            return
        time.sleep(0.1)
    pytest.fail("the listener opened no packet socket")


def test_listen_sends_nothing_and_streams_devices(
    lab: Lab, quiet_port: str, tmp_path: Path
) -> None:
    device = lab.spec.devices[0]
    out = tmp_path / "listen.ndjson"
    assert _tx_packets(quiet_port) == 0
    listener = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            quiet_port,
            sys.executable,
            "-m",
            "camscan",
            "listen",
            "--interface",
            "eth0",
            "--duration",
            "8s",
            "--format",
            "ndjson",
            "-q",
            "-o",
            str(out),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    # A device that speaks unasked: an SSDP NOTIFY from one lab device's namespace.
    notify = (
        "NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nNT: upnp:rootdevice\r\n"
        f"USN: uuid:passive-test::upnp:rootdevice\r\nLOCATION: http://{device.ip}/d.xml"
        "\r\nNTS: ssdp:alive\r\nSERVER: Linux/3.0 UPnP/1.0 App-webs/\r\n\r\n"
    )
    sender = (
        "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
        "s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1); "
        f"s.sendto({notify.encode()!r}, ('239.255.255.250', 1900))"
    )
    # And over IPv6 (the lab's stacks are IPv4 only, so the frame is sent raw): a NOTIFY to
    # ff02::c from the device's EUI-64 link-local address.
    octets = bytes.fromhex(device.mac.replace(":", ""))
    eui = bytes([octets[0] ^ 2]) + octets[1:3] + b"\xff\xfe" + octets[3:]
    link_local = str(ipaddress.IPv6Address(b"\xfe\x80" + bytes(6) + eui))
    notify6 = notify.replace(f"http://{device.ip}/", f"http://[{link_local}]/").replace(
        "passive-test", "passive-test-v6"
    )
    frame6 = udp6_frame(
        link_local,
        1900,
        "ff02::c",
        1900,
        notify6.encode(),
        src_mac=device.mac,
        dst_mac="33:33:00:00:00:0c",
        hop=255,
    )
    sender6 = (
        "import socket; s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); "
        f"s.bind(({IFNAME!r}, 0)); s.send(bytes.fromhex({frame6.hex()!r}))"
    )
    _wait_for_packet_socket(quiet_port)
    in_device = ["ip", "netns", "exec", device_netns(lab.prefix, device.name), sys.executable]
    for code in (sender, sender, sender6):
        subprocess.run([*in_device, "-c", code], check=True, timeout=20)
    _, err = listener.communicate(timeout=60)
    assert listener.returncode == 0, err
    assert _tx_packets(quiet_port) == 0, "the listener sent frames"
    assert out.stat().st_mode & 0o777 == 0o600  # MACs and serials: owner only, like scan outputs
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    for line in lines:
        validate_ndjson_line(line)
    assert lines[0]["type"] == "header" and lines[-1]["type"] == "summary"
    assert lines[0]["scope"]["passive"]["statement"] == "passive: listened on eth0 for 8s"
    devices = [line for line in lines if line["type"] == "device"]
    got = {(e["key"], e["value"]) for d in devices if d["ip"] == device.ip for e in d["evidence"]}
    assert ("upnp.usn", "uuid:passive-test::upnp:rootdevice") in got, lines
    (v6,) = [d for d in devices if d["ip"] == link_local]
    assert v6["mac"] == device.mac  # link-local: the frame's source MAC is the sender's
    assert ("upnp.usn", "uuid:passive-test-v6::upnp:rootdevice") in {
        (e["key"], e["value"]) for e in v6["evidence"]
    }


def _as_nobody(lab: Lab, caps: str, out: Path) -> subprocess.CompletedProcess[str]:
    argv = [
        "ip",
        "netns",
        "exec",
        lab.scanner_netns,
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        f"--inh-caps={caps}",
        f"--ambient-caps={caps}",
        f"--bounding-set={caps}",
        sys.executable,
        "-m",
        "camscan",
        "listen",
        "--interface",
        lab.scanner_interface,
        "--duration",
        "1s",
        "-q",
        "-o",
        str(out),
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def test_listen_needs_only_cap_net_raw(lab: Lab) -> None:
    # An unprivileged user (nobody) must be able to write the output: a directory of its own.
    with tempfile.TemporaryDirectory(prefix="camscan-listen-") as tmp:
        os.chmod(tmp, 0o777)
        out = Path(tmp) / "listen.json"
        proc = _as_nobody(lab, "-all,+net_raw", out)
        assert proc.returncode == 0, proc.stderr
        validate_document(json.loads(out.read_text()))
        refused = _as_nobody(lab, "-all", Path(tmp) / "none.json")
        assert refused.returncode == 1
        assert refused.stderr.strip().splitlines() == [
            "camscan: error: listening needs CAP_NET_RAW (run as root, or setcap "
            "cap_net_raw+ep on the Python interpreter)"
        ]


def test_scan_passive_too_keeps_hosts_it_heard_but_did_not_probe(lab: Lab, tmp_path: Path) -> None:
    # Three targets; every other device answers the scan's multicast queries, and only SADP
    # and DHIP replies are kept by an active scan for addresses outside its targets.
    first = sorted(lab.spec.devices, key=lambda d: tuple(map(int, d.ip.split("."))))[0]
    targets = first.ip
    docs = {}
    for name, extra in (("active", []), ("passive", ["--passive-too"])):
        out = tmp_path / f"{name}.json"
        proc = subprocess.run(
            in_scanner(
                lab,
                "-m",
                "camscan",
                "scan",
                targets,
                "--interface",
                lab.scanner_interface,
                "--quiet",
                "-o",
                str(out),
                *extra,
            ),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        docs[name] = json.loads(out.read_text())
    validate_document(docs["passive"])
    assert docs["passive"]["scope"]["passive"]["statement"] == (
        f"passive: also listened on {lab.scanner_interface} during the scan"
    )
    assert "passive" not in docs["active"]["scope"]
    active = {d["ip"]: d for d in docs["active"]["devices"]}
    heard = {d["ip"]: d for d in docs["passive"]["devices"]}
    assert set(active) <= set(heard)
    extra = set(heard) - set(active)
    assert extra, "nothing heard beyond what the scan kept"
    assert all(heard[ip]["outside_scope"] for ip in extra)
    # What the scan probed is its own result, untouched by what was heard.
    assert heard[first.ip]["verdict"] == active[first.ip]["verdict"]


def test_run_scan_with_passive_too_keeps_what_it_heard(lab: Lab) -> None:
    """The library entry point listens too when its settings ask (the CLI only sets them)."""
    first = sorted(lab.spec.devices, key=lambda d: tuple(map(int, d.ip.split("."))))[0]
    request = ScanRequest(
        targets=[first.ip],
        interface=lab.scanner_interface,
        settings=ScanSettings(passive_too=True),
    )
    with lab.in_scanner():
        result = asyncio.run(run_scan(request))
    assert result.scope.passive is not None
    assert result.scope.passive.statement == (
        f"passive: also listened on {lab.scanner_interface} during the scan"
    )
    assert result.scope.passive.packets and result.scope.passive.packets_by_protocol
    probed = [d for d in result.devices if not d.outside_scope]
    heard = [d for d in result.devices if d.outside_scope]
    assert [d.ip for d in probed] == [first.ip]
    # The other lab devices answered the scan's multicast queries: heard, never probed. An
    # active scan alone keeps only SADP/DHIP replies from outside its targets (they carry the
    # device's own MAC); a host known without them was added from what was heard.
    kept_by_scan = {"sadp", "dhip", "dhip_legacy"}
    only_heard = [d.ip for d in heard if not {e.source for e in d.evidence} & kept_by_scan]
    assert len(only_heard) >= 5, [d.ip for d in heard]
    validate_document(build_document(result))
