"""Lab Dahua DHIP device: answers DHDiscover.search (and, like real units, any datagram).

Service table: `reply` (the recorded `client.notifyDevInfo` JSON), plus the hostile options of
`udp_responder` (junk datagrams carry a DHIP header around a non-JSON body). The answer goes
to the sender; Phenomite/AMP-Research notes any non-null byte to 37810 elicits it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from camscan.discovery.dhip import GROUP, MAGIC, PORT, build_packet
from camscan.lab.personalities.udp_responder import Reply, hostile_replies, serve_udp
from camscan.lab.personality import Closer, LabHost


def answer_search(service: Mapping[str, Any], data: bytes, sender: tuple[str, int]) -> list[Reply]:
    """The datagrams a device with this service sends in answer to `data`."""
    if not data.strip(b"\x00") or (data[4:8] == MAGIC and b"notifyDevInfo" in data):
        return []  # nothing asked, or another device's reply
    out: list[Reply] = []
    if reply := service.get("reply"):
        # Replies end in "\n\0" (Haicam's hex dump: tail 0a 00).
        out.append((build_packet(str(reply).strip().encode("utf-8") + b"\n\x00"), sender))
    return out + hostile_replies(service, lambda i: build_packet(b"junk %d" % i), sender)


async def serve(host: LabHost, service: Mapping[str, Any]) -> Closer:
    """Listen on UDP 37810, joined to 239.255.255.251, and answer searches."""
    return await serve_udp(host, int(service.get("port", PORT)), GROUP,
                           lambda data, sender: answer_search(service, data, sender))
