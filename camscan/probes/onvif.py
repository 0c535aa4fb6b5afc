"""ONVIF device service: GetSystemDateAndTime and GetDeviceInformation over SOAP 1.2.

The per-host probe of hosts that advertised a device service (WS-Discovery XAddrs), run in the
probe phase with the banner probes, and only for hosts in scope.

Unauthenticated calls first; a 401 or a SOAP fault is normal and is itself evidence
(`onvif.www_authenticate`, `onvif.fault`). With credentials, a refused GetDeviceInformation is
repeated with a WS-UsernameToken (password digest, zeep's `UsernameToken`) only when
identification of everything heard of the host calls it a camera or recorder with `confirmed`
or `likely` confidence (and, with `--onvif-hosts`, only inside those addresses), and always
timestamped by our own clock: a token asked for in a device's own (future) time could be
replayed against every camera sharing the password. A device clock off by more than
MAX_CLOCK_SKEW_S is reported (`onvif.clock_offset`), not accommodated. The password comes from
the environment (`CAMSCAN_ONVIF_PASSWORD`) or a file, never from the command line.
"""

from __future__ import annotations

import ipaddress
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from camscan import linre, xmlsafe
from camscan.discovery import lazy
from camscan.discovery.datagram import Datagram, save_capture
from camscan.models import Confidence, DeviceType, Evidence, FieldRecord, Verdict, excerpt
from camscan.targets import url_on_host

if TYPE_CHECKING:
    import aiohttp

    from camscan.context import ScanContext, ScanSettings


SOAP_ENV = "http://www.w3.org/2003/05/soap-envelope"
TDS = "http://www.onvif.org/ver10/device/wsdl"
GET_SYSTEM_DATE_AND_TIME = "GetSystemDateAndTime"
GET_DEVICE_INFORMATION = "GetDeviceInformation"
MAX_RESPONSE = 65536
MAX_CLOCK_SKEW_S = 300  # WS-Security implementations commonly accept about 5 minutes
CREDENTIAL_CONFIDENCE = frozenset({Confidence.CONFIRMED, Confidence.LIKELY})
CREDENTIAL_TYPES = frozenset({DeviceType.CAMERA.value, DeviceType.RECORDER.value})
MAX_VALUE = 256
SOURCE = "onvif"
PASSWORD_ENV = "CAMSCAN_ONVIF_PASSWORD"

DEVICE_INFO_KEYS: dict[str, str] = {
    "Manufacturer": "onvif.manufacturer",
    "Model": "onvif.model",
    "FirmwareVersion": "onvif.firmware",
    "SerialNumber": "onvif.serial",
    "HardwareId": "onvif.hardware_id",
}


# Cheap cameras send prefixes they never declare (agsh/onvif#165: `<SOAP-ENV:Envelope >`);
# such replies are read again with every prefix removed.
_TAG_PREFIX = linre.compile(rb"<(/?)[A-Za-z_][\w.-]{0,63}:")
_ATTR_PREFIX = linre.compile(rb"(\s)([A-Za-z_][\w.-]{0,63}):([\w.-]{1,64}\s*=)")


def _drop_attr_prefix(m: linre.Match) -> bytes:
    """An attribute without its prefix; namespace declarations (`xmlns:x=`) stay as they are."""
    if m.group(2).startswith(b"xmlns"):  # RE2 has no look-ahead to leave them out of the match
        return bytes(m.group(0))
    return bytes(m.group(1) + m.group(3))


class ParseError(ValueError):
    """The bytes are not a SOAP response this module reads."""


@dataclass(frozen=True, slots=True)
class SoapReply(FieldRecord):
    """What one ONVIF response says: its operation's fields, or a fault."""

    operation: str = ""  # "GetDeviceInformation", "GetSystemDateAndTime" or "Fault"
    fault: str | None = None


def build_request(
    operation: str,
    username: str | None = None,
    password: str | None = None,
    *,
    nonce: str | None = None,
    created: datetime | None = None,
) -> bytes:
    """A SOAP 1.2 request for a parameterless tds operation, optionally with a UsernameToken."""
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{SOAP_ENV}" '
        f'xmlns:tds="{TDS}"><s:Header/><s:Body><tds:{operation}/></s:Body></s:Envelope>'
    )
    if username is None:
        return body.encode()
    from lxml import etree  # our own bytes; zeep's WS-Security works on lxml trees
    from zeep.wsse.username import UsernameToken

    envelope = etree.fromstring(body.encode())
    token = UsernameToken(
        username,
        password,
        use_digest=True,
        nonce=nonce,  # type: ignore[no-untyped-call]
        created=created,
        zulu_timestamp=True,
    )
    envelope, _ = token.apply(envelope, {})  # type: ignore[no-untyped-call]
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="UTF-8"))


