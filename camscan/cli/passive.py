"""`camscan pcap` and `camscan listen`: devices from traffic heard, the same document out."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from camscan.cli.common import OutputFormat, check_writable, emit_result, fail, fingerprint_version
from camscan.models import ScanResult
from camscan.output.private import open_private

# The options `pcap` and `listen` share with each other (and, in meaning, with `scan`).
FormatOption = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="Machine output format.")
]
OutputOption = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write the machine output here instead of stdout."),
]
SiteOption = Annotated[str | None, typer.Option("--site", help="Site label.")]
OperatorOption = Annotated[str | None, typer.Option("--operator", help="Operator label.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No table.")]
FailOnFoundOption = Annotated[
    bool,
    typer.Option("--fail-on-found", help="Exit 3 when any Hikvision or Dahua device is found."),
]


def _finish(
    result: ScanResult, fmt: OutputFormat, output: Path | None, quiet: bool, fail_on_found: bool
) -> None:
    from camscan.output.document import build_document
    from camscan.output.exitcodes import FOUND, RUNTIME_ERROR, exit_code_for
    from camscan.output.ndjson import write_all

    version = fingerprint_version()
    doc = build_document(result, fingerprint_version=version)
    if fmt is OutputFormat.NDJSON:
        written = True
        if output is None:
            write_all(result, sys.stdout, fingerprint_version=version)
        else:
            try:
                output.parent.mkdir(parents=True, exist_ok=True)
                with open_private(output) as fh:
                    write_all(result, fh, fingerprint_version=version)
            except OSError as exc:
                typer.echo(
                    f"camscan: error: cannot write {output}: {exc.strerror or exc}; "
                    "writing the output to stdout instead",
                    err=True,
                )
                write_all(result, sys.stdout, fingerprint_version=version)
                written = False
    else:
        written = emit_result(doc, fmt, output)
    if not quiet:
        from camscan.output.table import print_table  # rich: ~50 ms, for the table alone

        print_table(doc)
    code = exit_code_for(result, fail_on_found)
    raise typer.Exit(code if written or code == FOUND else RUNTIME_ERROR)


def _output(output: Path | None) -> Path | None:
    if output is not None and str(output) == "-":
        return None
    if output is not None:
        check_writable(output, "--output")
    return output


def pcap(
    files: Annotated[
        list[Path], typer.Argument(help="pcap or pcapng files, gzip-compressed or not.")
    ],
    fmt: FormatOption = OutputFormat.JSON,
    output: OutputOption = None,
    site: SiteOption = None,
    operator: OperatorOption = None,
    quiet: QuietOption = False,
    fail_on_found: FailOnFoundOption = False,
) -> None:
    """Find and identify devices in capture files, sending nothing; the scan document out."""
    from camscan.passive.session import CaptureRun

    for f in files:
        if not f.is_file():
            raise fail(f"{f}: no such file" if not f.exists() else f"{f}: not a file")
    output = _output(output)
    run = CaptureRun([str(f) for f in files], site=site, operator=operator)
    result = run.run()
    for problem in result.scope.passive.problems if result.scope.passive else []:
        typer.echo(f"camscan: warning: {problem}", err=True)
    for error in result.errors:
        typer.echo(f"camscan: error: {error}", err=True)
    if not quiet:
        typer.echo(
            f"camscan: {run.packets:,} packets read in {run.elapsed:.1f} s, "
            f"{len(result.devices)} hosts heard",
            err=True,
        )
    _finish(result, fmt, output, quiet, fail_on_found)


class _LiveStream:
    """NDJSON lines of a live capture: a device line when a host appears or its verdict changes."""

    def __init__(
        self,
        out: TextIO,
        hearing: Any,
        scope: Any,
        started: str,
        site: str | None,
        operator: str | None,
    ) -> None:
        from camscan.output.ndjson import NdjsonWriter

        self.hearing = hearing
        self.writer = NdjsonWriter(out)
        self.writer.start(
            scope, started, site=site, operator=operator, fingerprint_version=fingerprint_version()
        )
        self.dirty: set[str] = set()
        self.written: dict[str, Any] = {}

    def evidence(self, ev: Any) -> None:
        self.dirty.add(ev.host)

    def tick(self) -> None:
        """Write the hosts whose verdict is new or changed since the last tick."""
        from camscan.output.document import verdict_dict

        dirty, self.dirty = self.dirty, set()
        for host in sorted(dirty):  # only hosts heard since the last tick are identified again
            dev = self.hearing.device(host)
            shown = (dev.mac, verdict_dict(dev.verdict))
            if self.written.get(host) != shown:
                self.written[host] = shown
                self.writer.device(dev)

    def final(self, devices: list[Any]) -> None:
        """The end of the capture: each device as the document has it, where that differs."""
        from camscan.output.document import verdict_dict

        for dev in devices:
            shown = (dev.mac, verdict_dict(dev.verdict))
            if self.written.get(dev.ip) != shown:
                self.written[dev.ip] = shown
                self.writer.device(dev)


def listen(
    interface: Annotated[
        str,
        typer.Option("--interface", "-i", help="Interface to listen on (a SPAN/mirror port, say)."),
    ],
    duration: Annotated[
        str, typer.Option("--duration", "-d", help="How long to listen: 90s, 10m, 2h.")
    ] = "10m",
    fmt: FormatOption = OutputFormat.JSON,
    output: OutputOption = None,
    site: SiteOption = None,
    operator: OperatorOption = None,
    quiet: QuietOption = False,
    fail_on_found: FailOnFoundOption = False,
) -> None:
    """Listen on an interface, sending nothing; devices as they become known (needs CAP_NET_RAW)."""
    import time

    from camscan.models import PassiveScope
    from camscan.output.exitcodes import FOUND, RUNTIME_ERROR, exit_code_for
    from camscan.passive.hearing import LINK_ETHERNET, Hearing
    from camscan.passive.live import LiveError, capture, open_capture, parse_duration
    from camscan.passive.session import build_result, iso, now_iso, passive_scope

    try:
        seconds = parse_duration(duration)
    except ValueError as exc:
        raise fail(str(exc)) from None
    output = _output(output)
    try:
        sock = open_capture(interface)
    except LiveError as exc:
        raise fail(str(exc), 1) from None
    started = now_iso()
    statement = f"passive: listened on {interface} for {duration}"
    hearing = Hearing()
    stream: _LiveStream | None = None
    ndjson_file: TextIO | None = None
    if fmt is OutputFormat.NDJSON:
        ndjson_out: TextIO = sys.stdout
        if output is not None:
            try:
                output.parent.mkdir(parents=True, exist_ok=True)
                ndjson_file = ndjson_out = open_private(output)
            except OSError as exc:
                raise fail(f"cannot write {output}: {exc.strerror}") from None
        stream = _LiveStream(
            ndjson_out,
            hearing,
            passive_scope(PassiveScope(statement), interface),
            started,
            site,
            operator,
        )
        hearing.on_evidence = stream.evidence
    stopped = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stopped.set()

    saved = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    t0 = time.monotonic()
    first: float | None = None
    last: float | None = None

    def on_frame(ts: float, frame: bytes) -> None:
        nonlocal first, last
        first = ts if first is None else first
        last = ts
        hearing.feed(ts, LINK_ETHERNET, frame)

    try:
        captured = capture(
            sock, seconds, on_frame, tick=stream.tick if stream else None, stop=stopped.is_set
        )
    finally:
        sock.close()
        hearing.finish()
        for s, handler in saved.items():
            signal.signal(s, handler)
    scope = PassiveScope(
        statement,
        first_packet=iso(first),
        last_packet=iso(last),
        packets=hearing.frames,
        packets_by_protocol=dict(hearing.packets),
        problems=captured.problems(),
    )
    errors = (
        ["interrupted: listening stopped before the duration ended"] if stopped.is_set() else []
    )
    result = build_result(
        hearing,
        scope,
        started=started,
        complete=not stopped.is_set(),
        site=site,
        operator=operator,
        errors=errors,
        duration_s=time.monotonic() - t0,
        interface=interface,
    )
    if stream is not None:
        stream.final(result.devices)
        stream.writer.finish(result)
        if ndjson_file is not None:
            ndjson_file.close()
        if not quiet:
            from camscan.output.document import build_document
            from camscan.output.table import print_table

            print_table(build_document(result))
        code = exit_code_for(result, fail_on_found)
        raise typer.Exit(code if code in (FOUND, 0) else RUNTIME_ERROR)
    _finish(result, fmt, output, quiet, fail_on_found)


def register(app: typer.Typer) -> None:
    """Add `pcap` and `listen` to the top-level app."""
    app.command("pcap")(pcap)
    app.command("listen")(listen)
