"""mDNS discovery cancelled mid-window: no resolve is started on a Zeroconf that is closing."""

from __future__ import annotations

import asyncio
import gc
import ipaddress
from typing import Any, ClassVar

import pytest
from zeroconf import NotRunningException, ServiceStateChange

from camscan.context import ScanContext, ScanSettings
from camscan.discovery import mdns

TYPE = "_http._tcp.local."


class FakeZeroconf:
    """No sockets: `closed` once AsyncZeroconf closes; no `engine`, so senders are not tapped."""

    closed = False


class FakeAsyncZeroconf:
    def __init__(self, **_: Any) -> None:
        self.zeroconf = FakeZeroconf()

    async def async_close(self) -> None:
        # Announcements still arriving while Zeroconf says goodbye reach the live browsers.
        for browser in list(FakeBrowser.alive):
            browser.announce()
        await asyncio.sleep(0)
        self.zeroconf.closed = True
        await asyncio.sleep(0.01)


class FakeBrowser:
    alive: ClassVar[list[FakeBrowser]] = []

    def __init__(self, zc: FakeZeroconf, name: str, handlers: list[Any]) -> None:
        self.zc, self.name, self.handler = zc, name, handlers[0]
        self.count = 0
        FakeBrowser.alive.append(self)
        asyncio.get_running_loop().call_soon(self.announce)

    def announce(self) -> None:
        self.count += 1
        if self.name == mdns.SERVICES_META:
            self.handler(
                zeroconf=self.zc,
                service_type=self.name,
                name=TYPE,
                state_change=ServiceStateChange.Added,
            )
        else:
            self.handler(
                zeroconf=self.zc,
                service_type=self.name,
                name=f"cam{self.count}.{TYPE}",
                state_change=ServiceStateChange.Added,
            )

    async def async_cancel(self) -> None:
        FakeBrowser.alive.remove(self)


class FakeInfo:
    def __init__(self, service: str, name: str) -> None:
        self.name = name

    async def async_request(self, zc: FakeZeroconf, timeout: float) -> bool:
        while not zc.closed:  # a device that never answers
            await asyncio.sleep(0.01)
        raise NotRunningException


def test_cancelled_mid_window_leaves_no_failed_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mdns, "AsyncZeroconf", FakeAsyncZeroconf)
    monkeypatch.setattr(mdns, "AsyncServiceBrowser", FakeBrowser)
    monkeypatch.setattr(mdns, "AsyncServiceInfo", FakeInfo)
    monkeypatch.setattr(FakeBrowser, "alive", [])
    ctx = ScanContext(
        settings=ScanSettings(listen_window_s=10),
        interface="lab0",
        source_ip="198.18.0.1",
        in_scope=ipaddress.ip_network("198.18.0.0/24"),
        emit=lambda ev: None,
        host_evidence=lambda host: [],
    )
    unseen: list[dict[str, Any]] = []

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _loop, c: unseen.append(c))
        task = asyncio.create_task(mdns.discover(ctx))
        await asyncio.sleep(0.1)  # the type is browsed and an instance is being resolved
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.05)
        FakeBrowser.alive.clear()  # closed Zeroconf lets go of its browsers and their handlers
        gc.collect()  # a task whose exception nobody read is reported when collected

    asyncio.run(main())
    gc.collect()
    assert unseen == []


def test_cancelled_while_zeroconf_starts_closes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    closed: list[bool] = []

    class StartingZeroconf(FakeZeroconf):
        async def async_wait_for_start(self) -> None:
            await asyncio.sleep(60)  # sockets not up yet when the scan is cancelled

    class Closing(FakeAsyncZeroconf):
        def __init__(self, **_: Any) -> None:
            self.zeroconf = StartingZeroconf()

        async def async_close(self) -> None:
            closed.append(True)

    monkeypatch.setattr(mdns, "AsyncZeroconf", Closing)
    ctx = ScanContext(
        settings=ScanSettings(listen_window_s=10),
        interface="lab0",
        source_ip="198.18.0.1",
        in_scope=ipaddress.ip_network("198.18.0.0/24"),
        emit=lambda ev: None,
        host_evidence=lambda host: [],
    )

    async def main() -> None:
        task = asyncio.create_task(mdns.discover(ctx))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert closed == [True]