def load_password(file: Path | None = None, env: dict[str, str] | None = None) -> str | None:
    """The ONVIF password from `file` (first line) or the environment; never from argv."""
    if file is not None:
        lines = file.read_text(encoding="utf-8").splitlines()
        return lines[0] if lines else ""
    return (os.environ if env is None else env).get(PASSWORD_ENV)


def _text(node: ET.Element | None) -> str:
    return "" if node is None else "".join(node.itertext()).strip()[:MAX_VALUE]


def _fault(fault: ET.Element) -> str:
    # SOAP 1.2: Code/Value, Code/Subcode/Value, Reason/Text; SOAP 1.1: faultcode, faultstring.
    codes = [
        _text(xmlsafe.child(fault, "Code", "Value")),
        _text(xmlsafe.child(fault, "Code", "Subcode", "Value")),
        _text(xmlsafe.child(fault, "faultcode")),
    ]
    reason = _text(xmlsafe.child(fault, "Reason", "Text")) or _text(
        xmlsafe.child(fault, "faultstring")
    )
    code = "/".join(c for c in codes if c)
    return f"{code}: {reason}" if code and reason else code or reason or "SOAP fault"


def _date_time(info: ET.Element) -> str:
    """UTCDateTime as ISO 8601; LocalDateTime, marked as such, when a device gives only that."""
    utc = xmlsafe.child(info, "UTCDateTime")
    local = xmlsafe.child(info, "LocalDateTime")
    stamp = utc if utc is not None else local
    if stamp is None:
        raise ParseError("neither UTCDateTime nor LocalDateTime")
    parts = [
        _text(xmlsafe.child(stamp, *path))
        for path in (
            ("Date", "Year"),
            ("Date", "Month"),
            ("Date", "Day"),
            ("Time", "Hour"),
            ("Time", "Minute"),
            ("Time", "Second"),
        )
    ]
    try:
        y, mo, d, h, mi, s = (int(p) for p in parts)
    except ValueError:
        raise ParseError(f"date/time is not numeric: {parts}") from None
    text = f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}"
    return text + "Z" if utc is not None else text + " (LocalDateTime; no UTC given)"


def _tree(data: bytes) -> ET.Element:
    try:
        return xmlsafe.parse(data)
    except xmlsafe.XmlError as exc:
        if type(exc) is not xmlsafe.XmlError or not xmlsafe.is_unbound_prefix(exc):
            raise ParseError(str(exc)) from None
    bare = _ATTR_PREFIX.sub(_drop_attr_prefix, _TAG_PREFIX.sub(rb"<\1", data))
    try:
        return xmlsafe.parse(bare)
    except xmlsafe.XmlError as exc:
        raise ParseError(str(exc)) from None


def parse_response(data: bytes) -> SoapReply:
    """GetDeviceInformation fields, the GetSystemDateAndTime UTC time, or the fault."""
    if len(data) > MAX_RESPONSE:
        raise ParseError(f"{len(data)} bytes exceeds {MAX_RESPONSE}")
    root = _tree(data)
    body = xmlsafe.child(root, "Body")
    if xmlsafe.local_name(root.tag) != "Envelope" or body is None or not len(body):
        raise ParseError("no SOAP Envelope/Body")
    first = body[0]
    name = xmlsafe.local_name(first.tag)
    if name == "Fault":
        return SoapReply(operation="Fault", fault=_fault(first))
    if name == "GetDeviceInformationResponse":
        fields = tuple(
            (field, value)
            for field in DEVICE_INFO_KEYS
            if (value := _text(xmlsafe.child(first, field)))
        )
        return SoapReply(fields, GET_DEVICE_INFORMATION)
    if name == "GetSystemDateAndTimeResponse":
        info = xmlsafe.child(first, "SystemDateAndTime")
        if info is None:
            raise ParseError("no SystemDateAndTime")
        return SoapReply((("UTCDateTime", _date_time(info)),), GET_SYSTEM_DATE_AND_TIME)
    raise ParseError(f"unexpected body element {name[:40]!r}")


