"""Device text built to make backtracking engines stall is matched in linear time (RE2)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from camscan.probes import http

MB = 1 << 20
# Each value makes a backtracking engine retry from every repeat to the end of the value:
# quadratic in the value's length (about 30 s at 64 KB for the first; hours at 1 MB).
HOSTILE = [
    ("http.body", "<userCheck " * (MB // 11)),  # <userCheck(?:\s+[^>]*)?>
    ("http.path.usercheck", "<userCheck " * (MB // 11)),
    ("http.body", "RPC2_Login" * (MB // 10)),  # "global.login".*RPC2_Login
    ("http.www_authenticate", "Digest " * (MB // 7)),  # (?:basic|digest)\b.*\brealm=
    ("http.response", "HTTP/1.1 200 OK\r\n\r\n" + "<title>" * (MB // 7)),  # <title[^>]*>(.*?)
    ("http.headers", "CONNECTION: x\r\n" * (MB // 15)),
    ("http.server", "App-webs/" + "1." * (MB // 2)),
]


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    # A child process: a regression then fails on the timeout instead of hanging the suite.
    return subprocess.run(
        [sys.executable, "-m", "camscan", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_identify_takes_hostile_megabyte_values_in_stride(tmp_path: Path) -> None:
    path = tmp_path / "hostile.jsonl"
    path.write_text(
        "".join(
            json.dumps({"host": f"h{i}", "key": k, "value": v}) + "\n"
            for i, (k, v) in enumerate(HOSTILE)
        )
    )
    # A generous bound on a loaded machine: the matching itself takes milliseconds.
    done = _run(["identify", str(path)], timeout=60)
    assert done.returncode == 0, done.stderr
    verdicts = [json.loads(line) for line in done.stdout.splitlines()]
    assert [v["host"] for v in verdicts] == [f"h{i}" for i in range(len(HOSTILE))]


def test_identify_still_matches_after_hostile_text(tmp_path: Path) -> None:
    """A real realm behind a megabyte of look-alike text is still found."""
    value = "Digest " * (MB // 7) + 'Digest realm="Login to 4M0747EPAA1D284"'
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps({"host": "h", "key": "http.www_authenticate", "value": value}))
    done = _run(["identify", str(path)], timeout=60)
    verdict = json.loads(done.stdout)
    assert (verdict["maker"], verdict["serial"]) == ("Dahua", "4M0747EPAA1D284")


@pytest.mark.parametrize("body", [b"<title>" * 9000, b"<title " * 9000, b"<TITLE>x" * 8000])
def test_title_of_a_hostile_body_is_linear(body: bytes) -> None:
    # Bodies are cut at 64 KiB, where one backtracking search took seconds: 20 of them
    # overrun the bound by far, 20 linear ones take milliseconds.
    assert len(body) <= http.MAX_BODY
    code = (
        "import sys; from camscan.probes import http; data = sys.stdin.buffer.read(); "
        "print([http.parse_http_response(data).title for _ in range(20)][0])"
    )
    data = b"HTTP/1.1 200 OK\r\n\r\n" + body
    done = subprocess.run(
        [sys.executable, "-c", code], input=data, capture_output=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == b"None"
