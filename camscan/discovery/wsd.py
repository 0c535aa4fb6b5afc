"""ONVIF WS-Discovery: Probe on 239.255.255.250:3702 and its ProbeMatches (XAddrs, scopes).

Two Probes (dn:NetworkVideoTransmitter, tds:Device) so devices advertising only one type answer.
Hikvision's EndpointReference is a version-1 UUID whose node field is the MAC
(Haicam/Haicam discovery.go: urn:uuid:aa85c000-6324-11b3-819e-5850ed1fe385 with
MAC/58:50:ed:1f:e3:85); RFC 4122 §4.1.6 makes that reading safe only for v1 UUIDs whose node
is not marked random (multicast bit clear).
"""

from __future__ import annotations

import random
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import TYPE_CHECKING

from camscan import xmlsafe
from camscan.discovery.datagram import Datagram, names_other_host
from camscan.keys import NAMES_OTHER
from camscan.models import Evidence, excerpt
from camscan.oui import normalize_mac

if TYPE_CHECKING:
    from camscan.context import ScanContext

GROUP = "239.255.255.250"
PORT = 3702
MAX_REPLY = 32768  # a Hikvision ProbeMatch with its namespace list is ~4 KB
MAX_MATCHES = 16
MAX_SCOPES = 64
MAX_XADDRS = 8
MAX_VALUE = 512
SOURCE = "wsd"

SOAP_ENV = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
DN = "http://www.onvif.org/ver10/network/wsdl"
TDS = "http://www.onvif.org/ver10/device/wsdl"
PROBE_TYPES = ("dn:NetworkVideoTransmitter", "tds:Device")
# WS-Discovery 1.1: a target service waits a random time up to APP_MAX_DELAY before answering
# a multicast Probe, so a crowd's ProbeMatches spread over this long after each Probe.
APP_MAX_DELAY_S = 0.5
# New Probes (fresh MessageIDs) once every answer to the first ones is due: the last repeat
# (UDP_MAX_DELAY, 250 ms) plus APP_MAX_DELAY.
FRESH_ROUND_S = 0.25 + APP_MAX_DELAY_S
# A device answers each of the two Probe types, each sent twice, in two rounds: 8 replies.
MAX_PER_SOURCE = 16


class ParseError(ValueError):
    """The bytes are not a WS-Discovery ProbeMatches message."""


@dataclass(frozen=True, slots=True)
class ProbeMatch:
    """One ProbeMatch: endpoint, types, scopes, service addresses, metadata version."""

    epr: str
    types: tuple[str, ...]
    scopes: tuple[str, ...]
    xaddrs: tuple[str, ...]
    metadata_version: str


@dataclass(frozen=True, slots=True)
class ProbeMatches:
    """A ProbeMatches message."""

    relates_to: str
    matches: tuple[ProbeMatch, ...]


def build_probe(types: str, message_id: str | None = None) -> bytes:
    """A Probe for `types` (a prefixed QName list using dn: and tds:)."""
    mid = message_id or f"urn:uuid:{uuid.uuid4()}"
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>'
        f'<s:Envelope xmlns:s="{SOAP_ENV}" xmlns:a="{WSA}" xmlns:d="{WSD}" xmlns:dn="{DN}" '
        f'xmlns:tds="{TDS}"><s:Header>'
        f'<a:Action s:mustUnderstand="1">{WSD}/Probe</a:Action>'
        f"<a:MessageID>{mid}</a:MessageID>"
        f"<a:ReplyTo><a:Address>{WSA}/role/anonymous</a:Address></a:ReplyTo>"
        f'<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>'
        f"</s:Header><s:Body><d:Probe><d:Types>{types}</d:Types></d:Probe></s:Body>"
        f"</s:Envelope>"
    ).encode()


def _text(node: ET.Element | None) -> str:
    return "" if node is None else "".join(node.itertext()).strip()


def _words(node: ET.Element | None, limit: int) -> tuple[str, ...]:
    return tuple(w[:MAX_VALUE] for w in _text(node).split()[:limit])