def reply_evidence(reply: SoapReply, host: str, port: int | None, raw: str) -> list[Evidence]:
    """Evidence of one parsed response."""
    if reply.fault is not None:
        return [Evidence(host, SOURCE, "onvif.fault", reply.fault, port, raw)]
    if reply.operation == GET_SYSTEM_DATE_AND_TIME:
        return [
            Evidence(host, SOURCE, "onvif.system_time", reply.get("UTCDateTime") or "", port, raw)
        ]
    return [
        Evidence(host, SOURCE, key, value, port, raw)
        for field, key in DEVICE_INFO_KEYS.items()
        if (value := reply.get(field))
    ]


async def _post(
    session: aiohttp.ClientSession, url: str, operation: str, payload: bytes
) -> tuple[int, list[str], bytes]:
    headers = {"Content-Type": f'application/soap+xml; charset=utf-8; action="{TDS}/{operation}"'}
    async with session.post(url, data=payload, headers=headers, allow_redirects=False) as resp:
        body = await resp.content.read(MAX_RESPONSE + 1)
        return resp.status, resp.headers.getall("WWW-Authenticate", []), body


async def _call(
    ctx: ScanContext,
    session: aiohttp.ClientSession,
    host: str,
    url: str,
    operation: str,
    payload: bytes,
) -> SoapReply | None:
    """One call; emits what it learns. The reply when the operation answered with data."""
    import aiohttp  # loaded by query(), off the loop

    from camscan.traffic import traffic_log  # logging: loaded by a scan, not with the parsers

    stats = ctx.stat(SOURCE)
    port = urlsplit(url).port or (443 if url.startswith("https") else 80)
    stats.sent += 1
    try:
        async with ctx.connections:
            status, challenges, body = await _post(session, url, operation, payload)
    except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
        stats.errors += 1
        ctx.emit(
            Evidence(
                host,
                SOURCE,
                "probe.error",
                f"ONVIF {operation} {url}: {type(exc).__name__} {str(exc)[:120]}",
                port,
            )
        )
        return None
    traffic_log.debug("onvif %s %s -> %d %r", operation, url, status, body[:512])
    if ctx.settings.save_captures is not None:
        save_capture(ctx.settings.save_captures, SOURCE, Datagram(host, port, body))
    stats.answered += 1
    for challenge in challenges:
        ctx.emit(
            Evidence(
                host,
                SOURCE,
                "onvif.www_authenticate",
                challenge[:MAX_VALUE],
                port,
                f"HTTP {status} to {operation}",
            )
        )
    if len(body) > MAX_RESPONSE:
        stats.dropped += 1
        ctx.emit(
            Evidence(host, SOURCE, "probe.error", f"ONVIF {operation}: response oversize", port)
        )
        return None
    try:
        reply = parse_response(body)
    except ParseError as exc:
        if status == 200:
            stats.errors += 1
            ctx.emit(Evidence(host, SOURCE, "probe.error", f"ONVIF {operation}: {exc}", port))
        return None
    for ev in reply_evidence(reply, host, port, excerpt(body)):
        ctx.emit(ev)
    return reply if reply.fault is None and status == 200 else None


def device_clock(reply: SoapReply | None) -> datetime | None:
    """The device's UTC time from a GetSystemDateAndTime reply, None if it gave none."""
    stamp = reply.get("UTCDateTime") if reply is not None else None
    if stamp is None or not stamp.endswith("Z"):
        return None
    try:
        return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


async def query(ctx: ScanContext, host: str, xaddr: str) -> None:
    """Ask one device service for its time and identity; emit everything it answers."""
    await lazy.load_aiohttp()
    import aiohttp

    settings = ctx.settings
    timeout = aiohttp.ClientTimeout(
        total=settings.connect_timeout_s + settings.read_timeout_s,
        sock_connect=settings.connect_timeout_s,
        sock_read=settings.read_timeout_s,
    )
    local = (ctx.source_ip, 0) if ctx.source_ip else None
    connector = aiohttp.TCPConnector(limit=2, local_addr=local, ssl=False, force_close=True)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        asked = datetime.now(UTC)
        clock = device_clock(
            await _call(
                ctx,
                session,
                host,
                xaddr,
                GET_SYSTEM_DATE_AND_TIME,
                build_request(GET_SYSTEM_DATE_AND_TIME),
            )
        )
        offset = clock_offset(clock, asked, datetime.now(UTC))
        if offset is not None and abs(offset) > MAX_CLOCK_SKEW_S:
            ctx.emit(
                Evidence(
                    host,
                    SOURCE,
                    "onvif.clock_offset",
                    f"{offset:+.0f} s ({'ahead of' if offset > 0 else 'behind'} "
                    "the scanner's clock)",
                    urlsplit(xaddr).port or 80,
                )
            )
        answered = await _call(
            ctx, session, host, xaddr, GET_DEVICE_INFORMATION, build_request(GET_DEVICE_INFORMATION)
        )
        if answered is None and settings.onvif_user and settings.onvif_password is not None:
            await _credentials_if_attributed(ctx, session, host, xaddr)


