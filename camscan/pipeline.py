"""The scan: discover (ARP + listeners) → group by host → probe banners → identify, in one loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from camscan import targets as targets_module
from camscan.context import (
    ALL_METHODS,
    Discoverer,
    HostProbe,
    LivenessCheck,
    Method,
    Probe,
    ScanContext,
    ScanSettings,
)
from camscan.devices import build_device, device_mac
from camscan.discovery.registry import DISCOVERERS
from camscan.fingerprints import default_library
from camscan.identify import identify
from camscan.models import (
    Device,
    Evidence,
    PassiveScope,
    ScanResult,
    ScanScope,
    Verdict,
)
from camscan.oui import lookup
from camscan.probes import tls
from camscan.probes.registry import LIVENESS, PROBES
from camscan.targets import (
    InterfaceInfo,
    TargetError,
    TargetSet,
    choose_interface,
    host_order,
    in_scope,
    localnet,
    parse_targets,
    split_specs,
)

if TYPE_CHECKING:
    from camscan.passive.alongside import Alongside

__all__ = [
    "ALL_METHODS",
    "Method",
    "NullObserver",
    "Scan",
    "ScanError",
    "ScanObserver",
    "ScanRequest",
    "build_device",
    "device_mac",
    "run_scan",
]

log = logging.getLogger("camscan.pipeline")


class ScanObserver(Protocol):
    """Told about progress and each device once its verdict is final (for streaming output)."""

    def start_phase(self, name: str, total: int | None) -> None: ...
    def advance(self, name: str, n: int = 1) -> None: ...
    def end_phase(self, name: str) -> None: ...
    def device_final(self, device: Device) -> None: ...


class NullObserver:
    """An observer that ignores everything."""

    def start_phase(self, name: str, total: int | None) -> None:
        pass

    def advance(self, name: str, n: int = 1) -> None:
        pass

    def end_phase(self, name: str) -> None:
        pass

    def device_final(self, device: Device) -> None:
        pass


class ScanError(Exception):
    """A scan that cannot start; the message is one line for the user."""


@dataclass(slots=True)
class ScanRequest:
    """What the user asked for."""

    targets: list[str]
    exclude: list[str] = field(default_factory=list)
    interface: str | None = None
    localnet: bool = False
    allow_large: bool = False
    methods: tuple[Method, ...] = ALL_METHODS
    settings: ScanSettings = field(default_factory=ScanSettings)
    site: str | None = None
    operator: str | None = None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class EvidenceStore:
    """Evidence grouped by host, each distinct item kept once, in arrival order."""

    def __init__(self, t0: float) -> None:
        self._t0 = t0
        self.by_host: dict[str, list[Evidence]] = {}
        self.first_seen: dict[str, float] = {}
        self._seen: set[Evidence] = set()
        self.on_new_host: Callable[[str], None] = lambda host: None

    def emit(self, ev: Evidence) -> None:
        if ev in self._seen:
            return
        self._seen.add(ev)
        if ev.host not in self.by_host:
            self.by_host[ev.host] = []
            self.first_seen[ev.host] = round(time.monotonic() - self._t0, 3)
            self.by_host[ev.host].append(ev)
            self.on_new_host(ev.host)
            return
        self.by_host[ev.host].append(ev)


def _most_targets(candidates: Iterable[InterfaceInfo], targets: TargetSet) -> InterfaceInfo | None:
    """The interface whose network holds the most targets; None if no target is local."""

    def held(iface: InterfaceInfo) -> int:
        lo, hi = int(iface.network.network_address), int(iface.network.broadcast_address)
        return sum(max(0, min(b, hi) - max(a, lo) + 1) for a, b in targets.intervals)

    best = max(candidates, key=held, default=None)
    return best if best is not None and held(best) > 0 else None


def _warm_up(certificates: bool) -> None:
    default_library()
    lookup("00:00:00:00:00:00")
    if certificates:
        tls.preload()


class Scan:
    """One scan's state; `result()` can be taken at any moment, so nothing found is lost.

    `discoverers` and `probes` are the methods it may run (those the request names run);
    `liveness` decides which targets off the swept segment are up; `interfaces` lists this
    machine's IPv4 interfaces; `identify` turns a host's evidence into its verdict. Tests hand
    in fakes.
    """

    def __init__(
        self,
        request: ScanRequest,
        discoverers: Mapping[Method, Discoverer],
        probes: Mapping[str, HostProbe],
        observer: ScanObserver | None = None,
        *,
        liveness: LivenessCheck = LIVENESS,
        interfaces: Callable[[], Sequence[InterfaceInfo]] | None = None,
        identify: Callable[[Sequence[Evidence]], Verdict] = identify,
    ) -> None:
        self.request = request
        self.identify = identify
        # Looked up when asked for, so a caller that replaces camscan.targets' is heard.
        self.interfaces = interfaces or (lambda: targets_module.list_interfaces())
        self.discoverers = discoverers
        self.probes = probes
        self.liveness = liveness
        self.observer: ScanObserver = observer or NullObserver()
        self.started = _now()
        self._t0 = time.monotonic()
        self.store = EvidenceStore(self._t0)
        self.devices: dict[str, Device] = {}
        self.errors: list[str] = []
        self.scope: ScanScope | None = None
        self.ctx: ScanContext | None = None
        self._progress_done: dict[str, int] = {}  # phase -> last reported count
        # Probing starts with each host's first evidence; a device is final once its probes
        # are done and the listen window (which may still add evidence) has closed.
        self._to_probe: asyncio.Queue[str | None] | None = None
        self._probed: set[str] = set()
        self._identifying: set[str] = set()  # hosts whose verdict a worker thread is computing
        self._window_closed = False
        self._spans: dict[str, list[float]] = {}  # probe -> [first start, last end]
        self._warm: asyncio.Future[None] | None = None  # identification's data, loading
        self.listener: Alongside | None = None  # settings.passive_too: heard, not asked

    # -- set-up ---------------------------------------------------------------------------
    def prepare(self) -> None:
        """Resolve targets and interface; raises ScanError with a one-line message."""
        req = self.request
        try:
            specs = list(req.targets)
            iface = None
            if req.localnet:
                iface = choose_interface(self.interfaces(), req.interface, None)
                specs.append(localnet(iface))
            targets = parse_targets(specs, req.exclude, allow_large=req.allow_large)
            if iface is None:
                candidates = self.interfaces()
                try:
                    iface = choose_interface(candidates, req.interface, targets)
                except TargetError:
                    if req.interface:
                        raise
                    # Targets on several networks: sweep the segment that holds most of them;
                    # the rest (routed) are found by TCP connect.
                    iface = _most_targets(candidates, targets)
        except TargetError as exc:
            raise ScanError(str(exc)) from None
        self.targets = targets
        self.iface = iface
        settings = req.settings
        self.scope = ScanScope(
            targets=split_specs(req.targets)
            + ([localnet(iface)] if req.localnet and iface else []),
            exclusions=split_specs(req.exclude),
            interface=iface.name if iface else None,
            probes=[m.value for m in req.methods],
            ports=list(settings.ports),
            rate=settings.rate,
            retries=settings.retries,
            address_count=targets.size,
            listen_window_s=settings.listen_window_s,
        )
        self.ctx = ScanContext(
            settings=settings,
            interface=iface.name if iface else None,
            source_ip=str(iface.ip) if iface else None,
            in_scope=targets,
            emit=self.store.emit,
            connections=asyncio.Semaphore(settings.max_connections),
            progress=self._progress,
            iface=iface,
            sweep_targets=self._sweep_targets(),
            host_evidence=lambda host: tuple(self.store.by_host.get(host, ())),
        )
        if settings.passive_too:
            self.listener = self._open_listener()

    def _open_listener(self) -> Alongside:
        """The packet socket `passive_too` listens on, opened before any packet is sent."""
        from camscan.passive.alongside import Alongside
        from camscan.passive.live import LiveError

        assert self.scope is not None
        if self.iface is None:
            raise ScanError(
                "--passive-too listens on the scan's interface: the targets are not on a "
                "local segment (give --interface)"
            )
        try:
            listener = Alongside(self.iface.name)
        except LiveError as exc:
            raise ScanError(f"--passive-too: {exc}") from None
        # In the scope from the start, so the NDJSON header already says it.
        self.scope.passive = PassiveScope(
            statement=f"passive: also listened on {self.iface.name} during the scan"
        )
        return listener

    def with_heard(self, result: ScanResult) -> ScanResult:
        """`result` plus the hosts the listener heard but the scan did not probe (once)."""
        listener, self.listener = self.listener, None
        if listener is None:
            return result
        return listener.merge(result, self._in_scope, self.observer.device_final)

    def _sweep_targets(self) -> TargetSet | None:
        """The targets on the local segment, which ARP asks for (streamed by the sweep)."""
        if self.iface is None or Method.ARP not in self.request.methods:
            return None
        return self.targets.clip(self.iface.network)

    def _progress(self, phase: str, done: int, total: int | None) -> None:
        """A method's own progress (ARP n/N) turned into observer calls."""
        if phase not in self._progress_done:
            self._progress_done[phase] = 0
            self.observer.start_phase(phase, total)
        if done > self._progress_done[phase]:
            self.observer.advance(phase, done - self._progress_done[phase])
            self._progress_done[phase] = done

    # -- phases ---------------------------------------------------------------------------
    async def _guarded(self, name: str, coro: Awaitable[Any]) -> None:
        """Run one method (or one host's probe); its failure is counted, not raised."""
        assert self.ctx is not None
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # one method failing must not lose the others' findings
            log.debug("%s failed", name, exc_info=True)
            stat = self.ctx.stat(name)
            stat.errors += 1
            stat.notes.append(f"failed: {type(exc).__name__}: {exc}")
        finally:
            if name in self._progress_done:
                self.observer.end_phase(name)

    async def _timed(self, name: str, coro: Awaitable[Any]) -> None:
        """A whole discovery method: guarded, and timed as the method's duration."""
        assert self.ctx is not None
        with self.ctx.timed(name):
            await self._guarded(name, coro)

    async def discover(self) -> None:
        """ARP sweep and every segment listener, concurrently."""
        assert self.ctx is not None
        ctx, req = self.ctx, self.request
        jobs: list[Awaitable[None]] = []
        for method, discoverer in self.discoverers.items():
            if method not in req.methods:
                continue
            if self.iface is None:
                ctx.stat(method.value).notes.append(
                    "skipped: targets are not on a local segment of this machine"
                )
            else:
                jobs.append(self._timed(method.value, discoverer(ctx)))
        self.observer.start_phase("discovery", len(jobs))
        tasks = [asyncio.ensure_future(job) for job in jobs]
        try:
            for job in asyncio.as_completed(tasks):
                await job
                self.observer.advance("discovery")
        finally:
            # Cancelled (SIGINT): each method closes its sockets now, not in asyncio.run's last
            # sweep, which also cancels library tasks (zeroconf's set-up) and leaks theirs.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self.observer.end_phase("discovery")

    def _in_scope(self, host: str) -> bool:
        return in_scope(self.targets, host)

    def routed_addresses(self) -> TargetSet | None:
        """Targets the connect check decides: those ARP does not sweep, if banners will probe.

        ARP sweeps the segment only when asked for; without it (`--probes banners`) the local
        targets are connect-checked too, else nothing would be probed and the scan find nothing.
        """
        if Method.BANNERS not in self.request.methods:
            return None  # the connect check is the banner probe's liveness test, nothing else's
        swept = self.iface is not None and Method.ARP in self.request.methods
        net = self.iface.network if swept and self.iface is not None else None
        routed = self.targets.outside(net)
        return routed if routed.size else None

    async def find_routed(self, addresses: TargetSet) -> None:
        """A TCP connect check decides which targets beyond the local segment are up."""
        assert self.ctx is not None
        ctx = self.ctx
        stat = ctx.stat("tcp-ping")
        self.observer.start_phase("tcp-ping", addresses.size)
        pending = (str(a) for a in addresses.iter_addresses())

        async def worker() -> None:
            # A fixed pool pulling from one iterator: not a task per address (a /8 is 16M).
            for ip in pending:
                stat.sent += 1
                if await self.liveness(ctx, ip):
                    stat.answered += 1
                    ctx.emit(Evidence(ip, "tcp-ping", "probe.alive", "tcp connect answered"))
                self.observer.advance("tcp-ping")

        await asyncio.gather(*(worker() for _ in range(max(1, ctx.settings.max_connections))))
        self.observer.end_phase("tcp-ping")

    def _enabled(self, *, after_discovery: bool) -> dict[str, Probe]:
        """The probes the request switches on that run now, or once discovery is over."""
        return {
            name: p.run
            for name, p in self.probes.items()
            if p.method in self.request.methods and p.after_discovery is after_discovery
        }

    def _host_found(self, host: str) -> None:
        """A host's first evidence: load what identifies it, queue its probes if in scope."""
        if self._warm is None:
            # Identification's data loads in a thread from the first host on, while
            # discovery goes on: a range where nobody answers never pays for it. (Off the
            # loop, identification loads it when it first needs it.)
            with contextlib.suppress(RuntimeError):
                self._warm = asyncio.get_running_loop().run_in_executor(
                    None, _warm_up, Method.BANNERS in self.request.methods
                )
        if self._to_probe is not None and self._in_scope(host):
            self._to_probe.put_nowait(host)

    async def _probe(self, probes: Mapping[str, Probe], host: str) -> None:
        """Every probe of `probes` on one host, in turn (no task per host); spans are kept."""
        assert self.ctx is not None
        for name, probe in probes.items():
            started = time.monotonic()
            await self._guarded(name, probe(self.ctx, host))
            span = self._spans.setdefault(name, [started, started])
            span[0], span[1] = min(span[0], started), time.monotonic()

    def start_probing(self) -> list[asyncio.Task[None]]:
        """A pool of workers probing each in-scope host as soon as it is known."""
        assert self.ctx is not None
        now = self._enabled(after_discovery=False)
        if not now:
            return []
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._to_probe = queue
        for host in list(self.store.by_host):  # anything heard before the workers started
            self._host_found(host)
        self.observer.start_phase("probes", None)
        late = bool(self._enabled(after_discovery=True))

        async def worker() -> None:  # a fixed pool, not a task per host
            # The global connection limit inside the probes bounds sockets; a slow host
            # delays only its own worker.
            while (host := await queue.get()) is not None:
                await self._probe(now, host)
                self._probed.add(host)
                if self._window_closed and not late:
                    await self._finish_off_loop(host, outside_scope=False)
                self.observer.advance("probes")

        return [
            asyncio.create_task(worker())
            for _ in range(max(1, self.ctx.settings.max_connections // 2))
        ]

    async def close_window(self) -> None:
        """Discovery is over: every host whose probes are done (or need none) is final now."""
        self._window_closed = True
        waits = bool(self._enabled(after_discovery=False)) or bool(
            self._enabled(after_discovery=True)
        )
        for host in sorted(self.store.by_host, key=host_order):
            if not self._in_scope(host):
                # never probed beyond the scope given
                await self._finish_off_loop(host, outside_scope=True)
            elif not waits or (host in self._probed and not self._enabled(after_discovery=True)):
                await self._finish_off_loop(host, outside_scope=False)

    async def finish_probing(self, workers: list[asyncio.Task[None]]) -> None:
        """No more hosts will come: the workers finish the queue, then the probes that read
        what discovery heard (ONVIF asks the services a host advertised) run for each host."""
        assert self.ctx is not None
        if self._to_probe is not None:
            for _ in workers:
                self._to_probe.put_nowait(None)
            await asyncio.gather(*workers)
        late = self._enabled(after_discovery=True)
        if late:
            if self._to_probe is None:
                self.observer.start_phase("probes", None)
            pending = iter(
                [
                    h
                    for h in sorted(self.store.by_host, key=host_order)
                    if self._in_scope(h) and h not in self.devices
                ]
            )

            async def worker() -> None:  # a fixed pool, not a task per host
                for host in pending:
                    await self._probe(late, host)
                    await self._finish_off_loop(host, outside_scope=False)

            await asyncio.gather(
                *(worker() for _ in range(max(1, self.ctx.settings.max_connections // 2)))
            )
        for name, (started, ended) in self._spans.items():  # each probe timed as a whole
            self.ctx.set_duration(name, ended - started)
        if self._to_probe is not None or late:
            self.observer.end_phase("probes")

    def _finish(self, host: str, *, outside_scope: bool) -> None:
        """Identify `host` here (the scan's end, when nothing else waits on the loop)."""
        if host in self.devices:
            return
        self._record(
            build_device(
                host,
                self.store.by_host.get(host, []),
                outside_scope=outside_scope,
                first_seen=self.store.first_seen.get(host),
                identify=self.identify,
            )
        )

    async def _finish_off_loop(self, host: str, *, outside_scope: bool) -> None:
        """Identify `host` in a worker thread: a costly host never stalls the loop (or Ctrl-C)."""
        if host in self.devices or host in self._identifying:
            return
        self._identifying.add(host)
        try:
            dev = await asyncio.to_thread(
                build_device,
                host,
                list(self.store.by_host.get(host, [])),
                outside_scope=outside_scope,
                first_seen=self.store.first_seen.get(host),
                identify=self.identify,
            )
        finally:
            self._identifying.discard(host)
        if host not in self.devices:
            self._record(dev)

    def _record(self, dev: Device) -> None:
        self.devices[dev.ip] = dev
        self.observer.device_final(dev)

    async def _warmed(self) -> None:
        """Identification's data is loaded, if any host started loading it."""
        if self._warm is not None:
            await self._warm

    async def run(self) -> ScanResult:
        """Run every phase; cancellation (SIGINT) returns what was found, marked incomplete."""
        complete = False
        if self.listener is not None:
            self.listener.start()
        self.store.on_new_host = self._host_found
        workers = self.start_probing()  # hosts are probed while the window is still open
        try:
            await self.discover()
            await self._warmed()
            await self.close_window()
            if (routed := self.routed_addresses()) is not None:
                await self.find_routed(routed)
                await self._warmed()
            await self.finish_probing(workers)
            complete = True
        except asyncio.CancelledError:
            self.errors.append("interrupted: the scan was stopped before it finished")
        except Exception as exc:  # a bug, or a stream that failed: still hand back the findings
            log.debug("scan failed", exc_info=True)
            self.errors.append(f"fatal error: {type(exc).__name__}: {exc}")
        finally:
            if self._warm is not None:
                self._warm.cancel()
            for task in workers:  # cut short: no probe outlives the scan
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        return self.with_heard(self.result(complete=complete))

    def result(self, *, complete: bool) -> ScanResult:
        """The scan so far; hosts not yet identified are identified from what they have."""
        for host in sorted(self.store.by_host, key=host_order):
            if host not in self.devices:
                self._finish(host, outside_scope=not self._in_scope(host))
        assert self.scope is not None and self.ctx is not None
        return ScanResult(
            scope=self.scope,
            started=self.started,
            finished=_now(),
            complete=complete,
            stats=dict(sorted(self.ctx.stats.items())),
            devices=[self.devices[h] for h in sorted(self.devices, key=host_order)],
            site=self.request.site,
            operator=self.request.operator,
            errors=list(self.errors),
        )


async def run_scan(request: ScanRequest, observer: ScanObserver | None = None) -> ScanResult:
    """Library entry point: prepare and run one scan with every discoverer and probe."""
    scan = Scan(request, DISCOVERERS, PROBES, observer)
    scan.prepare()
    return await scan.run()
