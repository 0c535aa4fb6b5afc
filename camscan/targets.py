"""Scan targets: CIDRs, ranges, addresses, exclusions, the size guard, the local interface."""

from __future__ import annotations

import json
import math
import random
import re
import subprocess
from bisect import bisect_right
from collections.abc import Collection, Container, Iterable, Iterator, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, ip_address
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit

MAX_ADDRESSES = 65_536  # above this a scan needs allow_large (CLI: --yes)
# Refused even with --yes: a /8 (16,777,216 addresses) takes 4.7 hours at the maximum ARP rate;
# anything larger is a mistake, not a plan.
CEILING = 1 << 24
NO_TARGETS = "no targets: give CIDRs/ranges/addresses or --localnet"

_RANGE_RE = re.compile(r"^(\d{1,3}(?:\.\d{1,3}){3})-(\d{1,3}(?:\.\d{1,3}){3}|\d{1,3})$")
_IPV4ISH_RE = re.compile(r"^[\d./-]+$")


class TargetError(Exception):
    """A target, exclusion or interface cannot be used (one-line message)."""


Interval = tuple[int, int]  # inclusive [first, last] as 32-bit integers


@dataclass(frozen=True, slots=True)
class _Spec:
    text: str  # normalised spec
    intervals: tuple[Interval, ...]


def _parse_one(spec: str, *, hosts_only: bool) -> _Spec:
    """One CIDR, range or address; `hosts_only` drops network/broadcast of prefixes < /31."""
    text = spec.strip()
    if ":" in text:
        raise TargetError(f"IPv6 targets are not supported: {spec!r}")
    if "/" in text:
        try:
            net = IPv4Network(text, strict=False)
        except ValueError:
            raise TargetError(f"not an IPv4 CIDR: {spec!r}") from None
        first, last = int(net.network_address), int(net.broadcast_address)
        if hosts_only and net.prefixlen < 31:
            first, last = first + 1, last - 1
        return _Spec(str(net), ((first, last),))
    m = _RANGE_RE.match(text)
    if m:
        try:
            start = IPv4Address(m.group(1))
            end_text = m.group(2)
            if "." not in end_text:
                # Short form a.b.c.d-e: e replaces the last octet.
                end_text = m.group(1).rsplit(".", 1)[0] + "." + end_text
            end = IPv4Address(end_text)
        except ValueError:
            raise TargetError(f"not an IPv4 range: {spec!r}") from None
        if end < start:
            raise TargetError(f"range ends before it starts: {spec!r}")
        return _Spec(f"{start}-{end}", ((int(start), int(end)),))
    try:
        addr = IPv4Address(text)
    except ValueError:
        if not _IPV4ISH_RE.match(text):
            raise TargetError(
                f"hostnames are not resolved; give an IPv4 address, range or CIDR: {spec!r}"
            ) from None
        raise TargetError(f"not an IPv4 address, range or CIDR: {spec!r}") from None
    return _Spec(str(addr), ((int(addr), int(addr)),))


def _split(specs: Iterable[str]) -> Iterator[str]:
    """Specs may also be given comma- or space-separated in one string."""
    for spec in specs:
        yield from (s for s in re.split(r"[,\s]+", spec) if s)


def split_specs(specs: Iterable[str]) -> list[str]:
    """Each spec on its own, as typed ("a, b" given in one argument is two specs)."""
    return list(_split(specs))


def _merge(intervals: Iterable[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for first, last in sorted(intervals):
        if first > last:
            continue
        if out and first <= out[-1][1] + 1:
            if last > out[-1][1]:
                out[-1] = (out[-1][0], last)
        else:
            out.append((first, last))
    return out


def _subtract(keep: list[Interval], drop: list[Interval]) -> list[Interval]:
    """`keep` minus `drop`, both merged and sorted."""
    out: list[Interval] = []
    j = 0
    for first, last in keep:
        cur = first
        while j < len(drop) and drop[j][1] < cur:
            j += 1
        k = j
        while k < len(drop) and drop[k][0] <= last:
            if drop[k][0] > cur:
                out.append((cur, drop[k][0] - 1))
            cur = max(cur, drop[k][1] + 1)
            k += 1
        if cur <= last:
            out.append((cur, last))
    return out


def from_addresses(addresses: Iterable[IPv4Address | str]) -> TargetSet:
    """A TargetSet holding exactly `addresses` (for callers with a list in hand)."""
    return TargetSet([], [], _merge((v, v) for v in {int(IPv4Address(a)) for a in addresses}))


class TargetSet:
    """The addresses a scan may touch, as merged intervals; never expanded until asked."""

    def __init__(
        self, specs: Sequence[str], exclusions: Sequence[str], intervals: list[Interval]
    ) -> None:
        self._specs = list(specs)
        self._exclusions = list(exclusions)
        self._intervals = intervals
        self._firsts = [a for a, _ in intervals]
        self.size = sum(b - a + 1 for a, b in intervals)

    def __contains__(self, addr: object) -> bool:
        if isinstance(addr, str):
            try:
                addr = IPv4Address(addr)
            except ValueError:
                return False
        if not isinstance(addr, IPv4Address):
            return False
        value = int(addr)
        i = bisect_right(self._firsts, value) - 1
        return i >= 0 and self._intervals[i][1] >= value

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[IPv4Address]:
        return self.iter_addresses()

    def __repr__(self) -> str:
        return f"TargetSet({self.describe()!r}, size={self.size})"

    @property
    def intervals(self) -> list[Interval]:
        """Merged inclusive integer intervals, ascending."""
        return list(self._intervals)

    def addresses(self) -> list[IPv4Address]:
        """Every target address, ascending (network/broadcast of prefixes < /31 left out)."""
        return list(self.iter_addresses())

    def iter_addresses(self) -> Iterator[IPv4Address]:
        """Every target address, ascending, one at a time (a /8 never sits in memory)."""
        return (IPv4Address(v) for a, b in self._intervals for v in range(a, b + 1))

    def contains_int(self, value: int) -> bool:
        """Membership of an address given as its 32-bit integer."""
        i = bisect_right(self._firsts, value) - 1
        return i >= 0 and self._intervals[i][1] >= value

    def clip(self, network: IPv4Network) -> TargetSet:
        """The targets inside `network` (the part one segment's ARP sweep can ask)."""
        lo, hi = int(network.network_address), int(network.broadcast_address)
        inside = [(max(a, lo), min(b, hi)) for a, b in self._intervals if a <= hi and b >= lo]
        return TargetSet(self._specs, self._exclusions, inside)

    def outside(self, network: IPv4Network | None) -> TargetSet:
        """The targets not inside `network` (all of them when None)."""
        if network is None:
            return self
        drop = [(int(network.network_address), int(network.broadcast_address))]
        return TargetSet(self._specs, self._exclusions, _subtract(self._intervals, drop))

    def shuffled(self, rng: random.Random | None = None) -> Iterator[int]:
        """Every target as a 32-bit integer in a random order, in constant memory."""
        # An affine permutation i -> (a*i + c) mod n of the target indexes, a coprime to n:
        # each address once, scattered over the range, nothing stored but the intervals.
        n = self.size
        if n == 0:
            return
        rng = rng or random.Random()
        a = rng.randrange(1, n) if n > 2 else 1
        while math.gcd(a, n) != 1:
            a += 1
        c = rng.randrange(n)
        starts: list[int] = []  # index of each interval's first address
        total = 0
        for first, last in self._intervals:
            starts.append(total)
            total += last - first + 1
        intervals = self._intervals
        for i in range(n):
            k = (a * i + c) % n
            j = bisect_right(starts, k) - 1
            yield intervals[j][0] + k - starts[j]

    def describe(self) -> list[str]:
        """Normalised specs, then each exclusion as `exclude <spec>`."""
        return self._specs + [f"exclude {e}" for e in self._exclusions]

    def within(self, network: IPv4Network) -> bool:
        """True when every target lies inside `network`."""
        lo, hi = int(network.network_address), int(network.broadcast_address)
        return bool(self._intervals) and all(lo <= a and b <= hi for a, b in self._intervals)


def parse_targets(
    specs: Sequence[str], exclude: Sequence[str] = (), *, allow_large: bool = False
) -> TargetSet:
    """CIDRs, ranges (a-b, a.b.c.d-e) and addresses minus exclusions; TargetError when unusable."""
    parsed = [_parse_one(s, hosts_only=True) for s in _split(specs)]
    if not parsed:
        raise TargetError(NO_TARGETS)
    dropped = [_parse_one(s, hosts_only=False) for s in _split(exclude)]
    keep = _merge(iv for p in parsed for iv in p.intervals)
    drop = _merge(iv for p in dropped for iv in p.intervals)
    intervals = _subtract(keep, drop)
    targets = TargetSet([p.text for p in parsed], [p.text for p in dropped], intervals)
    if targets.size == 0:
        raise TargetError("no targets left after exclusions" if dropped else NO_TARGETS)
    if targets.size > CEILING:
        raise TargetError(
            f"{targets.size:,} addresses is more than camscan scans "
            f"({CEILING:,}, a /8); split the scope"
        )
    if targets.size > MAX_ADDRESSES and not allow_large:
        raise TargetError(
            f"{targets.size:,} addresses is more than {MAX_ADDRESSES:,}; add --yes to scan them"
        )
    return targets


# ---------------------------------------------------------------------------- interfaces


@dataclass(frozen=True, slots=True)
class InterfaceInfo:
    """A local Ethernet interface and one IPv4 address on it."""

    name: str
    index: int
    mac: str
    ip: IPv4Address
    network: IPv4Network


def interfaces_from_ip_json(data: Any) -> list[InterfaceInfo]:
    """Every (Ethernet interface, IPv4 address) pair in `ip -j addr show` output."""
    out: list[InterfaceInfo] = []
    if not isinstance(data, list):
        return out
    for link in data:
        if not isinstance(link, dict) or link.get("link_type") != "ether":
            continue
        flags = link.get("flags") or []
        if "NOARP" in flags or "UP" not in flags:
            continue
        for addr in link.get("addr_info") or []:
            if not isinstance(addr, dict) or addr.get("family") != "inet":
                continue
            try:
                ip = IPv4Address(addr["local"])
                net = IPv4Network(f"{ip}/{addr['prefixlen']}", strict=False)
                out.append(
                    InterfaceInfo(
                        str(link["ifname"]),
                        int(link["ifindex"]),
                        str(link["address"]).lower(),
                        ip,
                        net,
                    )
                )
            except (KeyError, ValueError, TypeError):
                continue
    return out


def list_interfaces() -> list[InterfaceInfo]:
    """The current network namespace's Ethernet interfaces with IPv4 (reads `ip -j addr`)."""
    try:
        proc = subprocess.run(
            ["ip", "-j", "addr", "show"], capture_output=True, text=True, timeout=10, check=True
        )
        return interfaces_from_ip_json(json.loads(proc.stdout))
    except (OSError, subprocess.SubprocessError, json.JSONDecodeError) as exc:
        raise TargetError(f"cannot list interfaces with `ip -j addr`: {exc}") from None


def choose_interface(
    candidates: Sequence[InterfaceInfo], name: str | None, targets: TargetSet | None
) -> InterfaceInfo:
    """Pure choice behind `resolve_interface`."""
    if name is not None:
        mine = [c for c in candidates if c.name == name]
        if not mine:
            raise TargetError(f"interface {name!r} not found or has no IPv4 address")
        fitting = [c for c in mine if targets is not None and targets.within(c.network)]
        return (fitting or mine)[0]
    if targets is not None:
        fitting = [c for c in candidates if targets.within(c.network)]
        if not fitting:
            raise TargetError(
                "no local interface's IPv4 network contains all the targets; give --interface"
            )
        # The most specific network wins (a /24 inside a /16 on another interface).
        return max(fitting, key=lambda c: c.network.prefixlen)
    names = sorted({c.name for c in candidates})
    if not names:
        raise TargetError("no Ethernet interface with an IPv4 address")
    if len(names) > 1:
        raise TargetError(f"several interfaces ({', '.join(names)}); give --interface")
    return candidates[0]


def resolve_interface(name: str | None, targets: TargetSet | None) -> InterfaceInfo:
    """The interface to sweep from: `name`, else the one whose IPv4 network holds the targets."""
    return choose_interface(list_interfaces(), name, targets)


def localnet(iface: InterfaceInfo) -> str:
    """The interface's own IPv4 network as a CIDR spec."""
    return str(iface.network)


def in_scope(scope: Container[IPv4Address], host: str) -> bool:
    """True if `host` is an IPv4 address inside `scope`; names and IPv6 never are."""
    try:
        return IPv4Address(host) in scope
    except ValueError:
        return False


# Exploit or state-changing paths camscan never requests, whoever names them (tests check the
# vendor path table against them; redirects, LOCATIONs and XAddrs are checked as they arrive).
FORBIDDEN = ("/Security/users", "/onvif-http/snapshot", "/SDK/webLanguage", "auth=")
_FORBIDDEN_LOW = tuple(bad.lower() for bad in FORBIDDEN)


def is_forbidden(path: str) -> bool:
    """True if `path` reaches a FORBIDDEN path however a device spells it (case, %-encoding)."""
    text = path
    for _ in range(3):  # "%2553" -> "%53" -> "S": a server may decode more than once
        text = unquote(text)
    text = text.lower().replace("\\", "/")
    while "//" in text or "/./" in text:
        text = text.replace("//", "/").replace("/./", "/")
    return any(bad in text for bad in _FORBIDDEN_LOW)


def url_on_host(url: str, host: str, schemes: Collection[str]) -> tuple[SplitResult, int] | None:
    """(the split URL, its port) if `url` is a `schemes` URL that names `host` by address, on a
    usable port and no FORBIDDEN path; None otherwise: a device's URL is never followed
    elsewhere."""
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError when out of range
        same = parts.hostname is not None and ip_address(parts.hostname) == ip_address(host)
    except ValueError:
        return None
    if parts.scheme not in schemes or not same or port == 0:
        return None
    if is_forbidden(parts.path + "?" + parts.query):  # a device naming its own exploit path
        return None
    return parts, port or (443 if parts.scheme == "https" else 80)


def host_order(host: str) -> tuple[int, int, str]:
    """Sort key: IPv4 numerically, then IPv6, then anything else by name."""
    try:
        addr = ip_address(host)
    except ValueError:
        return (2, 0, host)
    return (0 if addr.version == 4 else 1, int(addr), host)