def _match(node: ET.Element) -> ProbeMatch:
    epr = xmlsafe.child(node, "EndpointReference")
    return ProbeMatch(
        epr=_text(None if epr is None else xmlsafe.child(epr, "Address"))[:MAX_VALUE],
        types=_words(xmlsafe.child(node, "Types"), MAX_SCOPES),
        scopes=_words(xmlsafe.child(node, "Scopes"), MAX_SCOPES),
        xaddrs=_words(xmlsafe.child(node, "XAddrs"), MAX_XADDRS),
        metadata_version=_text(xmlsafe.child(node, "MetadataVersion"))[:MAX_VALUE],
    )


def parse_probe_matches(data: bytes) -> ProbeMatches:
    """The ProbeMatch entries of a ProbeMatches envelope; ParseError for anything else."""
    if len(data) > MAX_REPLY:
        raise ParseError(f"{len(data)} bytes exceeds {MAX_REPLY}")
    try:
        root = xmlsafe.parse(data)
    except xmlsafe.XmlError as exc:
        raise ParseError(str(exc)) from None
    header, body = xmlsafe.child(root, "Header"), xmlsafe.child(root, "Body")
    if xmlsafe.local_name(root.tag) != "Envelope" or body is None:
        raise ParseError("no SOAP Envelope/Body")
    container = xmlsafe.child(body, "ProbeMatches")
    if container is None:
        raise ParseError("no ProbeMatches (a Probe, Hello or another message)")
    matches = tuple(
        _match(n)
        for n in list(container)[:MAX_MATCHES]
        if xmlsafe.local_name(n.tag) == "ProbeMatch"
    )
    if not matches:
        raise ParseError("ProbeMatches without a ProbeMatch")
    relates = _text(None if header is None else xmlsafe.child(header, "RelatesTo"))[:MAX_VALUE]
    return ProbeMatches(relates, matches)


# Prefixes seen in pasted WS-Discovery messages, declared by the wrapper of a fragment that
# uses them without declaring them (an excerpt copied out of a capture or a log).
_PASTE_PREFIXES = {
    "s": SOAP_ENV,
    "env": SOAP_ENV,
    "SOAP-ENV": SOAP_ENV,
    "soap": SOAP_ENV,
    "soapenv": SOAP_ENV,
    "a": WSA,
    "wsa": WSA,
    "wsadis": WSA,
    "d": WSD,
    "wsdd": WSD,
    "dn": DN,
    "tds": TDS,
    "tdn": DN,
    "tt": "http://www.onvif.org/ver10/schema",
}
_PASTE_OPEN = (
    "<pasted " + " ".join(f'xmlns:{p}="{ns}"' for p, ns in _PASTE_PREFIXES.items()) + ">"
).encode()


def _without_declaration(data: bytes) -> bytes:
    """`data` without a leading BOM and XML declaration (it may not stand inside the wrapper)."""
    text = data.lstrip().removeprefix(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"<?xml"):
        end = text.find(b"?>")
        text = text[end + 2 :] if end != -1 else text
    return text


def parse_pasted(data: bytes) -> ProbeMatches:
    """A ProbeMatches or Hello message as pasted offline: a whole envelope, or a fragment
    (ProbeMatch/Hello without its Envelope, prefixes left undeclared); ParseError otherwise.
    A live reply goes through parse_probe_matches alone."""
    try:
        return parse_probe_matches(data)
    except ParseError as first:
        if len(data) > MAX_REPLY:
            raise
        wrapped = _PASTE_OPEN + _without_declaration(data) + b"</pasted>"
        try:
            root = xmlsafe.parse(wrapped)
        except xmlsafe.XmlError:
            raise first from None
        matches = tuple(
            _match(n) for n in root.iter() if xmlsafe.local_name(n.tag) in ("ProbeMatch", "Hello")
        )[:MAX_MATCHES]
        if not matches:
            raise first from None
        relates = _text(
            next((n for n in root.iter() if xmlsafe.local_name(n.tag) == "RelatesTo"), None)
        )
        return ProbeMatches(relates[:MAX_VALUE], matches)


def epr_mac(epr: str) -> str | None:
    """The MAC in a version-1 UUID endpoint reference (Hikvision), None otherwise."""
    text = epr.strip().lower().removeprefix("urn:").removeprefix("uuid:")
    try:
        ident = uuid.UUID(text)
    except ValueError:
        return None
    if ident.version != 1 or (ident.node >> 40) & 1:
        return None
    return normalize_mac(f"{ident.node:012x}")


