"""`camscan lab up|down|status|exec` and `camscan demo`: the isolated lab of simulated devices."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from camscan_lab import netns
from camscan_lab.network import DEFAULT_SPEC, FILLER_MODES, Lab, LabError, LabStatus, load_spec
from camscan_lab.spec import SpecError

app = typer.Typer(no_args_is_help=True, help="The isolated lab network (Linux namespaces).")

PrefixOption = Annotated[
    str | None,
    typer.Option("--prefix", help="Namespace prefix (default: $CAMSCAN_LAB_PREFIX or 'camscan-')."),
]


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print a one-line error on stderr and return the Exit to raise."""
    typer.echo(f"camscan: error: {message}", err=True)
    return typer.Exit(code)


def _need_root() -> None:
    if os.geteuid() != 0:
        raise fail("the lab builds network namespaces: run it as root")


def describe(st: LabStatus) -> str:
    """A few human lines about a lab."""
    runner = (
        "none"
        if st.runner_pid is None
        else f"pid {st.runner_pid} {'alive' if st.runner_alive else 'DEAD'}"
        + (f", peak RSS {st.runner_peak_rss_kb / 1024:.1f} MiB" if st.runner_peak_rss_kb else "")
    )
    lines = [
        f"lab {st.prefix!r}: {'up' if st.up else st.phase or 'down'}"
        + (
            f" (came up in {st.up_seconds:.2f} s, network {st.network_seconds:.2f} s)"
            if st.up_seconds is not None and st.network_seconds is not None
            else ""
        ),
        f"  spec:       {st.spec or '-'}",
        f"  namespaces: {len(st.namespaces)} present of {st.expected_namespaces} expected"
        + (f" ({_grouped(st.prefix, st.namespaces)})" if st.namespaces else ""),
        f"  devices:    {st.devices}, filler hosts: {st.fillers}"
        + (f" ({st.filler_mode})" if st.fillers else ""),
        f"  runner:     {runner}",
        f"  services:   {st.services_started} started, {len(st.services_skipped)} skipped",
        f"  gc_thresh:  {st.gc_thresh}",
    ]
    lines += [f"    skipped {s}" for s in st.services_skipped]
    lines += [f"  note:       {n}" for n in st.notices]
    return "\n".join(lines)


def _grouped(prefix: str, names: tuple[str, ...]) -> str:
    """'p-hub, p-scanner, 54 × p-d-*, p-fill' rather than every name."""
    groups: dict[str, int] = {}
    for name in names:
        rest = name[len(prefix) :]
        key = (
            f"{prefix}d-*"
            if rest.startswith("d-")
            else (f"{prefix}fill-*" if rest.startswith("fill-") else name)
        )
        groups[key] = groups.get(key, 0) + 1
    return ", ".join(k if n == 1 else f"{n} × {k}" for k, n in groups.items())


@app.command()
def up(
    spec: Annotated[
        Path, typer.Option("--spec", help="Spec directory or TOML file.")
    ] = DEFAULT_SPEC,
    hosts: Annotated[int, typer.Option("--hosts", min=0, help="Add N filler hosts.")] = 0,
    filler_http: Annotated[
        bool, typer.Option("--filler-http", help="Fillers answer HTTP on port 80.")
    ] = False,
    filler_mode: Annotated[
        str,
        typer.Option(
            "--filler-mode", hidden=True, help="macvlan (one namespace) or netns (one each)."
        ),
    ] = "macvlan",
    prefix: PrefixOption = None,
) -> None:
    """Bring the lab up (idempotent); prints its status on stderr."""
    _need_root()
    if filler_mode not in FILLER_MODES:
        raise fail(f"--filler-mode must be one of {', '.join(FILLER_MODES)}")
    try:
        lab = Lab(spec, prefix, hosts=hosts, filler_http=filler_http, filler_mode=filler_mode)
        st = lab.up()
    except (LabError, SpecError) as exc:
        raise fail(str(exc)) from None
    typer.echo(describe(st), err=True)


@app.command()
def down(prefix: PrefixOption = None) -> None:
    """Remove the lab: processes, namespaces, state (also after a crash; idempotent)."""
    _need_root()
    try:
        removed = Lab(prefix=prefix).down()
    except LabError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"camscan: lab down, {len(removed)} namespaces removed", err=True)


@app.command()
def status(
    prefix: PrefixOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
) -> None:
    """Namespaces, device count, runner PID alive/dead, neighbour-limit state; exit 1 if not up."""
    st = Lab(prefix=prefix).status()
    if as_json:
        json.dump(dataclasses.asdict(st), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        typer.echo(describe(st), err=True)
    raise typer.Exit(0 if st.up else 1)


@app.command("exec", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def exec_(
    command: Annotated[list[str], typer.Argument(help="Command to run in the scanner namespace.")],
    prefix: PrefixOption = None,
) -> None:
    """Run a command inside the scanner's namespace: `camscan lab exec -- arp-scan -l`."""
    _need_root()
    lab = Lab(prefix=prefix)
    if not netns.exists(lab.scanner_netns):
        raise fail(f"lab {lab.prefix!r} is not up (no namespace {lab.scanner_netns})")
    argv = ["ip", "netns", "exec", lab.scanner_netns, *command]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp(argv[0], argv)


def demo(
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the JSON document here instead of stdout."),
    ] = None,
    spec: Annotated[Path, typer.Option("--spec", help="Lab spec to bring up.")] = DEFAULT_SPEC,
    report: Annotated[
        Path | None, typer.Option("--report", help="Also write the HTML report here.")
    ] = None,
    keep: Annotated[bool, typer.Option("--keep", help="Leave the lab up afterwards.")] = False,
) -> None:
    """Bring the lab up, scan it from inside its scanner namespace, report, bring it down."""
    if os.geteuid() != 0:
        raise fail("the demo builds network namespaces: run it as root")
    try:
        lab_spec = load_spec(spec)
    except Exception as exc:
        raise fail(f"cannot load lab spec {spec}: {exc}") from None
    lab = Lab(lab_spec)
    typer.echo(f"camscan: bringing the lab up ({spec})", err=True)
    code = 1
    try:
        for notice in lab.up().notices:
            typer.echo(f"camscan: lab: {notice}", err=True)
        argv = [
            "ip",
            "netns",
            "exec",
            lab.scanner_netns,
            sys.executable,
            "-m",
            "camscan",
            "scan",
            lab_spec.scan_subnet,
            "--interface",
            lab.scanner_interface,
        ]
        if output is not None:
            argv += ["--output", str(output.resolve())]
        if report is not None:
            argv += ["--report", str(report.resolve())]
        scan_proc = subprocess.Popen(argv)
        while True:
            try:
                code = scan_proc.wait()
                break
            except KeyboardInterrupt:
                # The scan (same process group) got the Ctrl-C too and is writing what it
                # found; subprocess.run would kill it 0.25 s later and lose that.
                continue
    finally:
        if not keep:
            typer.echo("camscan: taking the lab down", err=True)
            lab.down()
    raise typer.Exit(code)


def register(top: typer.Typer) -> None:
    """Add `camscan lab …` and `camscan demo` to the top-level app."""
    top.add_typer(app, name="lab")
    top.command("demo")(demo)
