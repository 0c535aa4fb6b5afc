"""Lab mDNS responders: an in-process one answering recorded DNS-SD records, and real avahi."""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from xml.sax.saxutils import escape

from zeroconf._dns import DNSAddress, DNSPointer, DNSQuestion, DNSRecord, DNSService, DNSText
from zeroconf._protocol.incoming import DNSIncoming
from zeroconf._protocol.outgoing import DNSOutgoing
from zeroconf.const import (
    _CLASS_IN,
    _CLASS_IN_UNIQUE,
    _FLAGS_AA,
    _FLAGS_QR_QUERY,
    _FLAGS_QR_RESPONSE,
    _TYPE_A,
    _TYPE_ANY,
    _TYPE_PTR,
    _TYPE_SRV,
    _TYPE_TXT,
)

from camscan_lab.personalities.udp_responder import responder_socket
from camscan_lab.personality import Closer, LabHost

# RFC 6762/6763, stated here rather than taken from camscan.discovery.mdns: a constant wrong
# in both would pass every test.
SERVICES_META = "_services._dns-sd._udp.local."  # RFC 6763 §9
MAX_PACKET = 9000  # RFC 6762 §17
MDNS_GROUP = "224.0.0.251"
MDNS_PORT = 5353
AVAHI_READY_S = 10.0  # avahi probes its names (~1 s) before it answers
# The avahi-daemon the lab runs (a name on PATH or a path); tests point it at a missing one.
AVAHI_ENV = "CAMSCAN_LAB_AVAHI_DAEMON"
# Hikvision cameras' TTLs (128keaton/hikvision-mdns:test/cameras.json): 4500 s for PTR/TXT,
# 120 s for SRV and A.
_TTL_LONG = 4500
_TTL_SHORT = 120


@dataclass(frozen=True, slots=True)
class Instance:
    """One DNS-SD instance a lab device publishes."""

    type: str  # "_CGI._tcp.local."
    name: str  # instance label: "HIKVISION DS-2CD2722FWD-IZS - 733050075"
    hostname: str  # SRV target: "DS-2CD2722FWD-IZS20170321BBWR733050075.local."
    port: int
    txt: tuple[str, ...]  # "key=value" strings
    address: str | None = None  # the A record's address when not the device's own (hostile)

    @property
    def fullname(self) -> str:
        return f"{self.name}.{self.type}"


def _fqdn(name: str) -> str:
    return name if name.endswith(".") else name + "."


def instances(service: Mapping[str, Any]) -> list[Instance]:
    """The `[[service.instance]]` tables of an mdns/avahi service entry."""
    out = []
    for item in service.get("instance", []):
        out.append(
            Instance(
                type=_fqdn(item["type"]),
                name=item["name"],
                hostname=_fqdn(item["hostname"]),
                port=int(item["port"]),
                txt=tuple(item.get("txt", [])),
                address=item.get("address"),
            )
        )
    return out


def _txt_rdata(items: Sequence[str]) -> bytes:
    out = b""
    for item in items:
        raw = item.encode("utf-8")[:255]
        out += bytes([len(raw)]) + raw
    return out or b"\x00"


def answer_records(
    question_name: str, question_type: int, published: Sequence[Instance], ip: str
) -> tuple[list[DNSRecord], list[DNSRecord]]:
    """(answers, additionals) a responder with `published` gives to one question."""
    q = question_name.lower()
    answers: list[DNSRecord] = []
    extra: list[DNSRecord] = []
    packed = socket.inet_aton(ip)

    def srv(i: Instance) -> DNSService:
        return DNSService(
            i.fullname, _TYPE_SRV, _CLASS_IN_UNIQUE, _TTL_SHORT, 0, 0, i.port, i.hostname
        )

    def txt(i: Instance) -> DNSText:
        return DNSText(i.fullname, _TYPE_TXT, _CLASS_IN_UNIQUE, _TTL_LONG, _txt_rdata(i.txt))

    def addr(i: Instance) -> DNSAddress:
        named = socket.inet_aton(i.address) if i.address else packed
        return DNSAddress(i.hostname, _TYPE_A, _CLASS_IN_UNIQUE, _TTL_SHORT, named)

    def wants(t: int) -> bool:
        return question_type in (t, _TYPE_ANY)

    if q == SERVICES_META and wants(_TYPE_PTR):
        for t in sorted({i.type for i in published}):
            answers.append(DNSPointer(SERVICES_META, _TYPE_PTR, _CLASS_IN, _TTL_LONG, t))
    for i in published:
        if q == i.type.lower() and wants(_TYPE_PTR):
            answers.append(DNSPointer(i.type, _TYPE_PTR, _CLASS_IN, _TTL_LONG, i.fullname))
            extra += [txt(i), srv(i), addr(i)]
        if q == i.fullname.lower():
            if wants(_TYPE_SRV):
                answers.append(srv(i))
                extra.append(addr(i))
            if wants(_TYPE_TXT):
                answers.append(txt(i))
        if q == i.hostname.lower() and wants(_TYPE_A):
            answers.append(addr(i))
    return answers, [r for r in extra if r not in answers]


