"""Multicast discovery in a crowd: hundreds of devices answering one WS-Discovery Probe at once."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from camscan.context import Method, ScanContext, ScanSettings
from camscan.discovery import wsd
from camscan.discovery.registry import DISCOVERERS
from camscan.models import Evidence
from camscan_lab.crowd import write_crowd_spec
from camscan_lab.network import Lab, load_spec

pytestmark = pytest.mark.lab

# The lab copies each multicast to every filler through one CPU's backlog (1,000 frames): four
# Probes to 200 fillers fit, the answers come back at once all the same.
CROWD = 200
ONE_DEVICE = """
[lab]
scan_subnet = "198.18.0.0/24"
prefix_len = 15
scanner_ip = "198.18.0.2"
scanner_mac = "02:00:5e:10:00:02"

[[device]]
name = "lone-box"
ip = "198.18.0.50"
mac = "00:80:77:01:02:03"
role = "other"
"""

# Runs in the fillers' namespace: on every filler interface a socket joined to the WS-Discovery
# group answers each Probe at once with a recorded Hikvision ProbeMatches, so CROWD answers
# reach the scanner within milliseconds of each other (one process for all: the lab's own
# responders, one per device, would spread them out).
RESPONDER = """
import selectors, socket, struct, sys
from camscan_lab.personalities.wsd import answer_probe
reply = open(sys.argv[1]).read()
sel = selectors.DefaultSelector()
for ifname in sys.argv[2:]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
    mreqn = struct.pack("=4s4si", socket.inet_aton("239.255.255.250"), bytes(4),
                        socket.if_nametoindex(ifname))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
    s.bind(("", 3702))
    sel.register(s, selectors.EVENT_READ)
print("ready", flush=True)
answers = {}  # one Probe reaches every socket: parse it once, not once per filler
while True:
    for key, _ in sel.select():
        data, sender = key.fileobj.recvfrom(65535)
        if (data, sender) not in answers:
            answers[(data, sender)] = answer_probe({"reply": reply}, data, sender)
        for body, dest in answers[(data, sender)]:
            key.fileobj.sendto(body, dest)