def match_evidence(match: ProbeMatch, host: str, port: int | None = PORT) -> list[Evidence]:
    """Structured evidence of one ProbeMatch: wsd.* keys and one onvif.scope per scope."""
    out: list[Evidence] = []
    for key, value in (
        ("wsd.epr", match.epr),
        ("wsd.types", " ".join(match.types)),
        ("wsd.xaddrs", " ".join(match.xaddrs)),
        ("wsd.metadata_version", match.metadata_version),
        ("wsd.epr_mac", epr_mac(match.epr) or ""),
    ):
        if value:
            out.append(Evidence(host, SOURCE, key, value, port))
    out.extend(Evidence(host, SOURCE, "onvif.scope", scope, port) for scope in match.scopes)
    return out


def expand(ev: Evidence) -> list[Evidence]:
    """`wsd.probe_match` evidence (a ProbeMatches or Hello message, or a pasted fragment of
    one) -> wsd.* keys and onvif.scope items."""
    message = parse_pasted(ev.value.encode("utf-8"))
    return [item for m in message.matches for item in match_evidence(m, ev.host, ev.port)]


def foreign_xaddrs(match: ProbeMatch, host: str) -> list[str]:
    """The XAddrs of a match that name some host other than the replying one."""
    return [x for x in match.xaddrs if names_other_host(x, host)]


def resend_schedule(rng: random.Random | None = None) -> tuple[float, float, float]:
    """When Probes are sent: now and its repeat, then new Probes at FRESH_ROUND_S and theirs."""
    # SOAP-over-UDP 1.1 Appendix I: MULTICAST_UDP_REPEAT 1, the first repeat after a delay
    # drawn from [UDP_MIN_DELAY, UDP_MAX_DELAY] = [50, 250] ms. The repeat is the same message
    # (MessageID): a device that heard the first copy ignores it (duplicate detection), so it
    # recovers a lost Probe, never a lost answer; the new Probes ask every device once more.
    rng = rng or random.Random()
    return (0.0, rng.uniform(0.05, 0.25), FRESH_ROUND_S + rng.uniform(0.05, 0.25))


async def discover(ctx: ScanContext) -> None:
    """Probe; emit every ProbeMatch (the ONVIF probe later asks the devices' XAddrs)."""
    from camscan.discovery.udp import exchange  # asyncio: loaded by a scan, not with the parsers

    stats = ctx.stat(SOURCE)
    answered: set[str] = set()
    seen: set[tuple[str, tuple[ProbeMatch, ...]]] = set()

    def on_datagram(datagram: Datagram) -> None:
        try:
            message = parse_probe_matches(datagram.data)
        except ParseError:
            stats.errors += 1
            return
        if datagram.ip not in answered:
            answered.add(datagram.ip)
            stats.answered += 1
        if (datagram.ip, message.matches) in seen:
            return  # the same matches again, answering another Probe: nothing new to say
        seen.add((datagram.ip, message.matches))
        text = datagram.data.decode("utf-8", "replace")
        ctx.emit(
            Evidence(datagram.ip, SOURCE, "wsd.probe_match", text, PORT, excerpt(datagram.data))
        )
        for match in message.matches:
            for ev in match_evidence(match, datagram.ip):
                ctx.emit(ev)
            for xaddr in foreign_xaddrs(match, datagram.ip)[:MAX_XADDRS]:
                # Noted on the sender; the named host is neither queried nor credited.
                ctx.emit(
                    Evidence(
                        datagram.ip,
                        SOURCE,
                        NAMES_OTHER,
                        f"WS-Discovery XAddr {excerpt(xaddr, 200)}",
                        PORT,
                    )
                )

    def probes() -> list[tuple[bytes, tuple[str, int]]]:
        return [(build_probe(t), (GROUP, PORT)) for t in PROBE_TYPES]

    await exchange(
        ctx,
        SOURCE,
        probes(),
        on_datagram,
        max_size=MAX_REPLY,
        max_per_source=MAX_PER_SOURCE,
        resend_at=resend_schedule(),
        reply_within=APP_MAX_DELAY_S,
        fresh_at=(FRESH_ROUND_S,),
        fresh=probes,
    )


__all__ = [
    "ParseError",
    "ProbeMatch",
    "ProbeMatches",
    "build_probe",
    "discover",
    "epr_mac",
    "expand",
    "foreign_xaddrs",
    "match_evidence",
    "parse_probe_matches",
    "resend_schedule",
]
