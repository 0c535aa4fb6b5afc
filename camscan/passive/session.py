"""A passive run: capture files (or a live socket) through a Hearing into a ScanResult."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from camscan.models import Device, PassiveScope, ScanResult, ScanScope
from camscan.passive.capfile import CaptureError, ReadReport, read_records
from camscan.passive.hearing import PROTOCOLS, Hearing


def iso(ts: float | None) -> str | None:
    """ISO 8601 UTC of a capture timestamp (seconds since the epoch)."""
    if ts is None:
        return None
    try:
        return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):
        return None


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def passive_scope(passive: PassiveScope, interface: str | None = None) -> ScanScope:
    """The scope statement of a run that sent nothing."""
    return ScanScope(
        targets=[],
        exclusions=[],
        interface=interface,
        probes=list(PROTOCOLS),
        ports=[],
        rate=0,
        retries=0,
        address_count=0,
        listen_window_s=0.0,
        passive=passive,
    )


def capture_statement(paths: Sequence[str]) -> str:
    """`passive: capture files a.pcap, b.pcapng`."""
    return "passive: capture files " + ", ".join(paths)


class CaptureRun:
    """Reads capture files one after the other into one Hearing; `result()` at any moment."""

    def __init__(
        self, paths: Sequence[str], *, site: str | None = None, operator: str | None = None
    ) -> None:
        self.paths = list(paths)
        self.site = site
        self.operator = operator
        self.hearing = Hearing()
        self.reports: list[ReadReport] = []
        self.errors: list[str] = []
        self.started = now_iso()
        self.elapsed = 0.0

    def run(self, progress: Callable[[str, int], None] | None = None) -> ScanResult:
        """Read every file; an unreadable one is an error line, the others are still read."""
        t = time.monotonic()
        complete = True
        feed, prefilter = self.hearing.feed, self.hearing.prefilter
        try:
            for path in self.paths:
                report = ReadReport(path)
                self.reports.append(report)
                try:
                    for ts, linktype, frame in read_records(path, report, prefilter):
                        feed(ts, linktype, frame, True)  # the prefilter wanted it
                except CaptureError as exc:
                    self.errors.append(str(exc))
                    complete = False
                if progress is not None:
                    progress(path, report.packets)
        except KeyboardInterrupt:
            self.errors.append("interrupted: reading stopped before the last file ended")
            complete = False
        finally:
            self.hearing.finish()
            self.elapsed = time.monotonic() - t
        return self.result(complete=complete)

    @property
    def packets(self) -> int:
        """Packets read so far, over every file (the decoder sees only those it may want)."""
        return sum(r.packets for r in self.reports)

    def scope(self) -> PassiveScope:
        """What was read so far."""
        firsts = [r.first_ts for r in self.reports if r.first_ts is not None]
        lasts = [r.last_ts for r in self.reports if r.last_ts is not None]
        problems = [f"{r.path}: {p}" for r in self.reports for p in r.problems]
        problems += [
            f"{r.path}: {r.cut} packets cut short by the capture's snap length"
            for r in self.reports
            if r.cut
        ]
        problems += [
            f"{r.path}: {r.oversize} packets over 256 KiB skipped"
            for r in self.reports
            if r.oversize
        ]
        return PassiveScope(
            statement=capture_statement(self.paths),
            files=list(self.paths),
            first_packet=iso(min(firsts)) if firsts else None,
            last_packet=iso(max(lasts)) if lasts else None,
            packets=sum(r.packets for r in self.reports),
            packets_by_protocol=dict(self.hearing.packets),
            problems=problems,
        )

    def result(self, *, complete: bool) -> ScanResult:
        """The run as a scan result."""
        return build_result(
            self.hearing,
            self.scope(),
            started=self.started,
            complete=complete,
            site=self.site,
            operator=self.operator,
            errors=self.errors,
            duration_s=self.elapsed,
        )


def build_result(
    hearing: Hearing,
    passive: PassiveScope,
    *,
    started: str,
    complete: bool,
    site: str | None,
    operator: str | None,
    errors: list[str],
    duration_s: float,
    interface: str | None = None,
) -> ScanResult:
    """Identify every host heard and wrap the lot as a ScanResult."""
    from camscan.targets import host_order

    devices: list[Device] = sorted(hearing.devices(), key=lambda d: host_order(d.ip))
    stats = dict(sorted(hearing.stats.items()))
    for s in stats.values():
        s.duration_s = round(duration_s, 3)
    notes = []
    if hearing.hosts_dropped:
        notes.append(
            f"{hearing.hosts_dropped} evidence items from addresses beyond the first "
            "65,536 were not kept"
        )
    if hearing.fragments_unread:
        notes.append(
            f"{hearing.fragments_unread} UDP datagrams that came in fragments were not read "
            "(a piece missing or cut, pieces overlapping over IPv6, or over the reassembly bounds)"
        )
    if hearing.tcp.evicted:
        notes.append(
            f"{hearing.tcp.evicted} TCP replies were read before they ended (too many open at once)"
        )
    return ScanResult(
        scope=passive_scope(passive, interface),
        started=started,
        finished=now_iso(),
        complete=complete,
        stats=stats,
        devices=devices,
        site=site,
        operator=operator,
        errors=[*errors, *notes],
    )


def read_captures(
    paths: Sequence[str], *, site: str | None = None, operator: str | None = None
) -> ScanResult:
    """Library entry point: the scan result of one or more capture files."""
    return CaptureRun(paths, site=site, operator=operator).run()


__all__ = [
    "CaptureRun",
    "build_result",
    "capture_statement",
    "iso",
    "now_iso",
    "passive_scope",
    "read_captures",
]
