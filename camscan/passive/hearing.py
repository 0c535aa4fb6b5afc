"""What a passive listener hears: frames in, evidence per host out, MACs attributed carefully.

Frames are filtered on cheap fields first (ethertype, IP protocol, UDP ports, the first bytes
of a TCP payload), so a capture of mostly irrelevant traffic costs a few comparisons a packet.
Each protocol is read by the same parser the active scan uses where the protocol is the same.

Evidence is credited to the sender's IP address. A frame's source MAC is the sender's only
when the sender is on the segment: a reply routed from a remote address carries the router's
MAC, so a MAC is attributed from frames only when that MAC is heard from this one address,
ARP does not bind it to another, the TTL is not a forwarded one and no payload MAC (SADP, DHIP)
disagrees. Devices behind a router are named by the MAC inside their SADP/DHIP payload.

IPv6 (mDNS on ff02::fb, SSDP and WS-Discovery on ff02::c, TCP replies) is read the same way,
after its extension headers. A device has several IPv6 addresses besides its IPv4 one, all
with one MAC, so the one-address rule cannot hold there: an IPv6 sender is credited with its
frames' MAC when the address is link-local (routers never forward those), or when the hop
limit is not a forwarded one and that MAC never carried a forwarded packet (a router's does).
"""

from __future__ import annotations

import dataclasses
import hashlib
import socket
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable

from camscan.discovery import dhip, dhip_legacy, sadp, ssdp, wsd
from camscan.discovery.datagram import Datagram
from camscan.models import Device, Evidence, MethodStats, excerpt
from camscan.oui import normalize_mac
from camscan.passive import cdp, dhcp, lldp, snmp, streams, wsdhello
from camscan.passive.capfile import Prefilter
from camscan.passive.exchanges import reply_evidence
from camscan.passive.fragments import Fragments
from camscan.probes import vendorports

MAX_HOSTS = 65536  # distinct addresses kept; a flood of spoofed senders is counted, not kept
MAX_EVIDENCE_PER_HOST = 512
# Raw replies are up to 128 KiB each: a host keeps this many, so a web UI browsed for an hour
# cannot fill memory with page after page of one camera.
MAX_RAW_PER_HOST = 16
RAW_KEYS = frozenset(
    {
        "http.response",
        "rtsp.response",
        "upnp.description",
        "wsd.probe_match",
        "sadp.reply",
        "dhip.reply",
    }
)
MAX_OPEN_PORTS = 64  # tcp.open.<port> items per host
MAX_REPEATS = 65536  # keys of datagrams already read (then forgotten all at once)
MAX_REPEAT_BYTES = 32 << 20  # their total size: a datagram's key holds the datagram
MAX_REPLY_PORTS = 256  # ephemeral ports of discovery queries whose replies are read
GREETING_PORTS = frozenset({8000})  # services that speak first (vendorports: Hikvision SDK)
# Capture seconds after which a reply still being rebuilt is read as far as it goes: it lost
# a segment the capture missed (retransmissions come within seconds), and while any reply is
# open every TCP segment of the capture is decoded (Prefilter.tcp_all).
STREAM_IDLE = 10.0
INITIAL_TTLS = frozenset({255, 128, 64, 32})  # a sender's own TTL, not yet decremented by a hop

LINK_NULL = 0  # BSD loopback: a 4-byte address family in the capturing host's byte order
LINK_ETHERNET = 1
LINK_RAW = 101
LINK_LOOP = 108  # OpenBSD loopback: the same family word, network byte order
LINK_SLL = 113
LINK_IPV4 = 228
LINK_IPV6 = 229
LINK_SLL2 = 276
AF_INET6_VALUES = frozenset({10, 24, 28, 30})  # Linux, NetBSD/OpenBSD, FreeBSD, macOS

ETH_IPV4 = 0x0800
ETH_ARP = 0x0806
ETH_IPV6 = 0x86DD
ETH_VLAN = frozenset({0x8100, 0x88A8, 0x9100})
# Ethertypes feed reads besides untagged IPv4 (802.3 lengths are LLC frames: CDP).
LINK_TYPES_READ = frozenset({ETH_IPV4, ETH_ARP, ETH_IPV6, 0x88CC, *ETH_VLAN, *range(0x0600)})
# IPv6 extension headers skipped to reach UDP/TCP: hop-by-hop, routing, destination options
# (length in 8-octet units after the first 8); fragments and AH are read apart.
IPV6_OPTION_HEADERS = frozenset({0, 43, 60})
IPV6_FRAGMENT = 44
IPV6_AH = 51
MAX_IPV6_HEADERS = 8  # a longer chain is no device's traffic: dropped, not walked

