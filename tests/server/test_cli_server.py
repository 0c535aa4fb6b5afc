"""`camscan server` and `camscan push` as processes: HTTPS with a throw-away certificate."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

from camscan.push import Client
from camscan.server.db import make_engine
from camscan.server.store import add_principal
from tests.server.conftest import sample, self_signed
from tests.server.pgcluster import Cluster

SITE = "Example Council, Town Hall"


def camscan(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "camscan", *args], capture_output=True, text=True, timeout=timeout
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_server_process_over_https_and_push_process(db_url: str, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    engine = make_engine(db_url)
    token = add_principal(engine, "th-1", site=SITE)
    engine.dispose()
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n", encoding="utf-8")
    scan = tmp_path / "scan.json"
    scan.write_text(json.dumps(sample()), encoding="utf-8")
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "camscan",
            "server",
            "--db",
            db_url,
            "--bind",
            f"127.0.0.1:{port}",
            "--cert",
            str(cert),
            "--key",
            str(key),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        probe = Client(url, token, ca_file=cert)
        deadline = time.monotonic() + 30
        while True:
            try:
                if probe.request("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None, server.communicate()[1]
            assert time.monotonic() < deadline, "camscan server did not start"
            time.sleep(0.1)
        untrusted = camscan(
            "push", str(scan), "--server", url, "--token-file", str(token_file), "--tries", "1"
        )
        assert untrusted.returncode == 1
        assert "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr
        assert "Traceback" not in untrusted.stderr
        pushed = camscan(
            "push",
            str(scan),
            "--server",
            url,
            "--token-file",
            str(token_file),
            "--ca-file",
            str(cert),
        )
        assert pushed.returncode == 0, pushed.stderr
        assert ": stored as " in pushed.stderr
        again = camscan(
            "push",
            str(scan),
            "--server",
            url,
            "--token-file",
            str(token_file),
            "--ca-file",
            str(cert),
        )
        assert again.returncode == 0 and ": duplicate as " in again.stderr
    finally:
        server.terminate()
        server.communicate(timeout=30)


def test_server_process_refuses_an_unmigrated_database(pg_cluster: Cluster) -> None:
    url = pg_cluster.create_database("t_cli_unmigrated")
    proc = camscan("server", "--db", url, "--bind", f"127.0.0.1:{free_port()}")
    assert proc.returncode == 1
    assert "run `camscan server migrate`" in proc.stderr and "Traceback" not in proc.stderr
    migrated = camscan("server", "migrate", "--db", url)
    assert migrated.returncode == 0 and "revision 0001" in migrated.stderr
    again = camscan("server", "migrate", "--db", url)  # a second run changes nothing
    assert again.returncode == 0
