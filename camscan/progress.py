"""Progress observers: rich bars on stderr per scan phase, or nothing.

Same method names as `camscan.pipeline.ScanObserver`; `make_observer()` gives the scan one
observer that drives the progress bars and, with `--format ndjson`, the NDJSON stream.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, TextIO

from camscan.models import Device, ScanResult, ScanScope
from camscan.pipeline import NullObserver

if TYPE_CHECKING:  # rich and the output modules load only when used, off the scan's start-up
    from rich.console import Console

    from camscan.output.ndjson import NdjsonWriter


class ProgressObserver(Protocol):
    """What the scan tells about its phases (`arp`, `discovery`, `probes`, ...)."""

    def start_phase(self, name: str, total: int | None) -> None: ...
    def advance(self, name: str, n: int = 1) -> None: ...
    def end_phase(self, name: str) -> None: ...
    def device_final(self, device: Device) -> None: ...
    def close(self) -> None: ...


class NullProgress(NullObserver):
    """Shows nothing."""

    def close(self) -> None:
        pass


class RichProgress:
    """One rich progress bar per phase on the given console (stderr by default)."""

    def __init__(self, console: Console | None = None) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TaskID,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description:<12}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}
        self._live = False

    def start_phase(self, name: str, total: int | None) -> None:
        if not self._live:
            self._progress.start()
            self._live = True
        if name in self._tasks:
            self._progress.reset(self._tasks[name], total=total)
        else:
            self._tasks[name] = self._progress.add_task(name, total=total)

    def advance(self, name: str, n: int = 1) -> None:
        if name not in self._tasks:
            self.start_phase(name, None)
        self._progress.advance(self._tasks[name], n)

    def end_phase(self, name: str) -> None:
        task = self._tasks.get(name)
        if task is None:
            return
        t = next(t for t in self._progress.tasks if t.id == task)
        # A finished phase is complete even if it ended early (nothing left to wait for).
        total = t.total if t.total is not None else max(t.completed, 1)
        self._progress.update(task, total=total, completed=total)
        self._progress.stop_task(task)

    def device_final(self, device: Device) -> None:
        pass

    def close(self) -> None:
        if self._live:
            self._progress.stop()
            self._live = False


def make_progress(*, quiet: bool = False, stream: TextIO | None = None) -> ProgressObserver:
    """Rich bars when `stream` (default stderr) is a terminal and not quiet; else nothing."""
    stream = stream or sys.stderr
    if quiet or not stream.isatty():
        return NullProgress()
    from rich.console import Console

    return RichProgress(Console(file=stream))


class _Request(Protocol):
    site: str | None
    operator: str | None


class PreparedScan(Protocol):
    """What `header()` reads from a prepared `camscan.pipeline.Scan`."""

    @property
    def scope(self) -> ScanScope | None: ...
    @property
    def started(self) -> str: ...
    @property
    def request(self) -> _Request: ...


class ScanObserver:
    """The scan's observer: progress bars plus, optionally, the NDJSON stream of devices.

    Used as a context manager, an exception (SIGINT, a fatal error) still ends the NDJSON
    stream with a `complete: false` summary line and stops the progress display.
    """

    def __init__(
        self,
        progress: ProgressObserver,
        ndjson: NdjsonWriter | None = None,
        fingerprint_version: str | None = None,
    ) -> None:
        self.progress = progress
        self.ndjson = ndjson
        self.fingerprint_version = fingerprint_version

    def start_phase(self, name: str, total: int | None) -> None:
        self.progress.start_phase(name, total)

    def advance(self, name: str, n: int = 1) -> None:
        self.progress.advance(name, n)

    def end_phase(self, name: str) -> None:
        self.progress.end_phase(name)

    def device_final(self, device: Device) -> None:
        if self.ndjson is not None:
            self.ndjson.device(device)

    def header(self, scan: PreparedScan) -> None:
        """The NDJSON header line, once the scan is prepared (its scope is known)."""
        if self.ndjson is not None and scan.scope is not None:
            self.ndjson.start(
                scan.scope,
                scan.started,
                site=scan.request.site,
                operator=scan.request.operator,
                fingerprint_version=self.fingerprint_version,
            )

    def summary(self, result: ScanResult) -> None:
        """The NDJSON summary line (complete or not, as the result says)."""
        if self.ndjson is not None:
            self.ndjson.finish(result)

    def abort(self, reason: str) -> None:
        """End the NDJSON stream with `complete: false` if it has not ended yet."""
        if self.ndjson is not None:
            self.ndjson.abort(reason)

    def close(self) -> None:
        """Stop the progress display (the NDJSON stream is ended by summary/abort)."""
        self.progress.close()

    def __enter__(self) -> ScanObserver:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
        if self.ndjson is not None:
            self.ndjson.__exit__(exc_type, exc, tb)


def make_observer(
    *,
    quiet: bool = False,
    ndjson_out: TextIO | None = None,
    fingerprint_version: str | None = None,
    stream: TextIO | None = None,
    ndjson_fallback: TextIO | None = None,
    ndjson_name: str = "",
) -> ScanObserver:
    """Progress on stderr (unless quiet or not a terminal), NDJSON to `ndjson_out` if given
    (and to `ndjson_fallback` from the first line if writing `ndjson_out` fails)."""
    from camscan.output.ndjson import NdjsonWriter

    writer = None
    if ndjson_out is not None:
        writer = NdjsonWriter(ndjson_out, fallback=ndjson_fallback, name=ndjson_name)
    return ScanObserver(make_progress(quiet=quiet, stream=stream), writer, fingerprint_version)