def build_response(
    answers: Sequence[DNSRecord], additionals: Sequence[DNSRecord] = (), msg_id: int = 0
) -> list[bytes]:
    """mDNS response datagrams carrying `answers` and `additionals`."""
    out = DNSOutgoing(_FLAGS_QR_RESPONSE | _FLAGS_AA, True, msg_id)
    for rec in answers:
        out.add_answer_at_time(rec, 0)
    for rec in additionals:
        out.add_additional_answer(rec)
    return out.packets()


class _Responder(asyncio.DatagramProtocol):
    def __init__(self, host: LabHost, published: Sequence[Instance]) -> None:
        self.host = host
        self.published = published
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, ...]) -> None:
        if self.transport is None or len(data) > MAX_PACKET:
            return
        msg = DNSIncoming(data)
        if not msg.valid or not msg.is_query():
            return
        answers: list[DNSRecord] = []
        extra: list[DNSRecord] = []
        for question in msg.questions:
            a, x = answer_records(question.name, question.type, self.published, self.host.ip)
            answers += [r for r in a if r not in answers]
            extra += [r for r in x if r not in extra]
        extra = [r for r in extra if r not in answers]
        if not answers:
            return
        legacy = addr[1] != MDNS_PORT  # RFC 6762 §6.7: answer a one-shot querier directly
        for packet in build_response(answers, extra, msg.id if legacy else 0):
            if legacy:
                self.transport.sendto(packet, (addr[0], addr[1]))
            else:
                self.transport.sendto(packet, (MDNS_GROUP, MDNS_PORT))


def mdns_socket(host: LabHost) -> socket.socket:
    """UDP 5353 in the device's namespace, joined to 224.0.0.251 on its own interface only."""
    return responder_socket(host, MDNS_PORT, MDNS_GROUP, ttl=255)


class _TransportCloser:
    def __init__(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def close(self) -> None:
        self.transport.close()


async def serve(host: LabHost, service: Mapping[str, Any]) -> Closer:
    """Answer DNS-SD queries for the recorded instances of `service` on the device's link."""
    published = instances(service)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Responder(host, published), sock=mdns_socket(host)
    )
    return _TransportCloser(transport)


# --- avahi-daemon: a real third-party responder ------------------------------------------------


def avahi_config(host: LabHost, service: Mapping[str, Any]) -> str:
    """avahi-daemon.conf for one device: its interface only, no D-Bus, IPv4, nothing extra."""
    hostname = str(service.get("host_name", host.name)).removesuffix(".local").rstrip(".")
    return "\n".join(
        [
            "[server]",
            f"host-name={hostname}",
            "domain-name=local",
            "use-ipv4=yes",
            "use-ipv6=no",
            f"allow-interfaces={host.ifname}",
            "enable-dbus=no",
            "ratelimit-interval-usec=1000000",
            "ratelimit-burst=1000",
            "[wide-area]",
            "enable-wide-area=no",
            "[publish]",
            "publish-addresses=yes",
            "publish-hinfo=no",
            "publish-workstation=no",
            "publish-domain=no",
            "[reflector]",
            "enable-reflector=no",
            "[rlimits]",
            "",
        ]
    )


def avahi_service_file(inst: Instance) -> str:
    """A static avahi service file (avahi.service(5)) publishing `inst`."""
    service_type = inst.type.removesuffix(".").removesuffix(".local")
    txt = "".join(f"    <txt-record>{escape(t)}</txt-record>\n" for t in inst.txt)
    return (
        '<?xml version="1.0" standalone="no"?>\n'
        '<!DOCTYPE service-group SYSTEM "avahi-service.dtd">\n'
        "<service-group>\n"
        f"  <name>{escape(inst.name)}</name>\n"
        '  <service protocol="ipv4">\n'
        f"    <type>{escape(service_type)}</type>\n"
        f"    <port>{inst.port}</port>\n"
        f"{txt}"
        "  </service>\n"
        "</service-group>\n"
    )


def avahi_daemon() -> str | None:
    """The avahi-daemon executable the lab would run, or None when it is not installed."""
    return shutil.which(os.environ.get(AVAHI_ENV) or "avahi-daemon")


def avahi_argv(workdir: Path, daemon: str = "avahi-daemon") -> list[str]:
    """A private mount namespace with its own /run and services dir, then avahi in foreground."""
    script = (
        "set -e; mount --make-rprivate / ; mount -t tmpfs tmpfs /run; "
        "mkdir -p /run/avahi-daemon; "
        f"mount --bind {workdir}/services /etc/avahi/services; "
        f"exec {shlex.quote(daemon)} -f {workdir}/avahi-daemon.conf --no-drop-root --no-chroot "
        "--no-proc-title --no-rlimits"
    )
    return ["unshare", "-m", "sh", "-c", script]


class _AvahiCloser:
    def __init__(self, pid: int, workdir: Path) -> None:
        self.pid = pid
        self.workdir = workdir

    def close(self) -> None:
        try:
            os.kill(self.pid, signal.SIGTERM)
            for _ in range(20):  # let avahi withdraw its records before its files go
                time.sleep(0.05)
                os.kill(self.pid, 0)
        except ProcessLookupError:
            pass
        shutil.rmtree(self.workdir, ignore_errors=True)


async def serve_avahi(host: LabHost, service: Mapping[str, Any]) -> Closer:
    """Start a real avahi-daemon inside the device's namespace publishing the recorded instances.

    Without avahi-daemon (the demo must not need a system daemon) the lab's own responder
    publishes the same instances, and the user is told.
    """
    daemon = avahi_daemon()
    if daemon is None:
        host.tell(
            "avahi-daemon is not installed: the lab's own mDNS responder publishes "
            "this device's services instead"
        )
        return await serve(host, service)
    workdir = Path(tempfile.mkdtemp(prefix=f"camscan-avahi-{host.name}-"))
    (workdir / "services").mkdir()
    (workdir / "avahi-daemon.conf").write_text(avahi_config(host, service))
    for n, inst in enumerate(instances(service)):
        (workdir / "services" / f"camscan-{n}.service").write_text(avahi_service_file(inst))
    published = instances(service)
    pid = host.spawn(avahi_argv(workdir, daemon))
    closer = _AvahiCloser(pid, workdir)
    if published and not await _answers(host, published[0].fullname, AVAHI_READY_S):
        closer.close()
        raise RuntimeError(
            f"avahi-daemon did not answer for {published[0].fullname} within {AVAHI_READY_S} s"
        )
    return closer


async def _answers(host: LabHost, fullname: str, timeout: float) -> bool:
    """True once a responder on the device's own link answers an SRV query for `fullname`."""
    query = DNSOutgoing(_FLAGS_QR_QUERY, True)
    query.add_question(DNSQuestion(fullname, _TYPE_SRV, _CLASS_IN))
    (packet,) = query.packets()
    sock = host.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(host.ip))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)  # avahi is on this host
    sock.bind((host.ip, 0))
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while loop.time() < deadline:
            # RFC 6762 §6.7: a query from a port other than 5353 gets a unicast answer.
            await loop.sock_sendto(sock, packet, (MDNS_GROUP, MDNS_PORT))
            try:
                data = await asyncio.wait_for(loop.sock_recv(sock, MAX_PACKET), 0.25)
            except TimeoutError:
                continue
            msg = DNSIncoming(data)
            if msg.valid and any(r.name.lower() == fullname.lower() for r in msg.answers()):
                return True
        return False
    finally:
        sock.close()
