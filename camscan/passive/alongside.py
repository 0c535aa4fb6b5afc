"""Listen on the scan's interface while it runs (`passive_too`); keep unprobed hosts heard.

An active scan only records what answers its own requests. Hosts that announce themselves
during the scan (gratuitous ARP, SSDP NOTIFY, WS-Discovery Hello, DHCP) but were not probed are
added to the result from what was heard, marked outside the scope when they are.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable

from camscan.models import Device, PassiveScope, ScanResult
from camscan.passive.hearing import LINK_ETHERNET, Hearing
from camscan.passive.live import Captured, capture, open_capture
from camscan.passive.session import iso

MAX_LISTEN_S = 7 * 86400.0


class Alongside:
    """A packet socket read in a thread of its own for as long as the scan runs."""

    def __init__(self, interface: str) -> None:
        self.interface = interface
        self.sock = open_capture(interface)  # LiveError, before any packet is sent
        self.hearing = Hearing()
        self.first: float | None = None
        self.last: float | None = None
        self._stop = threading.Event()
        self.captured = Captured(0, 0)
        self._thread = threading.Thread(target=self._run, name="passive-too", daemon=True)

    def _on_frame(self, ts: float, frame: bytes) -> None:
        if self.first is None:
            self.first = ts
        self.last = ts
        self.hearing.feed(ts, LINK_ETHERNET, frame)

    def _run(self) -> None:
        try:
            self.captured = capture(self.sock, MAX_LISTEN_S, self._on_frame, stop=self._stop.is_set)
        finally:
            self.sock.close()

    def start(self) -> None:
        """Start listening."""
        self._thread.start()

    def stop(self) -> Hearing:
        """Stop listening; what was heard."""
        self._stop.set()
        if self._thread.ident is None:  # never started (the scan stopped before it began)
            self.sock.close()
        else:
            self._thread.join(timeout=5)
        self.hearing.finish()
        return self.hearing

    def merge(
        self,
        result: ScanResult,
        in_scope: Callable[[str], bool],
        on_device: Callable[[Device], None] | None = None,
    ) -> ScanResult:
        """`result` plus every host heard that the scan has no device for."""
        hearing = self.stop()
        known = {d.ip for d in result.devices}
        added = [d for d in hearing.devices() if d.ip not in known and _is_address(d.ip)]
        for dev in added:
            dev.outside_scope = not in_scope(dev.ip)
            if on_device is not None:
                on_device(dev)
        result.scope.passive = PassiveScope(
            statement=f"passive: also listened on {self.interface} during the scan",
            first_packet=iso(self.first),
            last_packet=iso(self.last),
            packets=hearing.frames,
            packets_by_protocol=dict(hearing.packets),
            problems=self.captured.problems(),
        )
        result.devices = [*result.devices, *added]
        return result


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


__all__ = ["Alongside"]
