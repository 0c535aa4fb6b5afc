"""The lab network: namespaces, a bridge, simulated hosts and the runner; `lab up/down/status`."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from camscan_lab import netns
from camscan_lab.filler import FillerHost, macvlan_commands, plan_fillers
from camscan_lab.resources import lab_data
from camscan_lab.spec import DeviceSpec, LabSpec, SpecError, load_spec

__all__ = ["Lab", "LabDevice", "LabError", "LabSpec", "LabStatus", "SpecError", "load_spec"]

DEFAULT_PREFIX = "camscan-"
PREFIX_ENV = "CAMSCAN_LAB_PREFIX"
DEFAULT_SPEC = lab_data("office")
STATE_ROOT = Path("/run/camscan-lab")
IFNAME = "eth0"  # every simulated host's (and the scanner's) interface in its namespace
BRIDGE = "br0"
BRIDGE_MAX_PORTS = 1024  # the kernel's BR_MAX_PORTS; one more fails with EXFULL
FILLER_MODES = ("macvlan", "netns")
READY_TIMEOUT_S = 30.0
# Past ~500 hosts the kernel's global neighbour table (default 128/512/1024) drops entries and
# hosts silently stop answering ARP; only the root namespace can raise it.
GC_THRESH = tuple(Path(f"/proc/sys/net/ipv4/neigh/default/gc_thresh{i}") for i in (1, 2, 3))
GC_NEEDED_ABOVE = 500
_STATE_VERSION = 1


class LabError(RuntimeError):
    """The lab cannot be brought up or down; the message is one line."""


@dataclass(frozen=True, slots=True)
class LabDevice:
    """A device of the running lab: where it lives and what it should be identified as."""

    name: str
    ip: str
    mac: str
    netns: str
    ifname: str
    prefix_len: int
    role: str
    spec: DeviceSpec

    @property
    def expect(self) -> Any:
        """The device's ground truth from the spec."""
        return self.spec.expect


@dataclass(frozen=True, slots=True)
class LabStatus:
    """What `lab status` reports."""

    prefix: str
    state_dir: str
    up: bool  # state says up, runner alive, every namespace present
    phase: str | None  # "starting", "up", or None without a state file
    spec: str | None
    namespaces: tuple[str, ...]  # lab namespaces present now
    expected_namespaces: int
    devices: int
    fillers: int
    filler_mode: str | None
    runner_pid: int | None
    runner_alive: bool
    runner_peak_rss_kb: int | None
    services_started: int
    services_skipped: tuple[str, ...]
    notices: tuple[str, ...]  # what personalities told the user (e.g. a stand-in responder)
    gc_thresh: str
    up_seconds: float | None  # `up` from start to the runner's ready report
    network_seconds: float | None  # of which building namespaces, links and addresses


def default_prefix() -> str:
    """The namespace prefix from CAMSCAN_LAB_PREFIX, else "camscan-"."""
    return os.environ.get(PREFIX_ENV) or DEFAULT_PREFIX


def hub_netns(prefix: str) -> str:
    """The namespace holding the bridge (and the runner)."""
    return f"{prefix}hub"


def scanner_netns(prefix: str) -> str:
    """The scanner's namespace."""
    return f"{prefix}scanner"


def device_netns(prefix: str, device: str) -> str:
    """A spec device's namespace."""
    return f"{prefix}d-{device}"


def filler_netns(prefix: str, index: int | None = None) -> str:
    """The macvlan fillers' namespace, or one filler's own namespace in "netns" mode."""
    return f"{prefix}fill" if index is None else f"{prefix}fill-{index}"


def is_lab_netns(prefix: str, name: str) -> bool:
    """Whether `name` is one of the lab's namespaces (not merely another prefix's)."""
    rest = name[len(prefix) :] if name.startswith(prefix) else None
    return rest is not None and (rest in ("hub", "scanner") or rest.startswith(("d-", "fill")))


def proc_starttime(pid: int) -> int | None:
    """The process's start time in clock ticks since boot; None if gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return None if fields[0] in ("Z", "X") else int(fields[19])


def proc_alive(pid: int | None, starttime: int | None) -> bool:
    """Whether the process we recorded (pid + start time) is still running."""
    return pid is not None and starttime is not None and proc_starttime(pid) == starttime


def proc_peak_rss_kb(pid: int) -> int | None:
    """The process's peak resident set size (VmHWM) in kB."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


