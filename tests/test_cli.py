"""The command line's contract: one-line errors, exit codes, no implicit scan of everything."""

from __future__ import annotations

import subprocess
import sys

import pytest

from camscan.cli import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


@pytest.mark.parametrize(("argv", "message"), [
    (["scan"], "no targets: give CIDRs/ranges/addresses or --localnet"),
    (["scan", "10.0.0.0/8"], "more than 65,536; add --yes"),
    (["scan", "cameras.example"], "hostnames are not resolved"),
    (["scan", "198.18.0.0/24", "--probes", "arp,nope"], "unknown probe 'nope'"),
    (["scan", "198.18.0.0/24", "--ports", "80,99999"], "ports are 1-65535"),
    (["scan", "198.18.0.0/24", "--rate", "5000"], "--rate"),
    (["scan", "198.18.0.0/24", "--bogus"], "No such option: --bogus"),
    (["scan", "198.18.0.0/24", "--onvif-user", "admin"], "CAMSCAN_ONVIF_PASSWORD"),
])
def test_bad_input_is_one_line_and_exit_2(argv: list[str], message: str,
                                          capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
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
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
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
    proc = subprocess.run([sys.executable, "-m", "camscan"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2
    assert "Usage" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


def test_identify_refuses_a_mac_that_is_not_one(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["identify", "--mac", "zz:zz"], capsys)
    assert (code, out) == (2, "")
    assert err.strip() == "camscan: error: --mac 'zz:zz' is not a MAC address (12 hex digits)"
