"""A throw-away PostgreSQL cluster from Debian's package, for the tests and benchmarks/central.py.

It listens on a Unix socket only (no TCP) in a temporary directory; as root it runs as
`nobody`, since PostgreSQL refuses to run as root. Durability is switched off: it is thrown away.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PG_BIN = Path(os.environ.get("CAMSCAN_PG_BIN", "/usr/lib/postgresql/15/bin"))


@dataclass
class Cluster:
    """A running throw-away cluster."""

    socket_dir: Path

    def url(self, db: str) -> str:
        """The postgresql:// URL of database `db` over the cluster's socket."""
        return f"postgresql://camscan@/{db}?host={self.socket_dir}"

    def create_database(self, name: str, template: str = "template1") -> str:
        """Create database `name` as a copy of `template`; returns its URL."""
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url(name)


def available() -> bool:
    """True when Debian's PostgreSQL server binaries are installed."""
    return (PG_BIN / "initdb").exists()


@contextmanager
def running_cluster(*settings: str) -> Iterator[Cluster]:
    """Start a cluster in a new temporary directory; stop and delete it afterwards."""
    user = "nobody" if os.geteuid() == 0 else None
    base = Path(tempfile.mkdtemp(prefix="camscan-pg-"))
    if user:
        pw = pwd.getpwnam(user)
        os.chown(base, pw.pw_uid, pw.pw_gid)
    data = base / "data"

    def run(*cmd: str) -> None:
        subprocess.run(cmd, check=True, user=user, capture_output=True, timeout=120)

    try:
        run(
            str(PG_BIN / "initdb"),
            "-D",
            str(data),
            "-U",
            "camscan",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        options = " ".join(
            [
                f"-k {base}",
                "-c listen_addresses=''",
                "-c fsync=off",
                "-c full_page_writes=off",
                "-c synchronous_commit=off",
                *(f"-c {s}" for s in settings),
            ]
        )
        run(
            str(PG_BIN / "pg_ctl"),
            "start",
            "-w",
            "-D",
            str(data),
            "-l",
            str(base / "log"),
            "-o",
            options,
        )
        yield Cluster(base)
    finally:
        subprocess.run(
            [str(PG_BIN / "pg_ctl"), "stop", "-m", "immediate", "-D", str(data)],
            user=user,
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(base, ignore_errors=True)
