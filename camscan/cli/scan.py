"""`camscan scan`: options in, library call, one formatter out."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from camscan.cli.common import (
    OutputFormat,
    check_writable,
    emit_result,
    fail,
    fingerprint_version,
)
from camscan.context import ALL_METHODS, MAX_RATE, Method, ScanSettings
from camscan.models import Confidence, ScanResult

if TYPE_CHECKING:  # the pipeline imports every discoverer: loaded once a scan is asked for
    from camscan.pipeline import Scan

DEFAULTS = ScanSettings()


def parse_methods(values: list[str] | None) -> tuple[Method, ...]:
    """`--probes arp,sadp --probes http` → methods; 'all' means every method."""
    if not values:
        return ALL_METHODS
    names = [n.strip().lower() for v in values for n in v.split(",") if n.strip()]
    if not names:  # `--probes ""` would scan with no method at all, and say nothing
        choices = ", ".join(m.value for m in Method)
        raise fail(f"--probes is empty; choose from: {choices}, all")
    if "all" in names:
        return ALL_METHODS
    out: list[Method] = []
    for n in names:
        try:
            m = Method(n)
        except ValueError:
            choices = ", ".join(m.value for m in Method)
            raise fail(f"unknown probe {n!r}; choose from: {choices}, all") from None
        if m not in out:
            out.append(m)
    return tuple(out)


def parse_onvif_hosts(value: str | None) -> tuple[str, ...] | None:
    """'198.18.0.11,198.18.0.32/30' → networks; None when not given."""
    if value is None:
        return None
    import ipaddress

    out = []
    for part in (p.strip() for p in value.split(",")):
        try:
            out.append(str(ipaddress.IPv4Network(part, strict=False)))
        except ValueError:
            raise fail(f"--onvif-hosts: {part!r} is not an IPv4 address or CIDR") from None
    if not out:
        raise fail("--onvif-hosts is empty")
    return tuple(out)


def parse_ports(value: str | None) -> tuple[int, ...] | None:
    """'80,443,8000-8002' → ports; None keeps the default set."""
    if value is None:
        return None
    ports: list[int] = []
    for part in value.split(","):
        part = part.strip()
        try:
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                if hi < lo:
                    raise fail(f"port range {part} ends before it starts")
                if hi - lo > 1024:
                    raise fail(f"port range {part} is wider than 1024 ports")
                ports.extend(range(lo, hi + 1))
            elif part:
                ports.append(int(part))
        except ValueError:
            raise fail(f"bad port list {value!r}: use e.g. 80,443,8000-8010") from None
    if not ports or any(not 0 < p < 65536 for p in ports):
        raise fail(f"bad port list {value!r}: ports are 1-65535")
    return tuple(dict.fromkeys(ports))


def read_secret(path: Path | None) -> str | None:
    """The ONVIF password: from a file if given, else CAMSCAN_ONVIF_PASSWORD, never argv."""
    from camscan.probes.onvif import load_password

    try:
        return load_password(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read password file {path}: {exc}") from None


def _run(scan: Scan) -> ScanResult:
    """Run the scan; SIGINT/SIGTERM stop it and still hand back what it found."""

    async def main() -> ScanResult:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, task.cancel)
        return await scan.run()

    return asyncio.run(main())


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Once the scan has stopped, SIGINT/SIGTERM no longer cut its output short: they are noted.

    The first Ctrl-C stops the scan; what it found is then written whole (a second one used to
    raise KeyboardInterrupt mid-write and lose the result, or half-write stdout).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def note(signum: int, frame: object) -> None:
        # os.write, not print: the signal may land inside a write to stderr (the table), and
        # a buffered stream written re-entrantly raises RuntimeError.
        os.write(2, b"camscan: interrupted: still writing what the scan found\n")

    saved = {sig: signal.signal(sig, note) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _stdout_if_dash(path: Path | None) -> Path | None:
    return None if path is not None and str(path) == "-" else path


def scan(
    targets: Annotated[
        list[str] | None,
        typer.Argument(help="CIDRs, ranges (a.b.c.d-e) or addresses. Required unless --localnet."),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", "-x", help="Addresses or CIDRs to leave out (repeatable)."),
    ] = None,
    interface: Annotated[
        str | None, typer.Option("--interface", "-i", help="Interface to sweep and listen on.")
    ] = None,
    localnet: Annotated[
        bool, typer.Option("--localnet", "-l", help="Scan the interface's own subnet.")
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", help="Allow scopes larger than 65,536 addresses (up to a /8).")
    ] = False,
    probes: Annotated[
        list[str] | None,
        typer.Option(
            "--probes",
            "-p",
            help=f"Methods to run, comma-separated: {','.join(ALL_METHODS)} (default all).",
        ),
    ] = None,
    ports: Annotated[
        str | None,
        typer.Option(
            "--ports", help=f"Banner ports (default {','.join(map(str, DEFAULTS.ports))})."
        ),
    ] = None,
    rate: Annotated[
        int,
        typer.Option(
            "--rate",
            min=1,
            max=MAX_RATE,
            help="ARP requests per second at most; the sweep backs off when answers slow down.",
        ),
    ] = DEFAULTS.rate,
    retries: Annotated[
        int, typer.Option("--retries", min=0, max=10, help="ARP retries for silent addresses.")
    ] = DEFAULTS.retries,
    window: Annotated[
        float, typer.Option("--window", min=0.2, max=30.0, help="Discovery listen window, seconds.")
    ] = DEFAULTS.listen_window_s,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            min=0.1,
            max=60.0,
            help="Per-connection timeout, seconds; each host gets at least 4x this.",
        ),
    ] = DEFAULTS.connect_timeout_s,
    max_connections: Annotated[
        int, typer.Option("--max-connections", min=1, max=1024, help="Open connections at once.")
    ] = DEFAULTS.max_connections,
    deep: Annotated[
        bool,
        typer.Option(
            "--deep", help="Also ask login endpoints for their challenge (never a password)."
        ),
    ] = False,
    onvif_user: Annotated[
        str | None,
        typer.Option(
            "--onvif-user",
            help="ONVIF user for authenticated device info; password from "
            "CAMSCAN_ONVIF_PASSWORD or --onvif-password-file.",
        ),
    ] = None,
    onvif_password_file: Annotated[
        Path | None, typer.Option("--onvif-password-file", help="File holding the ONVIF password.")
    ] = None,
    onvif_hosts: Annotated[
        str | None,
        typer.Option(
            "--onvif-hosts",
            help="Addresses/CIDRs (comma-separated) the ONVIF credentials may go to; they only "
            "ever go to hosts identified as a camera or recorder, confirmed or likely.",
        ),
    ] = None,
    fmt_given: Annotated[
        OutputFormat | None,
        typer.Option("--format", "-f", help="Machine output format (default json)."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write the machine output here, - for stdout. Without it, the output goes to "
            "stdout unless stdout is a terminal and no --format was given: then only the "
            "table is shown.",
        ),
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Also write the HTML (or .pdf) report here.")
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            help="Machine output keeps only these makers or brands, comma-separated "
            "(e.g. hikvision,dahua); the table, report and inventory keep all.",
        ),
    ] = None,
    min_confidence: Annotated[
        Confidence | None,
        typer.Option(
            "--min-confidence",
            help="Machine output keeps only devices identified at least this surely.",
        ),
    ] = None,
    store: Annotated[
        bool, typer.Option("--store", help="Keep this scan in the inventory database.")
    ] = False,
    db: Annotated[Path | None, typer.Option("--db", help="Inventory database path.")] = None,
    spool: Annotated[
        Path | None,
        typer.Option(
            "--spool",
            help="Also write the JSON document into this spool directory, for "
            "`camscan push --spool`.",
            file_okay=False,
        ),
    ] = None,
    site: Annotated[str | None, typer.Option("--site", help="Site label.")] = None,
    operator: Annotated[str | None, typer.Option("--operator", help="Operator label.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or table.")] = False,
    fail_on_found: Annotated[
        bool,
        typer.Option("--fail-on-found", help="Exit 3 when any Hikvision or Dahua device is found."),
    ] = False,
    fail_on_risk: Annotated[
        bool, typer.Option("--fail-on-risk", help="Exit 4 when any device carries a risk note.")
    ] = False,
    passive_too: Annotated[
        bool,
        typer.Option(
            "--passive-too",
            help="Also keep hosts heard during the scan that it did not probe "
            "(gratuitous ARP, NOTIFY, Hello, DHCP); needs CAP_NET_RAW.",
        ),
    ] = False,
    debug_traffic: Annotated[
        bool, typer.Option("--debug-traffic", help="Log every packet sent and received on stderr.")
    ] = False,
    save_captures: Annotated[
        Path | None,
        typer.Option(
            "--save-captures", help="Write exchanges as test fixtures into this directory."
        ),
    ] = None,
) -> None:
    """Scan targets for Hikvision, Dahua and white-label devices; JSON on stdout."""
    if debug_traffic:
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
        logging.getLogger("camscan.traffic").setLevel(logging.DEBUG)
    if not targets and not localnet:
        raise fail("no targets: give CIDRs/ranges/addresses or --localnet")
    if onvif_user and read_secret(onvif_password_file) is None:
        raise fail("--onvif-user needs CAMSCAN_ONVIF_PASSWORD or --onvif-password-file")
    allowed = parse_onvif_hosts(onvif_hosts)
    settings = ScanSettings(
        rate=rate,
        retries=retries,
        listen_window_s=window,
        connect_timeout_s=timeout,
        max_connections=max_connections,
        deep=deep,
        onvif_user=onvif_user,
        onvif_password=read_secret(onvif_password_file) if onvif_user else None,
        onvif_hosts=allowed,
        save_captures=save_captures,
        passive_too=passive_too,
        # The per-host budget grows with --timeout (the default 6 s is 4x the default 1.5 s): a
        # budget shorter than one connect would cut every slow host the option was raised for.
        host_budget_s=max(DEFAULTS.host_budget_s, 4 * timeout),
        ports=parse_ports(ports) or DEFAULTS.ports,
    )
    fmt = fmt_given or OutputFormat.JSON
    if (only or min_confidence) and fmt is OutputFormat.NDJSON:
        raise fail(
            "--only and --min-confidence do not apply to the NDJSON stream; "
            "filter it later with camscan export"
        )
    # 780 KB of JSON scrolling past is no answer to a person at a terminal: they get the
    # table (on stderr, as always) and a hint; pipes and files get the JSON as before.
    table_only = output is None and fmt_given is None and sys.stdout.isatty()
    if table_only:
        quiet = False
    output = _stdout_if_dash(output)
    if output is not None:
        check_writable(output, "--output")
    if report is not None:
        check_writable(report, "--report")
        if report.suffix.lower() not in (".html", ".htm", ".pdf"):
            raise fail(
                f"--report {report}: unknown report type {report.suffix or '(none)'!r}; "
                "use .html or .pdf"
            )
        if report.suffix.lower() == ".pdf" and importlib.util.find_spec("weasyprint") is None:
            raise fail(
                "--report .pdf needs WeasyPrint: pip install 'camscan[pdf]', "
                "or write the report as .html"
            )
    if save_captures is not None:
        check_writable(save_captures, "--save-captures", directory=True)
    if spool is not None:
        check_writable(spool, "--spool", directory=True)
    if store or db is not None:
        from camscan.inventory import default_db_path

        check_writable(db if db is not None else default_db_path(), "--db")
    if output is not None and report is not None and output.resolve() == report.resolve():
        raise fail(
            f"--output and --report are the same file ({output}): the report would replace the scan"
        )
    from camscan.discovery.registry import DISCOVERERS
    from camscan.output.document import build_document
    from camscan.output.exitcodes import FOUND, RISK, RUNTIME_ERROR, exit_code_for
    from camscan.pipeline import Scan, ScanError, ScanRequest
    from camscan.probes.registry import PROBES
    from camscan.progress import make_observer
    from camscan.risks import has_risks

    request = ScanRequest(
        targets=list(targets or []),
        exclude=list(exclude or []),
        interface=interface,
        localnet=localnet,
        allow_large=yes,
        methods=parse_methods(probes),
        settings=settings,
        site=site,
        operator=operator,
    )

    # The library loads in a thread during the scan; only NDJSON needs its version up front.
    version = fingerprint_version() if fmt is OutputFormat.NDJSON else None
    scan_ = Scan(request, DISCOVERERS, PROBES)
    try:  # before the NDJSON file is opened: a usage error must not truncate an old one
        scan_.prepare()
        _check_privileges(scan_)
    except ScanError as exc:
        raise fail(str(exc)) from None
    ndjson_out: TextIO | None = None
    if fmt is OutputFormat.NDJSON:
        from camscan.output.private import open_private

        ndjson_out = sys.stdout
        if output is not None:
            try:  # missing directories are created, as for the other formats
                output.parent.mkdir(parents=True, exist_ok=True)
                ndjson_out = open_private(output)
            except OSError as exc:
                raise fail(f"cannot write {output}: {exc.strerror}") from None
    with make_observer(
        quiet=quiet,
        ndjson_out=ndjson_out,
        fingerprint_version=version,
        ndjson_fallback=sys.stdout if ndjson_out is not sys.stdout else None,
        ndjson_name=str(output),
    ) as observer:
        scan_.observer = observer
        observer.header(scan_)
        try:
            result = _run(scan_)
        except KeyboardInterrupt:  # arrived before the loop's own handler was installed
            scan_.errors.append("interrupted: the scan was stopped before it finished")
            result = scan_.result(complete=False)
        with _signals_deferred():
            result = scan_.with_heard(result)  # a no-op unless the run was cut short
            observer.summary(result)
    with _signals_deferred():
        if ndjson_out is not None and ndjson_out is not sys.stdout:
            with contextlib.suppress(OSError):  # every line was flushed (or went to stdout)
                ndjson_out.close()
        streamed = observer.ndjson is not None and not observer.ndjson.fell_back
        doc = build_document(result, fingerprint_version=version or fingerprint_version())
        from camscan.output.select import parse_only, select_devices

        machine = select_devices(doc, parse_only(only), min_confidence)
        if table_only or fmt is OutputFormat.NDJSON:
            written = table_only or streamed
        else:
            written = emit_result(machine, fmt, output)
        ok = _after(doc, quiet=quiet, report=report, store=store, db=db, spool=spool) and written
        if table_only:
            typer.echo(
                "camscan: stdout is a terminal, so the JSON document was not printed; "
                "use -o FILE (or -o - for stdout) to keep it",
                err=True,
            )
    code = exit_code_for(result, fail_on_found)
    if fail_on_risk and has_risks(doc):
        code = RISK
    raise typer.Exit(code if ok or code in (FOUND, RISK) else RUNTIME_ERROR)


def _check_privileges(scan: Scan) -> None:
    """Raw-socket rights, asked for only when ARP will sweep (a local segment holds targets)."""
    from camscan.discovery.arp import ArpPermissionError, check_raw_socket
    from camscan.pipeline import ScanError

    if Method.ARP in scan.request.methods and scan.iface is not None:
        try:
            check_raw_socket()
        except ArpPermissionError as exc:
            raise ScanError(str(exc)) from None


def _after(
    doc: dict[str, Any],
    *,
    quiet: bool,
    report: Path | None,
    store: bool,
    db: Path | None,
    spool: Path | None = None,
) -> bool:
    """Table, report, inventory and spool from the finished document; False if one failed.

    The machine output is already written by then, so a failure here loses no finding.
    """
    # Each import only when used: the inventory and the report cost ~0.1 s to load.
    ok = True
    if not quiet:
        from camscan.output.table import print_table

        print_table(doc)
    if report is not None:
        from camscan.output.report import ReportError, write_report

        try:
            write_report(doc, report)
        except (ReportError, OSError) as exc:
            typer.echo(f"camscan: error: report not written: {exc}", err=True)
            ok = False
    if store:
        from camscan.inventory import InventoryError, store_document

        try:
            scan_id = store_document(doc, db)
            typer.echo(f"camscan: stored as scan {scan_id}", err=True)
        except (InventoryError, OSError) as exc:
            typer.echo(f"camscan: error: scan not stored: {exc}", err=True)
            ok = False
    if spool is not None:
        from camscan.spool import spool_document

        try:
            path = spool_document(doc, spool)
            typer.echo(f"camscan: spooled as {path}", err=True)
        except OSError as exc:
            typer.echo(f"camscan: error: scan not spooled: {exc}", err=True)
            ok = False
    return ok


def register(app: typer.Typer) -> None:
    """Add `scan` to the top-level app."""
    app.command("scan")(scan)
