"""The lab's responder: one process in the hub namespace serving every device's services."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from camscan_lab import netns
from camscan_lab.filler import serve_filler_http
from camscan_lab.network import Lab, LabDevice, proc_alive, proc_starttime
from camscan_lab.personalities import PERSONALITIES
from camscan_lab.personality import Closer, LabHost
from camscan_lab.spec import ServiceSpec

log = logging.getLogger("camscan_lab.runner")
SERVE_TIMEOUT_S = 15.0  # one personality's start-up; a slower one is skipped, not fatal
SLOW_START_S = 1.0  # logged, so a personality that slows `lab up` is easy to find
CHILD_GRACE_S = 2.0
OWNER_POLL_S = 2.0


class Runner:
    """Starts personalities for every device of a lab and keeps them until SIGTERM."""

    def __init__(self, lab: Lab, state_dir: Path, owner: dict[str, int] | None = None) -> None:
        self.lab = lab
        self.owner = owner
        self.state_dir = state_dir
        self.fds: dict[str, int] = {}
        self.closers: list[tuple[str, Closer]] = []
        self.children: list[subprocess.Popen[bytes]] = []
        self.report: dict[str, Any] = {
            "pid": os.getpid(),
            "started": [],
            "skipped": [],
            "spawned": [],
            "notices": [],
        }

    def netns_fd(self, name: str) -> int:
        """An open descriptor of the named namespace, kept for the runner's lifetime."""
        if name not in self.fds:
            self.fds[name] = netns.open_netns(name)
        return self.fds[name]

    def host(self, device: LabDevice) -> LabHost:
        """The personality's view of a device: sockets and processes land in its namespace."""
        return LabHost(
            name=device.name,
            ip=device.ip,
            mac=device.mac,
            ifname=device.ifname,
            netns=device.netns,
            prefix_len=device.prefix_len,
            device=device.spec.table,
            make_socket=partial(netns.socket_in, self.netns_fd(device.netns)),
            spawn=partial(self.spawn, device.netns),
            tell=partial(self.notice, device.name),
        )

    def spawn(self, ns: str, argv: Sequence[str]) -> int:
        """Start `argv` in namespace `ns` (`ip netns exec`), recording its PID for `lab down`."""
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, *argv],
            stdin=subprocess.DEVNULL,
            stdout=sys.stderr.fileno(),
            stderr=sys.stderr.fileno(),
            start_new_session=True,
        )
        self.children.append(proc)
        self.report["spawned"].append(
            {
                "pid": proc.pid,
                "starttime": proc_starttime(proc.pid),
                "netns": ns,
                "argv": list(argv),
            }
        )
        self.write_report()
        log.info("spawned %s in %s: pid %d", list(argv), ns, proc.pid)
        return proc.pid

    async def start(self, host: LabHost, service: ServiceSpec) -> None:
        """Start one service; a missing or failing personality is logged and skipped."""
        label = f"{service.device} {service.kind}/{service.port}"
        serve = PERSONALITIES.get(service.kind)
        if serve is None:
            return self.skip(label, f"no personality registered for kind {service.kind!r}")
        started = time.monotonic()
        try:
            closer = await asyncio.wait_for(serve(host, service.table), SERVE_TIMEOUT_S)
        except Exception as exc:
            return self.skip(label, f"personality failed to start: {type(exc).__name__}: {exc}")
        if (took := time.monotonic() - started) > SLOW_START_S:
            log.info("%s took %.2f s to start", label, took)
        self.closers.append((label, closer))
        self.report["started"].append(label)

    def notice(self, device: str, message: str) -> None:
        """Record something the person running the lab should be told about a device."""
        log.warning("%s: %s", device, message)
        self.report["notices"].append(f"{device}: {message}")

    def skip(self, label: str, why: str) -> None:
        """Record a service that is not served."""
        log.warning("skipped %s: %s", label, why)
        self.report["skipped"].append({"service": label, "error": why})

    async def start_fillers(self) -> None:
        """One HTTP listener per filler namespace answering port 80 of every filler."""
        for ns in sorted({self.lab.filler_netns(h) for h in self.lab.fillers}):
            sock = netns.socket_in(self.netns_fd(ns), socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("0.0.0.0", 80))
            sock.listen(1024)
            sock.setblocking(False)
            self.closers.append((f"{ns} filler http/80", await serve_filler_http(sock)))
            self.report["started"].append(f"{ns} filler http/80")

    def write_report(self) -> None:
        """Publish what is served and what was spawned (runner.json in the state directory)."""
        tmp = self.state_dir / "runner.json.tmp"
        tmp.write_text(json.dumps(self.report, indent=1))
        tmp.replace(self.state_dir / "runner.json")

    async def run(self, ready_fd: int) -> None:
        """Serve until SIGTERM/SIGINT; report readiness on `ready_fd` once all services started."""
        if os.stat("/proc/self/ns/net").st_ino != netns.inode(self.lab.hub_netns):
            raise RuntimeError("the runner must start inside the lab's hub namespace")
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        started = time.monotonic()
        await asyncio.gather(
            *(self.start(self.host(d), s) for d in self.lab.devices for s in d.spec.services)
        )
        if self.lab.filler_http and self.lab.hosts:
            await self.start_fillers()
        self.report["ready_seconds"] = round(time.monotonic() - started, 3)
        self.write_report()
        log.info(
            "ready: %d services started, %d skipped",
            len(self.report["started"]),
            len(self.report["skipped"]),
        )
        with contextlib.suppress(OSError):  # `up` may have given up waiting meanwhile
            os.write(ready_fd, json.dumps({"ready": True}).encode() + b"\n")
        os.close(ready_fd)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), OWNER_POLL_S)
            for proc in self.children:
                proc.poll()  # reap children that ended on their own
            if (
                self.owner
                and self.owner.get("starttime")
                and not proc_alive(self.owner["pid"], self.owner["starttime"])
            ):
                log.warning(
                    "owner pid %d is gone without `lab down`: taking the lab down",
                    self.owner["pid"],
                )
                self.close()
                self.lab.down()
                return
        self.close()

    def close(self) -> None:
        """Close every personality and end every spawned process."""
        for label, closer in self.closers:
            try:
                closer.close()
            except Exception:
                log.exception("closing %s", label)
        for proc in self.children:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + CHILD_GRACE_S
        for proc in self.children:
            try:
                proc.wait(max(deadline - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for fd in self.fds.values():
            os.close(fd)
        log.info("stopped")


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m camscan_lab.runner --state-dir DIR --ready-fd N [--go-fd M]`, run by `Lab.up`."""
    parser = argparse.ArgumentParser(prog="camscan_lab.runner")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--ready-fd", type=int, required=True)
    parser.add_argument("--go-fd", type=int, help="wait for a line here before serving")
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    try:
        state = json.loads((args.state_dir / "state.json").read_text())
        runner = Runner(Lab(prefix=state["prefix"]), args.state_dir, state.get("owner"))
        if args.go_fd is not None:
            with os.fdopen(args.go_fd, "rb") as go:
                if not go.readline():
                    raise RuntimeError("`lab up` gave up before the network was ready")
        asyncio.run(runner.run(args.ready_fd))
    except Exception as exc:
        log.exception("runner failed")
        with contextlib.suppress(OSError):
            failed = {"ready": False, "error": str(exc)}
            os.write(args.ready_fd, json.dumps(failed).encode() + b"\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