def clock_offset(clock: datetime | None, asked: datetime, answered: datetime) -> float | None:
    """Seconds the device clock is ahead of ours (negative: behind); None if it gave none."""
    if clock is None:
        return None
    return (clock - (asked + (answered - asked) / 2)).total_seconds()


def may_receive_credentials(host: str, verdict: Verdict, settings: ScanSettings) -> bool:
    """True when `host` is attributed confirmed/likely as a camera or recorder (and inside
    --onvif-hosts if given): the only hosts a WS-UsernameToken is sent to."""
    if not settings.onvif_user or settings.onvif_password is None:
        return False
    if (
        verdict.confidence not in CREDENTIAL_CONFIDENCE
        or verdict.device_type not in CREDENTIAL_TYPES
    ):
        return False
    if settings.onvif_hosts is None:
        return True
    address = ipaddress.IPv4Address(host)
    return any(address in ipaddress.IPv4Network(net) for net in settings.onvif_hosts)


async def _credentials_if_attributed(
    ctx: ScanContext, session: aiohttp.ClientSession, host: str, xaddr: str
) -> None:
    """The authenticated GetDeviceInformation, only for a host identification (on everything
    heard of it so far, in a worker thread) calls a camera or recorder; our clock signs it."""
    import asyncio  # loaded by a scan, not with the parsers

    from camscan.identify import identify

    settings = ctx.settings
    assert settings.onvif_user is not None and settings.onvif_password is not None
    verdict = await asyncio.to_thread(identify, list(ctx.host_evidence(host)))
    stats = ctx.stat(SOURCE)
    if not may_receive_credentials(host, verdict, settings):
        stats.notes.append(
            f"credentials withheld from {host}: {verdict.confidence.value} {verdict.device_type}"
        )
        return
    stats.notes.append(f"credentials sent to {host} ({xaddr})")
    ctx.emit(
        Evidence(
            host,
            SOURCE,
            "onvif.credentials_sent",
            f"WS-UsernameToken of user {settings.onvif_user!r} to {xaddr}",
            urlsplit(xaddr).port or 80,
        )
    )
    await _call(
        ctx,
        session,
        host,
        xaddr,
        GET_DEVICE_INFORMATION,
        build_request(
            GET_DEVICE_INFORMATION,
            settings.onvif_user,
            settings.onvif_password,
            created=datetime.now(UTC),
        ),
    )


def advertised(evidence: Iterable[Evidence], host: str) -> list[str]:
    """The device services `host` advertised (WS-Discovery XAddrs) that may be asked: http(s)
    URLs on `host` itself, not on an exploit path; at most two per ProbeMatch, each once."""
    out: list[str] = []
    for ev in evidence:
        if ev.key == "wsd.xaddrs":
            usable = [x for x in ev.value.split() if url_on_host(x, host, ("http", "https"))]
            out.extend(x for x in usable[:2] if x not in out)
    return out


async def probe_host(ctx: ScanContext, host: str) -> None:
    """The ONVIF probe: ask each device service `host` advertised for its time and identity.

    A host that advertised none is not contacted. The calls of one host share one deadline.
    """
    import asyncio  # loaded by a scan, not with the parsers

    xaddrs = advertised(ctx.host_evidence(host), host)
    budget = ctx.settings.connect_timeout_s + 2 * ctx.settings.read_timeout_s
    try:
        async with asyncio.timeout(budget):
            for xaddr in xaddrs:
                await query(ctx, host, xaddr)
    except TimeoutError:
        ctx.emit(Evidence(host, SOURCE, "probe.error", f"ONVIF: cut at the {budget:g}s budget"))


__all__ = [
    "DEVICE_INFO_KEYS",
    "MAX_CLOCK_SKEW_S",
    "PASSWORD_ENV",
    "ParseError",
    "SoapReply",
    "advertised",
    "build_request",
    "clock_offset",
    "device_clock",
    "load_password",
    "may_receive_credentials",
    "parse_response",
    "probe_host",
    "query",
    "reply_evidence",
]
