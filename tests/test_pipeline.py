"""The scan loop with fake discoverers and probes: no sockets, only the orchestration."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Sequence
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from camscan import devices, pipeline
from camscan.context import HostProbe, ScanContext, ScanSettings
from camscan.identify import identify
from camscan.models import Confidence, Device, Evidence, Verdict
from camscan.pipeline import Method, Scan, ScanRequest
from camscan.targets import InterfaceInfo, parse_targets

IFACE = InterfaceInfo(
    "eth0", 2, "02:00:5e:10:00:02", IPv4Address("198.18.0.2"), IPv4Network("198.18.0.0/15")
)

Fake = Callable[..., Coroutine[Any, Any, None]]


def make_scan(
    *,
    arp: Fake,
    listeners: dict[str, Fake],
    probe: Fake,
    methods: tuple[Method, ...] = pipeline.ALL_METHODS,
    targets: tuple[str, ...] = ("198.18.0.0/24",),
    interfaces: tuple[InterfaceInfo, ...] = (IFACE,),
    alive: Callable[[ScanContext, str], Coroutine[Any, Any, bool]] | None = None,
    settings: ScanSettings | None = None,
    identify_with: Callable[[Sequence[Evidence]], Verdict] = identify,
    scan_class: type[Scan] = Scan,
) -> Scan:
    """A prepared scan whose discoverers, probe, liveness check and interfaces are the fakes."""
    discoverers = {Method.ARP: arp} | {Method(name): run for name, run in listeners.items()}
    request = ScanRequest(
        targets=list(targets), methods=methods, settings=settings or ScanSettings()
    )
    scan = scan_class(
        request,
        discoverers,
        {"banners": HostProbe(Method.BANNERS, probe)},
        liveness=alive or never_alive,
        interfaces=lambda: list(interfaces),
        identify=identify_with,
    )
    scan.prepare()
    return scan


async def quiet(ctx: ScanContext, *args: Any) -> None:
    return None


async def never_alive(ctx: ScanContext, ip: str) -> bool:
    return False


def test_evidence_from_every_method_is_grouped_and_identified() -> None:
    async def arp(ctx: ScanContext) -> None:
        assert len(ctx.sweep_targets) == 254
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
    result = asyncio.run(make_scan(arp=arp, listeners=listeners, probe=probe).run())

    assert result.complete
    assert [d.ip for d in result.devices] == ["198.18.0.11", "198.18.0.57", "198.19.0.64"]
    cam, pc, factory = result.devices
    assert [ev.key for ev in cam.evidence].count("mac") == 1, "duplicates are kept once"
    assert cam.verdict.maker == "Hikvision" and cam.mac == "44:19:b6:3a:10:01"
    assert cam.vendor == "Hangzhou Hikvision Digital Technology Co.,Ltd."
    assert pc.verdict.maker != "Hikvision"
    assert factory.outside_scope and factory.mac == "44:19:b6:3a:10:99"
    assert sorted(probed) == ["198.18.0.11", "198.18.0.57"], "never probe beyond the scope"


def test_a_failing_method_is_counted_and_loses_no_one_elses_findings() -> None:
    async def arp(ctx: ScanContext) -> None:
        ctx.emit(Evidence("198.18.0.31", "arp", "mac", "3c:ef:8c:61:01:c0"))

    async def broken(ctx: ScanContext) -> None:
        raise OSError("no multicast route")

    listeners = {m: quiet for m in ("mdns", "ssdp", "wsd", "sadp")} | {"dhip": broken}
    result = asyncio.run(make_scan(arp=arp, listeners=listeners, probe=quiet).run())
    assert result.complete
    assert result.stats["dhip"].errors == 1
    assert "no multicast route" in result.stats["dhip"].notes[0]
    assert result.devices[0].verdict.maker == "Dahua"


def test_cancelling_returns_what_was_found_marked_incomplete() -> None:
    async def arp(ctx: ScanContext) -> None:
        ctx.emit(Evidence("198.18.0.15", "arp", "mac", "4c:bd:8f:10:20:30"))

    async def slow(ctx: ScanContext) -> None:
        await asyncio.sleep(30)

    listeners = {m: slow for m in ("mdns", "ssdp", "wsd", "sadp", "dhip")}
    scan = make_scan(arp=arp, listeners=listeners, probe=quiet)

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


def test_methods_not_asked_for_do_not_run() -> None:
    ran: list[str] = []

    async def arp(ctx: ScanContext) -> None:
        ran.append("arp")
        ctx.emit(Evidence("198.18.0.5", "arp", "mac", "02:00:00:00:00:05"))

    def listener(name: str) -> Fake:
        async def run(ctx: ScanContext) -> None:
            ran.append(name)

        return run

    async def probe(ctx: ScanContext, ip: str) -> None:
        ran.append("banners")

    listeners = {m: listener(m) for m in ("mdns", "ssdp", "wsd", "sadp", "dhip")}
    scan = make_scan(arp=arp, listeners=listeners, probe=probe, methods=(Method.ARP, Method.SADP))
    result = asyncio.run(scan.run())
    assert sorted(ran) == ["arp", "sadp"]
    assert result.scope.probes == ["arp", "sadp"]


def test_routed_targets_are_found_by_tcp_connect() -> None:
    async def alive(ctx: ScanContext, ip: str) -> bool:
        return ip == "203.0.113.5"

    scan = make_scan(arp=quiet, listeners={}, probe=quiet, targets=("203.0.113.0/29",), alive=alive)
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


def test_a_methods_own_progress_reaches_the_observer() -> None:
    calls: list[tuple[str, str, int | None]] = []

    class Recorder(pipeline.NullObserver):
        def start_phase(self, name: str, total: int | None) -> None:
            calls.append(("start", name, total))

        def advance(self, name: str, n: int = 1) -> None:
            calls.append(("advance", name, n))

        def end_phase(self, name: str) -> None:
            calls.append(("end", name, None))

    async def arp(ctx: ScanContext) -> None:
        for done in (0, 100, 100, 254):
            ctx.progress("arp", done, len(ctx.sweep_targets))

    scan = make_scan(arp=arp, listeners={}, probe=quiet, methods=(Method.ARP,))
    scan.observer = Recorder()
    asyncio.run(scan.run())
    arp_calls = [c for c in calls if c[1] == "arp"]
    assert arp_calls == [
        ("start", "arp", 254),
        ("advance", "arp", 100),
        ("advance", "arp", 154),
        ("end", "arp", None),
    ]


def test_the_mac_arp_saw_wins_over_one_a_reply_claims() -> None:
    evidence = [
        Evidence("198.18.0.33", "dhip", "mac", "00:00:00:00:00:01"),
        Evidence("198.18.0.33", "arp", "mac", "9c:14:63:40:50:60"),
        Evidence("198.18.0.33", "sadp", "sadp.mac", "00-00-00-00-00-02"),
    ]
    assert pipeline.device_mac(evidence) == "9c:14:63:40:50:60"
    assert pipeline.device_mac(evidence[2:]) == "00:00:00:00:00:02"


def test_mixed_targets_sweep_the_local_part_and_connect_check_the_rest() -> None:
    swept: list[str] = []
    checked: list[str] = []

    async def arp(ctx: ScanContext) -> None:
        swept.extend(str(a) for a in ctx.sweep_targets)
        ctx.emit(Evidence("198.18.0.1", "arp", "mac", "4c:5e:0c:11:22:01"))

    async def alive(ctx: ScanContext, ip: str) -> bool:
        checked.append(ip)
        return ip == "203.0.113.2"

    scan = make_scan(
        arp=arp,
        listeners={},
        probe=quiet,
        alive=alive,
        targets=("198.18.0.0/30", "203.0.113.0/30"),
        methods=(Method.ARP, Method.BANNERS),
    )
    assert scan.scope is not None and scan.scope.interface == "eth0"
    result = asyncio.run(scan.run())
    assert swept == ["198.18.0.1", "198.18.0.2"]
    assert sorted(checked) == ["203.0.113.1", "203.0.113.2"]
    assert [d.ip for d in result.devices] == ["198.18.0.1", "203.0.113.2"]


def test_cancelling_lets_every_listener_close_before_the_scan_returns() -> None:
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
    scan = make_scan(arp=quiet, listeners={m: listener(m) for m in names}, probe=quiet)

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


def _tcp_checked(
    targets: tuple[str, ...], methods: tuple[Method, ...], alive: set[str]
) -> tuple[list[str], Any]:
    checked: list[str] = []

    async def tcp_alive(ctx: ScanContext, ip: str) -> bool:
        checked.append(ip)
        return ip in alive

    scan = make_scan(
        arp=quiet, listeners={}, probe=quiet, targets=targets, methods=methods, alive=tcp_alive
    )
    return checked, asyncio.run(scan.run())


def test_banners_without_arp_still_find_the_local_hosts() -> None:
    # `--probes banners` on the scanner's own segment: nothing sweeps it, so a connect check
    # must decide who is up, or the scan reports no device at all, complete.
    checked, result = _tcp_checked(("198.18.0.0/30",), (Method.BANNERS,), {"198.18.0.2"})
    assert sorted(checked) == ["198.18.0.1", "198.18.0.2"]
    assert [d.ip for d in result.devices] == ["198.18.0.2"]


def test_no_connect_check_unless_banners_were_asked_for() -> None:
    checked, result = _tcp_checked(
        ("198.18.0.0/30", "203.0.113.0/30"), (Method.ARP,), {"203.0.113.2"}
    )
    assert checked == [] and result.devices == []


def test_connect_check_and_probes_keep_a_bounded_number_of_tasks() -> None:
    # A task per address (a /8 with --yes: 16 million) exhausted memory before any packet.
    most: list[int] = [0]

    async def tcp_alive(ctx: ScanContext, ip: str) -> bool:
        most[0] = max(most[0], len(asyncio.all_tasks()))
        await asyncio.sleep(0)
        return True

    async def probe_host(ctx: ScanContext, ip: str) -> None:
        most[0] = max(most[0], len(asyncio.all_tasks()))
        await asyncio.sleep(0)

    scan = make_scan(
        arp=quiet,
        listeners={},
        probe=probe_host,
        targets=("203.0.113.0/24",),
        methods=(Method.BANNERS,),
        alive=tcp_alive,
        interfaces=(),
        settings=ScanSettings(max_connections=8),
    )
    result = asyncio.run(scan.run())
    assert result.complete and result.stats["tcp-ping"].sent == 254
    assert len(result.devices) == 254
    # The connect-check pool, the probe pool (it runs alongside), the scan and the warm-up.
    assert most[0] <= 8 + 8 // 2 + 3


def test_a_host_whose_identification_fails_loses_no_other_host() -> None:
    def fragile(evidence: Sequence[Evidence]) -> Verdict:
        if any(ev.host == "198.18.0.66" for ev in evidence):
            raise KeyError("a bug one device's evidence triggers")
        return identify(evidence)

    async def arp(ctx: ScanContext) -> None:
        ctx.emit(Evidence("198.18.0.11", "arp", "mac", "44:19:b6:3a:10:01"))
        ctx.emit(Evidence("198.18.0.66", "arp", "mac", "02:00:00:00:00:66"))

    listeners = {m: quiet for m in ("mdns", "ssdp", "wsd", "sadp", "dhip")}
    scan = make_scan(arp=arp, listeners=listeners, probe=quiet, identify_with=fragile)
    result = asyncio.run(scan.run())
    by_ip = {d.ip: d for d in result.devices}
    assert by_ip["198.18.0.11"].verdict.maker == "Hikvision"
    odd = by_ip["198.18.0.66"]
    assert odd.verdict.confidence is Confidence.UNDETERMINED
    assert odd.errors == [
        'identification failed: KeyError: "a bug one device\'s evidence triggers"'
    ]


def test_a_failing_phase_still_returns_what_was_found() -> None:
    async def arp(ctx: ScanContext) -> None:
        ctx.emit(Evidence("198.18.0.11", "arp", "mac", "44:19:b6:3a:10:01"))

    class BrokenLater(Scan):
        async def finish_probing(self, workers: Any) -> None:
            raise RuntimeError("a bug in a later phase")

    listeners = {m: quiet for m in ("mdns", "ssdp", "wsd", "sadp", "dhip")}
    scan = make_scan(arp=arp, listeners=listeners, probe=quiet, scan_class=BrokenLater)
    result = asyncio.run(scan.run())
    assert result.complete is False
    assert result.errors == ["fatal error: RuntimeError: a bug in a later phase"]
    assert [d.ip for d in result.devices] == ["198.18.0.11"]


def test_the_scope_lists_each_target_and_exclusion_on_its_own() -> None:
    scan = Scan(
        ScanRequest(
            targets=["198.18.0.0/30, 198.18.0.8/30", " 198.18.0.20 "],
            exclude=["198.18.0.1,198.18.0.9"],
        ),
        {},
        {},
        interfaces=lambda: [IFACE],
    )
    scan.prepare()
    assert scan.scope is not None
    assert scan.scope.targets == ["198.18.0.0/30", "198.18.0.8/30", "198.18.0.20"]
    assert scan.scope.exclusions == ["198.18.0.1", "198.18.0.9"]


def test_the_banner_phase_is_timed_as_a_whole() -> None:
    async def arp(ctx: ScanContext) -> None:
        for i in (5, 6):
            ctx.emit(Evidence(f"198.18.0.{i}", "arp", "mac", f"02:00:00:00:00:0{i}"))

    async def probe(ctx: ScanContext, ip: str) -> None:
        await asyncio.sleep(0.3 if ip.endswith(".5") else 0.0)

    # One probe worker: the slow host first, then the fast.
    scan = make_scan(
        arp=arp,
        listeners={},
        probe=probe,
        methods=(Method.ARP, Method.BANNERS),
        settings=ScanSettings(max_connections=2),
    )
    result = asyncio.run(scan.run())
    assert result.stats["banners"].duration_s >= 0.3, "not just the host that ended last"


def test_hosts_are_probed_while_the_window_is_open_and_final_once_it_closes() -> None:
    # ARP answers at once; the listeners keep the window open for 0.3 s. Each host's probes
    # start when it answers, not when the window closes; its device waits for the window,
    # whose late evidence about it (a WS-Discovery match at 0.25 s) is still in its record.
    events: list[tuple[str, str, float]] = []
    t0 = time.monotonic()

    def at() -> float:
        return round(time.monotonic() - t0, 2)

    async def arp(ctx: ScanContext) -> None:
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
            assert any(e.key == "wsd.scope" for e in device.evidence) or device.ip != "198.18.0.11"

    listeners = {m: window for m in ("mdns", "ssdp", "wsd", "sadp", "dhip")}
    scan = make_scan(arp=arp, listeners=listeners, probe=probe)
    scan.observer = Seen()
    t0 = time.monotonic()
    result = asyncio.run(scan.run())
    assert result.complete
    probes = {h: t for kind, h, t in events if kind == "probe"}
    finals = {h: t for kind, h, t in events if kind == "final"}
    assert set(probes) == set(finals) == {"198.18.0.11", "198.18.0.12"}
    assert max(probes.values()) < 0.2  # both probed inside the window (it closes at 0.3 s)
    assert min(finals.values()) >= 0.29  # and final only once it closed


def test_a_host_probe_runs_when_its_method_is_asked_and_reads_what_discovery_saw() -> None:
    seen: dict[str, list[str]] = {}
    ran: list[str] = []

    async def arp(ctx: ScanContext) -> None:
        ctx.emit(Evidence("198.18.0.7", "arp", "mac", "02:00:00:00:00:07"))
        ctx.emit(Evidence("198.18.0.7", "wsd", "wsd.xaddrs", "http://198.18.0.7/onvif/x"))

    async def onvif_like(ctx: ScanContext, host: str) -> None:
        seen[host] = sorted(ev.key for ev in ctx.host_evidence(host))

    async def banners(ctx: ScanContext, host: str) -> None:
        ran.append(host)

    probes = {
        "banners": HostProbe(Method.BANNERS, banners),
        "onvif": HostProbe(Method.WSD, onvif_like, after_discovery=True),
    }
    for methods, probed in (
        ((Method.ARP, Method.WSD), {"198.18.0.7": ["mac", "wsd.xaddrs"]}),
        ((Method.ARP,), {}),
    ):
        seen.clear()
        scan = Scan(
            ScanRequest(targets=["198.18.0.0/24"], methods=methods),
            {Method.ARP: arp},
            probes,
            interfaces=lambda: [IFACE],
        )
        scan.prepare()
        result = asyncio.run(scan.run())
        assert seen == probed
        assert ("onvif" in result.stats) is bool(probed)
    assert ran == [], "banners were never asked for"


def test_identification_runs_off_the_event_loop() -> None:
    # A host whose evidence is costly to identify must not stall the loop (probes, Ctrl-C).
    import threading

    on_loop: list[bool] = []

    def identify_recording(evidence: Sequence[Evidence]) -> Verdict:
        on_loop.append(threading.current_thread() is threading.main_thread())
        return identify(evidence)

    async def arp(ctx: ScanContext) -> None:
        ctx.emit(Evidence("198.18.0.11", "arp", "mac", "44:19:b6:3a:10:01"))
        ctx.emit(Evidence("198.18.0.12", "arp", "mac", "f8:bc:12:19:1a:1b"))

    async def sadp(ctx: ScanContext) -> None:
        ctx.emit(Evidence("198.19.0.64", "sadp", "sadp.mac", "44-19-b6-3a-10-99"))

    listeners = {m: quiet for m in ("mdns", "ssdp", "wsd", "dhip")} | {"sadp": sadp}
    scan = make_scan(arp=arp, listeners=listeners, probe=quiet, identify_with=identify_recording)
    result = asyncio.run(scan.run())
    assert result.complete and len(result.devices) == 3
    assert on_loop == [False, False, False]


def test_a_host_flooding_evidence_is_identified_within_its_budget() -> None:
    # Identification is linear in the text it reads; a host that floods evidence gets a bound.
    seen: list[int] = []

    def identify_measuring(evidence: Sequence[Evidence]) -> Verdict:
        seen.append(sum(len(ev.value) for ev in evidence))
        return identify(evidence)

    flood = [
        Evidence("198.18.0.11", "http", "http.body", f"{i}" + "x" * 1_000_000, 80) for i in range(6)
    ]
    items = [Evidence("198.18.0.11", "arp", "mac", "44:19:b6:3a:10:01"), *flood]
    dev = pipeline.build_device(
        "198.18.0.11", items, outside_scope=False, first_seen=None, identify=identify_measuring
    )
    assert seen and seen[0] <= devices.IDENTIFY_BUDGET_CHARS
    assert len(dev.evidence) == 7, "every item stays in the document"
    assert dev.verdict.maker == "Hikvision", "what fits the budget is still read"
    assert any(e.startswith("identification budget: 2 evidence items") for e in dev.errors)


def test_passive_too_needs_a_local_segment_and_says_so_before_any_packet() -> None:
    """The library refuses `passive_too` it cannot honour, as the CLI does (one line)."""
    request = ScanRequest(targets=["203.0.113.0/30"], settings=ScanSettings(passive_too=True))
    scan = Scan(request, {}, {}, interfaces=lambda: [IFACE])
    try:
        scan.prepare()
    except pipeline.ScanError as exc:
        assert str(exc) == (
            "--passive-too listens on the scan's interface: the targets are not on a "
            "local segment (give --interface)"
        )
    else:
        raise AssertionError("passive_too without a local segment was accepted")
    assert scan.listener is None


def test_without_passive_too_nothing_listens() -> None:
    scan = make_scan(arp=quiet, listeners={}, probe=quiet, methods=(Method.ARP,))
    assert scan.listener is None
    result = asyncio.run(scan.run())
    assert result.scope.passive is None


def test_identification_data_loads_from_the_first_host_heard_and_not_for_an_empty_range() -> None:
    # ~0.2 s of CPU (parsing and compiling the library): on an empty range that was most of
    # an ARP-only scan's own work besides the sweep.
    heard: list[bool] = []

    async def arp_nobody(ctx: ScanContext) -> None:
        return None

    empty = make_scan(arp=arp_nobody, listeners={}, probe=quiet, methods=(Method.ARP,))
    result = asyncio.run(empty.run())
    assert result.complete and result.devices == [] and empty._warm is None

    async def arp_one(ctx: ScanContext) -> None:
        ctx.emit(Evidence("198.18.0.11", "arp", "mac", "44:19:b6:3a:10:01"))
        heard.append(scan._warm is not None)  # loading as soon as the host is heard

    scan = make_scan(arp=arp_one, listeners={}, probe=quiet, methods=(Method.ARP,))
    result = asyncio.run(scan.run())
    assert heard == [True] and scan._warm is not None and scan._warm.done()
    assert result.devices[0].verdict.maker == "Hikvision"