"""


@pytest.fixture(scope="module")
def crowd(lab_prefix: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """CROWD fillers, each answering WS-Discovery, beside one spec device."""
    root = tmp_path_factory.mktemp("crowd")
    (Path(root) / "devices.toml").write_text(ONE_DEVICE)
    reply = next(
        s.table["reply"]
        for d in load_spec(Path(__file__).parents[2] / "examples" / "lab" / "office").devices
        for s in d.services
        if s.kind == "wsd"
    )
    (Path(root) / "reply.xml").write_text(reply)
    lab = Lab(root, lab_prefix[:-1] + "w-", hosts=CROWD, owner_pid=os.getpid())
    proc = None
    try:
        lab.up()
        proc = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                lab.filler_netns(lab.fillers[0]),
                sys.executable,
                "-c",
                RESPONDER,
                str(Path(root) / "reply.xml"),
                *(f.ifname for f in lab.fillers),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield lab
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        lab.down()


def test_every_one_of_hundreds_of_simultaneous_answers_is_heard(crowd: Lab) -> None:
    for _ in range(3):
        ctx = ScanContext(
            settings=ScanSettings(),
            interface=crowd.scanner_interface,
            source_ip=crowd.scanner_ip,
            in_scope=(),
            emit=lambda ev: None,
        )  # nothing in scope: no ONVIF calls
        with crowd.in_scanner():
            asyncio.run(wsd.discover(ctx))
        stat = ctx.stat("wsd")
        assert stat.answered == CROWD, stat
        assert stat.kernel_dropped == 0, stat
        # each Probe and its one repeat, then new Probes and their repeat
        assert stat.sent == 4 * len(wsd.PROBE_TYPES)


# The crowd lab: 62 ONVIF devices cloned from the office's real Hikvision, Dahua, OEM and other
# makers' personalities (with their SADP, DHIP and SSDP services), one namespace each, replies
# spread over WS-Discovery's APP_MAX_DELAY with every third device answering at once.
ONVIF_CROWD = 62
CROWD_KINDS = ("wsd", "sadp", "dhip", "ssdp")


@pytest.fixture(scope="module")
def onvif_crowd(lab_prefix: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """The crowd spec of ONVIF_CROWD devices, up for this module."""
    spec = write_crowd_spec(tmp_path_factory.mktemp("onvif-crowd"), ONVIF_CROWD)
    lab = Lab(spec, lab_prefix[:-1] + "o-", owner_pid=os.getpid())
    try:
        lab.up()
        yield lab
    finally:
        lab.down()


def test_every_device_of_the_onvif_crowd_is_heard_by_every_method(onvif_crowd: Lab) -> None:
    expected = {
        kind: {d.ip for d in onvif_crowd.spec.devices for s in d.services if s.kind == kind}
        for kind in CROWD_KINDS
    }
    assert len(expected["wsd"]) == ONVIF_CROWD and min(map(len, expected.values())) >= 3
    found: list[Evidence] = []
    ctx = ScanContext(
        settings=ScanSettings(),
        interface=onvif_crowd.scanner_interface,
        source_ip=onvif_crowd.scanner_ip,
        in_scope=ipaddress.ip_network(onvif_crowd.spec.scan_subnet),
        emit=found.append,
    )

    async def all_at_once() -> None:
        await asyncio.gather(*(DISCOVERERS[Method(kind)](ctx) for kind in CROWD_KINDS))

    with onvif_crowd.in_scanner():
        asyncio.run(all_at_once())
    for kind in CROWD_KINDS:
        stat = ctx.stat(kind)
        heard = {e.host for e in found if e.source == kind}
        assert heard == expected[kind], (kind, sorted(expected[kind] - heard), stat)
        assert stat.answered == len(expected[kind]), stat
        # nothing lost anywhere the statistics could have hidden it
        assert (stat.errors, stat.dropped, stat.kernel_dropped) == (0, 0, 0), stat


# Devices as SOAP-over-UDP means them: each MessageID answered once (a repeat of the Probe is
# ignored), behind a link that loses each one's first two answers -- both first-round replies.
LOSSY = 20


@pytest.fixture(scope="module")
def lossy_crowd(lab_prefix: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """LOSSY ONVIF clones that ignore repeated Probes and lose their first two answers."""
    spec = write_crowd_spec(
        tmp_path_factory.mktemp("lossy-crowd"),
        LOSSY,
        wsd_options={"ignore_repeats": True, "lose_replies": 2},
    )
    lab = Lab(spec, lab_prefix[:-1] + "l-", owner_pid=os.getpid())
    try:
        lab.up()
        yield lab
    finally:
        lab.down()


def test_answers_lost_to_the_first_probes_are_asked_for_again(lossy_crowd: Lab) -> None:
    found: list[Evidence] = []
    ctx = ScanContext(
        settings=ScanSettings(),
        interface=lossy_crowd.scanner_interface,
        source_ip=lossy_crowd.scanner_ip,
        in_scope=ipaddress.ip_network(lossy_crowd.spec.scan_subnet),
        emit=found.append,
    )
    with lossy_crowd.in_scanner():
        asyncio.run(wsd.discover(ctx))
    # The repeat of the first Probes cannot bring the lost answers back (the devices ignore
    # it); the new Probes, sent once every first answer was due, do.
    heard = {e.host for e in found if e.source == "wsd"}
    assert heard == {d.ip for d in lossy_crowd.spec.devices}
    # one raw ProbeMatch per device, however many Probes it answered
    raw = [e.host for e in found if e.key == "wsd.probe_match"]
    assert sorted(raw) == sorted(heard)


def test_a_scan_too_busy_to_read_during_the_window_still_hears_the_crowd(
    onvif_crowd: Lab,
) -> None:
    # The first answer's evidence holds the event loop past the end of the window (as a flood
    # or a slow identification can): every other answer is still waiting in the socket.
    found: list[Evidence] = []

    def busy_emit(ev: Evidence) -> None:
        if not found:
            time.sleep(ScanSettings().listen_window_s + 0.5)
        found.append(ev)

    ctx = ScanContext(
        settings=ScanSettings(),
        interface=onvif_crowd.scanner_interface,
        source_ip=onvif_crowd.scanner_ip,
        in_scope=ipaddress.ip_network(onvif_crowd.spec.scan_subnet),
        emit=busy_emit,
    )
    with onvif_crowd.in_scanner():
        asyncio.run(wsd.discover(ctx))
    assert {e.host for e in found} == {d.ip for d in onvif_crowd.spec.devices}
    stat = ctx.stat("wsd")
    assert (stat.answered, stat.kernel_dropped) == (ONVIF_CROWD, 0), stat
