"""Lab WS-Discovery devices.

Kind `wsd`: answers Probes with the recorded ProbeMatches envelope (`reply`), RelatesTo set to
the Probe's MessageID and a fresh MessageID, when the Probe's Types (if any) name one of the
match's types. Kind `wsd_thirdparty`: the PyPI `WSDiscovery` package's publisher runs in the
device's namespace (`wsd_publisher`) and answers for itself -- an implementation not ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import signal
import socket
import sys
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException

from camscan_lab.personalities.udp_responder import Reply, reply_delay_s, serve_udp
from camscan_lab.personality import Closer, LabHost

# WS-Discovery 1.1 (OASIS): multicast 239.255.255.250, UDP 3702 -- stated here, not taken from
# camscan.discovery.wsd, so a constant wrong in both cannot pass.
GROUP = "239.255.255.250"
PORT = 3702
# A minimal WS-Discovery 2005/04 Probe, to see the third-party publisher answer.
_READY_PROBE = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
    'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" '
    'xmlns:dn="http://www.onvif.org/ver10/network/wsdl">'
    "<s:Header><a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action>"
    "<a:MessageID>urn:uuid:{id}</a:MessageID>"
    "<a:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To></s:Header>"
    "<s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body>"
    "</s:Envelope>"
)
PUBLISHER_READY_S = 10.0  # Python start-up, imports and the first Hello take ~1 s

_RELATES_TO = re.compile(r"(<(?:[\w.-]+:)?RelatesTo>)[^<]*(</(?:[\w.-]+:)?RelatesTo>)")
_MESSAGE_ID = re.compile(r"(<(?:[\w.-]+:)?MessageID>)[^<]*(</(?:[\w.-]+:)?MessageID>)")
_TYPES = re.compile(r"<(?:[\w.-]+:)?Types>([^<]*)</(?:[\w.-]+:)?Types>")


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


@functools.lru_cache(maxsize=256)
def read_probe(data: bytes) -> tuple[str, frozenset[str]] | None:
    """(MessageID, local names of the probed Types) of a Probe; None for anything else."""
    # Cached: one multicast Probe reaches every device the runner serves, and parsing it once
    # per device would make a crowd's answers wait on the runner rather than on their delays.
    try:
        root = DET.fromstring(data, forbid_dtd=True)
    except (ET.ParseError, DefusedXmlException, ValueError):
        return None
    action = next((e.text or "" for e in root.iter() if _local(str(e.tag)) == "Action"), "")
    message_id = next((e.text or "" for e in root.iter() if _local(str(e.tag)) == "MessageID"), "")
    if not action.strip().endswith("/Probe") or not message_id.strip():
        return None
    types = next((e.text or "" for e in root.iter() if _local(str(e.tag)) == "Types"), "")
    return message_id.strip(), frozenset(_local(t) for t in types.split())


def answer_probe(service: Mapping[str, Any], data: bytes, sender: tuple[str, int]) -> list[Reply]:
    """The recorded ProbeMatches, re-addressed to this Probe, if the Probe asks for it."""
    probe = read_probe(data)
    reply = str(service.get("reply", "")).strip()
    if probe is None or not reply:
        return []
    message_id, wanted = probe
    offered = _TYPES.search(reply)
    if wanted and offered and not wanted & {_local(t) for t in offered.group(1).split()}:
        return []
    body = _RELATES_TO.sub(lambda m: m.group(1) + message_id + m.group(2), reply, count=1)
    body = _MESSAGE_ID.sub(
        lambda m: f"{m.group(1)}urn:uuid:{uuid.uuid4()}{m.group(2)}", body, count=1
    )
    return [(body.encode("utf-8"), sender)]


class Answerer:
    """Answers Probes as one device does over time.

    `ignore_repeats = true`: a Probe whose MessageID was answered already is ignored
    (SOAP-over-UDP 1.1 duplicate detection: a repeat only stands in for a lost Probe).
    `lose_replies = N`: the device's first N answers never arrive (a lossy link).
    """

    REMEMBERED = 256  # MessageIDs kept for duplicate detection

    def __init__(self, service: Mapping[str, Any]) -> None:
        self.service = service
        self.ignore_repeats = bool(service.get("ignore_repeats", False))
        self.to_lose = int(service.get("lose_replies", 0))
        self.answered: dict[str, None] = {}  # insertion-ordered: the oldest goes first

    def __call__(self, data: bytes, sender: tuple[str, int]) -> list[Reply]:
        """The answers to one datagram, after duplicate detection and loss."""
        replies = answer_probe(self.service, data, sender)
        probe = read_probe(data) if replies else None
        if probe is None:
            return replies
        if self.ignore_repeats:
            if probe[0] in self.answered:
                return []
            self.answered[probe[0]] = None
            if len(self.answered) > self.REMEMBERED:
                del self.answered[next(iter(self.answered))]
        if self.to_lose > 0:
            self.to_lose -= 1
            return []
        return replies


async def serve(host: LabHost, service: Mapping[str, Any]) -> Closer:
    """Listen on UDP 3702 joined to 239.255.255.250 and answer Probes."""
    return await serve_udp(
        host, int(service.get("port", PORT)), GROUP, Answerer(service), reply_delay_s(service)
    )


class _Process:
    def __init__(self, pid: int) -> None:
        self.pid = pid

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGTERM)  # spawned with a session of its own


async def serve_thirdparty(host: LabHost, service: Mapping[str, Any]) -> Closer:
    """Run the WSDiscovery publisher in the device's namespace; return once it answers."""
    argv = [
        sys.executable,
        "-m",
        "camscan_lab.personalities.wsd_publisher",
        "--xaddr",
        str(service.get("xaddr", f"http://{host.ip}/onvif/device_service")),
    ]
    for scope in service.get("scopes", []):
        argv += ["--scope", str(scope)]
    for qname in service.get("types", ["dn:NetworkVideoTransmitter", "tds:Device"]):
        argv += ["--type", str(qname)]
    process = _Process(host.spawn(argv))
    if not await _answers(host, PUBLISHER_READY_S):
        process.close()
        raise RuntimeError(f"WSDiscovery publisher silent after {PUBLISHER_READY_S} s")
    return process


async def _answers(host: LabHost, timeout: float) -> bool:
    """True once a unicast Probe to the device's own address gets a ProbeMatches back."""
    sock = host.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        sock.bind((host.ip, 0))
        while loop.time() < deadline:
            sock.sendto(_READY_PROBE.format(id=uuid.uuid4()).encode(), (host.ip, PORT))
            try:
                data = await asyncio.wait_for(loop.sock_recv(sock, 65535), 0.25)
            except TimeoutError:
                continue
            if b"ProbeMatch" in data and b"EndpointReference" in data:
                return True
        return False
    finally:
        sock.close()