UDP_PORTS = frozenset({67, 161, 162, 1900, 3702, 5050, 5353, 37020, 37810})
# First bytes of a TCP payload worth a closer look: a request line (GET, POST, HEAD, PUT,
# OPTIONS, DESCRIBE, SETUP, PLAY), an HTTP/RTSP status line, a TLS handshake record.
TCP_FIRST_BYTES = frozenset(b"GPHODSMR\x16")
PAYLOAD_MAC_KEYS = ("sadp.mac", "dhip.mac")
AMBIGUOUS = b""  # an address heard with several source MACs
PROTOCOLS = (
    "arp",
    "dhcp",
    "mdns",
    "ssdp",
    "wsd",
    "sadp",
    "dhip",
    "dhip_legacy",
    "snmp",
    "http",
    "rtsp",
    "tls",
    "tcp",
    "lldp",
    "cdp",
)


def _mac_text(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


def _address(raw: bytes) -> str:
    """An IPv4 (4 bytes) or IPv6 (16 bytes) address as text."""
    if len(raw) == 4:
        return socket.inet_ntoa(raw)
    return socket.inet_ntop(socket.AF_INET6, raw)


class Hearing:
    """Feed it frames; it keeps evidence per host and builds devices when asked."""

    def __init__(self, on_evidence: Callable[[Evidence], None] | None = None) -> None:
        self.on_evidence = on_evidence
        self.by_host: dict[str, list[Evidence]] = {}
        self._seen: set[Evidence] = set()
        self.first_seen: dict[str, float] = {}
        self._raw_count: dict[str, int] = {}
        # Key of a frame read -> its protocol ("" when no reader counted it): see _repeated.
        self._repeats: dict[bytes, str] = {}
        self._repeat_bytes = 0
        self.t0: float | None = None
        self.now = 0.0
        self.packets: Counter[str] = Counter()  # packets per protocol that reached a reader
        self.stats: dict[str, MethodStats] = {}
        self.frames = 0
        self.hosts_dropped = 0
        self.ip_mac: dict[str, bytes] = {}  # address -> its frames' source MAC (or AMBIGUOUS)
        self.mac_ips: dict[bytes, set[str]] = {}  # source MAC -> addresses heard from it
        self.routed: set[str] = set()  # addresses heard with a forwarded TTL
        self.ip6_mac: dict[str, bytes] = {}  # IPv6 address -> its frames' source MAC (or AMBIGUOUS)
        self.routed_macs: set[bytes] = set()  # source MACs of packets with a forwarded TTL
        self.arp_ip_mac: dict[str, str] = {}
        self.arp_mac_ips: dict[str, set[str]] = {}
        self.mac_labels: dict[str, str] = {}  # MAC label -> address it was seen at (DHCP, LLDP)
        self.open_ports: dict[str, int] = {}
        self.tcp = streams.StreamTable()
        self._swept = 0.0  # capture time the open replies were last checked for silence
        self.prefilter = Prefilter(set(UDP_PORTS), TCP_FIRST_BYTES, LINK_TYPES_READ, GREETING_PORTS)
        self.prefilter.repeats, self.prefilter.counts = self._repeats, self.packets
        self._reply_ports: OrderedDict[int, None] = OrderedDict()  # asker ports, oldest first
        self._fragments = Fragments()
        self._greeted: set[str] = set()  # hosts whose SDK-port greeting is kept
        self._udp: dict[int, Callable[[str, int, int, bytes, bytes | None], None]] = {
            5353: self._mdns,
            1900: self._ssdp,
            3702: self._wsd,
            37020: self._sadp,
            37810: self._dhip,
            5050: self._dhip_legacy,
            161: self._snmp,
            162: self._snmp,
            67: self._dhcp,
        }

    # -- bookkeeping ----------------------------------------------------------------------
    def stat(self, name: str) -> MethodStats:
        """The figures of one protocol."""
        s = self.stats.get(name)
        if s is None:
            s = self.stats[name] = MethodStats(name)
        return s

    def emit(self, ev: Evidence) -> None:
        """Keep one evidence item (each distinct item once, bounded per host)."""
        if ev in self._seen:
            return
        items = self.by_host.get(ev.host)
        if items is None:
            if len(self.by_host) >= MAX_HOSTS:
                self.hosts_dropped += 1
                return
            items = self.by_host[ev.host] = []
            self.first_seen[ev.host] = round(self.now - (self.t0 or self.now), 3)
        elif len(items) >= MAX_EVIDENCE_PER_HOST:
            return
        if ev.key in RAW_KEYS or ev.key.startswith("http.path."):
            raw = self._raw_count.get(ev.host, 0)
            if raw >= MAX_RAW_PER_HOST:
                return
            self._raw_count[ev.host] = raw + 1
        self._seen.add(ev)
        items.append(ev)
        if self.on_evidence is not None:
            self.on_evidence(ev)

    def _emit_all(self, name: str, items: Iterable[Evidence]) -> None:
        n = 0
        for ev in items:
            self.emit(ev)
            n += 1
        if n:
            self.stat(name).answered += 1

    def _asked(self, sport: int, dport: int) -> None:
        """A discovery query went out from `sport`: its replies may come back from any port.

        Some responders (the WSDiscovery library among them) answer a Probe from an ephemeral
        port, so a reply is known by the port it is sent to, not only by the one it comes from.
        """
        if sport == dport or sport in UDP_PORTS or sport in self._reply_ports:
            return
        if len(self._reply_ports) >= MAX_REPLY_PORTS:
            old, _ = self._reply_ports.popitem(last=False)
            self._udp.pop(old, None)
            self.prefilter.discard_udp_port(old)
        self._reply_ports[sport] = None
        self._udp[sport] = self._udp[dport]
        self.prefilter.add_udp_port(sport)
        # A repeat is counted under the protocol its port named when it was first read, by
        # the C walk without asking this table again: the ports' meaning changed, so start over.
        self._forget_repeats()

    def _bad(self, name: str) -> None:
        self.stat(name).dropped += 1

    def _heard(self, ip: str, mac: bytes | None, ttl: int, multicast: bool) -> None:
        """Note the source MAC and TTL of a packet from `ip` that carried something we read."""
        if mac is None or ip == "0.0.0.0":  # a DHCP client without an address yet
            return
        if ttl not in INITIAL_TTLS and not multicast:
            self.routed.add(ip)
            self.routed_macs.add(mac)
        if ":" in ip:  # IPv6: several addresses per MAC are the rule (see the module doc)
            self._remember(self.ip6_mac, ip, mac)
            return
        self._remember(self.ip_mac, ip, mac)
        ips = self.mac_ips.setdefault(mac, set())
        if len(ips) < 4:
            ips.add(ip)

    @staticmethod
    def _remember(table: dict[str, bytes], ip: str, mac: bytes) -> None:
        known = table.get(ip)
        if known is None:
            if len(table) < MAX_HOSTS:
                table[ip] = mac
        elif known != mac and known != AMBIGUOUS:
            table[ip] = AMBIGUOUS

    # -- frames ---------------------------------------------------------------------------
    def feed(self, ts: float, linktype: int, frame: bytes, judged: bool = False) -> None:
        """One captured frame (`judged`: the reader's prefilter already wanted it)."""
        self.frames += 1
        self.now = ts
        if self.t0 is None:
            self.t0 = ts
        if linktype == LINK_ETHERNET:
            # The fast path: untagged Ethernet + IPv4 + UDP/TCP, a few comparisons and out.
            if len(frame) < 34:
                if len(frame) >= 14:
                    self._link(frame, 14, (frame[12] << 8) | frame[13], frame[6:12])
                return
            if frame[12] != 8 or frame[13] != 0:
                self._link(frame, 14, (frame[12] << 8) | frame[13], frame[6:12])
                return
            # The same judgement as Prefilter.wants, for frames that did not pass through it.
            if judged or self.prefilter.wants(frame, 0, len(frame)):
                self._ipv4(frame, 14, frame[6:12])
            return
        mac: bytes | None = None
        if linktype == LINK_SLL:
            if len(frame) < 16:
                return
            etype, off = (frame[14] << 8) | frame[15], 16
            if frame[4:6] == b"\x00\x06":
                mac = frame[6:12]
        elif linktype == LINK_SLL2:
            if len(frame) < 20:
                return
            etype, off = (frame[0] << 8) | frame[1], 20
            if frame[11] == 6:
                mac = frame[12:18]
        elif linktype in (LINK_RAW, LINK_IPV4, LINK_IPV6):
            if not frame:
                return
            version = frame[0] >> 4
            etype, off = (ETH_IPV4 if version == 4 else ETH_IPV6 if version == 6 else 0), 0
        elif linktype in (LINK_NULL, LINK_LOOP):
            if len(frame) < 4:
                return
            family = frame[0] | frame[3]  # the family's one non-zero byte, either byte order
            etype = ETH_IPV4 if family == 2 else ETH_IPV6 if family in AF_INET6_VALUES else 0
            off = 4
        else:
            return
        self._link(frame, off, etype, mac)

    def _link(self, frame: bytes, off: int, etype: int, mac: bytes | None) -> None:
        """Everything but the untagged-Ethernet fast path: VLAN tags, ARP, LLDP, CDP."""
        while etype in ETH_VLAN and len(frame) >= off + 4:
            etype = (frame[off + 2] << 8) | frame[off + 3]
            off += 4
        if etype == ETH_IPV4:
            self._ipv4(frame, off, mac)
        elif etype == ETH_IPV6:
            self._ipv6(frame, off, mac)
        elif etype == ETH_ARP:
            self._arp(frame[off : off + 28], mac)
        elif etype == lldp.ETHERTYPE:
            self._lldp(frame[off:], mac)
        elif etype < 0x0600 and mac is not None and frame[off : off + 8] == cdp.SNAP:
            self._cdp(frame[off + 8 :], mac)  # an 802.3 length, then LLC/SNAP

    def _ipv4(self, frame: bytes, off: int, mac: bytes | None) -> None:
        if len(frame) < off + 20:
            return
        ihl = (frame[off] & 0x0F) * 4
        proto = frame[off + 9]
        if proto != 17 and proto != 6:
            return
        if frame[off + 6] & 0x3F or frame[off + 7]:  # a fragment (MF set, or an offset)
            if proto == 17 and (whole := self._fragments.add(frame, off)) is not None:
                self._ipv4(whole, 0, mac)
            return
        end = min(len(frame), off + ((frame[off + 2] << 8) | frame[off + 3]))
        l4 = off + ihl
        if end < l4 + 8:
            return
        sport = (frame[l4] << 8) | frame[l4 + 1]
        dport = (frame[l4 + 2] << 8) | frame[l4 + 3]
        if proto == 17:
            ports = self.prefilter.udp_ports  # the well-known ones and the askers'
            if sport in ports or dport in ports:
                self._udp_packet(frame, off + 8, off + 12, 4, l4, end, sport, dport, mac)
            return
        if end < l4 + 20:
            return
        doff = (frame[l4 + 12] >> 4) * 4
        flags = frame[l4 + 13]
        payload = frame[l4 + doff : end]
        if not payload and not flags & 0x07:  # nothing said, nothing opened or closed
            return
        self._tcp_segment(frame, off + 8, off + 12, 4, l4, sport, dport, flags, payload, mac)

    def _ipv6(self, frame: bytes, off: int, mac: bytes | None) -> None:
        """IPv6: past a bounded chain of extension headers to UDP or TCP, read as over IPv4."""
        if len(frame) < off + 48 or frame[off] >> 4 != 6:
            return
        end = min(len(frame), off + 40 + ((frame[off + 4] << 8) | frame[off + 5]))
        proto, l4 = frame[off + 6], off + 40
        for _ in range(MAX_IPV6_HEADERS):
            if proto == 17 or proto == 6:
                break
            if end < l4 + 8:
                return
            if proto in IPV6_OPTION_HEADERS:
                proto, l4 = frame[l4], l4 + 8 + frame[l4 + 1] * 8
            elif proto == IPV6_FRAGMENT:  # an atomic fragment (offset 0, no more) is read in place
                if frame[l4 + 2] or frame[l4 + 3] & 0xF9:
                    self._ipv6_fragment(frame, off, l4, end, mac)
                    return
                proto, l4 = frame[l4], l4 + 8
            elif proto == IPV6_AH:  # RFC 4302: length in 4-octet units, minus 2
                proto, l4 = frame[l4], l4 + (frame[l4 + 1] + 2) * 4
            else:
                return  # ICMPv6, ESP, no next header: nothing a reader takes
        else:
            return
        if end < l4 + 8:
            return
        sport = (frame[l4] << 8) | frame[l4 + 1]
        dport = (frame[l4 + 2] << 8) | frame[l4 + 3]
        # The hop limit is at off + 7; the source address at off + 8, the destination after it.
        if proto == 17:
            ports = self.prefilter.udp_ports
            if sport in ports or dport in ports:
                self._udp_packet(frame, off + 7, off + 8, 16, l4, end, sport, dport, mac)
            return
        if end < l4 + 20:
            return
        doff = (frame[l4 + 12] >> 4) * 4
        flags = frame[l4 + 13]
        payload = frame[l4 + doff : end]
        pf = self.prefilter  # Prefilter.wants' judgement, for IPv6 that did not pass through it
        if not (
            flags & 0x12 == 0x12
            or pf.tcp_all
            or sport in pf.tcp_ports
            or (payload and payload[0] in pf.tcp_first_bytes)
        ):
            return
        self._tcp_segment(frame, off + 7, off + 8, 16, l4, sport, dport, flags, payload, mac)

    def _ipv6_fragment(self, frame: bytes, off: int, fh: int, end: int, mac: bytes | None) -> None:
        """Hold a fragment of a UDP datagram a reader may take; read the datagram once whole."""
        got = self._fragments.add6(frame, off, fh, end, mac, self.prefilter.udp_ports)
        if got is not None:
            self._ipv6(got[0], 0, got[1])

    def _udp_packet(
        self,
        frame: bytes,
        t: int,
        a: int,
        n: int,
        l4: int,
        end: int,
        sport: int,
        dport: int,
        mac: bytes | None,
    ) -> None:
        """A datagram: TTL/hop limit at `t`, the `n`-byte source address at `a`, then the dest."""
        handler = self._udp.get(sport) or self._udp.get(dport)
        if handler is None:
            return
        # Devices repeat themselves (a NOTIFY every 30 s, a reply to every search): a datagram
        # already read from the same sender, MAC and TTL says nothing new and is only counted.
        # Judged before anything else is taken out of the frame: most datagrams are repeats.
        # The key is built byte for byte as _recwalk.c's repeat_key builds it.
        key = b"u" + frame[t : t + 1] + frame[a : a + n] + (mac or b"") + frame[l4:end]
        if self._repeated(key):
            return
        payload = frame[l4 + 8 : end]
        src = _address(frame[a : a + n])
        multicast = frame[a + n] >= (224 if n == 4 else 0xFF)
        name = handler.__name__[1:]
        counted, before = self.packets[name], len(self._seen)
        handler(src, sport, dport, payload, mac)
        self._remember_read(key, name if self.packets[name] != counted else "")
        if len(self._seen) != before:
            self._heard(src, mac, frame[t], multicast)

    def _repeated(self, key: bytes) -> bool:
        """True (and counted) when the frame with this key was read before."""
        name = self._repeats.get(key)
        if name is None:
            return False
        if name:
            self.packets[name] += 1
        return True

    def _remember_read(self, key: bytes, name: str) -> None:
        """Note a frame read (`name`: the protocol its repeats count under, or "")."""
        if len(self._repeats) >= MAX_REPEATS or self._repeat_bytes >= MAX_REPEAT_BYTES:
            self._forget_repeats()
        self._repeats[key] = name
        self._repeat_bytes += len(key)

    def _forget_repeats(self) -> None:
        self._repeats.clear()  # in place: the prefilter hands the same table to the C walk
        self._repeat_bytes = 0

    def _tcp_segment(
        self,
        frame: bytes,
        t: int,
        a: int,
        n: int,
        l4: int,
        sport: int,
        dport: int,
        flags: int,
        payload: bytes,
        mac: bytes | None,
    ) -> None:
        if self.tcp.streams and abs(self.now - self._swept) >= 1.0:
            self._expire_streams()
        if flags & 0x12 == 0x12:  # SYN-ACK: the sender's port is open
            src = _address(frame[a : a + n])
            n = self.open_ports.get(src, 0)
            if n < MAX_OPEN_PORTS:
                before = len(self._seen)
                self.emit(Evidence(src, "tcp", f"tcp.open.{sport}", "open", sport))
                if len(self._seen) != before:
                    self.open_ports[src] = n + 1
                    self.packets["tcp"] += 1
                    self._heard(src, mac, frame[t], False)
            return
        # Flow keys are raw bytes (source, destination address; source, destination port):
        # no address is turned into text for a segment that turns out to be of no interest.
        if payload[:1].isalpha() and (req := streams.parse_request(payload)) is not None:
            server_key = (
                frame[a + n : a + 2 * n]
                + frame[a : a + n]
                + frame[l4 + 2 : l4 + 4]
                + frame[l4 : l4 + 2]
            )
            self.tcp.request(server_key, req)
            return
        key = frame[a : a + 2 * n] + frame[l4 : l4 + 4]
        kind = None
        if key not in self.tcp.streams:
            kind = streams.reply_kind(payload) if payload else None
            if kind is None:
                if sport in GREETING_PORTS and payload:
                    self._greeting(frame, t, a, n, sport, payload, mac)
                return
        seq = int.from_bytes(frame[l4 + 4 : l4 + 8], "big")
        fin = bool(flags & 0x05)
        for reply in self.tcp.feed(key, seq, payload, fin, mac, frame[t], kind, self.now):
            self._reply(reply)
        self.prefilter.tcp_all = bool(self.tcp.streams)

    def _greeting(
        self, frame: bytes, t: int, a: int, n: int, sport: int, payload: bytes, mac: bytes | None
    ) -> None:
        """What a service that speaks first sent (once per host), read as the probe reads it."""
        src = _address(frame[a : a + n])
        if src in self._greeted or len(payload) > vendorports.MAX_GREETING:
            return
        self._greeted.add(src)
        self.packets["tcp"] += 1
        self._emit_all("tcp", vendorports.port_evidence(src, sport, payload))
        self._heard(src, mac, frame[t], False)

    def _reply(self, reply: streams.Reply) -> None:
        n = (len(reply.key) - 4) // 2  # address length: 4 (IPv4) or 16 (IPv6)
        name = reply.kind
        request = reply.request
        digest = (
            b"t"
            + hashlib.blake2b(
                b"%b%b%d%b%s\0%b"
                % (
                    reply.key[0:n],
                    reply.key[2 * n : 2 * n + 2],
                    reply.ttl,
                    reply.mac or b"",
                    (request.method + " " + request.path).encode("utf-8", "replace")
                    if request
                    else b"-",
                    reply.data,
                ),
                digest_size=16,
            ).digest()
        )
        if self._repeated(digest):
            return
        self._remember_read(digest, name)
        self.packets[name] += 1
        ip, port = _address(reply.key[0:n]), int.from_bytes(reply.key[2 * n : 2 * n + 2], "big")
        items = reply_evidence(ip, port, reply)
        if items is None:
            self._bad(name)
            return
        before = len(self._seen)
        self._emit_all(name, items)
        if len(self._seen) != before:
            self._heard(ip, reply.mac, reply.ttl, False)

    # -- link-layer protocols -------------------------------------------------------------
    def _arp(self, arp: bytes, mac: bytes | None) -> None:
        if len(arp) < 28 or arp[0:6] != b"\x00\x01\x08\x00\x06\x04":
            return
        key = b"a" + arp[6:18]  # opcode, sender MAC and address: all that is read
        if self._repeated(key):
            return
        self._remember_read(key, "arp")
        self.packets["arp"] += 1
        sender_mac, sender_ip = arp[8:14], arp[14:18]
        if sender_ip == b"\0\0\0\0" or sender_mac[0] & 1 or not any(sender_mac):
            return  # an ARP probe (RFC 5227) claims no address yet; a group MAC is no host's
        ip = socket.inet_ntoa(sender_ip)
        text = _mac_text(sender_mac)
        if ip not in self.arp_ip_mac:
            self.arp_ip_mac[ip] = text
        self.arp_mac_ips.setdefault(text, set()).add(ip)
        self.emit(Evidence(ip, "arp", "mac", text, raw=arp.hex()))
        self.stat("arp").answered += 1

    def _lldp(self, data: bytes, mac: bytes | None) -> None:
        self.packets["lldp"] += 1
        try:
            info = lldp.parse_lldpdu(data)
        except lldp.ParseError:
            self._bad("lldp")
            return
        host = info.management_ipv4 or info.chassis_mac or (_mac_text(mac) if mac else None)
        if host is None:
            return
        if info.chassis_mac and info.management_ipv4:
            self.mac_labels[info.chassis_mac] = info.management_ipv4
        self._emit_all("lldp", lldp.evidence_of(info, host))

    def _cdp(self, data: bytes, mac: bytes | None) -> None:
        self.packets["cdp"] += 1
        try:
            info = cdp.parse_cdp(data)
        except cdp.ParseError:
            self._bad("cdp")
            return
        host = info.ipv4 or (_mac_text(mac) if mac else None)
        if host is None:
            return
        items = cdp.evidence_of(info, host)
        if mac is not None:  # a link-layer frame is never forwarded: its source is the sender
            items.append(Evidence(host, "cdp", "mac", _mac_text(mac)))
        self._emit_all("cdp", items)

    # -- UDP protocols --------------------------------------------------------------------
    def _mdns(self, src: str, sport: int, dport: int, data: bytes, mac: bytes | None) -> None:
        self.packets["mdns"] += 1
        if len(data) < 12 or not data[2] & 0x80:
            return  # a query
        # python-zeroconf's parser (~30 ms to import) loads with the first mDNS answer heard.
        from camscan.discovery import mdns

        try:
            services = mdns.services_from_packet(data)
        except mdns.ParseError:
            self._bad("mdns")
            return
        self._emit_all("mdns", (ev for svc in services for ev in mdns.evidence(svc, src)))

    def _ssdp(self, src: str, sport: int, dport: int, data: bytes, mac: bytes | None) -> None:
        self.packets["ssdp"] += 1
        try:
            msg = ssdp.parse_ssdp(data)
        except ssdp.ParseError:
            self._bad("ssdp")
            return
        if msg.kind == "search":
            self._asked(sport, dport)
        else:
            self._emit_all("ssdp", ssdp.message_evidence(src, msg))

    def _wsd(self, src: str, sport: int, dport: int, data: bytes, mac: bytes | None) -> None:
        self.packets["wsd"] += 1
        if b"ProbeMatches" in data:
            try:
                message = wsd.parse_probe_matches(data)
            except wsd.ParseError:
                self._bad("wsd")
                return
            raw = Evidence(
                src,
                wsd.SOURCE,
                "wsd.probe_match",
                data.decode("utf-8", "replace"),
                wsd.PORT,
                excerpt(data),
            )
            self._emit_all(
                "wsd", [raw, *(ev for m in message.matches for ev in wsd.match_evidence(m, src))]
            )
            return
        if b"Probe" in data and dport == wsd.PORT:
            self._asked(sport, dport)
        try:
            match = wsdhello.parse_announcement(data)
        except wsdhello.ParseError:
            return  # something else we do not read
        if match is not None:
            self._emit_all("wsd", wsd.match_evidence(match, src))

    def _sadp(self, src: str, sport: int, dport: int, data: bytes, mac: bytes | None) -> None:
        self.packets["sadp"] += 1
        if sadp._is_inquiry(data):
            self._asked(sport, dport)
            return
        try:
            items = sadp.reply_evidence(Datagram(src, sport, data))
        except sadp.ParseError:
            self._bad("sadp")
            return
        self._emit_all("sadp", items)

    def _dhip(self, src: str, sport: int, dport: int, data: bytes, mac: bytes | None) -> None:
        self.packets["dhip"] += 1
        if b"DHDiscover.search" in data[:160]:
            self._asked(sport, dport)
            return
        try:
            items = dhip.reply_evidence(Datagram(src, sport, data))
        except dhip.ParseError:
            self._bad("dhip")
            return
        self._emit_all("dhip", items)

    def _dhip_legacy(
        self, src: str, sport: int, dport: int, data: bytes, mac: bytes | None
    ) -> None:
        self.packets["dhip_legacy"] += 1
        if data[:2] == dhip_legacy.REQUEST[:2]:
            self._asked(sport, dport)
            return
        try:
            items = dhip_legacy.read(Datagram(src, sport, data))
        except dhip_legacy.ParseError:
            self._bad("dhip_legacy")
            return
        self._emit_all("dhip_legacy", items)

    def _snmp(self, src: str, sport: int, dport: int, data: bytes, mac: bytes | None) -> None:
        if sport not in (161, 162) and dport != 162:
            return
        self.packets["snmp"] += 1
        try:
            msg = snmp.parse_message(data)
        except snmp.ParseError:
            return  # requests, SNMPv3, or damage: nothing a device said about itself
        self._emit_all("snmp", snmp.evidence_of(msg, src))

    def _dhcp(self, src: str, sport: int, dport: int, data: bytes, mac: bytes | None) -> None:
        if dport != 67:
            return  # server replies describe the server's offer, not the client
        self.packets["dhcp"] += 1
        try:
            req = dhcp.parse_request(data)
        except dhcp.ParseError:
            self._bad("dhcp")
            return
        host = dhcp.client_address(req, src)
        if host is not None:
            self.mac_labels[req.mac] = host
        self._emit_all("dhcp", dhcp.evidence_of(req, host or req.mac))

    # -- the end --------------------------------------------------------------------------
    def _expire_streams(self) -> None:
        self._swept = self.now
        for reply in self.tcp.expire(self.now, STREAM_IDLE):
            self._reply(reply)
        self.prefilter.tcp_all = bool(self.tcp.streams)

    def finish(self) -> None:
        """Replies still open at the end of the capture are read as far as they go."""
        for reply in self.tcp.flush():
            self._reply(reply)
        self.prefilter.tcp_all = False

    @property
    def fragments_unread(self) -> int:
        """UDP datagrams that came in fragments and were not read whole."""
        return self._fragments.unread

    def frame_mac(self, ip: str, evidence: list[Evidence]) -> str | None:
        """The source MAC of `ip`'s frames, when it can only be `ip`'s own (see module doc)."""
        if ":" in ip:
            return self._frame_mac6(ip, evidence)
        if ip in self.arp_ip_mac:
            return None  # ARP said it already
        mac = self.ip_mac.get(ip)
        if not mac or ip in self.routed or len(self.mac_ips.get(mac, ())) != 1:
            return None
        text = _mac_text(mac)
        if any(other != ip for other in self.arp_mac_ips.get(text, ())):
            return None  # ARP binds this MAC to another address: a router's
        return None if _payload_mac_disagrees(text, evidence) else text

    def _frame_mac6(self, ip: str, evidence: list[Evidence]) -> str | None:
        """An IPv6 sender's frame MAC: link-local, or never a forwarded packet's (module doc)."""
        mac = self.ip6_mac.get(ip)
        if not mac or ip in self.routed:
            return None
        if not ip.lower().startswith(("fe8", "fe9", "fea", "feb")) and mac in self.routed_macs:
            return None  # fe80::/10 is never forwarded; any other address may come via a router
        text = _mac_text(mac)
        return None if _payload_mac_disagrees(text, evidence) else text

    def host_evidence(self) -> dict[str, list[Evidence]]:
        """Evidence per host, MAC-labelled items moved to their address, frame MACs added."""
        merged: dict[str, list[Evidence]] = {}
        # A MAC heard from exactly one address, never through a router, names that address.
        frame_owner = {
            _mac_text(mac): ip
            for ip, mac in self.ip_mac.items()
            if mac and len(self.mac_ips.get(mac, ())) == 1 and ip not in self.routed
        }
        for host, items in self.by_host.items():
            target = self._address_of_label(host, frame_owner)
            if target != host:
                items = [dataclasses.replace(ev, host=target) for ev in items]
            merged.setdefault(target, []).extend(items)
        for host, items in merged.items():
            if (mac := self.frame_mac(host, items)) is not None:
                items.append(
                    Evidence(
                        host, "frame", "mac", mac, raw=f"source MAC of the frames heard from {host}"
                    )
                )
        return merged

    def _address_of_label(self, host: str, frame_owner: dict[str, str]) -> str:
        if normalize_mac(host) != host:
            return host  # an address, not a MAC label
        if host in self.mac_labels:
            return self.mac_labels[host]
        ips = self.arp_mac_ips.get(host)
        if ips and len(ips) == 1:
            return next(iter(ips))
        return frame_owner.get(host, host)

    def device(self, host: str) -> Device:
        """One host as known now (a live capture's interim view; `devices` is the final one)."""
        from camscan.devices import build_device

        items = list(self.by_host.get(host, []))
        if (mac := self.frame_mac(host, items)) is not None:
            items.append(
                Evidence(
                    host, "frame", "mac", mac, raw=f"source MAC of the frames heard from {host}"
                )
            )
        return build_device(host, items, outside_scope=False, first_seen=self.first_seen.get(host))

    def devices(self) -> list[Device]:
        """Every host heard, identified."""
        from camscan.devices import build_device

        return [
            build_device(host, items, outside_scope=False, first_seen=self.first_seen.get(host))
            for host, items in self.host_evidence().items()
        ]


def _payload_mac_disagrees(mac: str, evidence: list[Evidence]) -> bool:
    """True when a SADP/DHIP payload names another MAC than the frames' (a router's, then)."""
    return any(
        ev.key in PAYLOAD_MAC_KEYS and normalize_mac(ev.value) not in (None, mac) for ev in evidence
    )


__all__ = ["PROTOCOLS", "UDP_PORTS", "Hearing"]
