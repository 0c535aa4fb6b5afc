"""Lab Hikvision SADP device: answers the inquiry with its recorded ProbeMatch.

Service table: `capture` (a recorded reply in tests/captures, served byte for byte) or
`reply` (ProbeMatch XML written in the spec); either way its <Uuid> is replaced by the
inquiry's, as devices echo it; `reply_to` ("multicast", the default, answers to
239.255.255.250:37020 where SADP tools listen; "unicast" answers the sender), plus the hostile
options of `udp_responder`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from camscan_lab.captures import recorded
from camscan_lab.personalities.udp_responder import Reply, hostile_replies, reply_delay_s, serve_udp
from camscan_lab.personality import Closer, LabHost

# The lab's own statement of where SADP tools listen (UniversalScanner Hikvision.cs, Haicam;
# fingerprints/SOURCES.md#s5-1), not camscan.discovery.sadp's: a shared wrong constant would pass.
GROUP = "239.255.255.250"
PORT = 37020
_UUID = re.compile(rb"<Uuid>([^<]{1,64})</Uuid>")


def answer_inquiry(service: Mapping[str, Any], data: bytes, sender: tuple[str, int]) -> list[Reply]:
    """The datagrams a device with this service sends in answer to `data`."""
    if b"<Types>inquiry</Types>" not in data or b"<Probe>" not in data:
        return []
    dest = sender if service.get("reply_to") == "unicast" else (GROUP, PORT)
    out: list[Reply] = []
    if body := reply_body(service):
        ident = _UUID.search(data)
        if ident:
            body = _UUID.sub(b"<Uuid>" + ident.group(1) + b"</Uuid>", body, count=1)
        out.append((body, dest))
    return out + hostile_replies(service, lambda i: b"<ProbeMatch><Junk>%d</Junk>" % i, dest)


def reply_body(service: Mapping[str, Any]) -> bytes | None:
    """The ProbeMatch this service answers with: its recorded capture, else the spec's XML."""
    if capture := service.get("capture"):
        return recorded(str(capture))
    if reply := service.get("reply"):
        return str(reply).strip().encode("utf-8")
    return None


async def serve(host: LabHost, service: Mapping[str, Any]) -> Closer:
    """Listen on UDP 37020 joined to 239.255.255.250 and answer inquiries."""
    reply_body(service)  # a missing capture fails the start, not each answer
    return await serve_udp(
        host,
        int(service.get("port", PORT)),
        GROUP,
        lambda data, sender: answer_inquiry(service, data, sender),
        reply_delay_s(service),
    )
