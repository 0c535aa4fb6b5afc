"""The seam between the lab runner and the service personalities that simulated devices run."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class Closer(Protocol):
    """Whatever a personality started; the runner closes it on `lab down`."""

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class LabHost:
    """One simulated device as a personality sees it."""

    name: str
    ip: str
    mac: str
    ifname: str  # the device's interface inside its namespace
    netns: str  # the device's network namespace
    prefix_len: int
    device: Mapping[str, Any]  # the device's entry of devices.toml
    # Makes a socket inside the device's namespace (the runner may serve many namespaces).
    make_socket: Callable[[int, int, int], socket.socket]
    # Starts an external process inside the device's namespace; returns its PID, which the
    # runner records and ends on `lab down`.
    spawn: Callable[[Sequence[str]], int]
    # Tells the person running the lab something they should know (`lab up`/demo print it).
    tell: Callable[[str], None] = field(default=lambda message: None)

    def socket(
        self, family: int = socket.AF_INET, type: int = socket.SOCK_STREAM, proto: int = 0
    ) -> socket.socket:
        """A new socket in this device's namespace."""
        return self.make_socket(family, type, proto)


# A personality: given the host and its `[[service]]` table, start serving and return a Closer.
Serve = Callable[[LabHost, Mapping[str, Any]], Awaitable[Closer]]
