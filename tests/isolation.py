"""Proof that the test namespace is isolated: loopback only, no route out, not the root one."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from pathlib import Path

PROC_NET = Path("/proc/self/net")


def _default_routes(route_v4: str, route_v6: str) -> list[str]:
    """Default routes in /proc/net/route and /proc/net/ipv6_route text."""
    out = []
    for line in route_v4.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 8 and fields[1] == "00000000" and fields[7] == "00000000":
            out.append(f"IPv4 default route via {fields[0]}")
    for line in route_v6.splitlines():
        fields = line.split()
        if len(fields) >= 10 and fields[0] == "0" * 32 and fields[1] == "00" and fields[9] != "lo":
            out.append(f"IPv6 default route via {fields[9]}")
    return out


def problems(
    interfaces: Iterable[str],
    route_v4: str,
    route_v6: str,
    same_as_init: bool,
    allowed_prefix: str | None = None,
) -> list[str]:
    """Everything that shows the namespace is not sealed off; empty when it is."""
    out = ["the tests run in the root network namespace"] if same_as_init else []
    for name in interfaces:
        if name != "lo" and not (allowed_prefix and name.startswith(allowed_prefix)):
            out.append(f"interface {name!r} besides loopback")
    return out + _default_routes(route_v4, route_v6)


def current_problems() -> list[str]:
    """What `problems` finds in the network namespace this process runs in."""

    def read(name: str) -> str:
        try:
            return (PROC_NET / name).read_text()
        except OSError:
            return ""

    here = _identity("/proc/self/ns/net")
    init = _identity("/proc/1/ns/net")  # unreadable in some containers, even as root
    named = _identity(f"/run/netns/{os.environ.get('CAMSCAN_IN_TEST_NETNS', '')}")
    out = []
    if named is not None and here != named:
        out.append("the tests do not run in the namespace CAMSCAN_IN_TEST_NETNS names")
    names = [name for _, name in socket.if_nameindex()]
    return out + problems(
        names, read("route"), read("ipv6_route"), here == init, os.environ.get("CAMSCAN_LAB_PREFIX")
    )


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino
