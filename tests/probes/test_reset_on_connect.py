"""A port that accepts and resets before the prober's loop sees the connect finish is reported."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import Callable
from typing import Any

import pytest

from camscan.context import ScanContext, ScanSettings
from camscan.models import Evidence
from camscan.probes import banners

IP = "127.0.0.62"
HALF_HEADER = b"HTTP/1.1 200 OK\r\nServer: App-w"


def _accept_then_reset(server: socket.socket, done: threading.Event) -> None:
    conn, _ = server.accept()
    conn.sendall(HALF_HEADER)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()  # RST
    done.set()


def _resetting_port(monkeypatch: pytest.MonkeyPatch) -> tuple[int, Callable[[], None]]:
    """A port whose peer resets while the prober's loop is busy; the call waits for it."""
    server = socket.create_server((IP, 0))
    port = server.getsockname()[1]
    reset = threading.Event()
    thread = threading.Thread(target=_accept_then_reset, args=(server, reset), daemon=True)
    thread.start()

    class BusyLoopSocket(socket.socket):
        """Its loop is busy elsewhere from the SYN until the peer has reset the connection."""

        def connect(self, address: Any) -> None:
            try:
                super().connect(address)
            finally:
                reset.wait(5)

    def done() -> None:
        thread.join(5)
        server.close()
        assert reset.is_set()

    monkeypatch.setattr(socket, "socket", BusyLoopSocket)
    return port, done


def test_reset_before_the_loop_sees_the_connect_is_a_reset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port, done = _resetting_port(monkeypatch)
    monkeypatch.setattr(banners, "HTTP_PORTS", frozenset({port}))
    found: list[Evidence] = []
    ctx = ScanContext(ScanSettings(ports=(port,)), None, None, [], found.append)
    try:
        asyncio.run(banners.probe_host(ctx, IP))
    finally:
        done()
    errors = [ev.value for ev in found if ev.key == "probe.error"]
    assert errors == [f"{port}: reset"]
    assert [ev.key for ev in found if ev.key.startswith("tcp.open")] == [f"tcp.open.{port}"]


def test_a_host_that_resets_is_alive(monkeypatch: pytest.MonkeyPatch) -> None:
    port, done = _resetting_port(monkeypatch)
    ctx = ScanContext(ScanSettings(ports=(port,)), None, None, [], lambda ev: None)
    try:
        alive = asyncio.run(banners.tcp_alive(ctx, IP))
    finally:
        done()
    assert alive
