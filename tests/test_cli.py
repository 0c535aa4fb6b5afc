"""The command line's contract: one-line errors, exit codes, no implicit scan of everything."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

import pytest

from camscan.cli import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["scan"], "no targets: give CIDRs/ranges/addresses or --localnet"),
        (["scan", "10.0.0.0/8"], "more than 65,536; add --yes"),
        (["scan", "cameras.example"], "hostnames are not resolved"),
        (["scan", "198.18.0.0/24", "--probes", "arp,nope"], "unknown probe 'nope'"),
        (["scan", "198.18.0.0/24", "--ports", "80,99999"], "ports are 1-65535"),
        (["scan", "198.18.0.0/24", "--ports", "80,8010-8000"], "port range 8010-8000 ends before"),
        (["scan", "198.18.0.0/24", "--rate", "5000"], "--rate"),
        (["scan", "198.18.0.0/24", "--bogus"], "No such option: --bogus"),
        (["scan", "198.18.0.0/24", "--onvif-user", "admin"], "CAMSCAN_ONVIF_PASSWORD"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CAMSCAN_ONVIF_PASSWORD", raising=False)
    code, out, err = run(argv, capsys)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("camscan: error: ")
    assert message in lines[0]
    assert "Traceback" not in err


def test_a_large_scope_needs_yes_but_is_accepted_with_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from camscan import pipeline

    seen: list[int] = []

    def fake_prepare(self: pipeline.Scan) -> None:
        from camscan.targets import parse_targets

        targets = parse_targets(self.request.targets, allow_large=self.request.allow_large)
        seen.append(targets.size)
        raise pipeline.ScanError("stop here")

    monkeypatch.setattr(pipeline.Scan, "prepare", fake_prepare)
    code, _, err = run(["scan", "10.0.0.0/8", "--yes"], capsys)
    assert seen == [16_777_214]
    assert (code, err.strip()) == (2, "camscan: error: stop here")


def test_password_is_read_from_the_environment_not_argv() -> None:
    from camscan.cli.scan import scan

    params = scan.__annotations__
    assert "onvif_password" not in params
    assert "onvif_password_file" in params


def test_python_dash_m_works_and_no_args_shows_help() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "camscan"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "Usage" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


def test_identify_refuses_a_mac_that_is_not_one(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["identify", "--mac", "zz:zz"], capsys)
    assert (code, out) == (2, "")
    assert err.strip() == "camscan: error: --mac 'zz:zz' is not a MAC address (12 hex digits)"


@pytest.fixture
def no_network_scan(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """`camscan scan` with targets resolved as routed and a run that sends nothing."""
    import camscan.cli.scan as scan_cli
    import camscan.targets as targets_mod

    ran: list[str] = []

    def fake_run(scan: Any) -> Any:
        ran.append("run")
        return scan.result(complete=True)

    monkeypatch.setattr(targets_mod, "list_interfaces", lambda: [])
    monkeypatch.setattr(scan_cli, "_run", fake_run)
    return ran


@pytest.mark.parametrize(
    "where", ["dir", "under-a-file", "pdf", "captures-in-a-file", "report-over-output"]
)
def test_an_unwritable_output_path_is_refused_before_scanning(
    where: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_network_scan: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "file").write_text("x")
    argv = {
        "dir": ["-o", str(tmp_path)],
        "under-a-file": ["--report", str(tmp_path / "file" / "r.html")],
        "pdf": ["--report", str(tmp_path / "r.pdf")],
        "captures-in-a-file": ["--save-captures", str(tmp_path / "file")],
        # the report would replace the JSON just written
        "report-over-output": [
            "-o",
            str(tmp_path / "scan"),
            "--report",
            str(tmp_path / "." / "scan"),
        ],
    }[where]
    if where == "pdf":
        # WeasyPrint may be installed (the pdf extra): hide it, as on a machine without it.
        monkeypatch.setitem(sys.modules, "weasyprint", None)
    code, out, err = run(["scan", "198.18.0.0/30", "-p", "banners", "-q", *argv], capsys)
    assert (code, out, no_network_scan) == (2, "", [])
    assert len(err.strip().splitlines()) == 1 and err.startswith("camscan: error: "), err


def test_a_usage_error_leaves_an_old_ndjson_file_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_network_scan: list[str]
) -> None:
    old = tmp_path / "scan.ndjson"
    old.write_text("last week's scan\n")
    code, _, err = run(
        [
            "scan",
            "198.18.0.0/30",
            "-x",
            "198.18.0.0/30",
            "-p",
            "banners",
            "-f",
            "ndjson",
            "-o",
            str(old),
        ],
        capsys,
    )
    assert (code, err.strip()) == (2, "camscan: error: no targets left after exclusions")
    assert old.read_text() == "last week's scan\n"


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_output_that_fails_at_the_end_goes_to_stdout_not_lost(
    fmt: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    no_network_scan: list[str],
) -> None:
    import camscan.output.jsonout as jsonout

    def disk_full(path: Path, text: str) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(jsonout, "atomic_write_text", disk_full)
    target = tmp_path / f"scan.{fmt}"
    code, out, err = run(
        ["scan", "198.18.0.0/30", "-p", "banners", "-q", "-f", fmt, "-o", str(target)], capsys
    )
    assert code == 1
    assert err.strip() == (
        f"camscan: error: cannot write {target}: No space left on device; "
        "writing the output to stdout instead"
    )
    if fmt == "json":
        assert json.loads(out)["complete"] is True
    else:
        assert out.startswith("site,scan_started,ip,")


@pytest.mark.parametrize("fmt", ["json", "csv", "ndjson"])
def test_output_dash_is_stdout(
    fmt: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    no_network_scan: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(
        ["scan", "198.18.0.0/30", "-p", "banners", "-q", "-f", fmt, "-o", "-"], capsys
    )
    assert (code, err) == (0, "")
    assert out and not (tmp_path / "-").exists()


def test_a_signal_while_the_output_is_written_does_not_lose_it(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, no_network_scan: list[str]
) -> None:
    import camscan.output.jsonout as jsonout

    real = jsonout.dumps_document

    def interrupted(doc: Any) -> str:
        os.kill(os.getpid(), signal.SIGINT)  # a second Ctrl-C, or a SIGTERM, while writing
        os.kill(os.getpid(), signal.SIGTERM)
        return real(doc)

    monkeypatch.setattr(jsonout, "dumps_document", interrupted)
    code, out, err = run(["scan", "198.18.0.0/30", "-p", "banners", "-q"], capfd)
    assert code == 0
    assert json.loads(out)["complete"] is True
    assert "camscan: interrupted: still writing what the scan found" in err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_interrupt_before_the_scan_starts_is_one_line_and_130(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from camscan import pipeline

    def interrupted(self: pipeline.Scan) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline.Scan, "prepare", interrupted)
    code, out, err = run(["scan", "198.18.0.0/30"], capsys)
    assert (code, out, err) == (130, "", "camscan: interrupted\n")


def test_identify_skips_hostile_lines_and_keeps_its_output_printable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    evidence = tmp_path / "evidence.jsonl"
    good = {"host": "cam\ud800", "key": "http.server", "value": "App-webs/\udfff"}
    evidence.write_text(
        "\n".join(
            [
                "[" * 100_000,  # nested past the recursion limit
                '{"host": "a", "key": "http.server", "value": ' + "9" * 5000 + "}",  # int too long
                json.dumps(good),  # escaped lone surrogates, as json.dumps writes them
            ]
        )
        + "\n"
    )
    code, out, err = run(["identify", str(evidence)], capsys)
    assert code == 1
    assert [line.split(":")[0] for line in err.splitlines()] == ["camscan"] * 2
    assert "line 1: not JSON" in err and "line 2: not JSON" in err
    (line,) = out.splitlines()
    assert json.loads(line)["host"] == "cam\ufffd"
    out.encode("utf-8")


def test_identify_table_shows_device_strings_as_inert_text(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(
        [
            "identify",
            "--format",
            "table",
            "-e",
            "model=[/bold][link=http://x]DS-2CD\x1b[2J\x1b]0;owned\x07",
        ],
        capsys,
    )
    assert code == 0
    assert "\x1b" not in err and "\x07" not in err
    assert "[/bold][link=h" in err  # shown as sent (then cut to the column), not parsed


def test_identify_json_lines_stay_one_line_per_host_whatever_the_device_sent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(["identify", "-e", "model=DS-2CD\u2028X\x85Y\u2029Z"], capsys)
    assert code == 0
    (line,) = out.splitlines()  # str.splitlines breaks at U+2028, U+2029 and U+0085 too
    assert json.loads(line)["model"] == "DS-2CD\u2028X\x85Y\u2029Z"


def test_a_longer_timeout_stretches_the_host_budget(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, no_network_scan: list[str]
) -> None:
    import camscan.cli.scan as scan_cli

    budgets: list[tuple[float, float]] = []
    real_run = scan_cli._run

    def spy(scan: Any) -> Any:
        s = scan.request.settings
        budgets.append((s.connect_timeout_s, s.host_budget_s))
        return real_run(scan)

    monkeypatch.setattr(scan_cli, "_run", spy)
    for timeout in ("1.5", "10"):
        code, _, _ = run(
            ["scan", "198.18.0.0/30", "-p", "banners", "-q", "--timeout", timeout], capsys
        )
        assert code == 0
    # The default budget holds a connect and a read or two; a budget shorter than one
    # connect timeout would cut every slow host that --timeout was raised for.
    assert budgets[0] == (1.5, 6.0)
    connect, budget = budgets[1]
    assert connect == 10 and budget >= 3 * connect


@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv"])
def test_every_format_creates_missing_output_directories(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_network_scan: list[str]
) -> None:
    target = tmp_path / "new" / "dir" / f"scan.{fmt}"
    code, out, err = run(
        ["scan", "198.18.0.0/30", "-p", "banners", "-q", "-f", fmt, "-o", str(target)], capsys
    )
    assert (code, out, err) == (0, "", "")
    assert target.read_text()


def test_identify_reads_invalid_utf8_on_stdin_like_in_a_file(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    data = b'{"host": "cam1", "key": "http.server", "value": "App-webs/\xff"}\n'
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    code, out, err = run(["identify", "-"], capsys)
    assert (code, err) == (0, "")
    assert json.loads(out)["host"] == "cam1"


def test_routed_targets_need_no_raw_socket_rights(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, no_network_scan: list[str]
) -> None:
    # Off every local segment ARP does not run, so an unprivileged user may scan routed
    # targets with the default methods; on a local segment the refusal stays.
    import camscan.discovery.arp as arp_mod
    import camscan.targets as targets_mod

    def refuse() -> None:
        raise arp_mod.ArpPermissionError

    monkeypatch.setattr(arp_mod, "check_raw_socket", refuse)
    code, out, err = run(["scan", "203.0.113.0/30", "-q"], capsys)
    assert (code, err) == (0, ""), err
    assert json.loads(out)["complete"] is True
    local = targets_mod.InterfaceInfo(
        "eth0", 2, "02:00:5e:10:00:02", IPv4Address("198.18.0.2"), IPv4Network("198.18.0.0/24")
    )
    monkeypatch.setattr(targets_mod, "list_interfaces", lambda: [local])
    code, out, err = run(["scan", "198.18.0.0/30", "-q"], capsys)
    assert (code, out) == (2, "")
    assert err == "camscan: error: ARP sweep needs root or CAP_NET_RAW (raw AF_PACKET socket)\n"


def test_demo_interrupted_waits_for_the_scan_to_write_what_it_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ctrl-C reaches the demo and its scan alike; the scan then writes its findings. The demo
    # must wait for that, not kill it (subprocess.run kills its child 0.25 s after a SIGINT).
    import threading

    import camscan_lab.cli as lab_cli

    written = tmp_path / "scan.json"
    downs: list[str] = []

    class FakeLab:
        scanner_netns, scanner_interface = "unused", "eth0"

        def __init__(self, spec: Any) -> None:
            pass

        def up(self) -> Any:
            class Status:  # what a lab without avahi-daemon reports
                notices = (
                    "cam: avahi-daemon is not installed: the lab's own mDNS responder "
                    "publishes this device's services instead",
                )

            return Status()

        def down(self) -> None:
            downs.append("down")

    class Spec:
        scan_subnet = "198.18.0.0/24"

    real_popen = subprocess.Popen
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))

    def slow_scan(argv: list[str], *args: Any, **kwargs: Any) -> Any:
        code = (
            f"import time; time.sleep(1.0); open({str(written)!r}, 'w').write('{{}}'); "
            "raise SystemExit(1)"
        )
        proc = real_popen([sys.executable, "-c", code], *args, **kwargs)
        timer.start()  # Ctrl-C while the demo waits for its scan, not while it starts
        return proc

    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(lab_cli, "load_spec", lambda path: Spec())
    monkeypatch.setattr(lab_cli, "Lab", FakeLab)
    monkeypatch.setattr(lab_cli.subprocess, "Popen", slow_scan)
    try:
        code, _, err = run(["demo"], capsys)
    finally:
        timer.cancel()
    assert written.read_text() == "{}"
    assert (
        "camscan: lab: cam: avahi-daemon is not installed: the lab's own mDNS responder "
        "publishes this device's services instead\n"
    ) in err
    assert (code, downs) == (1, ["down"])


@pytest.mark.parametrize(
    ("extra", "json_out"), [([], False), (["-f", "json"], True), (["-o", "-"], True)]
)
def test_a_scan_on_a_terminal_shows_the_table_not_the_json(
    extra: list[str],
    json_out: bool,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    no_network_scan: list[str],
) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    code, out, err = run(["scan", "198.18.0.0/30", "-p", "banners", "-q", *extra], capsys)
    assert code == 0
    if json_out:  # asked for explicitly: the terminal gets it
        assert json.loads(out)["complete"] is True
    else:
        assert out == ""
        assert "the JSON document was not printed" in err


def test_a_scan_into_a_pipe_still_writes_json(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, no_network_scan: list[str]
) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False)
    code, out, _ = run(["scan", "198.18.0.0/30", "-p", "banners", "-q"], capsys)
    assert code == 0 and json.loads(out)["complete"] is True


def test_a_report_with_an_unknown_extension_is_refused_before_scanning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_network_scan: list[str]
) -> None:
    code, out, err = run(
        ["scan", "198.18.0.0/30", "-p", "banners", "-q", "--report", str(tmp_path / "r.txt")],
        capsys,
    )
    assert (code, out, no_network_scan) == (2, "", [])
    assert "unknown report type '.txt'" in err


def test_scan_only_filters_the_machine_output(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, no_network_scan: list[str]
) -> None:
    import camscan.output.select as select

    seen: list[tuple[frozenset[str], object]] = []
    real = select.select_devices

    def spy(doc: Any, only: frozenset[str] = frozenset(), min_confidence: Any = None) -> Any:
        seen.append((only, min_confidence))
        return real(doc, only, min_confidence)

    monkeypatch.setattr(select, "select_devices", spy)
    code, out, _ = run(
        [
            "scan",
            "198.18.0.0/30",
            "-p",
            "banners",
            "-q",
            "-f",
            "csv",
            "--only",
            "Hikvision,dahua",
            "--min-confidence",
            "likely",
        ],
        capsys,
    )
    assert code == 0 and out.startswith("site,")
    assert seen == [(frozenset({"hikvision", "dahua"}), "likely")]
    code, _, err = run(
        ["scan", "198.18.0.0/30", "-p", "banners", "-q", "-f", "ndjson", "--only", "dahua"], capsys
    )
    assert code == 2 and "camscan export" in err


@pytest.mark.parametrize(
    ("firmware", "code"), [("V5.6.2build 190701", 4), ("V5.5.800 build 210628", 0)]
)
def test_fail_on_risk_exits_4_only_when_a_note_applies(
    firmware: str, code: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import camscan.cli.scan as scan_cli
    import camscan.targets as targets_mod
    from camscan.models import Confidence, Device, Evidence, Verdict

    def run_with_a_camera(scan: Any) -> Any:
        result = scan.result(complete=True)
        ip = "198.18.0.2"
        result.devices.append(
            Device(
                ip=ip,
                evidence=[Evidence(ip, "tls", "tls.subject", "CN=IPC", 443)],
                verdict=Verdict(
                    maker="Hikvision",
                    brand="Hikvision",
                    device_type="camera",
                    model="DS-2CD2385G1-I",
                    firmware=firmware,
                    serial=None,
                    confidence=Confidence.CONFIRMED,
                ),
            )
        )
        return result

    monkeypatch.setattr(targets_mod, "list_interfaces", lambda: [])
    monkeypatch.setattr(scan_cli, "_run", run_with_a_camera)
    got, out, _ = run(
        ["scan", "198.18.0.0/30", "-p", "banners", "-q", "-o", "-", "--fail-on-risk"], capsys
    )
    assert got == code
    assert bool(json.loads(out)["devices"][0]["risks"]) == (code == 4)


@pytest.mark.parametrize(
    "where", ["proc", "db-dir", "db-dir-no-store", "probes-empty", "probes-commas"]
)
def test_unusable_options_are_refused_before_the_first_packet(
    where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_network_scan: list[str]
) -> None:
    argv = {
        "proc": ["-p", "banners", "-o", "/proc/camscan-scan.json"],  # root or not
        "db-dir": ["-p", "banners", "--store", "--db", str(tmp_path)],
        "db-dir-no-store": ["-p", "banners", "--db", str(tmp_path)],
        "probes-empty": ["-p", ""],
        "probes-commas": ["-p", " , ,"],
    }[where]
    code, out, err = run(["scan", "198.18.0.0/30", "-q", *argv], capsys)
    assert (code, out, no_network_scan) == (2, "", [])
    assert len(err.strip().splitlines()) == 1 and err.startswith("camscan: error: "), err


def test_ndjson_to_a_full_disk_goes_to_stdout_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_network_scan: list[str]
) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    code, out, err = run(
        ["scan", "198.18.0.0/30", "-p", "banners", "-q", "-f", "ndjson", "-o", "/dev/full"], capsys
    )
    assert code == 1
    assert err.strip() == (
        "camscan: error: cannot write /dev/full: No space left on device; "
        "writing the stream to stdout instead"
    )
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["type"] for line in lines] == ["header", "summary"]
    assert lines[-1]["complete"] is True


@pytest.mark.parametrize("fmt", ["json", "csv", "ndjson"])
def test_output_files_are_private(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_network_scan: list[str]
) -> None:
    """Scans hold MACs and serials: 0600 like the inventory, whatever the umask."""
    target = tmp_path / f"scan.{fmt}"
    target.write_text("old")
    target.chmod(0o644)
    code, _, _ = run(
        ["scan", "198.18.0.0/30", "-p", "banners", "-q", "-f", fmt, "-o", str(target)], capsys
    )
    assert code == 0
    assert target.stat().st_mode & 0o777 == 0o600
