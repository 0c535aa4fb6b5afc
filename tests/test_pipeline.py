"""The scan loop with fake discoverers and probes: no sockets, only the orchestration."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from ipaddress import IPv4Address, IPv4Network
from typing import Any

import pytest

from camscan import pipeline
from camscan.context import ScanContext
from camscan.models import Confidence, Device, Evidence
from camscan.pipeline import Method, Scan, ScanRequest
from camscan.targets import InterfaceInfo, parse_targets

IFACE = InterfaceInfo("eth0", 2, "02:00:5e:10:00:02", IPv4Address("198.18.0.2"),
                      IPv4Network("198.18.0.0/15"))

Fake = Callable[..., Coroutine[Any, Any, None]]


def make_scan(monkeypatch: pytest.MonkeyPatch, *, arp: Fake, listeners: dict[str, Fake],
              probe: Fake, methods: tuple[Method, ...] = pipeline.ALL_METHODS) -> Scan:
    import camscan.discovery.arp as arp_mod
    import camscan.probes.banners as banners_mod
    import camscan.targets as targets_mod

    monkeypatch.setattr(targets_mod, "resolve_interface", lambda name, targets: IFACE)
    monkeypatch.setattr(arp_mod, "sweep", arp)
    monkeypatch.setattr(banners_mod, "probe_host", probe)
    # "camscan.discovery.sadp:discover" -> listeners["sadp"]
    monkeypatch.setattr(pipeline, "_load",
                        lambda spec: listeners[spec.split(":")[0].split(".")[-1]])
    scan = Scan(ScanRequest(targets=["198.18.0.0/24"], methods=methods))
    scan.prepare()
    return scan


async def quiet(ctx: ScanContext, *args: Any) -> None:
    return None


def test_evidence_from_every_method_is_grouped_and_identified(
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def arp(ctx: ScanContext, iface: InterfaceInfo, addresses: list[IPv4Address]) -> None:
        assert len(addresses) == 254
        ctx.emit(Evidence("198.18.0.11", "arp", "mac", "44:19:b6:3a:10:01"))
        ctx.emit(Evidence("198.18.0.11", "arp", "mac", "44:19:b6:3a:10:01"))  # a retry's echo
        ctx.emit(Evidence("198.18.0.57", "arp", "mac", "f8:bc:12:19:1a:1b"))

    async def sadp(ctx: ScanContext) -> None:
        ctx.emit(Evidence("198.19.0.64", "sadp", "sadp.model", "DS-2CD2143G2-I"))
        ctx.emit(Evidence("198.19.0.64", "sadp", "sadp.mac", "44-19-b6-3a-10-99"))

    probed: list[str] = []

    async def probe(ctx: ScanContext, ip: str) -> None:
        probed.append(ip)
        if ip == "198.18.0.11":
            ctx.emit(Evidence(ip, "http", "http.server", "App-webs/", 80))

    listeners = {m: quiet for m in ("mdns", "ssdp", "wsd", "dhip")} | {"sadp": sadp}
    result = asyncio.run(make_scan(monkeypatch, arp=arp, listeners=listeners, probe=probe).run())

    assert result.complete
    assert [d.ip for d in result.devices] == ["198.18.0.11", "198.18.0.57", "198.19.0.64"]
    cam, pc, factory = result.devices
    assert [ev.key for ev in cam.evidence].count("mac") == 1, "duplicates are kept once"
    assert cam.verdict.maker == "Hikvision" and cam.mac == "44:19:b6:3a:10:01"
    assert cam.vendor == "Hangzhou Hikvision Digital Technology Co.,Ltd."
    assert pc.verdict.maker != "Hikvision"
    assert factory.outside_scope and factory.mac == "44:19:b6:3a:10:99"
    assert sorted(probed) == ["198.18.0.11", "198.18.0.57"], "never probe beyond the scope"


def test_a_failing_method_is_counted_and_loses_no_one_elses_findings(
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def arp(ctx: ScanContext, iface: InterfaceInfo, addresses: list[IPv4Address]) -> None:
        ctx.emit(Evidence("198.18.0.31", "arp", "mac", "3c:ef:8c:61:01:c0"))

    async def broken(ctx: ScanContext) -> None:
        raise OSError("no multicast route")

    listeners = {m: quiet for m in ("mdns", "ssdp", "wsd", "sadp")} | {"dhip": broken}
    result = asyncio.run(make_scan(monkeypatch, arp=arp, listeners=listeners, probe=quiet).run())
    assert result.complete
    assert result.stats["dhip"].errors == 1
    assert "no multicast route" in result.stats["dhip"].notes[0]
    assert result.devices[0].verdict.maker == "Dahua"


def test_cancelling_returns_what_was_found_marked_incomplete(
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def arp(ctx: ScanContext, iface: InterfaceInfo, addresses: list[IPv4Address]) -> None:
        ctx.emit(Evidence("198.18.0.15", "arp", "mac", "4c:bd:8f:10:20:30"))

    async def slow(ctx: ScanContext) -> None:
        await asyncio.sleep(30)

    listeners = {m: slow for m in ("mdns", "ssdp", "wsd", "sadp", "dhip")}
    scan = make_scan(monkeypatch, arp=arp, listeners=listeners, probe=quiet)

    async def main() -> Any:
        task = asyncio.create_task(scan.run())
        await asyncio.sleep(0.2)
        task.cancel()
        return await task

    result = asyncio.run(main())
    assert result.complete is False
    assert result.errors and "interrupted" in result.errors[0]
    assert [d.ip for d in result.devices] == ["198.18.0.15"]
    assert result.devices[0].verdict.maker == "Hikvision"
    assert result.devices[0].verdict.confidence is not Confidence.UNDETERMINED


def test_methods_not_asked_for_do_not_run(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[str] = []

    async def arp(ctx: ScanContext, iface: InterfaceInfo, addresses: list[IPv4Address]) -> None:
        ran.append("arp")
        ctx.emit(Evidence("198.18.0.5", "arp", "mac", "02:00:00:00:00:05"))

    def listener(name: str) -> Fake:
        async def run(ctx: ScanContext) -> None:
            ran.append(name)
        return run

    async def probe(ctx: ScanContext, ip: str) -> None:
        ran.append("banners")

    listeners = {m: listener(m) for m in ("mdns", "ssdp", "wsd", "sadp", "dhip")}
    scan = make_scan(monkeypatch, arp=arp, listeners=listeners, probe=probe,
                     methods=(Method.ARP, Method.SADP))
    result = asyncio.run(scan.run())
    assert sorted(ran) == ["arp", "sadp"]
    assert result.scope.probes == ["arp", "sadp"]


def test_routed_targets_are_found_by_tcp_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    import camscan.probes.banners as banners_mod
    import camscan.targets as targets_mod
    from camscan.targets import TargetError

    def no_iface(name: str | None, targets: Any) -> InterfaceInfo:
        raise TargetError("no local interface")

    async def alive(ctx: ScanContext, ip: str) -> bool:
        return ip == "203.0.113.5"

    monkeypatch.setattr(targets_mod, "resolve_interface", no_iface)
    monkeypatch.setattr(targets_mod, "list_interfaces", lambda: [IFACE])
    monkeypatch.setattr(banners_mod, "tcp_alive", alive)
    monkeypatch.setattr(banners_mod, "probe_host", quiet)
    scan = Scan(ScanRequest(targets=["203.0.113.0/29"]))
    scan.prepare()
    assert scan.scope is not None and scan.scope.interface is None
    result = asyncio.run(scan.run())
    assert [d.ip for d in result.devices] == ["203.0.113.5"]
    assert result.stats["tcp-ping"].sent == 6 and result.stats["tcp-ping"].answered == 1
    assert "not on a local segment" in result.stats["arp"].notes[0]


def test_target_set_membership_drives_scope() -> None:
    targets = parse_targets(["198.18.0.0/24"], ["198.18.0.91"])
    assert IPv4Address("198.18.0.11") in targets
    assert IPv4Address("198.18.0.91") not in targets
    assert IPv4Address("198.19.0.64") not in targets


def test_a_methods_own_progress_reaches_the_observer(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str, int | None]] = []

    class Recorder(pipeline.NullObserver):
        def start_phase(self, name: str, total: int | None) -> None:
            calls.append(("start", name, total))

        def advance(self, name: str, n: int = 1) -> None:
            calls.append(("advance", name, n))

        def end_phase(self, name: str) -> None:
            calls.append(("end", name, None))

    async def arp(ctx: ScanContext, iface: InterfaceInfo, addresses: list[IPv4Address]) -> None:
        for done in (0, 100, 100, 254):
            ctx.progress("arp", done, len(addresses))

    scan = make_scan(monkeypatch, arp=arp, listeners={}, probe=quiet, methods=(Method.ARP,))
    scan.observer = Recorder()
    asyncio.run(scan.run())
    arp_calls = [c for c in calls if c[1] == "arp"]
    assert arp_calls == [("start", "arp", 254), ("advance", "arp", 100),
                         ("advance", "arp", 154), ("end", "arp", None)]


def test_the_mac_arp_saw_wins_over_one_a_reply_claims() -> None:
    evidence = [Evidence("198.18.0.33", "dhip", "mac", "00:00:00:00:00:01"),
                Evidence("198.18.0.33", "arp", "mac", "9c:14:63:40:50:60"),
                Evidence("198.18.0.33", "sadp", "sadp.mac", "00-00-00-00-00-02")]
    assert pipeline.device_mac(evidence) == "9c:14:63:40:50:60"
    assert pipeline.device_mac(evidence[2:]) == "00:00:00:00:00:02"


def test_mixed_targets_sweep_the_local_part_and_connect_check_the_rest(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import camscan.discovery.arp as arp_mod
    import camscan.probes.banners as banners_mod
    import camscan.targets as targets_mod
    from camscan.targets import TargetError

    def not_all_local(name: str | None, targets: Any) -> InterfaceInfo:
        raise TargetError("no local interface's IPv4 network contains all the targets")

    swept: list[str] = []
    checked: list[str] = []

    async def arp(ctx: ScanContext, iface: InterfaceInfo, addresses: list[IPv4Address]) -> None:
        swept.extend(str(a) for a in addresses)
        ctx.emit(Evidence("198.18.0.1", "arp", "mac", "4c:5e:0c:11:22:01"))

    async def alive(ctx: ScanContext, ip: str) -> bool:
        checked.append(ip)
        return ip == "203.0.113.2"

    monkeypatch.setattr(targets_mod, "resolve_interface", not_all_local)
    monkeypatch.setattr(targets_mod, "list_interfaces", lambda: [IFACE])
    monkeypatch.setattr(arp_mod, "sweep", arp)
    monkeypatch.setattr(banners_mod, "tcp_alive", alive)
    monkeypatch.setattr(banners_mod, "probe_host", quiet)
    scan = Scan(ScanRequest(targets=["198.18.0.0/30", "203.0.113.0/30"],
                            methods=(Method.ARP, Method.BANNERS)))
    scan.prepare()
    assert scan.scope is not None and scan.scope.interface == "eth0"
    result = asyncio.run(scan.run())
    assert swept == ["198.18.0.1", "198.18.0.2"]
    assert sorted(checked) == ["203.0.113.1", "203.0.113.2"]
    assert [d.ip for d in result.devices] == ["198.18.0.1", "203.0.113.2"]


def test_cancelling_lets_every_listener_close_before_the_scan_returns(
        monkeypatch: pytest.MonkeyPatch) -> None:
    closed: list[str] = []

    def listener(name: str) -> Fake:
        async def listen(ctx: ScanContext) -> None:
            try:
                await asyncio.sleep(30)
            finally:  # like zeroconf's close: it awaits before its sockets are shut
                await asyncio.sleep(0.01)
                closed.append(name)
        return listen

    names = ("mdns", "ssdp", "wsd", "sadp", "dhip")
    scan = make_scan(monkeypatch, arp=quiet, listeners={m: listener(m) for m in names},
                     probe=quiet)

    async def main() -> tuple[Any, list[str]]:
        task = asyncio.create_task(scan.run())
        await asyncio.sleep(0.1)
        task.cancel()
        result = await task
        # Closed by the scan itself, not left to asyncio.run's final sweep, which cancels
        # library-internal tasks (zeroconf's set-up) too and leaks their sockets.
        return result, sorted(closed)

    result, closed_by_then = asyncio.run(main())
    assert result.complete is False
    assert closed_by_then == sorted(names)


def _tcp_checked(monkeypatch: pytest.MonkeyPatch, targets: list[str],
                 methods: tuple[Method, ...], alive: set[str]) -> tuple[list[str], Any]:
    import camscan.probes.banners as banners_mod
    import camscan.targets as targets_mod

    checked: list[str] = []

    async def tcp_alive(ctx: ScanContext, ip: str) -> bool:
        checked.append(ip)
        return ip in alive

    monkeypatch.setattr(targets_mod, "resolve_interface", lambda name, targets: IFACE)
    monkeypatch.setattr(targets_mod, "list_interfaces", lambda: [IFACE])
    monkeypatch.setattr(banners_mod, "tcp_alive", tcp_alive)
    monkeypatch.setattr(banners_mod, "probe_host", quiet)
    scan = Scan(ScanRequest(targets=targets, methods=methods))
    scan.prepare()
    return checked, asyncio.run(scan.run())


def test_banners_without_arp_still_find_the_local_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    # `--probes banners` on the scanner's own segment: nothing sweeps it, so a connect check
    # must decide who is up, or the scan reports no device at all, complete.
    checked, result = _tcp_checked(monkeypatch, ["198.18.0.0/30"], (Method.BANNERS,),
                                   {"198.18.0.2"})
    assert sorted(checked) == ["198.18.0.1", "198.18.0.2"]
    assert [d.ip for d in result.devices] == ["198.18.0.2"]


def test_no_connect_check_unless_banners_were_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    import camscan.discovery.arp as arp_mod

    monkeypatch.setattr(arp_mod, "sweep", quiet)
    checked, result = _tcp_checked(monkeypatch, ["198.18.0.0/30", "203.0.113.0/30"],
                                   (Method.ARP,), {"203.0.113.2"})
    assert checked == [] and result.devices == []


def test_connect_check_and_probes_keep_a_bounded_number_of_tasks(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A task per address (a /8 with --yes: 16 million) exhausted memory before any packet.
    import camscan.probes.banners as banners_mod
    import camscan.targets as targets_mod

    most: list[int] = [0]

    async def tcp_alive(ctx: ScanContext, ip: str) -> bool:
        most[0] = max(most[0], len(asyncio.all_tasks()))
        await asyncio.sleep(0)
        return True

    async def probe_host(ctx: ScanContext, ip: str) -> None:
        most[0] = max(most[0], len(asyncio.all_tasks()))
        await asyncio.sleep(0)

    monkeypatch.setattr(targets_mod, "list_interfaces", lambda: [])
    monkeypatch.setattr(banners_mod, "tcp_alive", tcp_alive)
    monkeypatch.setattr(banners_mod, "probe_host", probe_host)
    scan = Scan(ScanRequest(targets=["203.0.113.0/24"], methods=(Method.BANNERS,)))
    scan.request.settings.max_connections = 8
    scan.prepare()
    result = asyncio.run(scan.run())
    assert result.complete and result.stats["tcp-ping"].sent == 254
    assert len(result.devices) == 254
    # The connect-check pool, the probe pool (it runs alongside), the scan and the warm-up.
    assert most[0] <= 8 + 8 // 2 + 3


def test_a_host_whose_identification_fails_loses_no_other_host(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import camscan.identify as identify_mod

    real = identify_mod.identify

    def fragile(evidence: Any) -> Any:
        if any(ev.host == "198.18.0.66" for ev in evidence):
            raise KeyError("a bug one device's evidence triggers")
        return real(evidence)

    async def arp(ctx: ScanContext, iface: InterfaceInfo, addresses: list[IPv4Address]) -> None:
        ctx.emit(Evidence("198.18.0.11", "arp", "mac", "44:19:b6:3a:10:01"))
        ctx.emit(Evidence("198.18.0.66", "arp", "mac", "02:00:00:00:00:66"))

    monkeypatch.setattr(identify_mod, "identify", fragile)
    listeners = {m: quiet for m in ("mdns", "ssdp", "wsd", "sadp", "dhip")}
    scan = make_scan(monkeypatch, arp=arp, listeners=listeners, probe=quiet)
    result = asyncio.run(scan.run())
    by_ip = {d.ip: d for d in result.devices}
    assert by_ip["198.18.0.11"].verdict.maker == "Hikvision"
    odd = by_ip["198.18.0.66"]
    assert odd.verdict.confidence is Confidence.UNDETERMINED
    assert odd.errors == [
        'identification failed: KeyError: "a bug one device\'s evidence triggers"']


def test_a_failing_phase_still_returns_what_was_found(monkeypatch: pytest.MonkeyPatch) -> None:
    async def arp(ctx: ScanContext, iface: InterfaceInfo, addresses: list[IPv4Address]) -> None:
        ctx.emit(Evidence("198.18.0.11", "arp", "mac", "44:19:b6:3a:10:01"))

    async def broken(self: Scan, workers: Any) -> None:
        raise RuntimeError("a bug in a later phase")

    listeners = {m: quiet for m in ("mdns", "ssdp", "wsd", "sadp", "dhip")}
    scan = make_scan(monkeypatch, arp=arp, listeners=listeners, probe=quiet)
    monkeypatch.setattr(Scan, "finish_probing", broken)
    result = asyncio.run(scan.run())
    assert result.complete is False
    assert result.errors == ["fatal error: RuntimeError: a bug in a later phase"]
    assert [d.ip for d in result.devices] == ["198.18.0.11"]


def test_the_scope_lists_each_target_and_exclusion_on_its_own(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import camscan.targets as targets_mod

    monkeypatch.setattr(targets_mod, "resolve_interface", lambda name, targets: IFACE)
    scan = Scan(ScanRequest(targets=["198.18.0.0/30, 198.18.0.8/30", " 198.18.0.20 "],
                            exclude=["198.18.0.1,198.18.0.9"]))
    scan.prepare()
    assert scan.scope is not None
    assert scan.scope.targets == ["198.18.0.0/30", "198.18.0.8/30", "198.18.0.20"]
    assert scan.scope.exclusions == ["198.18.0.1", "198.18.0.9"]


def test_the_banner_phase_is_timed_as_a_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    async def arp(ctx: ScanContext, iface: InterfaceInfo, addresses: list[IPv4Address]) -> None:
        for i in (5, 6):
            ctx.emit(Evidence(f"198.18.0.{i}", "arp", "mac", f"02:00:00:00:00:0{i}"))

    async def probe(ctx: ScanContext, ip: str) -> None:
        await asyncio.sleep(0.3 if ip.endswith(".5") else 0.0)

    scan = make_scan(monkeypatch, arp=arp, listeners={}, probe=probe,
                     methods=(Method.ARP, Method.BANNERS))
    assert scan.ctx is not None
    scan.ctx.settings.max_connections = 2  # one probe worker: the slow host first, then the fast
    result = asyncio.run(scan.run())
    assert result.stats["banners"].duration_s >= 0.3, "not just the host that ended last"


def test_hosts_are_probed_while_the_window_is_open_and_final_once_it_closes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # ARP answers at once; the listeners keep the window open for 0.3 s. Each host's probes
    # start when it answers, not when the window closes; its device waits for the window,
    # whose late evidence about it (a WS-Discovery match at 0.25 s) is still in its record.
    events: list[tuple[str, str, float]] = []
    t0 = time.monotonic()

    def at() -> float:
        return round(time.monotonic() - t0, 2)

    async def arp(ctx: ScanContext, iface: InterfaceInfo, addresses: Any) -> None:
        ctx.emit(Evidence("198.18.0.11", "arp", "mac", "44:19:b6:3a:10:01"))
        await asyncio.sleep(0.05)
        ctx.emit(Evidence("198.18.0.12", "arp", "mac", "44:19:b6:3a:10:02"))

    async def window(ctx: ScanContext) -> None:
        await asyncio.sleep(0.25)
        ctx.emit(Evidence("198.18.0.11", "wsd", "wsd.scope", "onvif://www.onvif.org/name/x"))
        await asyncio.sleep(0.05)

    async def probe(ctx: ScanContext, host: str) -> None:
        events.append(("probe", host, at()))
        await asyncio.sleep(0.01)

    class Seen(pipeline.NullObserver):
        def device_final(self, device: Device) -> None:
            events.append(("final", device.ip, at()))
            assert any(e.key == "wsd.scope" for e in device.evidence) or device.ip != \
                "198.18.0.11"

    listeners = {m: window for m in ("mdns", "ssdp", "wsd", "sadp", "dhip")}
    scan = make_scan(monkeypatch, arp=arp, listeners=listeners, probe=probe)
    scan.observer = Seen()
    t0 = time.monotonic()
    result = asyncio.run(scan.run())
    assert result.complete
    probes = {h: t for kind, h, t in events if kind == "probe"}
    finals = {h: t for kind, h, t in events if kind == "final"}
    assert set(probes) == set(finals) == {"198.18.0.11", "198.18.0.12"}
    assert max(probes.values()) < 0.2  # both probed inside the window (it closes at 0.3 s)
    assert min(finals.values()) >= 0.29  # and final only once it closed