class Lab:
    """One lab instance, named by its namespace prefix; safe to build for a lab already up."""

    def __init__(
        self,
        spec: LabSpec | str | Path | None = None,
        prefix: str | None = None,
        *,
        hosts: int | None = None,
        filler_http: bool | None = None,
        filler_mode: str | None = None,
        owner_pid: int | None = None,
        ready_timeout: float = READY_TIMEOUT_S,
    ) -> None:
        self.prefix = prefix or default_prefix()
        if not self.prefix.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise LabError(f"bad lab prefix {self.prefix!r}: use letters, digits, - _ .")
        self.state_dir = STATE_ROOT / self.prefix
        # Without a spec, attach to the lab as it is up (spec, fillers from its state file).
        config = (self._read_state() or {}).get("config", {}) if spec is None else {}
        self._spec_arg: LabSpec | str | Path = (
            spec if spec is not None else config.get("spec", DEFAULT_SPEC)
        )
        self._spec: LabSpec | None = spec if isinstance(spec, LabSpec) else None
        self.hosts = hosts if hosts is not None else int(config.get("hosts", 0))
        self.filler_http = (
            filler_http if filler_http is not None else bool(config.get("filler_http", False))
        )
        self.filler_mode = filler_mode or str(config.get("filler_mode", "macvlan"))
        if self.filler_mode not in FILLER_MODES:
            raise LabError(f"filler mode must be one of {', '.join(FILLER_MODES)}")
        # If the owner process dies without `down` (a killed test run), the runner takes the
        # lab down itself rather than leaving namespaces that nobody can reach any more.
        self.owner_pid = owner_pid
        self.ready_timeout = ready_timeout
        self.scanner_netns = scanner_netns(self.prefix)
        self.scanner_interface = IFNAME
        self.hub_netns = hub_netns(self.prefix)

    # ---- what the lab holds -------------------------------------------------------------

    @property
    def spec(self) -> LabSpec:
        """The lab's spec (loaded on first use)."""
        if self._spec is None:
            self._spec = (
                self._spec_arg if isinstance(self._spec_arg, LabSpec) else load_spec(self._spec_arg)
            )
        return self._spec

    @property
    def scanner_ip(self) -> str:
        """The scanner's address."""
        return self.spec.settings.scanner_ip

    @property
    def scanner_mac(self) -> str:
        """The scanner's MAC."""
        return self.spec.settings.scanner_mac

    @property
    def devices(self) -> list[LabDevice]:
        """Every spec device, in spec order."""
        return [self._lab_device(d) for d in self.spec.devices]

    def device(self, name: str) -> LabDevice:
        """The spec device called `name`; KeyError if there is none."""
        return self._lab_device(self.spec.device(name))

    @property
    def fillers(self) -> list[FillerHost]:
        """The filler hosts (`hosts=N`), addresses from 198.18.4.1 up."""
        taken = {d.ip for d in self.spec.devices} | {self.scanner_ip}
        macs = {d.mac for d in self.spec.devices} | {self.scanner_mac}
        try:
            return plan_fillers(self.hosts, taken, macs)
        except ValueError as exc:
            raise LabError(str(exc)) from None

    def filler_netns(self, host: FillerHost) -> str:
        """The namespace a filler host lives in."""
        return filler_netns(self.prefix, host.index if self.filler_mode == "netns" else None)

    def namespaces(self) -> list[str]:
        """Every namespace the lab consists of."""
        names = [self.hub_netns, self.scanner_netns]
        names += [device_netns(self.prefix, d.name) for d in self.spec.devices]
        if self.hosts and self.filler_mode == "macvlan":
            names.append(filler_netns(self.prefix))
        elif self.hosts:
            names += [filler_netns(self.prefix, i) for i in range(self.hosts)]
        return names

    def _lab_device(self, d: DeviceSpec) -> LabDevice:
        return LabDevice(
            name=d.name,
            ip=d.ip,
            mac=d.mac,
            netns=device_netns(self.prefix, d.name),
            ifname=IFNAME,
            prefix_len=d.prefix_len,
            role=d.role,
            spec=d,
        )

    @contextlib.contextmanager
    def in_scanner(self) -> Iterator[None]:
        """Run the block with the current thread in the scanner's namespace."""
        with netns.entered(self.scanner_netns):
            yield

    @contextlib.contextmanager
    def in_device(self, name: str) -> Iterator[None]:
        """Run the block with the current thread in a device's namespace."""
        with netns.entered(self.device(name).netns):
            yield

    # ---- up -----------------------------------------------------------------------------

    def _config(self) -> dict[str, Any]:
        return {
            "spec": str(self.spec.path),
            "hosts": self.hosts,
            "filler_http": self.filler_http,
            "filler_mode": self.filler_mode,
        }

    def up(self) -> LabStatus:
        """Bring the lab up (a no-op if it is up with the same config); LabError on failure."""
        with self._locked():
            state = self._read_state()
            if state is not None and self._healthy(state):
                if state.get("config") == self._config():
                    return self.status()
                raise LabError(
                    f"lab {self.prefix!r} is up with another config "
                    f"({state.get('config')}); run `camscan lab down` first"
                )
            if state is not None or self._present_netns():
                self._down()
            self._up()
        return self.status()

    def _up(self) -> None:
        started = time.monotonic()
        fillers = self.fillers
        state: dict[str, Any] = {
            "version": _STATE_VERSION,
            "prefix": self.prefix,
            "phase": "starting",
            "config": self._config(),
            "namespaces": self.namespaces(),
            "runner": None,
            "devices": len(self.spec.devices),
            "owner": None
            if self.owner_pid is None
            else {"pid": self.owner_pid, "starttime": proc_starttime(self.owner_pid)},
            "gc_thresh": {"state": "untouched"},
            "created": time.time(),
        }
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._write_state(state)
        try:
            state["gc_thresh"] = _raise_gc_thresh(len(self.spec.devices) + len(fillers) + 1)
            self._write_state(state)
            self._add_namespaces()
            # The runner imports its personalities while the links are wired, then waits.
            state["runner"] = self._start_runner()
            self._write_state(state)
            self._wire(fillers)
            state["network_seconds"] = round(time.monotonic() - started, 3)
            self._write_state(state)
            os.write(self._go_fd, b"go\n")
            self._wait_ready(state["runner"]["pid"])
            state["phase"] = "up"
            state["up_seconds"] = round(time.monotonic() - started, 3)
            self._write_state(state)
        except BaseException:
            self._down()
            raise

    def _add_namespaces(self) -> None:
        names = self.namespaces()
        _ip_batch(None, [f"netns add {n}" for n in names])
        for name in names:
            with netns.entered(name):
                _lab_sysctls(many_addresses=name == filler_netns(self.prefix))

    def _wire(self, fillers: Sequence[FillerHost]) -> None:
        hub = [f"link add {BRIDGE} type bridge mcast_snooping 0", f"link set {BRIDGE} up"]
        ends: list[tuple[str, str, str | None]] = [("s0", self.scanner_netns, self.scanner_mac)]
        ends += [
            (f"d{i}", device_netns(self.prefix, d.name), d.mac)
            for i, d in enumerate(self.spec.devices)
        ]
        if fillers and self.filler_mode == "macvlan":
            ends.append(("f0", filler_netns(self.prefix), None))
        elif fillers:
            ends += [(f"f{h.index}", filler_netns(self.prefix, h.index), h.mac) for h in fillers]
        if len(ends) > BRIDGE_MAX_PORTS:
            raise LabError(
                f"{len(ends)} bridge ports needed, a Linux bridge takes "
                f"{BRIDGE_MAX_PORTS}: use macvlan fillers"
            )
        for hubif, ns, mac in ends:
            address = f" address {mac}" if mac else ""
            hub += [
                f"link add {hubif} type veth peer name {IFNAME}{address} netns {ns}",
                f"link set {hubif} master {BRIDGE} up",
            ]
        _ip_batch(self.hub_netns, hub)

        scanner = _host_commands(self.scanner_ip, self.spec.settings.prefix_len)
        batches: list[tuple[str | None, list[str]]] = [(self.scanner_netns, scanner)]
        batches += [
            (device_netns(self.prefix, d.name), _host_commands(d.ip, d.prefix_len))
            for d in self.spec.devices
        ]
        if fillers and self.filler_mode == "macvlan":
            batches.append(
                (filler_netns(self.prefix), ["link set lo up", *macvlan_commands(fillers)])
            )
        elif fillers:
            batches += [
                (filler_netns(self.prefix, h.index), _host_commands(h.ip, 15)) for h in fillers
            ]
        _ip_batches(batches)

    def _start_runner(self) -> dict[str, Any]:
        read_fd, write_fd = os.pipe()
        go_read, go_write = os.pipe()
        log = os.open(self.state_dir / "runner.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.set_inheritable(write_fd, True)
            os.set_inheritable(go_read, True)
            argv = [
                sys.executable,
                "-m",
                "camscan_lab.runner",
                "--state-dir",
                str(self.state_dir),
                "--ready-fd",
                str(write_fd),
                "--go-fd",
                str(go_read),
            ]
            actions = [
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, log, 1),
                (os.POSIX_SPAWN_DUP2, log, 2),
            ]
            # The runner never lives in the namespace that built the lab: it starts in the hub.
            with netns.entered(self.hub_netns):
                pid = os.posix_spawn(
                    sys.executable, argv, dict(os.environ), file_actions=actions, setsid=True
                )
        finally:
            os.close(write_fd)
            os.close(go_read)
            os.close(log)
        self._ready_fd, self._go_fd = read_fd, go_write
        return {"pid": pid, "starttime": proc_starttime(pid)}

    def _wait_ready(self, pid: int) -> None:
        fd, deadline, buf = self._ready_fd, time.monotonic() + self.ready_timeout, b""
        try:
            while b"\n" not in buf:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LabError(
                        f"runner not ready after {self.ready_timeout:.0f} s; "
                        f"see {self.state_dir / 'runner.log'}"
                    )
                if select.select([fd], [], [], left)[0]:
                    chunk = os.read(fd, 4096)
                    if not chunk:
                        raise LabError(f"runner exited during start-up: {self._runner_log_tail()}")
                    buf += chunk
        finally:
            os.close(fd)
            os.close(self._go_fd)
        report = json.loads(buf.split(b"\n")[0])
        if not report.get("ready"):
            raise LabError(f"runner failed: {report.get('error', '?')}")

    def _runner_log_tail(self) -> str:
        try:
            lines = (self.state_dir / "runner.log").read_text().strip().splitlines()
        except OSError:
            return "(no log)"
        return lines[-1] if lines else "(empty log)"

    # ---- down ---------------------------------------------------------------------------

    def down(self) -> list[str]:
        """Remove every namespace, process and state of this lab, even after a crash."""
        with self._locked(remove=True):
            return self._down()

    def _down(self) -> list[str]:
        state = self._read_state() or {}
        names = sorted(
            set(self._present_netns()) | {n for n in state.get("namespaces", []) if netns.exists(n)}
        )
        recorded = [state.get("runner") or {}, *self._runner_report().get("spawned", [])]
        pids = [r["pid"] for r in recorded if proc_alive(r.get("pid"), r.get("starttime"))]
        for r in recorded:  # a runner that died as our child is a zombie until reaped
            with contextlib.suppress(ChildProcessError, KeyError, TypeError):
                os.waitpid(r["pid"], os.WNOHANG)
        _end_processes(pids)  # the runner first: it closes its personalities cleanly
        _end_processes(_pids_in_netns(names))
        if names:
            _ip_batch(None, [f"netns del {n}" for n in names], force=True)
        _restore_gc_thresh(state.get("gc_thresh", {}))
        if self.state_dir.exists():
            for f in self.state_dir.iterdir():
                f.unlink()
            self.state_dir.rmdir()
        return names

    # ---- status -------------------------------------------------------------------------

    def status(self) -> LabStatus:
        """The lab's state as recorded and as found on the machine."""
        state = self._read_state() or {}
        config = state.get("config", {})
        runner = state.get("runner") or {}
        report = self._runner_report()
        present = tuple(n for n in self._present_netns() if netns.exists(n))
        alive = proc_alive(runner.get("pid"), runner.get("starttime"))
        expected = state.get("namespaces", [])
        return LabStatus(
            prefix=self.prefix,
            state_dir=str(self.state_dir),
            up=bool(state) and self._healthy(state),
            phase=state.get("phase"),
            spec=config.get("spec"),
            namespaces=present,
            expected_namespaces=len(expected),
            devices=int(state.get("devices", 0)),
            fillers=int(config.get("hosts", 0)),
            filler_mode=config.get("filler_mode"),
            runner_pid=runner.get("pid"),
            runner_alive=alive,
            runner_peak_rss_kb=proc_peak_rss_kb(runner["pid"]) if alive else None,
            services_started=len(report.get("started", [])),
            services_skipped=tuple(
                f"{s['service']}: {s['error']}" for s in report.get("skipped", [])
            ),
            notices=tuple(report.get("notices", [])),
            gc_thresh=_describe_gc(state.get("gc_thresh", {})),
            up_seconds=state.get("up_seconds"),
            network_seconds=state.get("network_seconds"),
        )

    def _healthy(self, state: dict[str, Any]) -> bool:
        runner = state.get("runner") or {}
        return (
            state.get("phase") == "up"
            and proc_alive(runner.get("pid"), runner.get("starttime"))
            and all(netns.exists(n) for n in state.get("namespaces", []))
        )

    # ---- state --------------------------------------------------------------------------

    def _present_netns(self) -> list[str]:
        return [n for n in netns.list_netns() if is_lab_netns(self.prefix, n)]

    def _read_state(self) -> dict[str, Any] | None:
        try:
            data = json.loads((self.state_dir / "state.json").read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _write_state(self, state: dict[str, Any]) -> None:
        tmp = self.state_dir / "state.json.tmp"
        tmp.write_text(json.dumps(state, indent=1))
        tmp.replace(self.state_dir / "state.json")

    def _runner_report(self) -> dict[str, Any]:
        try:
            data = json.loads((self.state_dir / "runner.json").read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    @contextlib.contextmanager
    def _locked(self, *, remove: bool = False) -> Iterator[None]:
        """Hold this prefix's lock; with `remove`, delete the lock file too if the lab is gone."""
        STATE_ROOT.mkdir(parents=True, exist_ok=True)
        path = STATE_ROOT / f"{self.prefix}.lock"
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
            with contextlib.suppress(FileNotFoundError):
                if os.stat(path).st_ino == os.fstat(fd).st_ino:
                    break  # not unlinked by a `down` while we waited
            os.close(fd)
        try:
            yield
        finally:
            if remove and not self.state_dir.exists():
                path.unlink(missing_ok=True)
            os.close(fd)


def _host_commands(ip: str, prefix_len: int) -> list[str]:
    """One host's interface: address, up, and on-link multicast/broadcast routes (no default)."""
    # With no default route, sends to 239.x or 255.255.255.255 fail with ENETUNREACH unless
    # these on-link routes exist.
    return [
        "link set lo up",
        f"addr add {ip}/{prefix_len} broadcast + dev {IFNAME}",
        f"link set {IFNAME} up",
        f"route add 224.0.0.0/4 dev {IFNAME}",
        f"route add 255.255.255.255/32 dev {IFNAME}",
    ]


def _lab_sysctls(*, many_addresses: bool) -> None:
    """Per-namespace settings, written from a thread inside the namespace."""
    settings = {
        # IPv4 only: no router solicitations, DAD or MLD chatter on the lab segment.
        "ipv6/conf/all/disable_ipv6": "1",
        "ipv6/conf/default/disable_ipv6": "1",
        "ipv4/conf/all/rp_filter": "0",
        "ipv4/conf/default/rp_filter": "0",
    }
    if many_addresses:
        # Each interface answers ARP for its own address only and announces with it.
        for scope in ("all", "default"):
            settings[f"ipv4/conf/{scope}/arp_ignore"] = "1"
            settings[f"ipv4/conf/{scope}/arp_announce"] = "2"
            settings[f"ipv4/conf/{scope}/accept_local"] = "1"
    for key, value in settings.items():
        with contextlib.suppress(FileNotFoundError):
            Path("/proc/sys/net", key).write_text(value)


def _ip_batch(ns: str | None, lines: Sequence[str], *, force: bool = False) -> None:
    """Run `ip [-n NS] -batch -` over `lines`; LabError with ip's first complaint."""
    _ip_batches([(ns, list(lines))], force=force)


def _ip_batches(
    batches: Iterable[tuple[str | None, list[str]]], *, force: bool = False, parallel: int = 32
) -> None:
    """Run several `ip -batch` jobs, up to `parallel` at once."""
    pending = list(batches)
    running: list[tuple[str | None, subprocess.Popen[bytes]]] = []
    errors: list[str] = []
    while pending or running:
        while pending and len(running) < parallel:
            ns, lines = pending.pop(0)
            argv = [
                "ip",
                *(["-n", ns] if ns else []),
                *(["-force"] if force else []),
                "-batch",
                "-",
            ]
            # Commands from a file, not a pipe: ip may fill its stderr pipe before reading all.
            with tempfile.TemporaryFile() as commands:
                commands.write("\n".join(lines).encode() + b"\n")
                commands.seek(0)
                try:
                    proc = subprocess.Popen(
                        argv, stdin=commands, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
                    )
                except FileNotFoundError:
                    raise LabError("iproute2's `ip` is not installed") from None
            running.append((ns, proc))
        ns, proc = running.pop(0)
        assert proc.stderr is not None
        err = proc.stderr.read().decode(errors="replace").strip()
        proc.stderr.close()
        if proc.wait() != 0 and not force:
            errors.append(f"ip{' -n ' + ns if ns else ''}: {' / '.join(err.splitlines()[:2])}")
    if errors:
        raise LabError(errors[0])


def _pids_in_netns(names: Iterable[str]) -> list[int]:
    """PIDs of processes whose (main thread's) network namespace is one of `names`."""
    inodes = set()
    for name in names:
        with contextlib.suppress(OSError):
            inodes.add(f"net:[{netns.inode(name)}]")
    found = []
    for entry in os.listdir("/proc") if inodes else []:
        if entry.isdigit() and int(entry) != os.getpid():
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{entry}/ns/net") in inodes:
                    found.append(int(entry))
    return found


def _end_processes(pids: Sequence[int], grace_s: float = 3.0) -> None:
    """SIGTERM each PID, SIGKILL what is left after `grace_s`, reap our own children."""
    starts = {pid: proc_starttime(pid) for pid in pids if pid != os.getpid()}
    live = [p for p, t in starts.items() if t is not None]
    for pid in live:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while live:
        for pid in live:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
        live = [p for p in live if proc_starttime(p) == starts[p]]
        if not live:
            break
        if time.monotonic() > deadline:
            for pid in live:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            deadline = float("inf")
        time.sleep(0.02)


def _read_gc() -> list[int] | None:
    try:
        return [int(p.read_text()) for p in GC_THRESH]
    except (OSError, ValueError):
        return None


def _write_gc(values: Sequence[int]) -> None:
    # Raise the ceiling first and lower it last so thresh1 <= thresh2 <= thresh3 throughout.
    order = (2, 1, 0) if values[2] >= (_read_gc() or [0, 0, 0])[2] else (0, 1, 2)
    for i in order:
        GC_THRESH[i].write_text(str(values[i]))


def _raise_gc_thresh(hosts: int) -> dict[str, Any]:
    """Raise the global neighbour-table limits if `hosts` needs it; the record for `down`."""
    old = _read_gc()
    if old is None:
        return {"state": "not-writable", "hosts": hosts}
    need = 2 * hosts + 256  # the scanner's entries plus one per host towards the scanner
    want = [max(old[0], need), max(old[1], 2 * need), max(old[2], 4 * need)]
    if hosts <= GC_NEEDED_ABOVE or want == old:
        return {"state": "enough", "hosts": hosts, "values": old}
    try:
        _write_gc(want)
    except OSError:
        return {"state": "not-writable", "hosts": hosts, "values": old}
    return {"state": "raised", "hosts": hosts, "saved": old, "set": want}


def _restore_gc_thresh(record: dict[str, Any]) -> None:
    """Put back the limits `up` raised, unless someone changed them since."""
    if record.get("state") == "raised" and _read_gc() == record["set"]:
        with contextlib.suppress(OSError):
            _write_gc(record["saved"])


def _describe_gc(record: dict[str, Any]) -> str:
    state, hosts = record.get("state"), record.get("hosts", 0)
    if state == "raised":
        return (
            f"raised to {'/'.join(map(str, record['set']))} for {hosts} hosts "
            f"(restores {'/'.join(map(str, record['saved']))} on down)"
        )
    if state == "enough":
        return f"unchanged {'/'.join(map(str, record['values']))}, enough for {hosts} hosts"
    if state == "not-writable":
        risk = " — past ~500 hosts some may not answer ARP" if hosts > GC_NEEDED_ABOVE else ""
        return (
            f"not writable from this namespace (only the root namespace can set them); "
            f"{hosts} hosts{risk}"
        )
    return "untouched"
