"""The suite's own isolation check, and the shared raise of global limits by overlapping runs."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from isolation import current_problems, problems

ROOT = Path(__file__).parents[1]
ROUTE_HEADER = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT"


def test_a_sealed_namespace_has_no_problem() -> None:
    assert problems(["lo"], ROUTE_HEADER + "\n", "", same_as_init=False) == []


def test_every_way_out_is_named() -> None:
    v4 = ROUTE_HEADER + "\neth0\t00000000\t0100A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
    v6 = (
        "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
        "fe800000000000000000000000000001 00000400 00000000 00000000 00000003 eth0\n"
    )
    found = problems(["lo", "eth0"], v4, v6, same_as_init=True)
    assert found == [
        "the tests run in the root network namespace",
        "interface 'eth0' besides loopback",
        "IPv4 default route via eth0",
        "IPv6 default route via eth0",
    ]


def test_a_subnet_route_is_not_a_default_route() -> None:
    v4 = ROUTE_HEADER + "\nveth0\t0012C6\t00000000\t0001\t0\t0\t0\t00FEFFFF\t0\t0\t0\n"
    assert problems(["lo", "camscan-x"], v4, "", False, allowed_prefix="camscan-") == []


@pytest.mark.skipif(
    not os.environ.get("CAMSCAN_IN_TEST_NETNS"), reason="only inside scripts/test's namespace"
)
def test_this_run_is_isolated() -> None:
    assert current_problems() == []


def _limits(proc: Path) -> list[int]:
    return [int((proc / f"gc_thresh{i}").read_text()) for i in (1, 2, 3)]


def _neigh(action: str, pid: int, state: Path, proc: Path) -> None:
    # The receive-queue limit is read beside the fake neighbour limits (absent: left alone).
    env = {
        **os.environ,
        "CAMSCAN_NEIGH_STATE": str(state),
        "CAMSCAN_NEIGH_PROC": str(proc),
        "CAMSCAN_CORE_PROC": str(proc.parent / "core"),
    }
    subprocess.run(
        [str(ROOT / "scripts" / "neigh-limits"), action, str(pid)], env=env, check=True, timeout=30
    )


@pytest.fixture
def live() -> Iterator[Callable[[], int]]:
    """PIDs of processes alive until the test ends (standing in for running suites)."""
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> int:
        procs.append(subprocess.Popen(["sleep", "300"]))
        return procs[-1].pid

    yield start
    for p in procs:
        p.kill()
        p.wait()


@pytest.fixture
def fake_proc(tmp_path: Path) -> Path:
    proc = tmp_path / "proc"
    proc.mkdir()
    for i, value in zip((1, 2, 3), (128, 512, 1024), strict=True):
        (proc / f"gc_thresh{i}").write_text(f"{value}\n")
    return proc


def test_overlapping_runs_restore_the_machine_values_once_the_last_ends(
    tmp_path: Path, fake_proc: Path, live: Callable[[], int]
) -> None:
    state, a, b = tmp_path / "state", live(), live()
    _neigh("hold", a, state, fake_proc)
    _neigh("hold", b, state, fake_proc)  # sees raised values: must not save them as the machine's
    assert _limits(fake_proc) == [4096, 8192, 16384]
    _neigh("release", a, state, fake_proc)
    assert _limits(fake_proc) == [4096, 8192, 16384]  # b still needs them
    _neigh("release", b, state, fake_proc)
    assert _limits(fake_proc) == [128, 512, 1024]


def test_a_killed_run_does_not_keep_the_limits_raised(
    tmp_path: Path, fake_proc: Path, live: Callable[[], int]
) -> None:
    state = tmp_path / "state"
    dead = subprocess.Popen(["true"])
    dead.wait()
    _neigh("hold", dead.pid, state, fake_proc)  # and never released: the run was killed
    c = live()
    _neigh("hold", c, state, fake_proc)
    _neigh("release", c, state, fake_proc)
    assert _limits(fake_proc) == [128, 512, 1024]


def test_higher_machine_values_are_never_lowered(
    tmp_path: Path, fake_proc: Path, live: Callable[[], int]
) -> None:
    (fake_proc / "gc_thresh3").write_text("65536\n")
    a = live()
    _neigh("hold", a, tmp_path / "state", fake_proc)
    assert _limits(fake_proc) == [4096, 8192, 65536]
    _neigh("release", a, tmp_path / "state", fake_proc)
    assert _limits(fake_proc) == [128, 512, 65536]


def _backlog(proc: Path) -> int:
    return int((proc.parent / "core" / "netdev_max_backlog").read_text())


@pytest.fixture
def fake_core(fake_proc: Path) -> Path:
    core = fake_proc.parent / "core"
    core.mkdir()
    (core / "netdev_max_backlog").write_text("1000\n")
    return core


def test_the_receive_queue_limit_is_raised_while_any_run_holds_it(
    tmp_path: Path, fake_proc: Path, fake_core: Path, live: Callable[[], int]
) -> None:
    state, a, b = tmp_path / "state", live(), live()
    _neigh("hold", a, state, fake_proc)
    assert _backlog(fake_proc) == 65536
    _neigh("hold", b, state, fake_proc)  # sees the raised value: must not save it
    _neigh("release", a, state, fake_proc)
    assert _backlog(fake_proc) == 65536  # b still needs it
    _neigh("release", b, state, fake_proc)
    assert _backlog(fake_proc) == 1000
    assert _limits(fake_proc) == [128, 512, 1024]


def test_a_killed_run_does_not_keep_the_receive_queue_raised(
    tmp_path: Path, fake_proc: Path, fake_core: Path, live: Callable[[], int]
) -> None:
    state = tmp_path / "state"
    dead = subprocess.Popen(["true"])
    dead.wait()
    _neigh("hold", dead.pid, state, fake_proc)
    c = live()
    _neigh("hold", c, state, fake_proc)
    _neigh("release", c, state, fake_proc)
    assert _backlog(fake_proc) == 1000


def test_the_receive_queue_limit_is_apart_from_an_older_holder(
    tmp_path: Path, fake_proc: Path, fake_core: Path, live: Callable[[], int]
) -> None:
    """A run of an older copy of the script holds only the neighbour limits."""
    state, old, new = tmp_path / "state", live(), live()
    _neigh("hold", new, state, fake_proc)
    (state / f"holder.{old}").touch()  # what the older copy leaves for its own hold
    _neigh("release", new, state, fake_proc)
    assert _backlog(fake_proc) == 1000  # nobody else asked for it
    assert _limits(fake_proc) == [4096, 8192, 16384]  # the older run still needs these


def test_a_higher_receive_queue_limit_is_never_lowered(
    tmp_path: Path, fake_proc: Path, fake_core: Path, live: Callable[[], int]
) -> None:
    (fake_core / "netdev_max_backlog").write_text("200000\n")
    a = live()
    _neigh("hold", a, tmp_path / "state", fake_proc)
    assert _backlog(fake_proc) == 200000
    _neigh("release", a, tmp_path / "state", fake_proc)
    assert _backlog(fake_proc) == 200000


def test_without_the_receive_queue_limit_the_neighbour_limits_still_work(
    tmp_path: Path, fake_proc: Path, live: Callable[[], int]
) -> None:
    """Inside a network namespace net/core/netdev_max_backlog does not exist."""
    a = live()
    _neigh("hold", a, tmp_path / "state", fake_proc)
    assert _limits(fake_proc) == [4096, 8192, 16384]
    _neigh("release", a, tmp_path / "state", fake_proc)
    assert _limits(fake_proc) == [128, 512, 1024]
    assert not (fake_proc.parent / "core").exists()


@pytest.mark.lab
def test_the_suite_refuses_to_run_in_a_namespace_with_a_way_out(tmp_path: Path) -> None:
    """A namespace with an interface and a default route (a veth pair within it: nothing
    leaves)."""
    ns = f"camscan-isocheck-{os.getpid()}"
    ip = ["ip", "-n", ns]
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        for cmd in (
            ["link", "add", "eth9", "type", "veth", "peer", "name", "eth9p"],
            ["link", "set", "eth9", "up"],
            ["link", "set", "eth9p", "up"],
            ["addr", "add", "198.18.254.1/24", "dev", "eth9"],
            ["route", "add", "default", "via", "198.18.254.2"],
        ):
            subprocess.run(ip + cmd, check=True)
        done = subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                ns,
                "env",
                "CAMSCAN_IN_TEST_NETNS=1",
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                str(Path(__file__)),
                "-k",
                "sealed",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert "interface 'eth9' besides loopback" in done.stderr
    assert "IPv4 default route via eth9" in done.stderr
